package validate

import (
	"context"

	"sharedcare/internal/fhir"
	"sharedcare/internal/outcome"
)

// Invariants evaluates the FHIRPath invariants of the R4 model
// (fhir.Type.Constraints, fhir.Element.Constraints) for a Validator. The
// server passes internal/fhirpath's engine in Options.Invariants; validate
// declares only the one method it calls, so it does not depend on the
// engine's other API.
//
// Implementations must be safe for concurrent use. They may compile each
// expression once and keep it, keyed by the *fhir.Constraint, which points
// into the generated model and so is stable for the life of the process.
type Invariants interface {
	// Holds reports whether the invariant c is true at the focus. It
	// returns an error when c cannot be evaluated (a function the engine
	// lacks, say): the validator then records an informational issue and
	// goes on, unless ctx is done.
	Holds(ctx context.Context, c *fhir.Constraint, at Focus) (bool, error)
}

// Focus is where an invariant is evaluated: its FHIRPath context and
// environment (https://hl7.org/fhir/R4/fhirpath.html#variables).
type Focus struct {
	// Node is the element or resource the invariant is declared on: the
	// context of the expression. A primitive's Node is its JSON value.
	Node *fhir.Value
	// Extensions is, for a primitive, its "_name" twin holding its id and
	// extensions, or nil; fhirpath.Primitive(Node, Extensions, Type) is the
	// item.
	Extensions *fhir.Value
	// Type is Node's FHIR type: "Patient", "Quantity", "Patient.contact",
	// "string".
	Type string
	// Resource is %resource: the resource that holds Node.
	Resource *fhir.Value
	// RootResource is %rootResource: the container when Resource is
	// contained, else Resource itself.
	RootResource *fhir.Value
}

// checkedNatively reports whether the validator checks the invariant itself, so
// that the hook does not evaluate it again: ext-1, dom-2 to dom-5, ref-1,
// and txt-1 and txt-2, whose htmlChecks() FHIRPath cannot express (ele-1,
// checked everywhere, is not in the model).
func checkedNatively(key string) bool {
	switch key {
	case "ext-1", "dom-2", "dom-3", "dom-4", "dom-5", "ref-1", "txt-1", "txt-2":
		return true
	}
	return false
}

// invariants evaluates every invariant of a structurally valid resource
// through inv, walking it as object does. It returns only ctx's error.
func (w *walker) invariants(ctx context.Context, inv Invariants, res *fhir.Value, ti *typeInfo) error {
	w.path = append(w.path[:0], seg{name: ti.name, index: -1})
	ev := evaluator{w: w, ctx: ctx, inv: inv}
	return ev.node(res, ti, nil, res, res)
}

type evaluator struct {
	w   *walker
	ctx context.Context
	inv Invariants
}

// node evaluates the invariants of element e (nil for a resource) and of
// type ti at v, then those of v's children. A primitive's "_name" twin
// comes here with its primitive type only to have its extensions walked.
func (ev *evaluator) node(v *fhir.Value, ti *typeInfo, e *elemInfo, res, root *fhir.Value) error {
	if ti.kind != fhir.PrimitiveType {
		at := Focus{Node: v, Type: ti.name, Resource: res, RootResource: root}
		if e != nil {
			for i := range e.Constraints {
				if err := ev.check(&e.Constraints[i], at); err != nil {
					return err
				}
			}
		}
		for i := range ti.t.Constraints {
			c := &ti.t.Constraints[i]
			if e != nil && declares(e.Constraints, c.Key) {
				continue
			}
			if err := ev.check(c, at); err != nil {
				return err
			}
		}
	}
	w := ev.w
	for i, k := range v.Keys {
		m, ok := ti.members[k]
		if !ok {
			continue // resourceType
		}
		el := &ti.elems[m.elem]
		if m.kind == memPrimitive && len(el.Constraints) == 0 {
			continue // nothing to evaluate at a primitive but its element's invariants
		}
		name := k
		var shadow *fhir.Value
		switch m.kind {
		case memShadow:
			name = k[1:]
		case memPrimitive:
			shadow = shadowOf(v, k)
		}
		w.push(name)
		item := &v.Items[i]
		var err error
		if item.Kind == fhir.Array {
			pi := len(w.path) - 1
			for j := range item.Items {
				w.path[pi].index = j
				var sh *fhir.Value
				if shadow != nil && shadow.Kind == fhir.Array && j < len(shadow.Items) {
					sh = &shadow.Items[j]
				}
				if err = ev.member(&item.Items[j], sh, m, el, res, root); err != nil {
					break
				}
			}
		} else {
			err = ev.member(item, shadow, m, el, res, root)
		}
		w.pop()
		if err != nil {
			return err
		}
	}
	return nil
}

// member evaluates the invariants at one value of a member; shadow is a
// primitive's "_name" twin.
func (ev *evaluator) member(v, shadow *fhir.Value, m member, e *elemInfo, res, root *fhir.Value) error {
	if v.Kind == fhir.Null {
		return nil
	}
	switch m.kind {
	case memPrimitive:
		if shadow != nil && shadow.Kind != fhir.Object {
			shadow = nil
		}
		at := Focus{Node: v, Extensions: shadow, Type: m.typ.name, Resource: res, RootResource: root}
		for i := range e.Constraints {
			if err := ev.check(&e.Constraints[i], at); err != nil {
				return err
			}
		}
		return nil
	case memShadow:
		return ev.node(v, m.typ, nil, res, root) // its extensions may hold data types with invariants
	case memComplex:
		return ev.node(v, m.typ, e, res, root)
	}
	ti := ev.w.s.resource(v.Str("resourceType"))
	if ti == nil {
		return nil // not after a clean structural pass
	}
	if e.contained {
		return ev.node(v, ti, e, v, root)
	}
	return ev.node(v, ti, e, v, v)
}

// check evaluates one invariant and records it when it fails.
func (ev *evaluator) check(c *fhir.Constraint, at Focus) error {
	if checkedNatively(c.Key) {
		return nil
	}
	ok, err := ev.inv.Holds(ev.ctx, c, at)
	w := ev.w
	switch {
	case err != nil && ev.ctx.Err() != nil:
		return ev.ctx.Err()
	case err != nil:
		w.record(outcome.Information, outcome.CodeProcessing, "", "invariant %s was not evaluated: %v", c.Key, err)
	case ok:
	case c.Severity == "error":
		w.errorf(outcome.CodeInvariant, "", "%s: %s", c.Key, c.Human)
	default:
		w.warnf(outcome.CodeInvariant, "", "%s: %s", c.Key, c.Human)
	}
	return nil
}

func declares(cs []fhir.Constraint, key string) bool {
	for i := range cs {
		if cs[i].Key == key {
			return true
		}
	}
	return false
}
