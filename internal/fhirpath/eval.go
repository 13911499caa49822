package fhirpath

import (
	"regexp"

	"sharedcare/internal/fhir"
)

// node is a compiled sub-expression. eval never modifies a slice it receives
// or returns one it will modify later: results are shared freely.
type node interface {
	eval(r *run, s scope) ([]Item, error)
	at() int // byte offset in the source, for errors
}

// invoker is what may follow a dot: a member name or a function call.
type invoker interface {
	node
	invoke(r *run, s scope, in []Item) ([]Item, error)
}

type literal struct {
	items []Item
	pos   int
}

func (n *literal) eval(*run, scope) ([]Item, error) { return n.items, nil }
func (n *literal) at() int                          { return n.pos }

type special struct {
	name string // this, index, total
	pos  int
}

func (n *special) at() int { return n.pos }

func (n *special) eval(r *run, s scope) ([]Item, error) {
	switch n.name {
	case "this":
		return s.this, nil
	case "index":
		if s.index < 0 {
			return nil, nil
		}
		return []Item{Integer(int64(s.index))}, nil
	default:
		return s.total, nil
	}
}

type variable struct {
	name string
	pos  int
}

func (n *variable) at() int { return n.pos }

func (n *variable) eval(r *run, s scope) ([]Item, error) { return r.variable(n.name, n.pos) }

// member is a name: a path step after a dot, or the first name of a path,
// which may instead name the input's type (Patient.name).
type member struct {
	name string
	head bool
	typ  *fhir.Type // for a head name that is a type name
	pos  int
}

func (n *member) at() int { return n.pos }

func (n *member) eval(r *run, s scope) ([]Item, error) {
	if n.typ != nil {
		// A type name at the head of a path selects the items of that type
		// (http://hl7.org/fhirpath/N1/#path-selection). When all match, the
		// input itself is the answer.
		all := true
		for _, it := range s.this {
			if it.typ == nil || !fhir.Derives(it.typ.Name, n.typ.Name) {
				all = false
				break
			}
		}
		if all {
			return s.this, nil
		}
		out := r.spare()
		for _, it := range s.this {
			if it.typ != nil && fhir.Derives(it.typ.Name, n.typ.Name) {
				out = append(out, it)
				continue
			}
			var err error
			if out, err = r.children(out, it, n.name, n.pos); err != nil {
				return nil, err
			}
		}
		return r.keep(out), nil
	}
	return n.invoke(r, s, s.this)
}

func (n *member) invoke(r *run, s scope, in []Item) ([]Item, error) {
	if len(in) == 0 {
		return nil, nil
	}
	out := r.spare()
	for _, it := range in {
		var err error
		if out, err = r.children(out, it, n.name, n.pos); err != nil {
			return nil, err
		}
	}
	return r.keep(out), nil
}

// call is a function call; with no focus it applies to $this.
type call struct {
	name string
	fn   *function
	args []node
	typ  typeSpec       // for is, as, ofType
	re   *regexp.Regexp // for matches, matchesFull, replaceMatches with a literal pattern
	pos  int
}

func (n *call) at() int { return n.pos }

func (n *call) eval(r *run, s scope) ([]Item, error) { return n.invoke(r, s, s.this) }

func (n *call) invoke(r *run, s scope, in []Item) ([]Item, error) {
	return n.fn.impl(r, s, in, n)
}

// dot is left.right.
type dot struct {
	left  node
	right invoker
}

func (n *dot) at() int { return n.right.at() }

func (n *dot) eval(r *run, s scope) ([]Item, error) {
	in, err := n.left.eval(r, s)
	if err != nil {
		return nil, err
	}
	return n.right.invoke(r, s, in)
}

// indexer is left[index].
type indexer struct {
	left, index node
	pos         int
}

func (n *indexer) at() int { return n.pos }

func (n *indexer) eval(r *run, s scope) ([]Item, error) {
	in, err := n.left.eval(r, s)
	if err != nil {
		return nil, err
	}
	idx, err := n.index.eval(r, s)
	if err != nil {
		return nil, err
	}
	i, ok, err := r.singleInteger(idx, n.pos)
	if err != nil || !ok {
		return nil, err
	}
	if i < 0 || i >= int64(len(in)) {
		return nil, nil
	}
	return in[i : i+1], nil
}

// singleInteger reads an argument that must be one Integer (or empty).
func (r *run) singleInteger(items []Item, at int) (int64, bool, error) {
	switch len(items) {
	case 0:
		return 0, false, nil
	case 1:
		if items[0].kind == KindInteger {
			n, ok := items[0].integer()
			return n, ok, nil
		}
	}
	return 0, false, r.errorf(at, "expected an Integer")
}

// singleString reads an argument that must be one String (or empty).
func (r *run) singleString(items []Item, at int) (string, bool, error) {
	switch len(items) {
	case 0:
		return "", false, nil
	case 1:
		if items[0].kind == KindString {
			s, ok := items[0].str()
			return s, ok, nil
		}
	}
	return "", false, r.errorf(at, "expected a String")
}

// typeOp is "x is T" and "x as T".
type typeOp struct {
	x   node
	is  bool
	typ typeSpec
	pos int
}

func (n *typeOp) at() int { return n.pos }

func (n *typeOp) eval(r *run, s scope) ([]Item, error) {
	in, err := n.x.eval(r, s)
	if err != nil {
		return nil, err
	}
	if n.is {
		return r.isType(in, n.typ, n.pos)
	}
	return r.asType(in, n.typ, n.pos)
}

func (r *run) isType(in []Item, t typeSpec, at int) ([]Item, error) {
	switch len(in) {
	case 0:
		return nil, nil
	case 1:
		return boolResult(t.matches(in[0], false)), nil
	}
	return nil, r.errorf(at, "is: expected one item, got %d", len(in))
}

func (r *run) asType(in []Item, t typeSpec, at int) ([]Item, error) {
	if len(in) > 1 && r.strictAs {
		return nil, r.errorf(at, "as: expected one item, got %d", len(in))
	}
	return ofType(in, t), nil
}

// ofType keeps the items of type t. Primitive FHIR types match exactly (a
// code is not "as string"), as the official tests have it; complex types
// and resources match their specialisations (an Age is a Quantity).
func ofType(in []Item, t typeSpec) []Item {
	all := true
	for _, it := range in {
		if !t.matches(it, true) {
			all = false
			break
		}
	}
	if all {
		return in
	}
	var out []Item
	for _, it := range in {
		if t.matches(it, true) {
			out = append(out, it)
		}
	}
	return out
}

// typeSpec is a resolved type specifier.
type typeSpec struct {
	name string     // as written
	fhir *fhir.Type // a FHIR type
	sys  Kind       // a System type
	// quantity is set for an unqualified Quantity, which matches FHIR
	// Quantity and System.Quantity values alike.
	quantity bool
}

// matches reports whether it is of type t. With exact, a primitive FHIR type
// matches only itself.
func (t typeSpec) matches(it Item, exact bool) bool {
	if t.fhir != nil && it.typ != nil {
		if it.typ == t.fhir {
			return true
		}
		if exact && t.fhir.Kind == fhir.PrimitiveType {
			return false
		}
		return fhir.Derives(it.typ.Name, t.fhir.Name)
	}
	if it.typ != nil || it.node != nil && it.node.Kind == fhir.Object {
		return false
	}
	if t.quantity {
		return it.kind == KindQuantity
	}
	return t.sys != KindNone && it.kind == t.sys
}

// resolveType reads a type specifier: System.X, FHIR.X, or X, which is a
// FHIR type when the model has it and a System type otherwise. ok is false
// for a name that is neither; System.X for an unknown X is a type nothing
// has (http://hl7.org/fhirpath/N1/#models).
func resolveType(parts []string) (typeSpec, bool) {
	name := joinDots(parts)
	t := typeSpec{name: name}
	if len(parts) >= 2 {
		switch parts[0] {
		case "System":
			t.sys = systemKind(joinDots(parts[1:]))
			return t, true
		case "FHIR":
			t.fhir = fhir.LookupType(joinDots(parts[1:]))
			return t, t.fhir != nil
		}
	}
	if ft := fhir.LookupType(name); ft != nil {
		t.fhir = ft
		t.quantity = name == "Quantity"
		return t, true
	}
	t.sys = systemKind(name)
	return t, t.sys != KindNone
}

func systemKind(name string) Kind {
	for k, n := range kindNames {
		if k > 0 && n == name {
			return Kind(k)
		}
	}
	return KindNone
}

func joinDots(parts []string) string {
	s := parts[0]
	for _, p := range parts[1:] {
		s += "." + p
	}
	return s
}
