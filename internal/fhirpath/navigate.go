package fhirpath

import (
	"slices"

	"sharedcare/internal/fhir"
)

// children appends it's children called name, typed from the model
// (http://hl7.org/fhirpath/N1/#path-selection). A choice element is reached
// by its base name (value finds valueQuantity); a primitive's children are
// the id and extensions of its "_name" sibling.
func (r *run) children(out []Item, it Item, name string, at int) ([]Item, error) {
	if it.node == nil && it.typ == nil {
		if ti, ok := it.x.(typeInfo); ok {
			switch name {
			case "namespace":
				return append(out, String(ti.namespace)), nil
			case "name":
				return append(out, String(ti.name)), nil
			}
		}
		return out, nil
	}
	t := it.typ
	if t != nil && t.Kind == fhir.PrimitiveType {
		if name != "id" && name != "extension" {
			if r.strict {
				return nil, r.errorf(at, "%s has no element %s", t.Name, name)
			}
			return out, nil
		}
		if it.ext == nil {
			return out, nil
		}
		if name == "id" {
			return appendElement(out, it.ext, name, "string"), nil
		}
		return appendElement(out, it.ext, name, "Extension"), nil
	}
	v := it.node
	if v == nil || v.Kind != fhir.Object {
		return out, nil
	}
	if t == nil {
		return appendUntyped(out, v, name), nil
	}
	el := t.Element(name)
	if el == nil {
		if e, _, ok := t.Child(name); ok && e.Choice {
			// FHIRPath names a choice element by its base name
			// (https://hl7.org/fhir/R4/fhirpath.html#polymorphism).
			return nil, r.errorf(at, "%s is the JSON name of choice element %s.%s[x]; use %s.ofType(...)", name, t.Name, e.Name, e.Name)
		}
		if r.strict {
			return nil, r.errorf(at, "%s has no element %s", t.Name, name)
		}
		return out, nil
	}
	if len(el.Types) == 0 {
		return out, nil
	}
	if !el.Choice {
		return appendElement(out, v, name, el.Types[0]), nil
	}
	for i, k := range v.Keys {
		base, ext := k, false
		if len(k) > 0 && k[0] == '_' {
			base, ext = k[1:], true
		}
		if len(base) <= len(name) || base[:len(name)] != name {
			continue
		}
		suffix := base[len(name):]
		for _, ty := range el.Types {
			if !choiceMatch(suffix, ty) {
				continue
			}
			if ext {
				// "_valueString" alone: a primitive with only extensions.
				if v.Get(base) == nil {
					out = appendValue(out, nil, &v.Items[i], fhir.LookupType(ty))
				}
			} else {
				out = appendValue(out, &v.Items[i], findExt(v, base), fhir.LookupType(ty))
			}
			break
		}
	}
	return out, nil
}

// choiceMatch reports whether suffix is the JSON suffix of type ty in a
// choice element: "Quantity" for Quantity, "DateTime" for dateTime.
func choiceMatch(suffix, ty string) bool {
	if len(suffix) != len(ty) || len(ty) == 0 {
		return false
	}
	c := ty[0]
	if c >= 'a' && c <= 'z' {
		c -= 'a' - 'A'
	}
	return suffix[0] == c && suffix[1:] == ty[1:]
}

// findExt returns the "_name" member of obj, or nil.
func findExt(obj *fhir.Value, name string) *fhir.Value {
	for i, k := range obj.Keys {
		if len(k) == len(name)+1 && k[0] == '_' && k[1:] == name {
			return &obj.Items[i]
		}
	}
	return nil
}

// appendElement appends the member name of obj, holding values of FHIR
// type typeName, together with its "_name" sibling for primitives.
func appendElement(out []Item, obj *fhir.Value, name, typeName string) []Item {
	var val, ext *fhir.Value
	for i, k := range obj.Keys {
		switch {
		case k == name:
			val = &obj.Items[i]
		case len(k) == len(name)+1 && k[0] == '_' && k[1:] == name:
			ext = &obj.Items[i]
		}
	}
	if val == nil && ext == nil {
		return out
	}
	return appendValue(out, val, ext, fhir.LookupType(typeName))
}

// appendValue appends the items of a member's value (an array gives one
// item per element) of type t, with ext its "_name" sibling when t is primitive.
func appendValue(out []Item, val, ext *fhir.Value, t *fhir.Type) []Item {
	prim := t != nil && t.Kind == fhir.PrimitiveType
	if !prim {
		ext = nil
	}
	if (val != nil && val.Kind == fhir.Array) || (val == nil && ext != nil && ext.Kind == fhir.Array) {
		n := 0
		if val != nil {
			n = len(val.Items)
		}
		if ext != nil && ext.Kind == fhir.Array {
			n = max(n, len(ext.Items))
		}
		out = slices.Grow(out, n)
		for i := range n {
			var v, x *fhir.Value
			if val != nil && i < len(val.Items) {
				v = &val.Items[i]
			}
			if ext != nil && ext.Kind == fhir.Array && i < len(ext.Items) {
				x = &ext.Items[i]
			}
			out = appendOne(out, v, x, t, prim)
		}
		return out
	}
	return appendOne(out, val, ext, t, prim)
}

func appendOne(out []Item, v, x *fhir.Value, t *fhir.Type, prim bool) []Item {
	if v != nil && v.Kind == fhir.Null {
		v = nil
	}
	if x != nil && x.Kind != fhir.Object {
		x = nil
	}
	if !prim {
		if v == nil {
			return out
		}
		return append(out, objectItem(v, t))
	}
	if v == nil && x == nil {
		return out
	}
	return append(out, Item{node: v, ext: x, typ: t, kind: primitiveKind(t, v)})
}

// appendUntyped appends the member name of an object whose type the model
// does not know: scalars take their System type from their JSON kind.
func appendUntyped(out []Item, obj *fhir.Value, name string) []Item {
	var val, ext *fhir.Value
	for i, k := range obj.Keys {
		switch {
		case k == name:
			val = &obj.Items[i]
		case len(k) == len(name)+1 && k[0] == '_' && k[1:] == name:
			ext = &obj.Items[i]
		}
	}
	if val == nil {
		return out
	}
	one := func(v, x *fhir.Value) {
		switch v.Kind {
		case fhir.Null:
		case fhir.Object:
			out = append(out, objectItem(v, nil))
		default:
			if x != nil && x.Kind != fhir.Object {
				x = nil
			}
			out = append(out, Item{node: v, ext: x, kind: jsonKind(v)})
		}
	}
	if val.Kind == fhir.Array {
		for i := range val.Items {
			var x *fhir.Value
			if ext != nil && ext.Kind == fhir.Array && i < len(ext.Items) {
				x = &ext.Items[i]
			}
			one(&val.Items[i], x)
		}
		return out
	}
	one(val, ext)
	return out
}

// allChildren appends every child of it, in document order
// (http://hl7.org/fhirpath/N1/#children-collection).
func allChildren(out []Item, it Item) []Item {
	t := it.typ
	if t != nil && t.Kind == fhir.PrimitiveType {
		if it.ext != nil {
			out = appendElement(out, it.ext, "id", "string")
			out = appendElement(out, it.ext, "extension", "Extension")
		}
		return out
	}
	v := it.node
	if v == nil || v.Kind != fhir.Object {
		return out
	}
	for i, k := range v.Keys {
		if k == "resourceType" {
			continue
		}
		base, isExt := k, false
		if len(k) > 0 && k[0] == '_' {
			base, isExt = k[1:], true
			if v.Get(base) != nil {
				continue // taken with its value
			}
		}
		if t == nil {
			if !isExt {
				out = appendUntyped(out, v, k)
			}
			continue
		}
		_, ty, ok := t.Child(base)
		if !ok {
			continue
		}
		et := fhir.LookupType(ty)
		if isExt {
			out = appendValue(out, nil, &v.Items[i], et)
		} else {
			out = appendValue(out, &v.Items[i], findExt(v, k), et)
		}
	}
	return out
}
