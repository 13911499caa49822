package search

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"sharedcare/internal/fhir"
	"sharedcare/internal/outcome"
)

// Query is a parsed FHIR search.
type Query struct {
	// Type is the resource type searched; "" at system level, where Types
	// (from _type) narrows the types, and empty Types means all.
	Type  string
	Types []string
	// Compartment, when set, keeps resources in that compartment
	// (/Patient/123/Observation): Type is then the type searched in it.
	Compartment *Compartment
	// Filters are ANDed; each one's values are ORed.
	Filters []Filter
	Sort    []Sort
	Count   int    // page size
	Page    string // the continuation a previous page's link carried
	Total   string // none | estimate | accurate
	Include []Include
	// RevInclude are _revinclude parameters.
	RevInclude []Include
	Summary    string   // "", true, text, data, count, false
	Elements   []string // _elements
	// Warnings report parameters ignored under Prefer: handling=lenient.
	Warnings []outcome.Issue
	// Params is the query as given, for the self link.
	Params url.Values
}

// Compartment is a compartment search's owner.
type Compartment struct {
	Type string // Patient, Encounter, RelatedPerson, Practitioner, Device
	ID   string
}

// Filter is one search parameter occurrence.
type Filter struct {
	// ResourceType is the type whose parameter this is.
	ResourceType string
	Code         string // parameter code, e.g. "code", "_id"
	Type         string // number date string token reference composite quantity uri, or "special" for _id/_lastUpdated
	Param        *fhir.SearchParam
	Modifier     string      // exact contains text not in not-in of-type missing identifier below above, or a type for references
	Values       []Value     // ORed
	Chain        *Chain      // subject:Patient.name=smith
	Has          *Has        // _has:Observation:patient:code=1234
	InCodes      [][2]string // for :in / :not-in, the value set's system|code pairs
}

// Chain is a chained parameter: the filter applies to the resources the
// reference parameter points at.
type Chain struct {
	TargetTypes []string
	Filter      Filter
}

// Has is a reverse chain: resources of Type whose reference parameter
// Param points at the resource being searched and that match Filter.
type Has struct {
	Type   string
	Param  string
	Filter Filter
}

// Value is one search value with its prefix, parsed per parameter type.
type Value struct {
	Raw    string
	Prefix string // eq ne gt lt ge le sa eb ap (number, date, quantity)

	// token: System|Code; HasSystem when a '|' was given ("|code" means no system).
	System    string
	Code      string
	HasSystem bool

	// number and quantity: the value and the range its precision implies.
	Number         float64
	Low, High      float64
	UnitSystem     string
	UnitCode       string
	CanonicalCode  string
	CanonicalLow   float64
	CanonicalHigh  float64
	CanonicalValue float64

	// date: [DateLow, DateHigh) in Unix milliseconds.
	DateLow, DateHigh int64

	// reference: a target type and id, or a URL.
	RefType, RefID, RefURL string

	// string: normalised text.
	Norm string

	// Missing is set for :missing=true/false.
	Missing bool

	// Parts are a composite's component values.
	Parts []Value
}

// Sort is one _sort key.
type Sort struct {
	Code string
	Type string // the parameter's type, or "special" for _id and _lastUpdated
	Desc bool
}

// Include is one _include or _revinclude.
type Include struct {
	SourceType string // the type holding the reference
	Param      string // reference parameter code, or "*"
	TargetType string // optional
	Iterate    bool
}

// Defaults and limits of paging.
const (
	DefaultCount = 20
	MaxCount     = 1000
)

// Options change how Parse treats what it cannot use.
type Options struct {
	// Lenient ignores unknown and malformed parameters, reporting them in
	// Query.Warnings (Prefer: handling=lenient); otherwise they are a 400.
	Lenient bool
	// Base is this server's FHIR base URL: a reference value that starts
	// with it is a local reference.
	Base string
}

// Parse reads a search for resources of typ ("" at system level).
func Parse(typ string, params url.Values, opts Options) (*Query, error) {
	q := &Query{Type: typ, Count: DefaultCount, Params: params}
	var errs outcome.List
	fail := func(code, param, format string, args ...any) {
		if opts.Lenient {
			errs.Warn(code, param, format+" (ignored: Prefer handling=lenient)", args...)
			return
		}
		errs.Add(code, param, format, args...)
	}
	names := make([]string, 0, len(params))
	for name := range params {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, raw := range params[name] {
			if err := q.parseParam(name, raw, opts.Base); err != nil {
				e, ok := err.(*paramError)
				if !ok {
					return nil, err
				}
				fail(e.code, name, "%s", e.msg)
			}
		}
	}
	if err := errs.Err(http.StatusBadRequest); err != nil {
		return nil, err
	}
	q.Warnings = errs.Issues
	return q, nil
}

type paramError struct{ code, msg string }

func (e *paramError) Error() string { return e.msg }

func perr(code, format string, args ...any) *paramError {
	return &paramError{code: code, msg: fmt.Sprintf(format, args...)}
}

// result parameters, handled by Parse or by the API.
func (q *Query) parseParam(name, raw, base string) error {
	switch name {
	case "_format", "_pretty":
		return nil
	case "_count":
		n, err := strconv.Atoi(raw)
		if err != nil || n < 0 {
			return perr(outcome.CodeValue, "_count %q is not a whole number", raw)
		}
		q.Count = min(n, MaxCount)
		return nil
	case "_page", "_cursor":
		q.Page = raw
		return nil
	case "_total":
		switch raw {
		case "none", "estimate", "accurate":
			q.Total = raw
			return nil
		}
		return perr(outcome.CodeValue, "_total %q: use none, estimate or accurate", raw)
	case "_summary":
		switch raw {
		case "true", "false", "text", "data", "count":
			q.Summary = raw
			return nil
		}
		return perr(outcome.CodeValue, "_summary %q: use true, text, data, count or false", raw)
	case "_elements":
		for _, e := range strings.Split(raw, ",") {
			if e = strings.TrimSpace(e); e != "" {
				q.Elements = append(q.Elements, e)
			}
		}
		return nil
	case "_sort":
		return q.parseSort(raw)
	case "_include", "_include:iterate", "_include:recurse":
		inc, err := parseInclude(raw, name != "_include", false)
		if err != nil {
			return err
		}
		q.Include = append(q.Include, inc)
		return nil
	case "_revinclude", "_revinclude:iterate", "_revinclude:recurse":
		inc, err := parseInclude(raw, name != "_revinclude", true)
		if err != nil {
			return err
		}
		q.RevInclude = append(q.RevInclude, inc)
		return nil
	case "_type":
		if q.Type != "" {
			return perr(outcome.CodeNotSupported, "_type is for searches across all types (GET /fhir?_type=...)")
		}
		for _, t := range strings.Split(raw, ",") {
			if !fhir.IsResourceType(t) {
				return perr(outcome.CodeValue, "_type: %q is not a resource type", t)
			}
			q.Types = append(q.Types, t)
		}
		return nil
	case "_contained", "_containedType", "_text", "_content", "_filter", "_query", "_list":
		return perr(outcome.CodeNotSupported, "%s is not supported by this server", name)
	}
	types := []string{q.Type}
	if q.Type == "" {
		types = q.Types
		if len(types) == 0 {
			types = commonTypes
		}
	}
	f, err := parseFilter(types, name, raw, base)
	if err != nil {
		return err
	}
	q.Filters = append(q.Filters, f)
	return nil
}

// commonTypes stands for every type at system level: only parameters every
// resource has (_id, _lastUpdated, _tag ...) apply there without _type.
var commonTypes = []string{"Resource"}

func (q *Query) parseSort(raw string) error {
	for _, key := range strings.Split(raw, ",") {
		key = strings.TrimSpace(key)
		desc := strings.HasPrefix(key, "-")
		code := strings.TrimPrefix(key, "-")
		s := Sort{Code: code, Desc: desc}
		switch code {
		case "_id", "_lastUpdated":
			s.Type = "special"
		default:
			typ := q.Type
			if typ == "" {
				if len(q.Types) != 1 {
					return perr(outcome.CodeNotSupported, "_sort by %s needs a single resource type", code)
				}
				typ = q.Types[0]
			}
			p := fhir.LookupSearchParam(typ, code)
			if p == nil {
				return perr(outcome.CodeNotFound, "_sort: %s has no search parameter %q", typ, code)
			}
			switch p.Type {
			case "string", "token", "date", "number", "quantity", "uri", "reference":
			default:
				return perr(outcome.CodeNotSupported, "_sort by %s (a %s parameter) is not supported", code, p.Type)
			}
			s.Type = p.Type
		}
		q.Sort = append(q.Sort, s)
	}
	return nil
}

func parseInclude(raw string, iterate, rev bool) (Include, error) {
	parts := strings.Split(raw, ":")
	if raw == "*" {
		return Include{Param: "*", Iterate: iterate}, nil
	}
	if len(parts) < 2 || len(parts) > 3 {
		return Include{}, perr(outcome.CodeValue, "%q is not Type:parameter[:targetType]", raw)
	}
	inc := Include{SourceType: parts[0], Param: parts[1], Iterate: iterate}
	if !fhir.IsResourceType(inc.SourceType) {
		return Include{}, perr(outcome.CodeValue, "%q is not a resource type", inc.SourceType)
	}
	if inc.Param != "*" {
		p := fhir.LookupSearchParam(inc.SourceType, inc.Param)
		if p == nil || p.Type != "reference" {
			return Include{}, perr(outcome.CodeValue, "%s has no reference parameter %q", inc.SourceType, inc.Param)
		}
	}
	if len(parts) == 3 {
		inc.TargetType = parts[2]
		if !fhir.IsResourceType(inc.TargetType) {
			return Include{}, perr(outcome.CodeValue, "%q is not a resource type", inc.TargetType)
		}
	}
	return inc, nil
}

// lookup finds a parameter on every one of types ("Resource" stands for
// the parameters all types share).
func lookup(types []string, code string) (*fhir.SearchParam, string, error) {
	var found *fhir.SearchParam
	for _, t := range types {
		lt := t
		if t == "Resource" {
			lt = "Patient" // every type has the Resource parameters; any one carries them
		}
		p := fhir.LookupSearchParam(lt, code)
		if p == nil {
			return nil, "", perr(outcome.CodeNotFound, "%s has no search parameter %q", t, code)
		}
		if t == "Resource" && !strings.HasPrefix(p.URL, "http://hl7.org/fhir/SearchParameter/Resource-") {
			return nil, "", perr(outcome.CodeNotFound, "%q is not a parameter of every resource type; add _type", code)
		}
		if found != nil && found.Type != p.Type {
			return nil, "", perr(outcome.CodeNotSupported, "%q has different types across the types searched", code)
		}
		found = p
	}
	if found == nil {
		return nil, "", perr(outcome.CodeNotFound, "no search parameter %q", code)
	}
	return found, found.Type, nil
}
