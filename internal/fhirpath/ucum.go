package fhirpath

import (
	"math/big"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// UCUM (https://ucum.org/ucum) to the extent that clinical data needs it:
// the base units, the metric prefixes, the common derived and customary
// units, exponents, products, quotients, parentheses, integer factors,
// 10*n and annotations. Units with an offset (Cel, [degF]) and arbitrary
// units ([iU]) are "special": comparable only with the same unit.

// dimension indexes: length, mass, time, angle, temperature, charge,
// luminous intensity, amount of substance, and FHIRPath's calendar month
// (year and month are not a fixed number of seconds, so they compare only
// with each other: http://hl7.org/fhirpath/N1/#time-valued-quantities).
const (
	dimLength = iota
	dimMass
	dimTime
	dimAngle
	dimTemp
	dimCharge
	dimLight
	dimAmount
	dimCalMonth
	numDims
)

type dims [numDims]int8

// unitDef is a parsed unit: value in unit × factor = value in base units.
type unitDef struct {
	factor  *big.Rat
	dims    dims
	special bool
}

type atom struct {
	factor  string // in base units, as an exact decimal or fraction
	dims    dims
	metric  bool // takes a prefix
	special bool
}

func dimsOf(pairs ...int) dims {
	var v dims
	for i := 0; i+1 < len(pairs); i += 2 {
		v[pairs[i]] = int8(pairs[i+1])
	}
	return v
}

var (
	dPressure = dimsOf(dimMass, 1, dimLength, -1, dimTime, -2)
	dEnergy   = dimsOf(dimMass, 1, dimLength, 2, dimTime, -2)
)

var atoms = map[string]atom{
	"m":   {"1", dimsOf(dimLength, 1), true, false},
	"g":   {"1", dimsOf(dimMass, 1), true, false},
	"s":   {"1", dimsOf(dimTime, 1), true, false},
	"rad": {"1", dimsOf(dimAngle, 1), true, false},
	"K":   {"1", dimsOf(dimTemp, 1), true, false},
	"C":   {"1", dimsOf(dimCharge, 1), true, false},
	"cd":  {"1", dimsOf(dimLight, 1), true, false},
	"mol": {"1", dimsOf(dimAmount, 1), true, false},
	"eq":  {"1", dimsOf(dimAmount, 1), true, false},
	"osm": {"1", dimsOf(dimAmount, 1), true, false},
	"kat": {"1", dimsOf(dimAmount, 1, dimTime, -1), true, false},
	"U":   {"1/60000000", dimsOf(dimAmount, 1, dimTime, -1), true, false}, // µmol/min
	"L":   {"1/1000", dimsOf(dimLength, 3), true, false},
	"l":   {"1/1000", dimsOf(dimLength, 3), true, false},
	"Hz":  {"1", dimsOf(dimTime, -1), true, false},
	"N":   {"1000", dimsOf(dimMass, 1, dimLength, 1, dimTime, -2), true, false},
	"Pa":  {"1000", dPressure, true, false},
	"bar": {"100000000", dPressure, true, false},
	"J":   {"1000", dEnergy, true, false},
	"cal": {"4184", dEnergy, true, false},
	"W":   {"1000", dimsOf(dimMass, 1, dimLength, 2, dimTime, -3), true, false},
	"A":   {"1", dimsOf(dimCharge, 1, dimTime, -1), true, false},
	"V":   {"1000", dimsOf(dimMass, 1, dimLength, 2, dimTime, -2, dimCharge, -1), true, false},
	"Ohm": {"1000", dimsOf(dimMass, 1, dimLength, 2, dimTime, -1, dimCharge, -2), true, false},
	"t":   {"1000000", dimsOf(dimMass, 1), true, false},

	"m[Hg]":  {"133322000", dPressure, true, false},
	"m[H2O]": {"9806650", dPressure, true, false},
	"atm":    {"101325000", dPressure, false, false},

	"min": {"60", dimsOf(dimTime, 1), false, false},
	"h":   {"3600", dimsOf(dimTime, 1), false, false},
	"d":   {"86400", dimsOf(dimTime, 1), false, false},
	"wk":  {"604800", dimsOf(dimTime, 1), false, false},
	"mo":  {"2629800", dimsOf(dimTime, 1), false, false},  // mean Julian month
	"a":   {"31557600", dimsOf(dimTime, 1), false, false}, // Julian year

	"%":      {"1/100", dims{}, false, false},
	"[ppth]": {"1/1000", dims{}, false, false},
	"[ppm]":  {"1/1000000", dims{}, false, false},
	"[ppb]":  {"1/1000000000", dims{}, false, false},

	"[in_i]":     {"0.0254", dimsOf(dimLength, 1), false, false},
	"[ft_i]":     {"0.3048", dimsOf(dimLength, 1), false, false},
	"[yd_i]":     {"0.9144", dimsOf(dimLength, 1), false, false},
	"[mi_i]":     {"1609.344", dimsOf(dimLength, 1), false, false},
	"[nmi_i]":    {"1852", dimsOf(dimLength, 1), false, false},
	"[lb_av]":    {"453.59237", dimsOf(dimMass, 1), false, false},
	"[oz_av]":    {"28.349523125", dimsOf(dimMass, 1), false, false},
	"[gr]":       {"0.06479891", dimsOf(dimMass, 1), false, false},
	"[stone_av]": {"6350.29318", dimsOf(dimMass, 1), false, false},
	"[gal_us]":   {"0.003785411784", dimsOf(dimLength, 3), false, false},
	"[foz_us]":   {"0.0000295735295625", dimsOf(dimLength, 3), false, false},
	"[pt_us]":    {"0.000473176473", dimsOf(dimLength, 3), false, false},

	"Cel":    {"1", dims{}, true, true},
	"[degF]": {"1", dims{}, false, true},
	"[iU]":   {"1", dims{}, true, true},
	"[IU]":   {"1", dims{}, true, true},
}

var prefixes = map[string]string{
	"Y": "1000000000000000000000000", "Z": "1000000000000000000000", "E": "1000000000000000000",
	"P": "1000000000000000", "T": "1000000000000", "G": "1000000000", "M": "1000000",
	"k": "1000", "h": "100", "da": "10", "d": "1/10", "c": "1/100", "m": "1/1000",
	"u": "1/1000000", "n": "1/1000000000", "p": "1/1000000000000", "f": "1/1000000000000000",
	"a": "1/1000000000000000000", "z": "1/1000000000000000000000", "y": "1/1000000000000000000000000",
}

func rat(s string) *big.Rat {
	r, _ := new(big.Rat).SetString(s)
	return r
}

// parseUnit reads a UCUM expression. ok is false for anything it does not
// understand, which then compares only with the identical unit.
func parseUnit(s string) (unitDef, bool) {
	if s == "" {
		return unitDef{}, false
	}
	p := unitParser{s: s}
	u, ok := p.term()
	if !ok || p.pos != len(s) {
		return unitDef{}, false
	}
	return u, true
}

type unitParser struct {
	s     string
	pos   int
	depth int
}

func (p *unitParser) term() (unitDef, bool) {
	u := unitDef{factor: big.NewRat(1, 1)}
	op := byte('.')
	if p.pos < len(p.s) && p.s[p.pos] == '/' {
		op = '/'
		p.pos++
	}
	for {
		c, ok := p.component()
		if !ok {
			return u, false
		}
		u = combine(u, c, op == '/')
		if p.pos >= len(p.s) || (p.s[p.pos] != '.' && p.s[p.pos] != '/') {
			return u, true
		}
		op = p.s[p.pos]
		p.pos++
	}
}

func combine(a, b unitDef, divide bool) unitDef {
	r := unitDef{factor: new(big.Rat), special: a.special || b.special}
	if divide {
		r.factor.Quo(a.factor, b.factor)
	} else {
		r.factor.Mul(a.factor, b.factor)
	}
	for i := range r.dims {
		if divide {
			r.dims[i] = a.dims[i] - b.dims[i]
		} else {
			r.dims[i] = a.dims[i] + b.dims[i]
		}
	}
	return r
}

// annotation skips a {comment}; bad is set for one that is not closed.
func (p *unitParser) annotation() (found, bad bool) {
	if p.pos >= len(p.s) || p.s[p.pos] != '{' {
		return false, false
	}
	end := strings.IndexByte(p.s[p.pos:], '}')
	if end < 0 {
		return false, true
	}
	p.pos += end + 1
	return true, false
}

func (p *unitParser) component() (unitDef, bool) {
	one := unitDef{factor: big.NewRat(1, 1)}
	if p.pos >= len(p.s) {
		return one, false
	}
	if p.s[p.pos] == '(' {
		if p.depth > 10 {
			return one, false
		}
		p.pos++
		p.depth++
		u, ok := p.term()
		p.depth--
		if !ok || p.pos >= len(p.s) || p.s[p.pos] != ')' {
			return one, false
		}
		p.pos++
		return u, true
	}
	if found, bad := p.annotation(); found || bad {
		return one, !bad
	}
	start := p.pos
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		if c == '[' {
			end := strings.IndexByte(p.s[p.pos:], ']')
			if end < 0 {
				return one, false
			}
			p.pos += end + 1
			continue
		}
		if c == '.' || c == '/' || c == '(' || c == ')' || c == '{' {
			break
		}
		p.pos++
	}
	u, ok := simpleUnit(p.s[start:p.pos])
	if !ok {
		return one, false
	}
	// An annotation on a unit changes nothing: mg{total}.
	if _, bad := p.annotation(); bad {
		return one, false
	}
	return u, true
}

// simpleUnit reads a prefixed atom with an optional exponent, or a factor.
func simpleUnit(sym string) (unitDef, bool) {
	if sym == "" {
		return unitDef{}, false
	}
	if rest, ok := strings.CutPrefix(sym, "10*"); ok || strings.HasPrefix(sym, "10^") {
		if !ok {
			rest = sym[3:]
		}
		n, err := strconv.Atoi(rest)
		if err != nil || n > 30 || n < -30 {
			return unitDef{}, false
		}
		f := new(big.Rat).SetInt(pow10(int32(abs(n))))
		if n < 0 {
			f.Inv(f)
		}
		return unitDef{factor: f}, true
	}
	if allDigits(sym) {
		if len(sym) > 20 {
			return unitDef{}, false
		}
		n, _ := new(big.Int).SetString(sym, 10)
		if n.Sign() == 0 {
			return unitDef{}, false // a factor of 0 is no unit, and would divide by zero
		}
		return unitDef{factor: new(big.Rat).SetInt(n)}, true
	}
	// Split off an exponent: trailing digits, perhaps signed.
	base, exp := sym, 1
	i := len(sym)
	for i > 0 && isDigit(sym[i-1]) {
		i--
	}
	if i < len(sym) {
		j := i
		if j > 0 && (sym[j-1] == '-' || sym[j-1] == '+') {
			j--
		}
		if j > 0 {
			e, err := strconv.Atoi(sym[j:])
			if err != nil || e > 10 || e < -10 {
				return unitDef{}, false
			}
			base, exp = sym[:j], e
		}
	}
	a, f, ok := lookupAtom(base)
	if !ok {
		return unitDef{}, false
	}
	u := unitDef{factor: new(big.Rat).Set(f), special: a.special}
	for k := range u.dims {
		u.dims[k] = a.dims[k] * int8(exp)
	}
	switch {
	case exp == 0:
		u.factor.SetInt64(1)
	case exp < 0:
		u.factor.Inv(u.factor)
		fallthrough
	default:
		one := new(big.Rat).Set(u.factor)
		for range abs(exp) - 1 {
			u.factor.Mul(u.factor, one)
		}
	}
	return u, true
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// lookupAtom resolves an atom, alone or after a metric prefix, giving its
// factor including the prefix.
func lookupAtom(sym string) (atom, *big.Rat, bool) {
	if a, ok := atoms[sym]; ok {
		return a, rat(a.factor), true
	}
	for _, n := range [...]int{1, 2} {
		if len(sym) <= n {
			continue
		}
		pf, ok := prefixes[sym[:n]]
		if !ok {
			continue
		}
		if a, ok := atoms[sym[n:]]; ok && a.metric {
			f := rat(a.factor)
			return a, f.Mul(f, rat(pf)), true
		}
	}
	return atom{}, nil, false
}

var dimNames = [numDims]string{"m", "g", "s", "rad", "K", "C", "cd", "mol", "mo"}

// CanonicalUnit converts value in the UCUM unit code to base units and
// names those units by their dimensions ("g" for mg, "g.m-3" for mg/dL,
// "mol.m-3" for mmol/L), so that quantities in different units of one kind
// can be indexed and searched together. ok is false for units it does not
// know and for special units (Cel, [iU]), which compare only with
// themselves.
func CanonicalUnit(code string, value float64) (units string, v float64, ok bool) {
	c, found := canonicalUnits.Load(code)
	if !found {
		c = canonicalOf(code)
		if canonicalUnitsLen.Add(1) <= maxCanonicalUnits {
			canonicalUnits.Store(code, c)
		}
	}
	cu := c.(canonicalUnit)
	if !cu.ok {
		return "", 0, false
	}
	return cu.units, value * cu.factor, true
}

// canonicalUnits memoises canonicalOf: indexing calls it for every
// quantity stored, with few distinct codes, and parsing one costs several
// microseconds. Codes come from clients, so only the first
// maxCanonicalUnits are kept.
var (
	canonicalUnits    sync.Map // code -> canonicalUnit
	canonicalUnitsLen atomic.Int64
)

const maxCanonicalUnits = 4096

type canonicalUnit struct {
	units  string
	factor float64
	ok     bool
}

func canonicalOf(code string) canonicalUnit {
	u, ok := parseUnit(code)
	if !ok || u.special {
		return canonicalUnit{}
	}
	var parts []string
	for i, n := range u.dims {
		switch {
		case n == 1:
			parts = append(parts, dimNames[i])
		case n != 0:
			parts = append(parts, dimNames[i]+strconv.Itoa(int(n)))
		}
	}
	f, _ := u.factor.Float64()
	if len(parts) == 0 {
		return canonicalUnit{"1", f, true}
	}
	return canonicalUnit{strings.Join(parts, "."), f, true}
}
