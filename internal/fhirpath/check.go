package fhirpath

import (
	"slices"

	"sharedcare/internal/fhir"
)

// Strict mode checks an expression against the type of its input before
// evaluating it, so that a name no element has is an error rather than an
// empty result wherever it appears, even on a branch that evaluation would
// not reach: (Observation.value as Period).unit fails although the value is
// a Quantity. The checker infers the possible types of every
// sub-expression and stops checking where it cannot know them. It also
// rejects functions that depend on order (first(), skip() ...) applied to
// children() or descendants(), whose order is not defined.

// stype is the static type of a collection: the types its items may have.
type stype struct {
	any       bool // unknown: nothing downstream is checked
	fhir      []*fhir.Type
	sys       []Kind
	unordered bool
}

var anyType = stype{any: true}

func sysType(k ...Kind) stype { return stype{sys: k} }

func fhirTypes(ts ...*fhir.Type) stype { return stype{fhir: ts} }

func itemType(it Item) stype {
	switch {
	case it.isZero():
		return stype{}
	case it.typ != nil:
		return fhirTypes(it.typ)
	case it.kind != KindNone:
		return sysType(it.kind)
	}
	return anyType
}

func (a stype) merge(b stype) stype {
	if a.any || b.any {
		return anyType
	}
	out := stype{unordered: a.unordered || b.unordered}
	out.fhir = slices.Clone(a.fhir)
	for _, t := range b.fhir {
		if !slices.Contains(out.fhir, t) {
			out.fhir = append(out.fhir, t)
		}
	}
	out.sys = slices.Clone(a.sys)
	for _, k := range b.sys {
		if !slices.Contains(out.sys, k) {
			out.sys = append(out.sys, k)
		}
	}
	return out
}

type checker struct {
	r    *run
	root stype
}

// check runs the static check for Strict mode.
func (e *Expression) check(r *run) error {
	var in Item
	if len(r.input) == 1 {
		in = r.input[0]
	}
	c := checker{r: r, root: itemType(in)}
	_, err := c.node(e.root, c.root)
	return err
}

func (c *checker) node(n node, this stype) (stype, error) {
	switch n := n.(type) {
	case *literal:
		if len(n.items) == 0 {
			return stype{}, nil
		}
		return itemType(n.items[0]), nil
	case *special:
		switch n.name {
		case "this":
			return this, nil
		case "index":
			return sysType(KindInteger), nil
		}
		return anyType, nil
	case *variable:
		switch n.name {
		case "resource", "rootResource", "context":
			if it := c.envVar(n.name); !it.isZero() {
				return itemType(it), nil
			}
			return c.root, nil
		}
		return anyType, nil
	case *member:
		if n.typ != nil && !this.any && len(this.sys) == 0 && len(this.fhir) > 0 {
			all := true
			for _, t := range this.fhir {
				all = all && fhir.Derives(t.Name, n.typ.Name)
			}
			if all {
				return this, nil
			}
		}
		return c.member(n, this)
	case *call:
		return c.call(n, this, this)
	case *dot:
		left, err := c.node(n.left, this)
		if err != nil {
			return anyType, err
		}
		switch right := n.right.(type) {
		case *member:
			return c.member(right, left)
		case *call:
			return c.call(right, left, this)
		}
		return anyType, nil
	case *indexer:
		left, err := c.node(n.left, this)
		if err != nil {
			return anyType, err
		}
		if _, err := c.node(n.index, this); err != nil {
			return anyType, err
		}
		if left.unordered {
			return anyType, c.r.errorf(n.pos, "[]: the input's order is not defined")
		}
		return left, nil
	case *typeOp:
		if _, err := c.node(n.x, this); err != nil {
			return anyType, err
		}
		if n.is {
			return sysType(KindBoolean), nil
		}
		return specType(n.typ), nil
	case *unary:
		return c.node(n.x, this)
	case *binary:
		l, err := c.node(n.l, this)
		if err != nil {
			return anyType, err
		}
		r, err := c.node(n.r, this)
		if err != nil {
			return anyType, err
		}
		switch n.op {
		case opUnion:
			return l.merge(r), nil
		case opAdd, opSub, opMul, opDiv, opIntDiv, opMod:
			return anyType, nil
		case opConcat:
			return sysType(KindString), nil
		}
		return sysType(KindBoolean), nil
	}
	return anyType, nil
}

func (c *checker) envVar(name string) Item {
	switch name {
	case "resource":
		return c.r.env.Resource
	case "rootResource":
		if !c.r.env.RootResource.isZero() {
			return c.r.env.RootResource
		}
		return c.r.env.Resource
	}
	return c.r.env.Context
}

func specType(t typeSpec) stype {
	switch {
	case t.fhir != nil && t.quantity:
		return stype{fhir: []*fhir.Type{t.fhir}, sys: []Kind{KindQuantity}}
	case t.fhir != nil:
		return fhirTypes(t.fhir)
	case t.sys != KindNone:
		return sysType(t.sys)
	}
	return stype{}
}

// member finds the types an element name reaches from each possible type,
// failing when none of them has it.
func (c *checker) member(n *member, in stype) (stype, error) {
	if in.any || len(in.sys) > 0 && len(in.fhir) == 0 {
		return anyType, nil
	}
	var out stype
	found := len(in.fhir) == 0
	for _, t := range in.fhir {
		if t.Kind == fhir.ResourceType && t.Abstract {
			return anyType, nil // the actual resource type is known only at run time
		}
		if t.Kind == fhir.PrimitiveType {
			switch n.name {
			case "id":
				out.fhir = append(out.fhir, fhir.LookupType("string"))
				found = true
			case "extension":
				out.fhir = append(out.fhir, fhir.LookupType("Extension"))
				found = true
			}
			continue
		}
		el := t.Element(n.name)
		if el == nil {
			continue
		}
		found = true
		if el.Choice {
			for _, ty := range el.Types {
				out.fhir = append(out.fhir, fhir.LookupType(ty))
			}
			continue
		}
		for _, ty := range el.Types {
			if et := fhir.LookupType(ty); et != nil {
				out.fhir = append(out.fhir, et)
			}
		}
	}
	if !found {
		names := make([]string, len(in.fhir))
		for i, t := range in.fhir {
			names[i] = t.Name
		}
		return anyType, c.r.errorf(n.pos, "%s has no element %s", joinSlash(names), n.name)
	}
	out.fhir = slices.Compact(out.fhir)
	out.unordered = in.unordered
	return out, nil
}

func joinSlash(names []string) string {
	s := ""
	for i, n := range names {
		if i > 0 {
			s += "|"
		}
		s += n
	}
	return s
}

// lambdas are the functions whose arguments are evaluated per input item.
var lambdas = map[string]bool{
	"where": true, "select": true, "exists": true, "all": true, "repeat": true,
	"aggregate": true, "sort": true, "trace": true, "iif": true,
}

// ordered are the functions whose result depends on the input's order.
var ordered = map[string]bool{
	"first": true, "last": true, "tail": true, "skip": true, "take": true,
}

var booleanFuncs = map[string]bool{
	"empty": true, "exists": true, "all": true, "allTrue": true, "anyTrue": true, "allFalse": true,
	"anyFalse": true, "subsetOf": true, "supersetOf": true, "isDistinct": true, "not": true,
	"is": true, "hasValue": true, "startsWith": true, "endsWith": true, "contains": true,
	"matches": true, "matchesFull": true, "memberOf": true, "conformsTo": true, "htmlChecks": true,
	"comparable": true, "convertsToBoolean": true, "convertsToInteger": true,
	"convertsToDecimal": true, "convertsToString": true, "convertsToDate": true,
	"convertsToDateTime": true, "convertsToTime": true, "convertsToQuantity": true,
}

var stringFuncs = map[string]bool{
	"toString": true, "substring": true, "upper": true, "lower": true, "replace": true,
	"replaceMatches": true, "toChars": true, "split": true, "join": true, "trim": true,
	"encode": true, "decode": true, "escape": true, "unescape": true,
}

// keepType are the functions whose result has the input's type.
var keepType = map[string]bool{
	"where": true, "first": true, "last": true, "tail": true, "skip": true, "take": true,
	"single": true, "distinct": true, "intersect": true, "exclude": true, "trace": true,
	"sort": true,
}

func (c *checker) call(n *call, in, this stype) (stype, error) {
	if ordered[n.name] && in.unordered {
		return anyType, c.r.errorf(n.pos, "%s: the input's order is not defined", n.fnName())
	}
	argThis := this
	if lambdas[n.name] {
		argThis = in
		argThis.unordered = false
	}
	var args []stype
	for i, a := range n.args {
		at := argThis
		if n.name == "aggregate" && i == 1 || n.name == "trace" && i == 0 {
			at = this
		}
		t, err := c.node(a, at)
		if err != nil {
			return anyType, err
		}
		args = append(args, t)
	}
	switch {
	case keepType[n.name]:
		return in, nil
	case n.name == "ofType" || n.name == "as":
		out := specType(n.typ)
		out.unordered = in.unordered
		return out, nil
	case n.name == "select":
		out := args[0]
		out.unordered = out.unordered || in.unordered
		return out, nil
	case n.name == "iif":
		if len(args) == 3 {
			return args[1].merge(args[2]), nil
		}
		return args[1], nil
	case n.name == "union" || n.name == "combine":
		return in.merge(args[0]), nil
	case n.name == "children" || n.name == "descendants":
		return stype{any: true, unordered: true}, nil
	case n.name == "extension":
		return fhirTypes(extensionType), nil
	case booleanFuncs[n.name]:
		return sysType(KindBoolean), nil
	case stringFuncs[n.name]:
		return sysType(KindString), nil
	case n.name == "count" || n.name == "length" || n.name == "indexOf" || n.name == "lastIndexOf" || n.name == "toInteger":
		return sysType(KindInteger), nil
	}
	return anyType, nil
}
