package fhir

import (
	"strings"
)

// TypeKind says what sort of type a Type is.
type TypeKind uint8

const (
	PrimitiveType TypeKind = iota + 1 // string, date, decimal ...: a JSON scalar plus _name for id/extension
	ComplexType                       // HumanName, Quantity ...
	ResourceType                      // Patient, Observation ...; abstract Resource, DomainResource too
	BackboneType                      // an inline element with children, named by its path: "Patient.contact"
)

// Type is one type of the R4 model, as generated from the spec's
// StructureDefinitions. Backbone elements are types of their own, named by
// their path, so that every element with children has a Type.
type Type struct {
	Name     string
	Kind     TypeKind
	Base     string // the type it specialises; "" for Element and Resource
	Abstract bool
	// JSON is the JSON kind of a primitive's value: String, Number or Bool.
	JSON Kind
	// Regex is the spec's pattern for a primitive's value, anchored on use.
	Regex string
	// Elements are the type's own and inherited children, in spec order.
	Elements []Element
	// Constraints are the type's invariants, except ele-1, which the
	// validator applies to every element natively.
	Constraints []Constraint
}

// Element is one child element of a Type.
type Element struct {
	Name     string   // JSON name; for a choice "value[x]" this is "value"
	Path     string   // as the spec writes it: "Observation.value[x]"
	Min      int      // 0 or more
	Max      int      // -1 for unbounded
	Types    []string // type codes; for a backbone element the backbone Type's name
	Choice   bool     // a value[x] element: JSON name is Name + capitalised type
	Summary  bool
	Modifier bool
	// Targets are the resource types a Reference (or canonical) may point at;
	// empty means any.
	Targets     []string
	Binding     *Binding
	Constraints []Constraint
}

// Binding ties a coded element to a value set.
type Binding struct {
	Strength string // required | extensible | preferred | example
	ValueSet string // canonical URL without version
}

// Constraint is a FHIRPath invariant from the spec.
type Constraint struct {
	Key        string
	Severity   string // error | warning
	Human      string
	Expression string
}

// Repeating reports whether the element is an array in JSON.
func (e *Element) Repeating() bool { return e.Max != 1 && e.Max != 0 }

// LookupType returns the named type: a resource, data type, primitive or
// backbone path ("Patient.contact").
func LookupType(name string) *Type { return types[name] }

// IsResourceType reports whether name is a concrete resource type.
func IsResourceType(name string) bool {
	t := types[name]
	return t != nil && t.Kind == ResourceType && !t.Abstract
}

// ResourceTypes lists every concrete resource type, sorted.
func ResourceTypes() []string { return resourceTypes }

// Element returns the element with the given JSON base name, or nil.
func (t *Type) Element(name string) *Element {
	for i := range t.Elements {
		if t.Elements[i].Name == name {
			return &t.Elements[i]
		}
	}
	return nil
}

// Child resolves a JSON member name of an object of this type to its element
// and the type it holds. For a choice element the type comes from the name's
// suffix: "valueQuantity" gives (value[x], "Quantity"). A leading underscore
// (the primitive's id and extensions) is not stripped here.
func (t *Type) Child(key string) (*Element, string, bool) {
	for i := range t.Elements {
		e := &t.Elements[i]
		if !e.Choice {
			if e.Name == key {
				if len(e.Types) == 0 {
					return e, "", true
				}
				return e, e.Types[0], true
			}
			continue
		}
		suffix, ok := strings.CutPrefix(key, e.Name)
		if !ok || suffix == "" {
			continue
		}
		for _, ty := range e.Types {
			if ChoiceSuffix(ty) == suffix {
				return e, ty, true
			}
		}
	}
	return nil, "", false
}

// ChoiceSuffix is the JSON name suffix of a type in a choice element:
// "Quantity" for Quantity, "DateTime" for dateTime.
func ChoiceSuffix(typ string) string {
	if typ == "" {
		return ""
	}
	return strings.ToUpper(typ[:1]) + typ[1:]
}

// IsPrimitive reports whether the named type is a FHIR primitive.
func IsPrimitive(name string) bool {
	t := types[name]
	return t != nil && t.Kind == PrimitiveType
}

// Derives reports whether type sub is base or specialises it, directly or
// not: Derives("Age", "Quantity") and Derives("Patient", "Resource") hold.
func Derives(sub, base string) bool {
	for n := sub; n != ""; {
		if n == base {
			return true
		}
		t := types[n]
		if t == nil {
			return false
		}
		n = t.Base
	}
	return false
}
