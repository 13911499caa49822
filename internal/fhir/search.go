package fhir

// SearchParam is one of the spec's search parameters as it applies to one
// resource type: Expression keeps only the branches of the spec's expression
// that start at that type.
type SearchParam struct {
	Code       string
	Type       string // number | date | string | token | reference | composite | quantity | uri | special
	URL        string
	Expression string   // FHIRPath; empty for parameters the spec gives no expression (_text, _content ...)
	Targets    []string // resource types a reference parameter may point at
	Components []SearchComponent
}

// SearchComponent is one part of a composite parameter.
type SearchComponent struct {
	Code       string // code of the component's own search parameter
	Type       string
	Expression string // relative to each value of the composite's Expression
}

// SearchParams returns the parameters that apply to resourceType, the
// Resource-level ones (_id, _lastUpdated ...) included, sorted by code.
func SearchParams(resourceType string) []SearchParam { return searchParams[resourceType] }

// LookupSearchParam returns the parameter code of resourceType, or nil.
func LookupSearchParam(resourceType, code string) *SearchParam {
	ps := searchParams[resourceType]
	lo, hi := 0, len(ps)
	for lo < hi {
		m := (lo + hi) / 2
		if ps[m].Code < code {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(ps) && ps[lo].Code == code {
		return &ps[lo]
	}
	return nil
}

// CompartmentParams returns the search parameters of resourceType that put a
// resource into compartment ("Patient", "Encounter", "RelatedPerson",
// "Practitioner", "Device"), per the spec's CompartmentDefinitions; nil when
// resources of that type are never in it.
func CompartmentParams(compartment, resourceType string) []string {
	return compartments[compartment][resourceType]
}

// CompartmentTypes lists the resource types that can be in compartment.
func CompartmentTypes(compartment string) []string {
	m := compartments[compartment]
	out := make([]string, 0, len(m))
	for _, t := range resourceTypes {
		if _, ok := m[t]; ok {
			out = append(out, t)
		}
	}
	return out
}
