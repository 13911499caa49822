package fhirpath

import (
	"math"
	"math/big"
)

type opcode uint8

const (
	opImplies opcode = iota
	opOr
	opXor
	opAnd
	opIn
	opContains
	opEq
	opEquiv
	opNe
	opNequiv
	opLt
	opLe
	opGt
	opGe
	opUnion
	opAdd
	opSub
	opConcat
	opMul
	opDiv
	opIntDiv
	opMod
)

var opcodes = map[string]opcode{
	"implies": opImplies, "or": opOr, "xor": opXor, "and": opAnd,
	"in": opIn, "contains": opContains,
	"=": opEq, "~": opEquiv, "!=": opNe, "!~": opNequiv,
	"<": opLt, "<=": opLe, ">": opGt, ">=": opGe,
	"|": opUnion, "+": opAdd, "-": opSub, "&": opConcat,
	"*": opMul, "/": opDiv, "div": opIntDiv, "mod": opMod,
}

type binary struct {
	op   opcode
	name string
	l, r node
	pos  int
}

func newBinary(name string, l, r node, pos int) node {
	return &binary{op: opcodes[name], name: name, l: l, r: r, pos: pos}
}

func (n *binary) at() int { return n.pos }

func (n *binary) eval(r *run, s scope) ([]Item, error) {
	switch n.op {
	case opAnd, opOr, opXor, opImplies:
		return n.logic(r, s)
	}
	a, err := n.l.eval(r, s)
	if err != nil {
		return nil, err
	}
	b, err := n.r.eval(r, s)
	if err != nil {
		return nil, err
	}
	switch n.op {
	case opUnion:
		return union(a, b), nil
	case opEq, opNe:
		eq, known := equalCollections(a, b)
		if !known {
			return nil, nil
		}
		return boolResult(eq == (n.op == opEq)), nil
	case opEquiv, opNequiv:
		return boolResult(equivalentCollections(a, b) == (n.op == opEquiv)), nil
	case opIn, opContains:
		if n.op == opContains {
			a, b = b, a
		}
		switch len(a) {
		case 0:
			return nil, nil
		case 1:
			return boolResult(contains(b, a[0])), nil
		}
		return nil, r.errorf(n.pos, "%s: expected one item to look for, got %d", n.name, len(a))
	case opConcat:
		return n.concat(r, a, b)
	}
	if len(a) == 0 || len(b) == 0 {
		return nil, nil
	}
	if len(a) > 1 || len(b) > 1 {
		return nil, r.errorf(n.pos, "%s: expected one item on each side, got %d and %d", n.name, len(a), len(b))
	}
	x, y := a[0], b[0]
	switch n.op {
	case opLt, opLe, opGt, opGe:
		c, known, ok := compareItems(x, y)
		if !ok {
			return nil, r.errorf(n.pos, "%s: cannot compare %s with %s", n.name, typeOf(x), typeOf(y))
		}
		if !known {
			return nil, nil
		}
		switch n.op {
		case opLt:
			return boolResult(c < 0), nil
		case opLe:
			return boolResult(c <= 0), nil
		case opGt:
			return boolResult(c > 0), nil
		}
		return boolResult(c >= 0), nil
	}
	return r.arithmetic(n, x, y)
}

// typeOf names an item's type for messages.
func typeOf(it Item) string {
	if it.typ != nil {
		return "FHIR." + it.typ.Name
	}
	if it.kind != KindNone {
		return "System." + it.kind.String()
	}
	return "a complex value"
}

// equalCollections is = on collections: empty when either is empty,
// otherwise item by item in order.
func equalCollections(a, b []Item) (eq, known bool) {
	if len(a) == 0 || len(b) == 0 {
		return false, false
	}
	if len(a) != len(b) {
		return false, true
	}
	known = true
	for i := range a {
		e, k := equalItems(a[i], b[i])
		if k && !e {
			return false, true
		}
		known = known && k
	}
	return true, known
}

// equivalentCollections is ~ on collections: in any order.
func equivalentCollections(a, b []Item) bool {
	if len(a) != len(b) {
		return false
	}
	used := make([]bool, len(b))
next:
	for _, x := range a {
		for j, y := range b {
			if !used[j] && equivalentItems(x, y) {
				used[j] = true
				continue next
			}
		}
		return false
	}
	return true
}

// union merges a and b without duplicates.
func union(a, b []Item) []Item {
	if len(b) == 0 {
		return distinct(a)
	}
	out := make([]Item, 0, len(a)+len(b))
	for _, c := range [2][]Item{a, b} {
		for _, it := range c {
			if !contains(out, it) {
				out = append(out, it)
			}
		}
	}
	return out
}

// logic is three-valued and, or, xor and implies
// (http://hl7.org/fhirpath/N1/#boolean-logic), skipping the right operand
// when the left decides.
func (n *binary) logic(r *run, s scope) ([]Item, error) {
	a, err := n.l.eval(r, s)
	if err != nil {
		return nil, err
	}
	x, xk, err := r.truth(a, n.pos, n.name, false)
	if err != nil {
		return nil, err
	}
	switch {
	case n.op == opAnd && xk && !x:
		return falseItems, nil
	case n.op == opOr && xk && x:
		return trueItems, nil
	case n.op == opImplies && xk && !x:
		return trueItems, nil
	}
	b, err := n.r.eval(r, s)
	if err != nil {
		return nil, err
	}
	y, yk, err := r.truth(b, n.pos, n.name, false)
	if err != nil {
		return nil, err
	}
	switch n.op {
	case opAnd:
		switch {
		case yk && !y:
			return falseItems, nil
		case xk && yk:
			return trueItems, nil
		}
	case opOr:
		switch {
		case yk && y:
			return trueItems, nil
		case xk && yk:
			return falseItems, nil
		}
	case opXor:
		if xk && yk {
			return boolResult(x != y), nil
		}
	case opImplies:
		switch {
		case yk && y:
			return trueItems, nil
		case xk && yk:
			return falseItems, nil
		}
	}
	return nil, nil
}

// truth reads a collection as a Boolean
// (http://hl7.org/fhirpath/N1/#singleton-evaluation-of-collections): empty
// is unknown, one Boolean is itself, any other single item is true, and
// more than one item is an error. what names the operator, or with fn the
// function, for the message.
func (r *run) truth(c []Item, at int, what string, fn bool) (val, known bool, err error) {
	switch len(c) {
	case 0:
		return false, false, nil
	case 1:
		if c[0].kind == KindBoolean {
			b, ok := c[0].boolean()
			return b, ok, nil
		}
		return true, true, nil
	}
	if fn {
		what += "()"
	}
	return false, false, r.errorf(at, "%s: expected a single Boolean, got %d items", what, len(c))
}

// concat is &: empty operands count as empty strings.
func (n *binary) concat(r *run, a, b []Item) ([]Item, error) {
	var parts [2]string
	for i, c := range [2][]Item{a, b} {
		switch len(c) {
		case 0:
		case 1:
			s, ok := c[0].str()
			if c[0].kind != KindString || !ok {
				if c[0].kind == KindString {
					continue // a string with only extensions
				}
				return nil, r.errorf(n.pos, "&: expected Strings, got %s", typeOf(c[0]))
			}
			parts[i] = s
		default:
			return nil, r.errorf(n.pos, "&: expected one item on each side, got %d", len(c))
		}
	}
	return r.stringResult(parts[0]+parts[1], n.pos)
}

// maxString bounds the strings an expression builds, so that
// repeat($this & $this) cannot double its way through memory; FHIR caps
// strings at 1MB (https://hl7.org/fhir/R4/datatypes.html#string).
const maxString = 1 << 20

func (r *run) stringResult(s string, at int) ([]Item, error) {
	if len(s) > maxString {
		return nil, r.errorf(at, "string longer than %d bytes", maxString)
	}
	return []Item{String(s)}, nil
}

// arithmetic applies + - * / div mod to two single values
// (http://hl7.org/fhirpath/N1/#math-1).
func (r *run) arithmetic(n *binary, x, y Item) ([]Item, error) {
	if !x.HasValue() && x.kind != KindQuantity || !y.HasValue() && y.kind != KindQuantity {
		if x.kind != KindNone && y.kind != KindNone {
			return nil, nil // a primitive with only extensions
		}
	}
	bad := func() ([]Item, error) {
		return nil, r.errorf(n.pos, "%s: cannot apply to %s and %s", n.name, typeOf(x), typeOf(y))
	}
	switch {
	case x.kind == KindInteger && y.kind == KindInteger:
		a, ok1 := x.integer()
		b, ok2 := y.integer()
		if !ok1 || !ok2 {
			return nil, nil
		}
		return r.integerOp(n, a, b)
	case isNumber(x.kind) && isNumber(y.kind):
		a, ok1 := x.number()
		b, ok2 := y.number()
		if !ok1 || !ok2 {
			return nil, nil
		}
		return decimalOp(n.op, a, b, false)
	case x.kind == KindString && y.kind == KindString && n.op == opAdd:
		a, ok1 := x.str()
		b, ok2 := y.str()
		if !ok1 || !ok2 {
			return nil, nil
		}
		return r.stringResult(a+b, n.pos)
	case isTemporal(x.kind) && y.kind == KindQuantity && (n.op == opAdd || n.op == opSub):
		d, ok1 := x.dateTime()
		q, ok2 := y.quantity()
		if !ok1 || !ok2 {
			return nil, nil
		}
		step, ok := q.step()
		if !ok {
			return nil, r.errorf(n.pos, "%s: a %s cannot move by a quantity in that unit", n.name, d.Kind)
		}
		steps := q.value.truncInt() // partial units are dropped: 7.7 days adds 7 days
		if !steps.IsInt64() {
			return nil, r.errorf(n.pos, "%s: duration out of range", n.name)
		}
		k := steps.Int64()
		if n.op == opSub {
			k = -k
		}
		res, ok := d.add(k, step)
		if !ok {
			return nil, r.errorf(n.pos, "%s: result out of range", n.name)
		}
		return []Item{dtItem(res)}, nil
	case x.kind == KindQuantity || y.kind == KindQuantity:
		return r.quantityOp(n, x, y, bad)
	}
	return bad()
}

func (r *run) integerOp(n *binary, a, b int64) ([]Item, error) {
	var v int64
	switch n.op {
	case opAdd:
		v = a + b
		if (v > a) != (b > 0) {
			return nil, r.errorf(n.pos, "+: integer overflow")
		}
	case opSub:
		v = a - b
		if (v < a) != (b > 0) {
			return nil, r.errorf(n.pos, "-: integer overflow")
		}
	case opMul:
		if a != 0 && b != 0 {
			hi, lo := bigMul(a, b)
			if !hi {
				return nil, r.errorf(n.pos, "*: integer overflow")
			}
			v = lo
		}
	case opDiv:
		return decimalOp(opDiv, decFromInt(a), decFromInt(b), false)
	case opIntDiv:
		if b == 0 {
			return nil, nil
		}
		if a == math.MinInt64 && b == -1 {
			return nil, r.errorf(n.pos, "div: integer overflow")
		}
		v = a / b
	case opMod:
		if b == 0 {
			return nil, nil
		}
		if b == -1 {
			v = 0
		} else {
			v = a % b
		}
	}
	return []Item{Integer(v)}, nil
}

// bigMul multiplies, reporting false on int64 overflow.
func bigMul(a, b int64) (bool, int64) {
	p := new(big.Int).Mul(big.NewInt(a), big.NewInt(b))
	if !p.IsInt64() {
		return false, 0
	}
	return true, p.Int64()
}

// decimalOp applies an operator to decimals; div gives an Integer-valued
// decimal and a zero divisor gives empty.
func decimalOp(op opcode, a, b dec, _ bool) ([]Item, error) {
	var v dec
	switch op {
	case opAdd:
		v = a.add(b)
	case opSub:
		v = a.sub(b)
	case opMul:
		v = a.mul(b)
	case opDiv:
		q, ok := a.div(b)
		if !ok {
			return nil, nil
		}
		v = q
	case opIntDiv:
		if b.sign() == 0 {
			return nil, nil
		}
		x, y := align(a, b)
		return []Item{decItem(dec{u: new(big.Int).Quo(x.u, y.u)})}, nil
	case opMod:
		if b.sign() == 0 {
			return nil, nil
		}
		x, y := align(a, b)
		return []Item{decItem(dec{u: new(big.Int).Rem(x.u, y.u), scale: x.scale})}, nil
	}
	return []Item{decItem(v)}, nil
}

// quantityOp is arithmetic with at least one Quantity: + and - convert the
// right operand to the left's unit; * and / combine units.
func (r *run) quantityOp(n *binary, x, y Item, bad func() ([]Item, error)) ([]Item, error) {
	var a, b quantity
	var ok1, ok2 bool
	switch {
	case x.kind == KindQuantity && y.kind == KindQuantity:
		a, ok1 = x.quantity()
		b, ok2 = y.quantity()
	case x.kind == KindQuantity && isNumber(y.kind) && (n.op == opMul || n.op == opDiv):
		a, ok1 = x.quantity()
		var v dec
		v, ok2 = y.number()
		b = quantity{value: v, unit: "1"}
	case isNumber(x.kind) && y.kind == KindQuantity && n.op == opMul:
		var v dec
		v, ok1 = x.number()
		a = quantity{value: v, unit: "1"}
		b, ok2 = y.quantity()
	default:
		return bad()
	}
	if !ok1 || !ok2 {
		return nil, nil
	}
	switch n.op {
	case opAdd, opSub:
		bv, ok := convertQuantity(b, a.unit)
		if !ok {
			return nil, nil
		}
		v := a.value.add(bv)
		if n.op == opSub {
			v = a.value.sub(bv)
		}
		return []Item{qtyItem(quantity{value: v, unit: a.unit, cal: a.cal})}, nil
	case opMul, opDiv:
		ua, ok1 := a.ucumUnit()
		ub, ok2 := b.ucumUnit()
		if !ok1 || !ok2 {
			return nil, nil // years and months do not multiply
		}
		if n.op == opMul {
			return []Item{qtyItem(quantity{value: a.value.mul(b.value), unit: multiplyUnits(ua, ub)})}, nil
		}
		v, ok := a.value.div(b.value)
		if !ok {
			return nil, nil
		}
		return []Item{qtyItem(quantity{value: v, unit: divideUnits(ua, ub)})}, nil
	}
	return bad()
}

// unary is a prefix + or -.
type unary struct {
	neg bool
	x   node
	pos int
}

// newUnary folds a sign into a number or quantity literal: -5, -5.5 'mg'.
func newUnary(neg bool, x node, pos int, p *parser) node {
	if lit, ok := x.(*literal); ok && len(lit.items) == 1 {
		it := lit.items[0]
		switch it.kind {
		case KindInteger, KindDecimal, KindQuantity:
			if !neg {
				return lit
			}
			if v, ok := negate(it); ok {
				return p.literal(pos, v)
			}
		}
	}
	return &unary{neg: neg, x: x, pos: pos}
}

func negate(it Item) (Item, bool) {
	switch it.kind {
	case KindInteger:
		n, ok := it.integer()
		if !ok || n == math.MinInt64 {
			return Item{}, false
		}
		return Integer(-n), true
	case KindDecimal:
		d, ok := it.decimal()
		return decItem(d.neg()), ok
	case KindQuantity:
		q, ok := it.quantity()
		q.value = q.value.neg()
		return qtyItem(q), ok
	}
	return Item{}, false
}

func (n *unary) at() int { return n.pos }

func (n *unary) eval(r *run, s scope) ([]Item, error) {
	in, err := n.x.eval(r, s)
	if err != nil {
		return nil, err
	}
	switch len(in) {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, r.errorf(n.pos, "unary sign: expected one item, got %d", len(in))
	}
	switch in[0].kind {
	case KindInteger, KindDecimal, KindQuantity:
		if !n.neg {
			return in, nil
		}
		v, ok := negate(in[0])
		if !ok {
			return nil, nil
		}
		return []Item{v}, nil
	}
	return nil, r.errorf(n.pos, "unary sign: cannot apply to %s", typeOf(in[0]))
}
