package fhirpath

import (
	"strconv"

	"sharedcare/internal/fhir"
)

// Operator precedence, loosest first (http://hl7.org/fhirpath/N1/#operator-precedence).
const (
	precImplies = iota + 1
	precOr
	precAnd
	precMembership
	precEquality
	precInequality
	precUnion
	precType
	precAdditive
	precMultiplicative
	precUnary
	precPostfix
)

// maxParseDepth bounds nesting, so that a hostile expression cannot exhaust
// the stack in the parser or, later, in evaluation.
const maxParseDepth = 200

// maxTokens bounds an expression's length. Chains such as a.b.c... or
// 1+1+1... nest without parentheses, and evaluation recurses through them,
// so this bounds evaluation depth too. The longest expression in the R4
// spec has under 150 tokens.
const maxTokens = 4096

type parser struct {
	src    string
	toks   []token
	i      int
	depth  int
	shared []*Item
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) advance() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

func (p *parser) errorf(pos int, format string, args ...any) error {
	return newSyntaxError(p.src, pos, format, args...)
}

func (p *parser) isPunct(text string) bool {
	t := p.peek()
	return t.kind == tokPunct && t.text == text
}

func (p *parser) expect(text string) error {
	if !p.isPunct(text) {
		t := p.peek()
		return p.errorf(t.pos, "expected %q, found %s", text, describe(t))
	}
	p.advance()
	return nil
}

func describe(t token) string {
	switch t.kind {
	case tokEOF:
		return "end of expression"
	case tokString:
		return "a string"
	case tokNumber:
		return "a number"
	}
	return strconv.Quote(t.text)
}

func (p *parser) parseAll() (node, error) {
	if p.peek().kind == tokEOF {
		return nil, p.errorf(0, "empty expression")
	}
	n, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, p.errorf(t.pos, "unexpected %s", describe(t))
	}
	return n, nil
}

// binaryOps maps an infix operator to its precedence.
var binaryOps = map[string]int{
	"implies": precImplies,
	"or":      precOr, "xor": precOr,
	"and": precAnd,
	"in":  precMembership, "contains": precMembership,
	"=": precEquality, "~": precEquality, "!=": precEquality, "!~": precEquality,
	"<": precInequality, "<=": precInequality, ">": precInequality, ">=": precInequality,
	"|":  precUnion,
	"is": precType, "as": precType,
	"+": precAdditive, "-": precAdditive, "&": precAdditive,
	"*": precMultiplicative, "/": precMultiplicative, "div": precMultiplicative, "mod": precMultiplicative,
	".": precPostfix, "[": precPostfix,
}

func infix(t token) (string, int) {
	if t.kind != tokPunct && t.kind != tokIdent {
		return "", 0
	}
	prec, ok := binaryOps[t.text]
	if !ok || (t.kind == tokPunct) != (t.text[0] < 'a' || t.text[0] > 'z') {
		return "", 0
	}
	return t.text, prec
}

func (p *parser) expr(minPrec int) (node, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxParseDepth {
		return nil, p.errorf(p.peek().pos, "expression nested more than %d deep", maxParseDepth)
	}
	left, err := p.prefix()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		op, prec := infix(t)
		if prec == 0 || prec <= minPrec {
			return left, nil
		}
		p.advance()
		switch op {
		case ".":
			inv, err := p.invocation(false)
			if err != nil {
				return nil, err
			}
			left = &dot{left: left, right: inv}
		case "[":
			idx, err := p.expr(0)
			if err != nil {
				return nil, err
			}
			if err := p.expect("]"); err != nil {
				return nil, err
			}
			left = &indexer{left: left, index: idx, pos: t.pos}
		case "is", "as":
			ts, err := p.typeSpecifier()
			if err != nil {
				return nil, err
			}
			left = &typeOp{x: left, is: op == "is", typ: ts, pos: t.pos}
		default:
			right, err := p.expr(prec)
			if err != nil {
				return nil, err
			}
			left = newBinary(op, left, right, t.pos)
		}
	}
}

func (p *parser) prefix() (node, error) {
	t := p.advance()
	switch t.kind {
	case tokEOF:
		return nil, p.errorf(t.pos, "unexpected end of expression")
	case tokNumber:
		return p.number(t)
	case tokString:
		return p.literal(t.pos, String(t.text)), nil
	case tokDate, tokTime:
		kind := KindDate
		switch {
		case t.kind == tokTime:
			kind = KindTime
		case containsByte(t.text, 'T'):
			kind = KindDateTime
		}
		d, ok := parseDateTime(t.text, kind)
		if !ok {
			return nil, p.errorf(t.pos, "invalid date/time literal @%s", t.text)
		}
		return p.literal(t.pos, dtItem(d)), nil
	case tokVar:
		return p.variable(t), nil
	case tokSpecial:
		return &special{name: t.text, pos: t.pos}, nil
	case tokIdent, tokDelimID:
		if t.kind == tokIdent && (t.text == "true" || t.text == "false") {
			return p.literal(t.pos, Boolean(t.text == "true")), nil
		}
		p.i-- // invocation reads the name again
		return p.invocation(true)
	case tokPunct:
		switch t.text {
		case "(":
			n, err := p.expr(0)
			if err != nil {
				return nil, err
			}
			return n, p.expect(")")
		case "{":
			if err := p.expect("}"); err != nil {
				return nil, err
			}
			return &literal{pos: t.pos}, nil
		case "+", "-":
			x, err := p.expr(precUnary)
			if err != nil {
				return nil, err
			}
			return newUnary(t.text == "-", x, t.pos, p), nil
		}
	}
	return nil, p.errorf(t.pos, "unexpected %s", describe(t))
}

func containsByte(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return true
		}
	}
	return false
}

// literal makes a literal node, remembering its item so that Evaluate never
// hands the compiled collection itself to a caller.
func (p *parser) literal(pos int, it Item) *literal {
	n := &literal{items: []Item{it}, pos: pos}
	p.shared = append(p.shared, &n.items[0])
	return n
}

// number reads an Integer or Decimal literal, or a Quantity when a unit
// follows: 4 'mg', 7 days.
func (p *parser) number(t token) (node, error) {
	v, ok := parseDec(t.text)
	if !ok {
		return nil, p.errorf(t.pos, "invalid number %s", t.text)
	}
	next := p.peek()
	switch {
	case next.kind == tokString:
		p.advance()
		return p.literal(t.pos, qtyItem(quantity{value: v, unit: next.text})), nil
	case next.kind == tokIdent:
		if _, ok := calendarWord(next.text); ok {
			p.advance()
			return p.literal(t.pos, qtyItem(quantity{value: v, unit: next.text, cal: true})), nil
		}
	}
	if containsByte(t.text, '.') {
		return p.literal(t.pos, decItem(v)), nil
	}
	n, err := strconv.ParseInt(t.text, 10, 64)
	if err != nil {
		return nil, p.errorf(t.pos, "integer %s out of range", t.text)
	}
	return p.literal(t.pos, Integer(n)), nil
}

// variable reads %name. The spec's fixed names are constants
// (https://hl7.org/fhir/R4/fhirpath.html#variables).
func (p *parser) variable(t token) node {
	name := t.text
	switch {
	case name == "ucum":
		return p.literal(t.pos, String(ucumSystem))
	case name == "sct":
		return p.literal(t.pos, String("http://snomed.info/sct"))
	case name == "loinc":
		return p.literal(t.pos, String("http://loinc.org"))
	case len(name) > 3 && name[:3] == "vs-":
		return p.literal(t.pos, String("http://hl7.org/fhir/ValueSet/"+name[3:]))
	case len(name) > 4 && name[:4] == "ext-":
		return p.literal(t.pos, String("http://hl7.org/fhir/StructureDefinition/"+name[4:]))
	}
	return &variable{name: name, pos: t.pos}
}

// invocation reads a name or a function call; head says it starts a path.
func (p *parser) invocation(head bool) (invoker, error) {
	t := p.advance()
	if t.kind != tokIdent && t.kind != tokDelimID {
		return nil, p.errorf(t.pos, "expected a name, found %s", describe(t))
	}
	if t.kind == tokIdent && p.isPunct("(") {
		return p.call(t)
	}
	m := &member{name: t.text, head: head, pos: t.pos}
	if head && t.text != "" && t.text[0] >= 'A' && t.text[0] <= 'Z' {
		if ft := fhir.LookupType(t.text); ft != nil && ft.Kind != fhir.PrimitiveType {
			m.typ = ft
		}
	}
	return m, nil
}

func (p *parser) call(name token) (invoker, error) {
	fn, ok := functions[name.text]
	if !ok {
		return nil, p.errorf(name.pos, "unknown function %s()", name.text)
	}
	p.advance() // (
	c := &call{name: name.text, fn: fn, pos: name.pos}
	if fn.typeArg {
		ts, err := p.typeSpecifier()
		if err != nil {
			return nil, err
		}
		c.typ = ts
		return c, p.expect(")")
	}
	if !p.isPunct(")") {
		for {
			a, err := p.expr(0)
			if err != nil {
				return nil, err
			}
			c.args = append(c.args, a)
			if !p.isPunct(",") {
				break
			}
			p.advance()
		}
	}
	if err := p.expect(")"); err != nil {
		return nil, err
	}
	if len(c.args) < fn.minArgs || len(c.args) > fn.maxArgs {
		return nil, p.errorf(name.pos, "%s() takes %s, not %d", name.text, argCount(fn), len(c.args))
	}
	switch name.text {
	case "matches", "matchesFull", "replaceMatches":
		// A literal pattern is compiled once, here.
		if lit, ok := c.args[0].(*literal); ok && len(lit.items) == 1 && lit.items[0].kind == KindString {
			re, err := compileRegex(lit.items[0].s, name.text == "matchesFull")
			if err != nil {
				return nil, p.errorf(c.args[0].at(), "invalid regular expression: %v", err)
			}
			c.re = re
		}
	}
	return c, nil
}

func argCount(fn *function) string {
	switch {
	case fn.minArgs == fn.maxArgs && fn.minArgs == 1:
		return "1 argument"
	case fn.minArgs == fn.maxArgs:
		return strconv.Itoa(fn.minArgs) + " arguments"
	case fn.maxArgs > 100:
		return "at least " + strconv.Itoa(fn.minArgs) + " arguments"
	}
	return strconv.Itoa(fn.minArgs) + " to " + strconv.Itoa(fn.maxArgs) + " arguments"
}

// typeSpecifier reads a qualified type name and resolves it, taking the
// longest run of dotted names that is a type: FHIR.Patient, System.String,
// Patient.contact.
func (p *parser) typeSpecifier() (typeSpec, error) {
	start := p.peek().pos
	var parts []string
	var ends []int
	for {
		t := p.advance()
		if t.kind != tokIdent && t.kind != tokDelimID {
			return typeSpec{}, p.errorf(t.pos, "expected a type name, found %s", describe(t))
		}
		parts = append(parts, t.text)
		ends = append(ends, p.i)
		if !p.isPunct(".") {
			break
		}
		next := p.toks[p.i+1]
		if (next.kind != tokIdent && next.kind != tokDelimID) || (p.toks[p.i+2].kind == tokPunct && p.toks[p.i+2].text == "(") {
			break
		}
		p.advance()
	}
	for k := len(parts); k >= 1; k-- {
		if ts, ok := resolveType(parts[:k]); ok {
			p.i = ends[k-1]
			return ts, nil
		}
	}
	return typeSpec{}, p.errorf(start, "unknown type %s", joinDots(parts))
}
