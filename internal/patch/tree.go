package patch

import (
	"math"
	"slices"
	"strings"

	"sharedcare/internal/fhir"
)

// FHIRPath evaluation hands back items that point at nodes of the resource,
// but changing a node means changing its parent: the member that holds it,
// the array it sits in, the "_name" sibling holding a primitive's
// extensions. So each selected node is looked up again from the root,
// which yields the steps to it and, from the model, the type of every
// object on the way. A node that cannot be found is not part of the
// resource being patched (a computed value, or resolve() reaching beyond
// it), and the spec forbids patching it.

// step is one level on the way from the resource to a node: member key of
// obj, and the index in it when the member is an array.
type step struct {
	obj *fhir.Value
	typ *fhir.Type // obj's type; nil when the model does not know it
	key string     // the element's JSON name, without a leading underscore
	idx int        // index in the member's array, or -1
	ext bool       // the node is in the "_key" sibling: a primitive's id and extensions
}

// location is where a node is: the steps from the root (none for the root
// itself) and the node's own type.
type location struct {
	steps []step
	node  *fhir.Value
	typ   *fhir.Type
}

// last is the step that holds the node; nil for the root.
func (l *location) last() *step {
	if len(l.steps) == 0 {
		return nil
	}
	return &l.steps[len(l.steps)-1]
}

// locate finds target in the resource root and types the way to it.
func locate(root, target *fhir.Value) (location, bool) {
	var l location
	if target == nil || !find(root, target, &l.steps) {
		return l, false
	}
	t := objectType(root, nil)
	node := root
	for i := range l.steps {
		s := &l.steps[i]
		s.typ = t
		key := s.key
		if s.ext {
			key = "_" + key
		}
		node = s.obj.Get(key)
		if s.idx >= 0 {
			node = &node.Items[s.idx]
		}
		var childType string
		if t != nil {
			_, childType, _ = t.Child(s.key)
		}
		t = objectType(node, fhir.LookupType(childType))
		if s.ext && t != nil && t.Kind != fhir.PrimitiveType {
			t = nil // "_name" of an element that is not a primitive: not FHIR
		}
	}
	l.node, l.typ = node, t
	return l, true
}

// objectType is t, unless t is abstract (Resource, as contained and
// Bundle.entry.resource are typed) or unknown, when the node's own
// resourceType says.
func objectType(node *fhir.Value, t *fhir.Type) *fhir.Type {
	if (t == nil || t.Abstract) && node.Kind == fhir.Object {
		if rt := fhir.LookupType(node.Str("resourceType")); rt != nil && rt.Kind == fhir.ResourceType {
			return rt
		}
	}
	return t
}

// find appends to path the steps from v to target, by identity.
func find(v, target *fhir.Value, path *[]step) bool {
	if v == target {
		return true
	}
	if v.Kind != fhir.Object {
		return false
	}
	for i := range v.Items {
		key, ext := v.Keys[i], false
		if strings.HasPrefix(key, "_") {
			key, ext = key[1:], true
		}
		m := &v.Items[i]
		if m.Kind == fhir.Array {
			for j := range m.Items {
				*path = append(*path, step{obj: v, key: key, idx: j, ext: ext})
				if find(&m.Items[j], target, path) {
					return true
				}
				*path = (*path)[:len(*path)-1]
			}
			continue
		}
		*path = append(*path, step{obj: v, key: key, idx: -1, ext: ext})
		if find(m, target, path) {
			return true
		}
		*path = (*path)[:len(*path)-1]
	}
	return false
}

// listLen is the length of the list a repeating element key of obj holds:
// its array, or its "_key" sibling when that is longer (trailing
// primitives with only extensions).
func listLen(obj *fhir.Value, key string) int {
	n := 0
	if v := obj.Get(key); v != nil && v.Kind == fhir.Array {
		n = len(v.Items)
	}
	if x := obj.Get("_" + key); x != nil && x.Kind == fhir.Array {
		n = max(n, len(x.Items))
	}
	return n
}

// extList returns the "_key" array of obj padded with nulls to n entries,
// creating it when create is set; nil when it is absent and not created.
func extList(obj *fhir.Value, t *fhir.Type, key string, n int, create bool) *fhir.Value {
	x := obj.Get("_" + key)
	if x == nil || x.Kind != fhir.Array {
		if !create {
			return nil
		}
		putMember(obj, t, "_"+key, fhir.Value{Kind: fhir.Array})
		x = obj.Get("_" + key)
	}
	for len(x.Items) < n {
		x.Items = append(x.Items, fhir.Value{Kind: fhir.Null})
	}
	return x
}

// valueList returns the key array of obj padded with nulls to n entries;
// nil when absent.
func valueList(obj *fhir.Value, key string, n int) *fhir.Value {
	v := obj.Get(key)
	if v == nil || v.Kind != fhir.Array {
		return nil
	}
	for len(v.Items) < n {
		v.Items = append(v.Items, fhir.Value{Kind: fhir.Null})
	}
	return v
}

// tidyExt drops a "_key" array that holds nothing but nulls, and pads one
// with nulls to the length of the key array: the two must be as long as
// each other (https://hl7.org/fhir/R4/json.html#primitive).
func tidyExt(obj *fhir.Value, key string) {
	x := obj.Get("_" + key)
	if x == nil || x.Kind != fhir.Array {
		return
	}
	if !slices.ContainsFunc(x.Items, func(e fhir.Value) bool { return e.Kind != fhir.Null }) {
		obj.Delete("_" + key)
		return
	}
	if v := obj.Get(key); v != nil && v.Kind == fhir.Array {
		for len(x.Items) < len(v.Items) {
			x.Items = append(x.Items, fhir.Value{Kind: fhir.Null})
		}
	}
}

// dropEmpty drops a key array left with no values: empty, or all nulls
// with no "_key" sibling to give them extensions.
func dropEmpty(obj *fhir.Value, key string) {
	v := obj.Get(key)
	if v == nil || v.Kind != fhir.Array {
		return
	}
	if len(v.Items) > 0 && obj.Get("_"+key) != nil {
		return
	}
	for _, e := range v.Items {
		if e.Kind != fhir.Null {
			return
		}
	}
	obj.Delete(key)
}

// remove deletes what s addresses: the element (its value and its "_key"
// entry both), or with extOnly just the "_key" entry.
func remove(s *step, extOnly bool) {
	obj, key := s.obj, s.key
	if s.idx < 0 {
		if !extOnly {
			obj.Delete(key)
		}
		obj.Delete("_" + key)
		return
	}
	if x := obj.Get("_" + key); x != nil && x.Kind == fhir.Array && s.idx < len(x.Items) {
		if extOnly {
			x.Items[s.idx] = fhir.Value{Kind: fhir.Null}
		} else {
			x.Items = slices.Delete(x.Items, s.idx, s.idx+1)
		}
	}
	if !extOnly {
		if v := obj.Get(key); v != nil && v.Kind == fhir.Array && s.idx < len(v.Items) {
			v.Items = slices.Delete(v.Items, s.idx, s.idx+1)
		}
	}
	tidyExt(obj, key)
	dropEmpty(obj, key)
}

// set puts v (and a primitive's ext, or nil) at s.
func set(s *step, v fhir.Value, ext *fhir.Value) {
	obj, key := s.obj, s.key
	if s.idx < 0 {
		putMember(obj, s.typ, key, v)
		if ext != nil {
			putMember(obj, s.typ, "_"+key, *ext)
		} else {
			obj.Delete("_" + key)
		}
		return
	}
	n := listLen(obj, key)
	if list := valueList(obj, key, n); list != nil {
		list.Items[s.idx] = v
	} else {
		// Only the "_key" array existed: the list held primitives with
		// extensions only.
		list := fhir.Value{Kind: fhir.Array, Items: make([]fhir.Value, n)}
		for i := range list.Items {
			list.Items[i] = fhir.Value{Kind: fhir.Null}
		}
		list.Items[s.idx] = v
		putMember(obj, s.typ, key, list)
	}
	if x := extList(obj, s.typ, key, n, ext != nil); x != nil {
		if ext != nil {
			x.Items[s.idx] = *ext
		} else {
			x.Items[s.idx] = fhir.Value{Kind: fhir.Null}
		}
	}
	tidyExt(obj, key)
}

// insert puts v (and ext) into the list key of obj at position i, which is
// at most the list's length, creating the list when there is none.
func insert(obj *fhir.Value, t *fhir.Type, key string, i int, v fhir.Value, ext *fhir.Value) {
	n := listLen(obj, key)
	list := valueList(obj, key, n)
	if list == nil {
		items := make([]fhir.Value, n)
		for j := range items {
			items[j] = fhir.Value{Kind: fhir.Null}
		}
		putMember(obj, t, key, fhir.Value{Kind: fhir.Array, Items: items})
		list = obj.Get(key)
	}
	list.Items = slices.Insert(list.Items, i, v)
	if x := extList(obj, t, key, n, ext != nil); x != nil {
		e := fhir.Value{Kind: fhir.Null}
		if ext != nil {
			e = *ext
		}
		x.Items = slices.Insert(x.Items, i, e)
	}
	tidyExt(obj, key)
}

// move moves entry from of the list key of obj to position to, keeping its
// "_key" sibling in step.
func move(obj *fhir.Value, key string, from, to int) {
	n := listLen(obj, key)
	for _, list := range []*fhir.Value{valueList(obj, key, n), extList(obj, nil, key, n, false)} {
		if list == nil {
			continue
		}
		v := list.Items[from]
		list.Items = slices.Delete(list.Items, from, from+1)
		list.Items = slices.Insert(list.Items, to, v)
	}
	tidyExt(obj, key)
}

// putMember sets member key of obj, a t, to v. A new member goes where
// the spec's element order puts it, so that a patched resource reads like
// any other: birthDate after gender, _birthDate right after birthDate.
func putMember(obj *fhir.Value, t *fhir.Type, key string, v fhir.Value) {
	if m := obj.Get(key); m != nil {
		*m = v
		return
	}
	r := rank(t, key)
	pos := len(obj.Keys)
	for i, k := range obj.Keys {
		if rank(t, k) > r {
			pos = i
			break
		}
	}
	obj.Keys = slices.Insert(obj.Keys, pos, key)
	obj.Items = slices.Insert(obj.Items, pos, v)
}

// rank orders the members of an object of type t as the spec lists its
// elements: resourceType first, unknown members last.
func rank(t *fhir.Type, key string) int {
	if key == "resourceType" {
		return -1
	}
	ext := 0
	if strings.HasPrefix(key, "_") {
		key, ext = key[1:], 1
	}
	if t == nil {
		return math.MaxInt
	}
	e, _, ok := t.Child(key)
	if !ok {
		return math.MaxInt
	}
	for i := range t.Elements {
		if &t.Elements[i] == e {
			return 2*i + ext
		}
	}
	return math.MaxInt
}

// present reports whether obj holds element e in any of its JSON names
// (each type of a choice, and the "_name" of a primitive).
func present(obj *fhir.Value, e *fhir.Element) bool {
	for _, k := range obj.Keys {
		k = strings.TrimPrefix(k, "_")
		if k == e.Name {
			return true
		}
		if !e.Choice {
			continue
		}
		if suffix, ok := strings.CutPrefix(k, e.Name); ok {
			for _, ty := range e.Types {
				if fhir.ChoiceSuffix(ty) == suffix {
					return true
				}
			}
		}
	}
	return false
}
