package patch

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"sharedcare/internal/fhir"
	"sharedcare/internal/outcome"
)

// JSON is a parsed JSON Patch document (RFC 6902): an array of operations,
// each one of add, remove, replace, move, copy or test, addressing the
// resource with JSON Pointers (RFC 6901). It is immutable and safe for
// concurrent use.
//
// JSON Patch sees the resource as plain JSON: it knows nothing of FHIR's
// "_name" siblings of primitives, so a client that removes the second given
// name also removes the second entry of _given itself, and the validation
// that follows Apply refuses what does not line up.
type JSON struct {
	ops []jsonOp
}

type jsonOp struct {
	op         string
	path, from pointer
	value      fhir.Value
	expr       string // operation[i]
}

// pointer is a parsed JSON Pointer: its text as written, for diagnostics,
// and its reference tokens, unescaped. The empty pointer "" is the whole
// document.
type pointer struct {
	text   string
	tokens []string
}

// ParseJSON parses and checks a JSON Patch document. Every fault it finds
// goes into one *outcome.Error with status 400. Members of an operation that
// RFC 6902 does not define are ignored, as §4 says.
func ParseJSON(doc []byte) (*JSON, error) {
	v, err := fhir.Parse(doc)
	if err != nil {
		return nil, outcome.Invalid("", "the JSON Patch document is not JSON: %v", err)
	}
	if v.Kind != fhir.Array {
		return nil, outcome.Invalid("", "a JSON Patch document is an array of operations, not a JSON %s", v.Kind)
	}
	p := &JSON{ops: make([]jsonOp, 0, len(v.Items))}
	var list []outcome.Issue
	for i := range v.Items {
		op, faults := parseJSONOp(&v.Items[i], index("operation", i))
		list = append(list, faults...)
		p.ops = append(p.ops, op)
	}
	if err := issues(list); err != nil {
		return nil, err
	}
	return p, nil
}

func parseJSONOp(v *fhir.Value, expr string) (jsonOp, []outcome.Issue) {
	op := jsonOp{expr: expr}
	if v.Kind != fhir.Object {
		return op, []outcome.Issue{malformed(expr, "an operation is a JSON object, not a JSON %s", v.Kind)}
	}
	var list []outcome.Issue
	str := func(name string) (string, bool) {
		m := v.Get(name)
		if m == nil {
			list = append(list, malformed(expr, "the operation has no %q member", name))
			return "", false
		}
		if m.Kind != fhir.String {
			list = append(list, malformed(expr+"."+name, "%q is a JSON string, not a JSON %s", name, m.Kind))
			return "", false
		}
		return m.Text, true
	}
	name, ok := str("op")
	if !ok {
		return op, list
	}
	op.op = name
	switch name {
	case "add", "remove", "replace", "move", "copy", "test":
	default:
		return op, append(list, malformed(expr+".op", "unknown operation %q: JSON Patch has add, remove, replace, move, copy and test", name))
	}
	if text, ok := str("path"); ok {
		ptr, err := parsePointer(text)
		if err != "" {
			list = append(list, malformed(expr+".path", "path %q is not a JSON Pointer: %s", text, err))
		}
		op.path = ptr
	}
	if name == "move" || name == "copy" {
		if text, ok := str("from"); ok {
			ptr, err := parsePointer(text)
			if err != "" {
				list = append(list, malformed(expr+".from", "from %q is not a JSON Pointer: %s", text, err))
			}
			op.from = ptr
		}
	}
	if name == "add" || name == "replace" || name == "test" {
		if m := v.Get("value"); m != nil {
			op.value = *m
		} else {
			list = append(list, malformed(expr, "the %s operation needs a \"value\" member", name))
		}
	}
	if name == "move" && len(list) == 0 && op.from.properPrefixOf(op.path) {
		// RFC 6902 §4.4: a value cannot be moved into one of its own children.
		list = append(list, malformed(expr+".from", "cannot move %q into itself (%q)", op.from.text, op.path.text))
	}
	return op, list
}

// parsePointer parses a JSON Pointer (RFC 6901); a non-empty second result
// says what is wrong with it.
func parsePointer(s string) (pointer, string) {
	p := pointer{text: s}
	if s == "" {
		return p, ""
	}
	if s[0] != '/' {
		return p, "it must be empty or start with /"
	}
	for tok := range strings.SplitSeq(s[1:], "/") {
		if !strings.Contains(tok, "~") {
			p.tokens = append(p.tokens, tok)
			continue
		}
		var b strings.Builder
		for i := 0; i < len(tok); i++ {
			if tok[i] != '~' {
				b.WriteByte(tok[i])
				continue
			}
			if i+1 == len(tok) || (tok[i+1] != '0' && tok[i+1] != '1') {
				return p, "~ must be followed by 0 or 1"
			}
			if tok[i+1] == '0' {
				b.WriteByte('~')
			} else {
				b.WriteByte('/')
			}
			i++
		}
		p.tokens = append(p.tokens, b.String())
	}
	return p, ""
}

// properPrefixOf reports whether p names a strict ancestor of q.
func (p pointer) properPrefixOf(q pointer) bool {
	return len(p.tokens) < len(q.tokens) && slices.Equal(p.tokens, q.tokens[:len(p.tokens)])
}

// Apply applies the operations in order to a copy of res and returns it;
// res is not changed. A failure is a 422 naming the operation; ctx is
// checked between operations.
func (p *JSON) Apply(ctx context.Context, res *fhir.Value) (fhir.Value, error) {
	doc := res.Clone()
	a := jsonApply{doc: &doc, budget: -1}
	for i := range p.ops {
		if err := ctx.Err(); err != nil {
			return fhir.Value{}, err
		}
		op := &p.ops[i]
		if err := a.apply(op); err != nil {
			return fhir.Value{}, err
		}
		if !keepsIdentity(res, &doc) {
			return fhir.Value{}, unapplicable(op.expr, "operation %d (%s %s) changes the resource's resourceType or id, which a patch may not do", i, op.op, op.path.text)
		}
	}
	if tooDeep(&doc, 0) {
		return fhir.Value{}, unapplicable("", "the patched resource nests deeper than %d levels", fhir.MaxDepth)
	}
	return doc, nil
}

// jsonApply is one application of a JSON Patch.
type jsonApply struct {
	doc *fhir.Value
	// budget is how many more nodes copy may add; -1 until the first copy.
	budget int
}

// errMissing and friends say why a pointer does not resolve; apply turns
// them into a 422 naming the operation member.
var (
	errMissing  = errors.New("does not exist")
	errIndex    = errors.New("is not a valid index of the array it addresses")
	errScalar   = errors.New("goes through a value that is neither an object nor an array")
	errWholeDoc = errors.New("is the whole resource, which cannot be removed")
)

func (a *jsonApply) apply(op *jsonOp) error {
	fail := func(member string, ptr pointer, err error) error {
		return unapplicable(op.expr+"."+member, "%s %q %v", member, ptr.text, err)
	}
	switch op.op {
	case "add":
		if err := a.add(op.path, op.value.Clone()); err != nil {
			return fail("path", op.path, err)
		}
	case "remove":
		if _, err := a.remove(op.path); err != nil {
			return fail("path", op.path, err)
		}
	case "replace":
		t, err := a.lookup(op.path.tokens)
		if err != nil {
			return fail("path", op.path, err)
		}
		*t = op.value.Clone()
	case "move":
		if slices.Equal(op.from.tokens, op.path.tokens) {
			if _, err := a.lookup(op.from.tokens); err != nil {
				return fail("from", op.from, err)
			}
			return nil
		}
		v, err := a.remove(op.from)
		if err != nil {
			return fail("from", op.from, err)
		}
		if err := a.add(op.path, v); err != nil {
			return fail("path", op.path, err)
		}
	case "copy":
		src, err := a.lookup(op.from.tokens)
		if err != nil {
			return fail("from", op.from, err)
		}
		if a.budget < 0 {
			a.budget = nodes(a.doc) + maxGrowth
		}
		if a.budget -= nodes(src); a.budget < 0 {
			return outcome.Newf(http.StatusUnprocessableEntity, outcome.CodeTooCostly, op.expr,
				"the copy operations of this patch would grow the resource by more than %d JSON values", maxGrowth)
		}
		if err := a.add(op.path, src.Clone()); err != nil {
			return fail("path", op.path, err)
		}
	case "test":
		t, err := a.lookup(op.path.tokens)
		if err != nil {
			return fail("path", op.path, err)
		}
		if !equal(t, &op.value) {
			return unapplicable(op.expr, "test failed: the value at %q is not the one given", op.path.text)
		}
	}
	return nil
}

// lookup returns the node tokens address.
func (a *jsonApply) lookup(tokens []string) (*fhir.Value, error) {
	v := a.doc
	for _, tok := range tokens {
		switch v.Kind {
		case fhir.Object:
			v = v.Get(tok)
			if v == nil {
				return nil, errMissing
			}
		case fhir.Array:
			i, ok := arrayIndex(tok, len(v.Items)-1)
			if !ok {
				return nil, errIndex
			}
			v = &v.Items[i]
		default:
			return nil, errScalar
		}
	}
	return v, nil
}

// arrayIndex parses an array index token: decimal digits without leading
// zeros (RFC 6901 §4), at most max.
func arrayIndex(tok string, max int) (int, bool) {
	if tok == "" || len(tok) > 9 || (len(tok) > 1 && tok[0] == '0') {
		return 0, false
	}
	for _, c := range []byte(tok) {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	i, err := strconv.Atoi(tok)
	return i, err == nil && i <= max
}

// add sets, inserts or appends v at ptr (RFC 6902 §4.1).
func (a *jsonApply) add(ptr pointer, v fhir.Value) error {
	n := len(ptr.tokens)
	if n == 0 {
		*a.doc = v
		return nil
	}
	parent, err := a.lookup(ptr.tokens[:n-1])
	if err != nil {
		return err
	}
	last := ptr.tokens[n-1]
	switch parent.Kind {
	case fhir.Object:
		parent.Set(last, v)
	case fhir.Array:
		if last == "-" {
			parent.Items = append(parent.Items, v)
			return nil
		}
		i, ok := arrayIndex(last, len(parent.Items))
		if !ok {
			return errIndex
		}
		parent.Items = slices.Insert(parent.Items, i, v)
	default:
		return errScalar
	}
	return nil
}

// remove takes the value at ptr out of the document and returns it (RFC
// 6902 §4.2).
func (a *jsonApply) remove(ptr pointer) (fhir.Value, error) {
	n := len(ptr.tokens)
	if n == 0 {
		return fhir.Value{}, errWholeDoc
	}
	parent, err := a.lookup(ptr.tokens[:n-1])
	if err != nil {
		return fhir.Value{}, err
	}
	last := ptr.tokens[n-1]
	switch parent.Kind {
	case fhir.Object:
		m := parent.Get(last)
		if m == nil {
			return fhir.Value{}, errMissing
		}
		v := *m
		parent.Delete(last)
		return v, nil
	case fhir.Array:
		i, ok := arrayIndex(last, len(parent.Items)-1)
		if !ok {
			return fhir.Value{}, errIndex
		}
		v := parent.Items[i]
		parent.Items = slices.Delete(parent.Items, i, i+1)
		return v, nil
	}
	return fhir.Value{}, errScalar
}
