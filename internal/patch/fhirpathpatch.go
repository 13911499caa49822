package patch

import (
	"errors"
	"fmt"
	"slices"
	"strconv"

	"sharedcare/internal/fhir"
	"sharedcare/internal/fhirpath"
	"sharedcare/internal/outcome"
)

// FHIRPath is a parsed FHIRPath Patch (https://hl7.org/fhir/R4/fhirpatch.html):
// a Parameters resource with one "operation" parameter per operation, each
// of type add, insert, delete, replace or move, finding its place in the
// resource with a FHIRPath expression. It is immutable and safe for
// concurrent use.
type FHIRPath struct {
	ops []fpOp
}

// fpOp is one operation; its parts are checked for presence and type by
// ParseFHIRPath, so Apply only meets faults that depend on the resource.
type fpOp struct {
	kind                       string // add | insert | delete | replace | move
	pathText                   string
	path                       *fhirpath.Expression
	name                       string
	value                      *patchValue
	index, source, destination int
	expr                       string // Parameters.parameter[i]
	n                          int    // i, for diagnostics
}

// patchValue is the content an add, insert or replace puts into the
// resource: a value[x] (with its "_value[x]" sibling when it is a
// primitive with extensions), a resource, or, for types Parameters cannot
// carry directly (backbone elements such as Patient.contact), a list of
// named parts built into an object once the target's type is known
// (https://hl7.org/fhir/R4/fhirpatch.html#anonymous).
type patchValue struct {
	typ   string      // FHIR type of a value[x] or resource; "" when built from parts
	json  fhir.Value  // the value[x] or resource
	ext   *fhir.Value // the "_value[x]" sibling of a primitive, or nil
	parts []namedValue
	expr  string // where the value is in the Parameters
}

type namedValue struct {
	name  string
	value patchValue
}

// parameterType is Parameters.parameter, whose Child resolves a value[x]
// JSON name to its type; part has the same definition.
var parameterType = fhir.LookupType("Parameters.parameter")

// opParts says which parts each operation type takes besides type (the
// table at https://hl7.org/fhir/R4/fhirpatch.html#concept); each is required.
var opParts = map[string][]string{
	"add":     {"path", "name", "value"},
	"insert":  {"path", "value", "index"},
	"delete":  {"path"},
	"replace": {"path", "value"},
	"move":    {"path", "source", "destination"},
}

// ParseFHIRPath parses and checks a FHIRPath Patch: params must be a
// Parameters resource whose parameters are all named "operation". Every
// fault it finds goes into one *outcome.Error with status 400. Each
// operation takes exactly the parts the spec's table gives its type (a part
// it does not use is refused rather than ignored, since a client that sends
// one expects it to matter); type may be a valueCode or valueString, path
// and name a valueString (or valueCode), index, source and destination a
// non-negative valueInteger (or valueUnsignedInt, valuePositiveInt).
func ParseFHIRPath(params *fhir.Value) (*FHIRPath, error) {
	if params == nil || params.Kind != fhir.Object || params.Str("resourceType") != "Parameters" {
		return nil, outcome.Invalid("", "a FHIRPath Patch is a Parameters resource")
	}
	p := &FHIRPath{}
	list := params.Get("parameter")
	if list == nil {
		return p, nil
	}
	if list.Kind != fhir.Array {
		return nil, outcome.Invalid("Parameters.parameter", "parameter is a JSON array")
	}
	var faults []outcome.Issue
	for i := range list.Items {
		op, f := parseOperation(&list.Items[i], i)
		faults = append(faults, f...)
		p.ops = append(p.ops, op)
	}
	if err := issues(faults); err != nil {
		return nil, err
	}
	return p, nil
}

func parseOperation(param *fhir.Value, i int) (fpOp, []outcome.Issue) {
	op := fpOp{expr: index("Parameters.parameter", i), n: i}
	if param.Kind != fhir.Object {
		return op, []outcome.Issue{malformed(op.expr, "a parameter is a JSON object")}
	}
	if name := param.Str("name"); name != "operation" {
		return op, []outcome.Issue{malformed(op.expr, "parameter %q is not an operation: every parameter of a FHIRPath Patch is named \"operation\"", name)}
	}
	partList := param.Get("part")
	if partList == nil || partList.Kind != fhir.Array || len(partList.Items) == 0 {
		return op, []outcome.Issue{malformed(op.expr, "an operation has its type, path and other arguments as parts")}
	}
	var list []outcome.Issue
	parts := map[string]int{} // part name → index
	for j := range partList.Items {
		part := &partList.Items[j]
		pe := index(op.expr+".part", j)
		if part.Kind != fhir.Object {
			list = append(list, malformed(pe, "a part is a JSON object"))
			continue
		}
		name := part.Str("name")
		switch name {
		case "type", "path", "name", "value", "index", "source", "destination":
		default:
			list = append(list, malformed(pe, "unknown part %q: an operation has type, path, name, value, index, source and destination", name))
			continue
		}
		if _, dup := parts[name]; dup {
			list = append(list, malformed(pe, "a second %s part", name))
			continue
		}
		parts[name] = j
	}
	at := func(name string) (*fhir.Value, string) {
		j := parts[name]
		return &partList.Items[j], index(op.expr+".part", j)
	}
	if _, ok := parts["type"]; !ok {
		return op, append(list, malformed(op.expr, "the operation has no type part"))
	}
	tp, te := at("type")
	kind, ok := stringValue(tp)
	if !ok {
		return op, append(list, malformed(te, "type is given as a valueCode"))
	}
	want, known := opParts[kind]
	if !known {
		return op, append(list, malformed(te, "unknown operation type %q: FHIRPath Patch has add, insert, delete, replace and move", kind))
	}
	op.kind = kind
	for j := range partList.Items {
		name := partList.Items[j].Str("name")
		if k, ok := parts[name]; ok && k == j && name != "type" && !slices.Contains(want, name) {
			list = append(list, malformed(index(op.expr+".part", j), "%s takes no %s part", kind, name))
		}
	}
	for _, name := range want {
		if _, ok := parts[name]; !ok {
			list = append(list, malformed(op.expr, "%s needs a %s part", kind, name))
			continue
		}
		part, pe := at(name)
		switch name {
		case "path":
			src, ok := stringValue(part)
			if !ok || src == "" {
				list = append(list, malformed(pe, "path is given as a valueString holding a FHIRPath expression"))
				continue
			}
			expr, err := fhirpath.Parse(src)
			if err != nil {
				list = append(list, malformed(pe, "path %q is not a FHIRPath expression: %v", src, err))
				continue
			}
			op.pathText, op.path = src, expr
		case "name":
			s, ok := stringValue(part)
			if !ok || s == "" {
				list = append(list, malformed(pe, "name is given as a valueString holding an element name"))
				continue
			}
			op.name = s
		case "index", "source", "destination":
			n, ok := intValue(part)
			if !ok {
				list = append(list, malformed(pe, "%s is given as a valueInteger of 0 or more", name))
				continue
			}
			switch name {
			case "index":
				op.index = n
			case "source":
				op.source = n
			default:
				op.destination = n
			}
		case "value":
			v, faults := parseValue(part, pe)
			list = append(list, faults...)
			op.value = &v
		}
	}
	return op, list
}

// stringValue returns the valueCode or valueString of a part.
func stringValue(part *fhir.Value) (string, bool) {
	for _, k := range []string{"valueCode", "valueString"} {
		if v := part.Get(k); v != nil {
			return v.Text, v.Kind == fhir.String
		}
	}
	return "", false
}

// intValue returns the non-negative valueInteger (or valueUnsignedInt,
// valuePositiveInt) of a part.
func intValue(part *fhir.Value) (int, bool) {
	for _, k := range []string{"valueInteger", "valueUnsignedInt", "valuePositiveInt"} {
		if v := part.Get(k); v != nil {
			if v.Kind != fhir.Number {
				return 0, false
			}
			n, err := strconv.Atoi(v.Text)
			return n, err == nil && n >= 0
		}
	}
	return 0, false
}

// parseValue reads the content of a value part, or of a part nested in
// one: exactly one of a value[x], a resource or parts.
func parseValue(part *fhir.Value, expr string) (patchValue, []outcome.Issue) {
	v := patchValue{expr: expr}
	var list []outcome.Issue
	found := 0
	for i, k := range part.Keys {
		m := &part.Items[i]
		switch {
		case k == "resource":
			found++
			rt := m.Str("resourceType")
			if m.Kind != fhir.Object || !fhir.IsResourceType(rt) {
				list = append(list, malformed(expr, "resource holds a resource with a known resourceType"))
				continue
			}
			v.typ, v.json = rt, *m
		case k == "part":
			found++
			if m.Kind != fhir.Array || len(m.Items) == 0 {
				list = append(list, malformed(expr, "part is a non-empty JSON array"))
				continue
			}
			for j := range m.Items {
				sub := &m.Items[j]
				se := index(expr+".part", j)
				name := sub.Str("name")
				if sub.Kind != fhir.Object || name == "" {
					list = append(list, malformed(se, "a part of a value has a name: the element it gives"))
					continue
				}
				nv, faults := parseValue(sub, se)
				list = append(list, faults...)
				v.parts = append(v.parts, namedValue{name: name, value: nv})
			}
		case len(k) > len("value") && k[:len("value")] == "value":
			found++
			_, typ, ok := parameterType.Child(k)
			if !ok {
				list = append(list, malformed(expr, "%s is not a value[x] a parameter can have", k))
				continue
			}
			if err := checkShape(m, typ); err != nil {
				list = append(list, malformed(expr, "%s: %v", k, err))
				continue
			}
			v.typ, v.json = typ, *m
			if ext := part.Get("_" + k); ext != nil {
				if ext.Kind != fhir.Object || !fhir.IsPrimitive(typ) {
					list = append(list, malformed(expr, "_%s holds the id and extensions of a primitive value", k))
					continue
				}
				v.ext = ext
			}
		}
	}
	switch {
	case found == 0:
		list = append(list, malformed(expr, "the value is missing: give a value[x], a resource or parts"))
	case found > 1:
		list = append(list, malformed(expr, "give one of a value[x], a resource or parts, not %d", found))
	}
	return v, list
}

// checkShape checks that a value[x] of type typ has the JSON form FHIR
// gives that type: a valueInteger is a number, a valueDate a string, a
// valueHumanName an object.
func checkShape(v *fhir.Value, typ string) error {
	t := fhir.LookupType(typ)
	if t == nil {
		return errors.New("unknown type")
	}
	want := fhir.Object
	if t.Kind == fhir.PrimitiveType {
		want = t.JSON
	}
	if v.Kind != want {
		return fmt.Errorf("a %s is a JSON %s, not a JSON %s", typ, want, v.Kind)
	}
	return nil
}
