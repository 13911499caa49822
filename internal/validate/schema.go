package validate

import (
	"fmt"
	"strings"
	"sync"

	"sharedcare/internal/fhir"
)

// schema is the R4 model arranged for validation: each type's JSON member
// names ("valueQuantity", "_birthDate") resolved once to an element and a
// type, so that checking a member costs one map lookup. It is built on
// first use, shared by every Validator and never changed afterwards, so it
// needs no lock.
type schema struct {
	types map[string]*typeInfo
	// problems are model faults found while building (an element whose type
	// the model lacks); a test holds them at none.
	problems []string
}

var loadSchema = sync.OnceValue(buildSchema)

// typeInfo is one fhir.Type with its members resolved.
type typeInfo struct {
	t       *fhir.Type
	name    string
	kind    fhir.TypeKind
	elems   []elemInfo
	members map[string]member
	prim    *primitive // PrimitiveType only
	role    role
}

// role marks the types that carry rules of their own beyond their elements.
type role uint8

const (
	roleNone role = iota
	roleReference
	roleExtension
	roleCoding
	roleCodeableConcept
)

// elemInfo is one element of a type.
type elemInfo struct {
	*fhir.Element
	repeating bool
	// required is the value set of a required binding, "" when there is none.
	required string
	// contained marks DomainResource.contained, whose resources belong to
	// the resource around them; other elements of type Resource
	// (Bundle.entry.resource, Parameters.parameter.resource) hold resources
	// that stand on their own.
	contained bool
}

// memberKind says what a JSON member name stands for.
type memberKind uint8

const (
	memPrimitive memberKind = iota + 1 // "birthDate": a primitive's value
	memShadow                          // "_birthDate": a primitive's id and extensions
	memComplex                         // a data type or backbone element
	memResource                        // a whole resource
)

// member is what a JSON member name of an object resolves to.
type member struct {
	elem int // index into typeInfo.elems
	kind memberKind
	typ  *typeInfo // the type of the value; nil for memResource
}

func buildSchema() *schema {
	s := &schema{types: map[string]*typeInfo{}}
	for _, name := range fhir.ResourceTypes() {
		s.info(name)
	}
	return s
}

// info returns the typeInfo of the named type, building it and every type
// it reaches on first sight; nil when the model has no such type.
func (s *schema) info(name string) *typeInfo {
	if ti, ok := s.types[name]; ok {
		return ti
	}
	t := fhir.LookupType(name)
	if t == nil {
		return nil
	}
	ti := &typeInfo{t: t, name: name, kind: t.Kind, members: make(map[string]member, len(t.Elements))}
	s.types[name] = ti // before recursing: Extension holds Extension, Questionnaire.item holds itself
	switch name {
	case "Reference":
		ti.role = roleReference
	case "Extension":
		ti.role = roleExtension
	case "Coding":
		ti.role = roleCoding
	case "CodeableConcept":
		ti.role = roleCodeableConcept
	}
	if t.Kind == fhir.PrimitiveType {
		ti.prim = newPrimitive(t)
	}
	ti.elems = make([]elemInfo, len(t.Elements))
	for i := range t.Elements {
		e := &t.Elements[i]
		ei := elemInfo{Element: e, repeating: e.Repeating()}
		if e.Binding != nil && e.Binding.Strength == "required" {
			ei.required = e.Binding.ValueSet
		}
		ti.elems[i] = ei
		names := []string{e.Name}
		if e.Choice {
			names = names[:0]
			for _, ty := range e.Types {
				names = append(names, e.Name+fhir.ChoiceSuffix(ty))
			}
		}
		for j, jsonName := range names {
			tyName := e.Types[j]
			if tyName == "Resource" {
				ti.elems[i].contained = t.Kind == fhir.ResourceType && e.Name == "contained"
				ti.members[jsonName] = member{elem: i, kind: memResource}
				continue
			}
			ct := s.info(tyName)
			if ct == nil {
				s.problems = append(s.problems, fmt.Sprintf("%s: no type %s", e.Path, tyName))
				continue
			}
			if ct.kind == fhir.PrimitiveType {
				ti.members[jsonName] = member{elem: i, kind: memPrimitive, typ: ct}
				ti.members["_"+jsonName] = member{elem: i, kind: memShadow, typ: ct}
			} else {
				ti.members[jsonName] = member{elem: i, kind: memComplex, typ: ct}
			}
		}
	}
	return ti
}

// resource returns the typeInfo of a concrete resource type, or nil.
func (s *schema) resource(name string) *typeInfo {
	ti := s.types[name]
	if ti == nil || ti.kind != fhir.ResourceType || ti.t.Abstract {
		return nil
	}
	return ti
}

// forms lists the JSON names of a choice element, for diagnostics.
func forms(e *fhir.Element) string {
	var b strings.Builder
	for i, ty := range e.Types {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(e.Name)
		b.WriteString(fhir.ChoiceSuffix(ty))
	}
	return b.String()
}
