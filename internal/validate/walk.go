package validate

import (
	"fmt"
	"strconv"
	"strings"

	"sharedcare/internal/fhir"
	"sharedcare/internal/outcome"
)

// walker is the state of one validation: the issues found so far, the path
// to the value in hand, and the counts of each object's elements. A
// Validator pools walkers; one serves one call at a time.
type walker struct {
	s      *schema
	issues []outcome.Issue
	errors int // issues of severity error found, recorded or not
	// dropped counts the issues found past maxIssues, which are counted but
	// not recorded.
	dropped int

	// path is the location of the value in hand, kept as segments so that
	// an expression string is built only when an issue is recorded.
	path []seg
	// slots counts the occurrences of each element of the objects being
	// walked, a stack frame per object.
	slots []slot
	// roots are the resources that "#id" references resolve in, innermost
	// last: the top resource, a Bundle entry's, a parameter's.
	roots []root
	// bundles is how many Bundles the value in hand sits in: urn:uuid
	// references and conditional references resolve only there.
	bundles int
}

// seg is one step of a path: an element name and, for an array item, its
// index.
type seg struct {
	name  string
	index int // -1: not an array item
}

// slot counts one element of an object.
type slot struct {
	n   int    // occurrences
	key string // the JSON name (a choice's form) that set n
}

// root is a resource that stands on its own, with its contained resources.
type root struct {
	contained []containedRes
	// current is the index of the contained resource being walked, -1 while
	// in the container itself.
	current int
}

type containedRes struct {
	id         string
	referenced bool // dom-3: something in the container points at it
}

func (w *walker) reset(s *schema) {
	w.s = s
	w.issues = nil
	w.errors = 0
	w.dropped = 0
	w.path = w.path[:0]
	w.slots = w.slots[:0]
	clear(w.roots[:cap(w.roots)]) // a pooled walker keeps no ids of the last caller's resources
	w.roots = w.roots[:0]
	w.bundles = 0
}

// loc renders the current path, plus child when it is not "".
func (w *walker) loc(child string) string {
	var b strings.Builder
	for i, s := range w.path {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s.name)
		if s.index >= 0 {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.index))
			b.WriteByte(']')
		}
	}
	if child != "" {
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(child)
	}
	return b.String()
}

// maxIssues bounds the issues recorded for one resource, so that a large
// hostile body cannot make an OperationOutcome many times its own size.
const maxIssues = 1000

// errorf records an error at the current path, or at its child.
func (w *walker) errorf(code, child, format string, args ...any) {
	w.errors++
	w.record(outcome.Err, code, child, format, args...)
}

// warnf records a warning at the current path, or at its child.
func (w *walker) warnf(code, child, format string, args ...any) {
	w.record(outcome.Warning, code, child, format, args...)
}

func (w *walker) record(severity, code, child, format string, args ...any) {
	if len(w.issues) >= maxIssues {
		w.dropped++
		return
	}
	w.issues = append(w.issues, outcome.Issue{Severity: severity, Code: code, Expression: w.loc(child), Diagnostics: fmt.Sprintf(format, args...)})
}

func (w *walker) push(name string) { w.path = append(w.path, seg{name: name, index: -1}) }
func (w *walker) pop()             { w.path = w.path[:len(w.path)-1] }

// resourceType returns the type of an object that should be a resource,
// or nil after recording why it is not one.
func (w *walker) resourceType(v *fhir.Value) *typeInfo {
	rt := v.Get("resourceType")
	switch {
	case rt == nil:
		w.errorf(outcome.CodeRequired, "", "a resource must have a resourceType")
	case rt.Kind != fhir.String:
		w.errorf(outcome.CodeStructure, "", "resourceType must be a JSON string, not %s", rt.Kind)
	default:
		if ti := w.s.resource(rt.Text); ti != nil {
			return ti
		}
		if t := w.s.types[rt.Text]; t != nil && t.kind == fhir.ResourceType {
			w.errorf(outcome.CodeInvalid, "", "%s is an abstract type: a resource must be of a concrete type", rt.Text)
		} else {
			w.errorf(outcome.CodeInvalid, "", "unknown resource type %q", clip(rt.Text))
		}
	}
	return nil
}

// standalone walks a resource that stands on its own: "#id" references in
// it resolve against its own contained resources.
func (w *walker) standalone(v *fhir.Value, ti *typeInfo) {
	w.roots = append(w.roots, root{current: -1})
	r := len(w.roots) - 1
	if c := v.Get("contained"); c != nil && c.Kind == fhir.Array {
		cs := make([]containedRes, len(c.Items))
		for i := range c.Items {
			cs[i].id = c.Items[i].Str("id")
		}
		w.roots[r].contained = cs
	}
	bundle := ti.name == "Bundle"
	if bundle {
		w.bundles++
	}
	w.object(v, ti, nil)
	if bundle {
		w.bundles--
	}
	for i, c := range w.roots[r].contained {
		if !c.referenced {
			w.path = append(w.path, seg{name: "contained", index: i})
			w.errorf(outcome.CodeInvariant, "", "dom-3: a contained resource must be referenced from elsewhere in the resource, or refer to it with \"#\"")
			w.pop()
		}
	}
	w.roots = w.roots[:r]
}

// nested walks the resource held by element e (contained,
// Bundle.entry.resource, Parameters.parameter.resource).
func (w *walker) nested(v *fhir.Value, e *elemInfo) {
	ti := w.resourceType(v)
	if ti == nil {
		return
	}
	if !e.contained || len(w.roots) == 0 {
		w.standalone(v, ti)
		return
	}
	r := len(w.roots) - 1
	prev := w.roots[r].current
	if prev < 0 {
		w.roots[r].current = w.path[len(w.path)-1].index
	}
	w.object(v, ti, nil)
	w.roots[r].current = prev
	w.containedRules(v)
}

// containedRules checks what the spec forbids in a contained resource.
func (w *walker) containedRules(v *fhir.Value) {
	if v.Get("contained") != nil {
		w.errorf(outcome.CodeInvariant, "contained", "dom-2: a contained resource must not contain resources")
	}
	meta := v.Get("meta")
	if meta.Get("versionId") != nil {
		w.errorf(outcome.CodeInvariant, "meta.versionId", "dom-4: a contained resource must not have a meta.versionId")
	}
	if meta.Get("lastUpdated") != nil {
		w.errorf(outcome.CodeInvariant, "meta.lastUpdated", "dom-4: a contained resource must not have a meta.lastUpdated")
	}
	if meta.Get("security") != nil {
		w.errorf(outcome.CodeInvariant, "meta.security", "dom-5: a contained resource must not have a security label")
	}
}

// object checks an object of type ti: each member, then the cardinality of
// each element, then the rules of the type itself. e is the element that
// holds the object, nil for a resource.
func (w *walker) object(v *fhir.Value, ti *typeInfo, e *elemInfo) {
	if len(v.Keys) == 0 {
		w.errorf(outcome.CodeInvariant, "", "ele-1: an element must have a value or children, {} is not allowed")
		return
	}
	base := len(w.slots)
	for range ti.elems {
		w.slots = append(w.slots, slot{})
	}
	shadows := false
	for _, k := range v.Keys {
		if k != "" && k[0] == '_' {
			shadows = true
			break
		}
	}
	for i, k := range v.Keys {
		m, ok := ti.members[k]
		if !ok {
			if k != "resourceType" || ti.kind != fhir.ResourceType {
				w.unknown(ti, k)
			}
			continue
		}
		name := k
		var val, shadow *fhir.Value
		switch m.kind {
		case memShadow:
			name = k[1:]
			if v.Get(name) != nil {
				continue // checked with its value
			}
			shadow = &v.Items[i]
		case memPrimitive:
			val = &v.Items[i]
			if shadows {
				shadow = shadowOf(v, k)
			}
		}
		el := &ti.elems[m.elem]
		if prev := w.slots[base+m.elem].key; prev != "" {
			w.errorf(outcome.CodeStructure, name, "only one form of %s[x] is allowed; %s is already present", el.Name, prev)
			continue
		}
		w.slots[base+m.elem].key = name
		w.push(name)
		var n int
		switch m.kind {
		case memPrimitive, memShadow:
			n = w.primitiveMember(val, shadow, m.typ, el)
		case memComplex:
			n = w.complexMember(&v.Items[i], m.typ, el)
		case memResource:
			n = w.resourceMember(&v.Items[i], el)
		}
		w.pop()
		w.slots[base+m.elem].n = n
	}
	if ti.kind != fhir.ResourceType && ti.kind != fhir.PrimitiveType && len(v.Keys) == 1 && v.Keys[0] == "id" {
		w.errorf(outcome.CodeInvariant, "", "ele-1: an element must have a value or children other than id")
	}
	for i := range ti.elems {
		el := &ti.elems[i]
		n := w.slots[base+i].n
		switch {
		case n < el.Min && n == 0:
			w.errorf(outcome.CodeRequired, el.Name, "%s is required (minimum cardinality %d)", el.Path, el.Min)
		case n < el.Min:
			w.errorf(outcome.CodeRequired, el.Name, "%s needs at least %d items, has %d", el.Path, el.Min, n)
		case el.Max >= 0 && n > el.Max:
			w.errorf(outcome.CodeStructure, el.Name, "%s allows at most %d items, has %d", el.Path, el.Max, n)
		}
	}
	switch ti.role {
	case roleExtension:
		w.extension(ti, base)
	case roleReference:
		w.reference(v, e)
	case roleCoding, roleCodeableConcept:
		if e != nil && e.required != "" {
			w.conceptBinding(v, ti, e.required)
		}
	}
	w.slots = w.slots[:base]
}

// shadowOf returns the "_name" member of o, or nil, without building the
// name.
func shadowOf(o *fhir.Value, name string) *fhir.Value {
	for i, k := range o.Keys {
		if len(k) == len(name)+1 && k[0] == '_' && k[1:] == name {
			return &o.Items[i]
		}
	}
	return nil
}

// extension checks ext-1: an extension has a value or nested extensions,
// not both and not neither.
func (w *walker) extension(ti *typeInfo, base int) {
	var value, nested bool
	for i := range ti.elems {
		switch ti.elems[i].Name {
		case "value":
			value = w.slots[base+i].n > 0
		case "extension":
			nested = w.slots[base+i].n > 0
		}
	}
	if value == nested {
		w.errorf(outcome.CodeInvariant, "", "ext-1: an extension must have either extensions or value[x], not both")
	}
}

// unknown records a member name that the type does not have, saying what
// was probably meant.
func (w *walker) unknown(ti *typeInfo, k string) {
	if name, ok := strings.CutPrefix(k, "_"); ok {
		if _, known := ti.members[name]; known {
			w.errorf(outcome.CodeStructure, k, "%s is not a primitive element, so it has no _%s", name, name)
			return
		}
	}
	for i := range ti.elems {
		e := ti.elems[i].Element
		if !e.Choice {
			continue
		}
		if k == e.Name {
			w.errorf(outcome.CodeStructure, k, "%s[x] needs its type in the name: one of %s", e.Name, forms(e))
			return
		}
		if rest, ok := strings.CutPrefix(k, e.Name); ok && rest[0] >= 'A' && rest[0] <= 'Z' {
			w.errorf(outcome.CodeStructure, k, "%s is not a form of %s[x]: use one of %s", k, e.Name, forms(e))
			return
		}
	}
	if k == "resourceType" {
		w.errorf(outcome.CodeStructure, k, "resourceType belongs only at the top of a resource")
		return
	}
	w.errorf(outcome.CodeStructure, k, "unknown element %q in %s", clip(k), ti.name)
}

// primitiveMember checks a primitive element given as its value, its
// "_name" shadow (id and extensions), or both, and returns how many times
// the element occurs. The path's last segment is the element.
func (w *walker) primitiveMember(val, shadow *fhir.Value, pt *typeInfo, e *elemInfo) int {
	if !e.repeating {
		hasValue := false
		if val != nil {
			switch val.Kind {
			case fhir.Array:
				w.errorf(outcome.CodeStructure, "", "%s is not repeating: it must not be an array", e.Path)
			case fhir.Null:
				w.errorf(outcome.CodeStructure, "", "null is not allowed here")
			default:
				hasValue = true
				w.primitiveValue(val, pt.prim, e)
			}
		}
		if shadow != nil {
			w.shadow(shadow, pt, e, hasValue)
		}
		return 1
	}
	var vals, shs []fhir.Value
	ok := true
	if val != nil {
		if val.Kind != fhir.Array {
			w.errorf(outcome.CodeStructure, "", "%s repeats: it must be an array", e.Path)
			ok = false
		} else if vals = val.Items; len(vals) == 0 {
			w.errorf(outcome.CodeInvariant, "", "ele-1: an array must not be empty")
		}
	}
	if shadow != nil {
		if shadow.Kind != fhir.Array {
			w.errorf(outcome.CodeStructure, "", "_%s repeats: it must be an array", e.Name)
			ok = false
		} else if shs = shadow.Items; len(shs) == 0 {
			w.errorf(outcome.CodeInvariant, "", "ele-1: an array must not be empty")
		}
	}
	if !ok {
		return 1
	}
	if val != nil && shadow != nil && len(vals) != len(shs) {
		w.errorf(outcome.CodeStructure, "", "the arrays of a primitive and its _ twin must be as long as each other (%d and %d)", len(vals), len(shs))
	}
	n := max(len(vals), len(shs))
	pi := len(w.path) - 1
	for i := range n {
		w.path[pi].index = i
		var item, sitem *fhir.Value
		if i < len(vals) && vals[i].Kind != fhir.Null {
			item = &vals[i]
		}
		if i < len(shs) && shs[i].Kind != fhir.Null {
			sitem = &shs[i]
		}
		if item == nil && sitem == nil {
			w.errorf(outcome.CodeStructure, "", "null is allowed in a primitive array only where the _ twin array has the item's id or extensions")
			continue
		}
		if item != nil {
			if item.Kind == fhir.Array {
				w.errorf(outcome.CodeStructure, "", "an array item must not be an array")
			} else {
				w.primitiveValue(item, pt.prim, e)
			}
		}
		if sitem != nil {
			w.shadow(sitem, pt, e, item != nil)
		}
	}
	w.path[pi].index = -1
	return max(n, 1)
}

// shadow checks the id and extensions of one primitive value.
func (w *walker) shadow(sh *fhir.Value, pt *typeInfo, e *elemInfo, hasValue bool) {
	if sh.Kind != fhir.Object {
		w.errorf(outcome.CodeStructure, "", "the _ twin of %s must be a JSON object, not %s", e.Name, sh.Kind)
		return
	}
	w.object(sh, pt, e)
	if !hasValue && len(sh.Keys) > 0 && sh.Get("extension") == nil {
		w.errorf(outcome.CodeInvariant, "", "ele-1: a primitive element with no value must have extensions")
	}
}

// complexMember checks an element of a data type or backbone type and
// returns how many times it occurs.
func (w *walker) complexMember(v *fhir.Value, ct *typeInfo, e *elemInfo) int {
	if !e.repeating {
		switch v.Kind {
		case fhir.Object:
			w.object(v, ct, e)
		case fhir.Array:
			w.errorf(outcome.CodeStructure, "", "%s is not repeating: it must not be an array", e.Path)
		default:
			w.kindError(v, ct.name)
		}
		return 1
	}
	if v.Kind != fhir.Array {
		w.errorf(outcome.CodeStructure, "", "%s repeats: it must be an array", e.Path)
		return 1
	}
	if len(v.Items) == 0 {
		w.errorf(outcome.CodeInvariant, "", "ele-1: an array must not be empty")
		return 1
	}
	pi := len(w.path) - 1
	for i := range v.Items {
		w.path[pi].index = i
		if item := &v.Items[i]; item.Kind == fhir.Object {
			w.object(item, ct, e)
		} else {
			w.kindError(item, ct.name)
		}
	}
	w.path[pi].index = -1
	return len(v.Items)
}

// resourceMember checks an element that holds resources.
func (w *walker) resourceMember(v *fhir.Value, e *elemInfo) int {
	if !e.repeating {
		switch v.Kind {
		case fhir.Object:
			w.nested(v, e)
		case fhir.Array:
			w.errorf(outcome.CodeStructure, "", "%s is not repeating: it must not be an array", e.Path)
		default:
			w.kindError(v, "resource")
		}
		return 1
	}
	if v.Kind != fhir.Array {
		w.errorf(outcome.CodeStructure, "", "%s repeats: it must be an array", e.Path)
		return 1
	}
	if len(v.Items) == 0 {
		w.errorf(outcome.CodeInvariant, "", "ele-1: an array must not be empty")
		return 1
	}
	pi := len(w.path) - 1
	for i := range v.Items {
		w.path[pi].index = i
		if item := &v.Items[i]; item.Kind == fhir.Object {
			w.nested(item, e)
		} else {
			w.kindError(item, "resource")
		}
	}
	w.path[pi].index = -1
	return len(v.Items)
}

// kindError records a value that should have been an object.
func (w *walker) kindError(v *fhir.Value, typ string) {
	if v.Kind == fhir.Null {
		w.errorf(outcome.CodeStructure, "", "null is not allowed here")
		return
	}
	w.errorf(outcome.CodeStructure, "", "a %s must be a JSON object, not %s", typ, v.Kind)
}
