package patch

import (
	"context"
	"fmt"

	"sharedcare/internal/fhir"
	"sharedcare/internal/fhirpath"
	"sharedcare/internal/outcome"
)

// Apply applies the operations in order, each to the result of the one
// before, to a copy of res and returns it; res is not changed. Following
// https://hl7.org/fhir/R4/fhirpatch.html:
//
//   - add, replace and delete need their path to select one element; a
//     delete whose path selects nothing does nothing, any other operation
//     whose path selects nothing fails;
//   - insert and move take a path that selects a whole list (every entry of
//     one repeating element, in order, as Patient.identifier does);
//   - a path may only select elements of the resource itself, its contained
//     resources included (resolve() reaches no further);
//   - a value must have the type of the element it goes into, or a type
//     derived from it (an Age where a Quantity goes). A primitive may also
//     go where another primitive of the same JSON form goes (a valueString
//     into a code): the validation that follows Apply checks its format.
//
// add appends to a repeating element, creating its array, and refuses a
// non-repeating one that already has a value; a choice element is named by
// its base name (deceased) and gets its JSON name from the value's type
// (deceasedBoolean). add on a primitive adds to its id and extensions
// (the "_name" sibling). delete drops objects and arrays it leaves empty,
// so that deleting Patient.contact[0].name.text from a name with no other
// content removes the name. A primitive's extensions travel with it: they
// are deleted, replaced, inserted and moved together with its value.
//
// A failure is a 422 naming the operation; ctx is checked while
// evaluating paths.
func (p *FHIRPath) Apply(ctx context.Context, res *fhir.Value) (fhir.Value, error) {
	doc := res.Clone()
	for i := range p.ops {
		op := &p.ops[i]
		if err := op.apply(ctx, &doc); err != nil {
			return fhir.Value{}, err
		}
		if !keepsIdentity(res, &doc) {
			return fhir.Value{}, op.fail("it changes the resource's resourceType or id, which a patch may not do")
		}
	}
	if tooDeep(&doc, 0) {
		return fhir.Value{}, unapplicable("", "the patched resource nests deeper than %d levels", fhir.MaxDepth)
	}
	return doc, nil
}

// fail is a 422 for op, telling which operation it was.
func (op *fpOp) fail(format string, args ...any) *outcome.Error {
	return op.failAt(op.expr, format, args...)
}

func (op *fpOp) failAt(expr, format string, args ...any) *outcome.Error {
	return unapplicable(expr, "operation %d (%s %s): %s", op.n, op.kind, op.pathText, fmt.Sprintf(format, args...))
}

func (op *fpOp) apply(ctx context.Context, doc *fhir.Value) error {
	items, err := op.path.Evaluate(ctx, fhirpath.Resource(doc), nil)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		e := op.fail("the path could not be evaluated: %v", err)
		e.Err = err
		return e
	}
	switch op.kind {
	case "add":
		return op.add(doc, items)
	case "insert":
		return op.insert(doc, items)
	case "delete":
		return op.delete(doc, items)
	case "replace":
		return op.replace(doc, items)
	case "move":
		return op.move(doc, items)
	}
	return op.fail("unknown operation")
}

// one locates the single element items must hold.
func (op *fpOp) one(doc *fhir.Value, items []fhirpath.Item) (location, error) {
	switch len(items) {
	case 0:
		return location{}, op.fail("the path selects nothing")
	case 1:
	default:
		return location{}, op.fail("the path selects %d elements, and %s needs exactly one", len(items), op.kind)
	}
	return op.locate(doc, items[0])
}

func (op *fpOp) locate(doc *fhir.Value, it fhirpath.Item) (location, error) {
	target := it.Value()
	if target == nil {
		target = it.Extensions()
	}
	l, ok := locate(doc, target)
	if !ok {
		return l, op.fail("the path selects %s, which is not an element of this resource", it.String())
	}
	return l, nil
}

// list locates the list items must be the whole of, returning the step to
// its first entry (the parent object, its type and the element name) and
// the list's length. Only the first item is looked up from the root: the
// others must be the entries that follow it.
func (op *fpOp) list(doc *fhir.Value, items []fhirpath.Item) (*step, int, error) {
	if len(items) == 0 {
		return nil, 0, op.fail("the path selects nothing; %s works on an existing list (add starts one)", op.kind)
	}
	l, err := op.locate(doc, items[0])
	if err != nil {
		return nil, 0, err
	}
	s := l.last()
	if s == nil || s.idx < 0 {
		return nil, 0, op.fail("the path selects an element that is not in a list")
	}
	n := listLen(s.obj, s.key)
	vals, exts := s.obj.Get(s.key), s.obj.Get("_"+s.key)
	at := func(list *fhir.Value, i int) *fhir.Value {
		if list == nil || list.Kind != fhir.Array || i >= len(list.Items) {
			return nil
		}
		return &list.Items[i]
	}
	for i, it := range items {
		same := false
		if v := it.Value(); v != nil {
			same = v == at(vals, i)
		} else if x := it.Extensions(); x != nil {
			same = x == at(exts, i) // a primitive with only extensions
		}
		if s.idx != 0 || !same {
			return nil, 0, op.fail("the path must select every entry of one list, in order")
		}
	}
	if len(items) != n {
		return nil, 0, op.fail("the path selects %d of the %d entries of the list; it must select the whole list", len(items), n)
	}
	if s.typ == nil {
		return nil, 0, op.fail("the type of the list's parent is unknown")
	}
	return s, n, nil
}

func (op *fpOp) add(doc *fhir.Value, items []fhirpath.Item) error {
	l, err := op.one(doc, items)
	if err != nil {
		return err
	}
	t := l.typ
	if t == nil {
		return op.fail("the type of the element the path selects is unknown")
	}
	obj := l.node
	if t.Kind == fhir.PrimitiveType {
		obj = extObject(l.last())
	} else if obj.Kind != fhir.Object {
		return op.fail("the path selects a %s, which has no elements", t.Name)
	}
	e, fixed := element(t, op.name)
	if e == nil {
		return op.fail("%s has no element %q", t.Name, op.name)
	}
	key, v, ext, err := op.build(op.value, e, fixed)
	if err != nil {
		return err
	}
	if e.Repeating() {
		if m := obj.Get(key); m != nil && m.Kind != fhir.Array {
			return op.fail("%s.%s is not held as a list", t.Name, key)
		}
		insert(obj, t, key, listLen(obj, key), v, ext)
		return nil
	}
	if present(obj, e) {
		return op.fail("%s already has %s, which does not repeat: use replace", t.Name, e.Name)
	}
	putMember(obj, t, key, v)
	if ext != nil {
		putMember(obj, t, "_"+key, *ext)
	}
	return nil
}

// extObject returns the object holding the id and extensions of the
// primitive s addresses, creating it.
func extObject(s *step) *fhir.Value {
	if s.idx < 0 {
		if x := s.obj.Get("_" + s.key); x == nil || x.Kind != fhir.Object {
			putMember(s.obj, s.typ, "_"+s.key, fhir.Value{Kind: fhir.Object})
		}
		return s.obj.Get("_" + s.key)
	}
	x := extList(s.obj, s.typ, s.key, listLen(s.obj, s.key), true)
	if x.Items[s.idx].Kind != fhir.Object {
		x.Items[s.idx] = fhir.Value{Kind: fhir.Object}
	}
	return &x.Items[s.idx]
}

// element finds the element of t called name: its base name ("deceased"),
// or, for a choice, the JSON name of one of its types ("deceasedBoolean"),
// which fixes the type.
func element(t *fhir.Type, name string) (e *fhir.Element, fixed string) {
	if e := t.Element(name); e != nil {
		return e, ""
	}
	if e, ty, ok := t.Child(name); ok && e.Choice {
		return e, ty
	}
	return nil, ""
}

func (op *fpOp) insert(doc *fhir.Value, items []fhirpath.Item) error {
	s, n, err := op.list(doc, items)
	if err != nil {
		return err
	}
	if op.index > n {
		return op.fail("index %d is past the end of the list, which has %d entries", op.index, n)
	}
	e, _, ok := s.typ.Child(s.key)
	if !ok {
		return op.fail("%s has no element %q", s.typ.Name, s.key)
	}
	_, v, ext, err := op.build(op.value, e, "")
	if err != nil {
		return err
	}
	insert(s.obj, s.typ, s.key, op.index, v, ext)
	return nil
}

func (op *fpOp) delete(doc *fhir.Value, items []fhirpath.Item) error {
	if len(items) == 0 {
		return nil // "Path of the element to delete (if found)"
	}
	l, err := op.one(doc, items)
	if err != nil {
		return err
	}
	s := l.last()
	if s == nil {
		return op.fail("the path selects the resource itself, which a patch cannot delete")
	}
	remove(s, false)
	// An object left with no members is not valid FHIR (ele-1): drop it,
	// and so on up, short of the resource.
	for i := len(l.steps) - 1; i > 0; i-- {
		if len(l.steps[i].obj.Keys) > 0 {
			break
		}
		remove(&l.steps[i-1], l.steps[i-1].ext)
	}
	return nil
}

func (op *fpOp) replace(doc *fhir.Value, items []fhirpath.Item) error {
	l, err := op.one(doc, items)
	if err != nil {
		return err
	}
	s := l.last()
	if s == nil {
		return op.fail("the path selects the resource itself, which a patch cannot replace")
	}
	if s.typ == nil {
		return op.fail("the type of the element's parent is unknown")
	}
	e, _, ok := s.typ.Child(s.key)
	if !ok {
		return op.fail("%s has no element %q", s.typ.Name, s.key)
	}
	key, v, ext, err := op.build(op.value, e, "")
	if err != nil {
		return err
	}
	if key != s.key {
		// A choice element taking another type changes its JSON name:
		// deceasedBoolean becomes deceasedDateTime.
		remove(s, false)
		putMember(s.obj, s.typ, key, v)
		if ext != nil {
			putMember(s.obj, s.typ, "_"+key, *ext)
		}
		return nil
	}
	set(s, v, ext)
	return nil
}

func (op *fpOp) move(doc *fhir.Value, items []fhirpath.Item) error {
	s, n, err := op.list(doc, items)
	if err != nil {
		return err
	}
	if op.source >= n || op.destination >= n {
		return op.fail("source %d and destination %d must both be below the list's length, %d", op.source, op.destination, n)
	}
	move(s.obj, s.key, op.source, op.destination)
	return nil
}

// build turns v into the JSON of element e: its JSON name (for a choice,
// from the value's type), its value and, for a primitive, its "_name"
// sibling or nil. fixed, when set, is the type a choice element was named
// with. The values are fresh copies: the patch is shared and never
// changes.
func (op *fpOp) build(v *patchValue, e *fhir.Element, fixed string) (string, fhir.Value, *fhir.Value, error) {
	var ty, key string
	if e.Choice {
		if v.typ == "" {
			return "", fhir.Value{}, nil, op.failAt(v.expr, "%s[x] takes one of several types: give it as a value[x] that names one", e.Name)
		}
		ty = choiceType(e, v.typ)
		if ty == "" || (fixed != "" && ty != fixed) {
			return "", fhir.Value{}, nil, op.failAt(v.expr, "%s[x] cannot hold type %s", e.Name, v.typ)
		}
		key = e.Name + fhir.ChoiceSuffix(ty)
	} else {
		if len(e.Types) == 0 {
			return "", fhir.Value{}, nil, op.failAt(v.expr, "%s has no type to build", e.Name)
		}
		ty, key = e.Types[0], e.Name
		if !fits(v.typ, ty) {
			given := "of type " + v.typ
			if v.typ == "" {
				given = "given as parts"
			}
			return "", fhir.Value{}, nil, op.failAt(v.expr, "%s holds type %s, and the value is %s", e.Name, ty, given)
		}
	}
	if v.typ != "" {
		var ext *fhir.Value
		if v.ext != nil {
			x := v.ext.Clone()
			ext = &x
		}
		return key, v.json.Clone(), ext, nil
	}
	obj, err := op.buildParts(v, fhir.LookupType(ty))
	return key, obj, nil, err
}

// buildParts builds an object of type t from the named parts of v.
func (op *fpOp) buildParts(v *patchValue, t *fhir.Type) (fhir.Value, error) {
	obj := fhir.Value{Kind: fhir.Object}
	for i := range v.parts {
		p := &v.parts[i]
		e, fixed := element(t, p.name)
		if e == nil {
			return obj, op.failAt(p.value.expr, "%s has no element %q", t.Name, p.name)
		}
		key, j, ext, err := op.build(&p.value, e, fixed)
		if err != nil {
			return obj, err
		}
		if e.Repeating() {
			insert(&obj, t, key, listLen(&obj, key), j, ext)
			continue
		}
		if present(&obj, e) {
			return obj, op.failAt(p.value.expr, "a second %s, which does not repeat", e.Name)
		}
		putMember(&obj, t, key, j)
		if ext != nil {
			putMember(&obj, t, "_"+key, *ext)
		}
	}
	return obj, nil
}

// choiceType is the type of choice element e that a value of type typ
// goes in as: typ itself, or the type it specialises (an Age in a
// Quantity); "" when e takes neither.
func choiceType(e *fhir.Element, typ string) string {
	for _, ty := range e.Types {
		if ty == typ {
			return ty
		}
	}
	for _, ty := range e.Types {
		if fhir.Derives(typ, ty) {
			return ty
		}
	}
	return ""
}

// fits reports whether a value of type typ ("" for one built from parts)
// may go into an element of type want.
func fits(typ, want string) bool {
	w := fhir.LookupType(want)
	if w == nil {
		return false
	}
	if typ == "" {
		// Parts build a data type or backbone element; a resource comes
		// whole, in a resource part.
		return w.Kind != fhir.PrimitiveType && w.Kind != fhir.ResourceType
	}
	if typ == want || fhir.Derives(typ, want) {
		return true
	}
	t := fhir.LookupType(typ)
	return t != nil && t.Kind == fhir.PrimitiveType && w.Kind == fhir.PrimitiveType && t.JSON == w.JSON
}
