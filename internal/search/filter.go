package search

import (
	"math"
	"strconv"
	"strings"

	"sharedcare/internal/fhir"
	"sharedcare/internal/outcome"
	"sharedcare/internal/terminology"
)

// maxChainDepth bounds chains and _has nesting: each level is a join.
const maxChainDepth = 4

// parseFilter parses one name=value pair: name is
// code[:modifier][.chained...] or _has:Type:param:name.
func parseFilter(types []string, name, raw, base string) (Filter, error) {
	return parseFilterDepth(types, name, raw, base, 0)
}

func parseFilterDepth(types []string, name, raw, base string, depth int) (Filter, error) {
	if depth > maxChainDepth {
		return Filter{}, perr(outcome.CodeTooCostly, "chains and _has nest at most %d deep", maxChainDepth)
	}
	if rest, ok := strings.CutPrefix(name, "_has:"); ok {
		return parseHas(types, rest, raw, base, depth)
	}
	head, chainRest, chained := strings.Cut(name, ".")
	code, modifier, _ := strings.Cut(head, ":")
	f := Filter{Code: code, Modifier: modifier}
	if len(types) == 1 {
		f.ResourceType = types[0]
	}
	switch code {
	case "_id":
		f.Type = "special"
		if modifier != "" && modifier != "missing" && modifier != "not" {
			return f, perr(outcome.CodeNotSupported, "_id does not take :%s", modifier)
		}
		vals, err := parseValues(raw, func(s string) (Value, error) { return Value{Raw: s, Code: s}, nil })
		f.Values = vals
		return f, err
	case "_lastUpdated":
		f.Type = "special"
		if modifier != "" {
			return f, perr(outcome.CodeNotSupported, "_lastUpdated does not take :%s", modifier)
		}
		vals, err := parseValues(raw, parseDate)
		f.Values = vals
		return f, err
	}
	p, typ, err := lookup(types, code)
	if err != nil {
		return f, err
	}
	f.Param, f.Type = p, typ
	if chained {
		if typ != "reference" {
			return f, perr(outcome.CodeInvalid, "%s is a %s parameter; only reference parameters chain", code, typ)
		}
		targets := p.Targets
		if modifier != "" {
			if !fhir.IsResourceType(modifier) {
				return f, perr(outcome.CodeValue, "%s:%s: %q is not a resource type", code, modifier, modifier)
			}
			targets = []string{modifier}
		}
		if len(targets) == 0 {
			return f, perr(outcome.CodeInvalid, "%s may point at any type: say which, as %s:Type.%s", code, code, chainRest)
		}
		// Only targets that have the chained parameter count.
		var usable []string
		for _, t := range targets {
			pc, _, _ := strings.Cut(strings.SplitN(chainRest, ".", 2)[0], ":")
			if pc == "_id" || pc == "_lastUpdated" || fhir.LookupSearchParam(t, pc) != nil || strings.HasPrefix(pc, "_has") {
				usable = append(usable, t)
			}
		}
		if len(usable) == 0 {
			return f, perr(outcome.CodeNotFound, "none of %s's targets (%s) has a parameter %q", code, strings.Join(targets, ", "), chainRest)
		}
		inner, err := parseFilterDepth(usable, chainRest, raw, base, depth+1)
		if err != nil {
			return f, err
		}
		f.Modifier = ""
		f.Chain = &Chain{TargetTypes: usable, Filter: inner}
		return f, nil
	}
	if modifier == "missing" {
		switch raw {
		case "true", "false":
			f.Values = []Value{{Raw: raw, Missing: raw == "true"}}
			return f, nil
		}
		return f, perr(outcome.CodeValue, "%s:missing takes true or false, not %q", code, raw)
	}
	if err := checkModifier(f, p); err != nil {
		return f, err
	}
	var parse func(string) (Value, error)
	switch typ {
	case "string":
		parse = func(s string) (Value, error) {
			if s == "" {
				return Value{}, perr(outcome.CodeValue, "%s: empty value", code)
			}
			s = unescape(s)
			n := Normalize(s)
			if strings.HasSuffix(code, "postalcode") {
				n = strings.ReplaceAll(n, " ", "")
			}
			return Value{Raw: s, Norm: n}, nil
		}
	case "token":
		parse = parseToken
		if modifier == "in" || modifier == "not-in" {
			vs := raw
			exp := terminology.Expansion(vs)
			if exp == nil {
				return f, perr(outcome.CodeNotSupported, "%s:%s: the value set %q is not bundled with this server", code, modifier, vs)
			}
			for _, c := range exp {
				f.InCodes = append(f.InCodes, [2]string{c.System, c.Code})
			}
			f.Values = []Value{{Raw: raw}}
			return f, nil
		}
		if modifier == "text" {
			parse = func(s string) (Value, error) { return Value{Raw: s, Norm: Normalize(unescape(s))}, nil }
		}
		if modifier == "of-type" {
			parse = parseOfType
		}
	case "reference":
		parse = func(s string) (Value, error) { return parseReference(s, f, base) }
		if modifier == "identifier" {
			parse = parseToken
		}
	case "date":
		parse = parseDate
	case "number":
		parse = parseNumber
	case "quantity":
		parse = parseQuantity
	case "uri":
		parse = func(s string) (Value, error) {
			if s == "" {
				return Value{}, perr(outcome.CodeValue, "%s: empty value", code)
			}
			return Value{Raw: s, Code: s}, nil
		}
	case "composite":
		parse = func(s string) (Value, error) { return parseComposite(p, s) }
	default:
		return f, perr(outcome.CodeNotSupported, "%s (a %s parameter) is not supported", code, typ)
	}
	f.Values, err = parseValues(raw, parse)
	if err == nil && len(f.Values) == 0 {
		err = perr(outcome.CodeValue, "%s has no value", code)
	}
	return f, err
}

// checkModifier refuses modifiers the parameter's type does not take.
func checkModifier(f Filter, p *fhir.SearchParam) error {
	m := f.Modifier
	if m == "" {
		return nil
	}
	ok := false
	switch f.Type {
	case "string":
		ok = m == "exact" || m == "contains"
	case "token":
		ok = m == "text" || m == "not" || m == "of-type" || m == "in" || m == "not-in"
		if m == "of-type" && p.Code != "identifier" {
			ok = false
		}
	case "reference":
		ok = m == "identifier" || fhir.IsResourceType(m)
		if fhir.IsResourceType(m) && len(p.Targets) > 0 {
			ok = false
			for _, t := range p.Targets {
				ok = ok || t == m
			}
		}
	case "uri":
		ok = m == "above" || m == "below"
	}
	if !ok {
		return perr(outcome.CodeNotSupported, "%s (a %s parameter) does not take the modifier :%s", f.Code, f.Type, m)
	}
	return nil
}

func parseHas(types []string, rest, raw, base string, depth int) (Filter, error) {
	// rest is Type:param:name (name may itself be _has:...).
	parts := strings.SplitN(rest, ":", 3)
	if len(parts) != 3 {
		return Filter{}, perr(outcome.CodeValue, "_has:%s is not _has:Type:parameter:name", rest)
	}
	typ, param, inner := parts[0], parts[1], parts[2]
	if !fhir.IsResourceType(typ) {
		return Filter{}, perr(outcome.CodeValue, "_has: %q is not a resource type", typ)
	}
	p := fhir.LookupSearchParam(typ, param)
	if p == nil || p.Type != "reference" {
		return Filter{}, perr(outcome.CodeValue, "_has: %s has no reference parameter %q", typ, param)
	}
	f, err := parseFilterDepth([]string{typ}, inner, raw, base, depth+1)
	if err != nil {
		return Filter{}, err
	}
	out := Filter{Code: "_has", Type: "special", Has: &Has{Type: typ, Param: param, Filter: f}}
	if len(types) == 1 {
		out.ResourceType = types[0]
	}
	return out, nil
}

// splitValues splits at commas not escaped with a backslash, and unescapes
// \, \$ \| and \\ (https://hl7.org/fhir/R4/search.html#escaping).
func splitValues(raw string) []string {
	var out []string
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '\\' && i+1 < len(raw) {
			b.WriteByte('\\')
			b.WriteByte(raw[i+1])
			i++
			continue
		}
		if c == ',' {
			out = append(out, b.String())
			b.Reset()
			continue
		}
		b.WriteByte(c)
	}
	return append(out, b.String())
}

// unescape removes search escapes from one value part.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// cutUnescaped cuts s at the first sep not escaped with a backslash.
func cutUnescaped(s string, sep byte) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			i++
			continue
		}
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func parseValues(raw string, parse func(string) (Value, error)) ([]Value, error) {
	var out []Value
	for _, part := range splitValues(raw) {
		if part == "" {
			continue
		}
		v, err := parse(part)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func parseToken(s string) (Value, error) {
	sys, code, has := cutUnescaped(s, '|')
	if !has {
		return Value{Raw: s, Code: unescape(s)}, nil
	}
	return Value{Raw: s, System: unescape(sys), Code: unescape(code), HasSystem: true}, nil
}

// parseOfType reads identifier:of-type's system|code|value.
func parseOfType(s string) (Value, error) {
	sys, rest, ok1 := cutUnescaped(s, '|')
	code, value, ok2 := cutUnescaped(rest, '|')
	if !ok1 || !ok2 || code == "" || value == "" {
		return Value{}, perr(outcome.CodeValue, ":of-type takes system|code|value, not %q", s)
	}
	return Value{Raw: s, System: unescape(sys), Code: unescape(code) + "|" + unescape(value), HasSystem: true}, nil
}

var prefixes = []string{"eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"}

// cutPrefix separates a comparison prefix from a number or date.
func cutPrefix(s string) (string, string) {
	if len(s) > 2 {
		for _, p := range prefixes {
			if strings.HasPrefix(s, p) && (s[2] >= '0' && s[2] <= '9' || s[2] == '-' || s[2] == '.') {
				return p, s[2:]
			}
		}
	}
	return "eq", s
}

func parseDate(s string) (Value, error) {
	prefix, rest := cutPrefix(s)
	d, err := fhir.ParseDateRange(rest)
	if err != nil {
		return Value{}, perr(outcome.CodeValue, "%q is not a date (such as 2024, 2024-03, 2024-03-05 or 2024-03-05T09:30:00Z, with an optional prefix like ge)", s)
	}
	return Value{Raw: s, Prefix: prefix, DateLow: d.Low.UnixMilli(), DateHigh: d.High.UnixMilli()}, nil
}

// numberRange returns the range a decimal's precision implies: 100 is
// [99.5, 100.5), 1.0e2 likewise, 0.50 is [0.495, 0.505)
// (https://hl7.org/fhir/R4/search.html#number).
func numberRange(text string) (v, lo, hi float64, err error) {
	v, err = strconv.ParseFloat(text, 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, 0, 0, perr(outcome.CodeValue, "%q is not a number", text)
	}
	mant, exp, _ := strings.Cut(strings.ToLower(text), "e")
	e := 0
	if exp != "" {
		e, _ = strconv.Atoi(exp)
	}
	decimals := 0
	if _, frac, ok := strings.Cut(mant, "."); ok {
		decimals = len(frac)
	}
	half := 0.5 * math.Pow(10, float64(e-decimals))
	return v, v - half, v + half, nil
}

func parseNumber(s string) (Value, error) {
	prefix, rest := cutPrefix(s)
	v, lo, hi, err := numberRange(rest)
	if err != nil {
		return Value{}, err
	}
	return Value{Raw: s, Prefix: prefix, Number: v, Low: lo, High: hi}, nil
}

// parseQuantity reads [prefix]number[|system|code].
func parseQuantity(s string) (Value, error) {
	num, rest, _ := cutUnescaped(s, '|')
	prefix, numText := cutPrefix(num)
	v, lo, hi, err := numberRange(numText)
	if err != nil {
		return Value{}, perr(outcome.CodeValue, "%q is not a quantity (number|system|code, e.g. 5.4|http://unitsofmeasure.org|mg)", s)
	}
	out := Value{Raw: s, Prefix: prefix, Number: v, Low: lo, High: hi}
	if rest != "" {
		sys, code, ok := cutUnescaped(rest, '|')
		if !ok {
			return Value{}, perr(outcome.CodeValue, "%q: a quantity's unit is system|code", s)
		}
		out.UnitSystem, out.UnitCode = unescape(sys), unescape(code)
		if out.UnitSystem == "" || out.UnitSystem == ucumSystem {
			if cc, cv, ok := canonicalUnit(out.UnitCode, v); ok {
				_, clo, _ := canonicalUnit(out.UnitCode, lo)
				_, chi, _ := canonicalUnit(out.UnitCode, hi)
				out.CanonicalCode, out.CanonicalValue, out.CanonicalLow, out.CanonicalHigh = cc, cv, clo, chi
			}
		}
	}
	return out, nil
}

func parseReference(s string, f Filter, base string) (Value, error) {
	v := Value{Raw: s}
	if base != "" {
		// A reference to this server by its full URL is a local one.
		if rel, ok := strings.CutPrefix(s, base+"/"); ok {
			s = rel
		}
	}
	if typ, id, ok := SplitReference(s); ok {
		v.RefType, v.RefID = typ, id
		if strings.Contains(s, "://") {
			v.RefType, v.RefID, v.RefURL = "", "", s
		}
		if f.Modifier != "" && f.Modifier != typ {
			return v, perr(outcome.CodeValue, "%s:%s=%s names another type", f.Code, f.Modifier, s)
		}
		return v, nil
	}
	if strings.Contains(s, ":") {
		v.RefURL = s
		return v, nil
	}
	if strings.Contains(s, "/") {
		return v, perr(outcome.CodeValue, "%q is not a reference (Type/id, an id, or a URL)", s)
	}
	v.RefID = s
	if f.Modifier != "" {
		v.RefType = f.Modifier
	} else if len(f.Param.Targets) == 1 {
		v.RefType = f.Param.Targets[0]
	}
	return v, nil
}

// parseComposite reads a$b (and a$b$c) per the components' types.
func parseComposite(p *fhir.SearchParam, s string) (Value, error) {
	var parts []string
	rest := s
	for {
		a, b, ok := cutUnescaped(rest, '$')
		parts = append(parts, a)
		if !ok {
			break
		}
		rest = b
	}
	if len(parts) != len(p.Components) {
		return Value{}, perr(outcome.CodeValue, "%s takes %d values joined by $, not %q", p.Code, len(p.Components), s)
	}
	out := Value{Raw: s}
	for i, c := range p.Components {
		var v Value
		var err error
		switch c.Type {
		case "token":
			v, err = parseToken(parts[i])
		case "quantity":
			v, err = parseQuantity(parts[i])
		case "number":
			v, err = parseNumber(parts[i])
		case "date":
			v, err = parseDate(parts[i])
		case "string":
			v = Value{Raw: parts[i], Norm: Normalize(unescape(parts[i]))}
		case "reference":
			v = Value{Raw: parts[i], Code: unescape(parts[i])}
		default:
			err = perr(outcome.CodeNotSupported, "%s: component type %s", p.Code, c.Type)
		}
		if err != nil {
			return Value{}, err
		}
		out.Parts = append(out.Parts, v)
	}
	return out, nil
}
