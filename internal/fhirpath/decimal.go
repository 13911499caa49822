package fhirpath

import (
	"math"
	"math/big"
	"strconv"
	"strings"
)

// dec is an exact decimal: unscaled × 10^-scale. It keeps the scale it was
// written with, so 1.50 has scale 2 and prints as 1.50 (FHIR decimals carry
// their precision, https://hl7.org/fhir/R4/datatypes.html#decimal). A dec is
// immutable: operations return new values and never modify their operands'
// big.Int.
type dec struct {
	u     *big.Int
	scale int32 // >= 0
}

// maxDecimalScale bounds the digits after the point that division and
// conversions produce, and the precision lowBoundary and highBoundary accept.
const maxDecimalScale = 28

var bigTen = big.NewInt(10)

// pow10 returns 10^n as a new big.Int.
func pow10(n int32) *big.Int {
	if n <= 18 {
		return new(big.Int).SetInt64(int64(math.Pow10(int(n))))
	}
	return new(big.Int).Exp(bigTen, big.NewInt(int64(n)), nil)
}

func decFromInt(n int64) dec { return dec{u: big.NewInt(n)} }

// parseDec reads a decimal literal: -?digits(.digits)?([eE][+-]?digits)?.
func parseDec(s string) (dec, bool) {
	if s == "" {
		return dec{}, false
	}
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.Atoi(s[i+1:])
		if err != nil || e > 1000 || e < -1000 {
			return dec{}, false
		}
		mant, exp = s[:i], e
	}
	if mant == "" {
		return dec{}, false
	}
	neg := false
	switch mant[0] {
	case '-':
		neg = true
		mant = mant[1:]
	case '+':
		mant = mant[1:]
	}
	intPart, frac, hasPoint := strings.Cut(mant, ".")
	if intPart == "" || (hasPoint && frac == "") || !allDigits(intPart) || !allDigits(frac) {
		return dec{}, false
	}
	u, ok := new(big.Int).SetString(intPart+frac, 10)
	if !ok {
		return dec{}, false
	}
	if neg {
		u.Neg(u)
	}
	scale := len(frac) - exp
	if scale < 0 {
		u.Mul(u, pow10(int32(-scale)))
		scale = 0
	}
	return dec{u: u, scale: int32(scale)}, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// String formats d with exactly its scale's digits after the point.
func (d dec) String() string {
	s := d.u.String()
	if d.scale == 0 {
		return s
	}
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	if pad := int(d.scale) + 1 - len(s); pad > 0 {
		s = strings.Repeat("0", pad) + s
	}
	cut := len(s) - int(d.scale)
	s = s[:cut] + "." + s[cut:]
	if neg {
		s = "-" + s
	}
	return s
}

func (d dec) Float64() float64 {
	f, _ := strconv.ParseFloat(d.String(), 64)
	return f
}

func (d dec) sign() int { return d.u.Sign() }

// rescale returns d with scale s >= d.scale, exactly.
func (d dec) rescale(s int32) dec {
	if s == d.scale {
		return d
	}
	return dec{u: new(big.Int).Mul(d.u, pow10(s-d.scale)), scale: s}
}

func align(a, b dec) (dec, dec) {
	s := max(a.scale, b.scale)
	return a.rescale(s), b.rescale(s)
}

func (d dec) cmp(e dec) int {
	if d.scale == e.scale {
		return d.u.Cmp(e.u)
	}
	a, b := align(d, e)
	return a.u.Cmp(b.u)
}

func (d dec) add(e dec) dec {
	a, b := align(d, e)
	return dec{u: new(big.Int).Add(a.u, b.u), scale: a.scale}
}

func (d dec) sub(e dec) dec {
	a, b := align(d, e)
	return dec{u: new(big.Int).Sub(a.u, b.u), scale: a.scale}
}

func (d dec) mul(e dec) dec {
	return dec{u: new(big.Int).Mul(d.u, e.u), scale: d.scale + e.scale}.trimTo(max(d.scale, e.scale))
}

func (d dec) neg() dec { return dec{u: new(big.Int).Neg(d.u), scale: d.scale} }

func (d dec) abs() dec { return dec{u: new(big.Int).Abs(d.u), scale: d.scale} }

// div divides to maxDecimalScale digits, rounding half away from zero, and
// drops trailing zeros beyond the operands' own scale: 1 / 2 = 0.5 and
// 1.2 / 1.8 = 0.6666666666666666666666666667. ok is false for a zero divisor.
func (d dec) div(e dec) (dec, bool) {
	if e.u.Sign() == 0 {
		return dec{}, false
	}
	// d/e = (d.u × 10^(s + e.scale - d.scale)) / e.u × 10^-s
	s := int32(maxDecimalScale)
	num := new(big.Int).Set(d.u)
	if k := s + e.scale - d.scale; k >= 0 {
		num.Mul(num, pow10(k))
	} else {
		num.Quo(num, pow10(-k))
	}
	q := roundQuo(num, e.u)
	return dec{u: q, scale: s}.trimTo(max(d.scale, e.scale)), true
}

// roundQuo returns n/m rounded half away from zero.
func roundQuo(n, m *big.Int) *big.Int {
	q, r := new(big.Int).QuoRem(n, m, new(big.Int))
	if r.Sign() != 0 {
		r2 := new(big.Int).Abs(r)
		r2.Lsh(r2, 1)
		if r2.Cmp(new(big.Int).Abs(m)) >= 0 {
			if (n.Sign() < 0) != (m.Sign() < 0) {
				q.Sub(q, big.NewInt(1))
			} else {
				q.Add(q, big.NewInt(1))
			}
		}
	}
	return q
}

// trimTo drops trailing zero digits while the scale exceeds min.
func (d dec) trimTo(minScale int32) dec {
	if d.scale <= minScale {
		return d
	}
	u := new(big.Int).Set(d.u)
	s := d.scale
	r := new(big.Int)
	q := new(big.Int)
	for s > minScale {
		q.QuoRem(u, bigTen, r)
		if r.Sign() != 0 {
			break
		}
		u, q = q, u
		s--
	}
	return dec{u: u, scale: s}
}

// truncInt returns the integer part, toward zero.
func (d dec) truncInt() *big.Int {
	if d.scale == 0 {
		return d.u
	}
	return new(big.Int).Quo(d.u, pow10(d.scale))
}

// round rounds to s digits after the point, half away from zero.
func (d dec) round(s int32) dec {
	if s >= d.scale {
		return d.rescale(s)
	}
	return dec{u: roundQuo(d.u, pow10(d.scale-s)), scale: s}
}

// floor and ceil round to s digits after the point toward -inf and +inf.
func (d dec) floor(s int32) dec {
	if s >= d.scale {
		return d.rescale(s)
	}
	m := pow10(d.scale - s)
	q, r := new(big.Int).QuoRem(d.u, m, new(big.Int))
	if r.Sign() < 0 {
		q.Sub(q, big.NewInt(1))
	}
	return dec{u: q, scale: s}
}

func (d dec) ceil(s int32) dec {
	if s >= d.scale {
		return d.rescale(s)
	}
	m := pow10(d.scale - s)
	q, r := new(big.Int).QuoRem(d.u, m, new(big.Int))
	if r.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	return dec{u: q, scale: s}
}

// isInt reports whether d has no fractional part.
func (d dec) isInt() bool {
	if d.scale == 0 {
		return true
	}
	return new(big.Int).Rem(d.u, pow10(d.scale)).Sign() == 0
}

// int64 returns d's value when it is an integer that fits.
func (d dec) int64() (int64, bool) {
	if !d.isInt() {
		return 0, false
	}
	i := d.truncInt()
	if !i.IsInt64() {
		return 0, false
	}
	return i.Int64(), true
}

func (d dec) rat() *big.Rat {
	return new(big.Rat).SetFrac(d.u, pow10(d.scale))
}

// decFromRat converts r exactly when its decimal expansion ends within
// maxDecimalScale digits, and otherwise rounds to that many digits; the
// result keeps at least minScale digits.
func decFromRat(r *big.Rat, minScale int32) dec {
	den := r.Denom()
	for s := int32(0); s <= maxDecimalScale; s++ {
		p := pow10(s)
		if new(big.Int).Rem(p, den).Sign() == 0 {
			u := new(big.Int).Mul(r.Num(), new(big.Int).Quo(p, den))
			return dec{u: u, scale: s}.rescale(max(s, minScale))
		}
	}
	num := new(big.Int).Mul(r.Num(), pow10(maxDecimalScale))
	return dec{u: roundQuo(num, den), scale: maxDecimalScale}.trimTo(minScale)
}

// decFromFloat converts the result of a float64 function (exp, ln, sqrt ...)
// using its shortest decimal representation.
func decFromFloat(f float64) (dec, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dec{}, false
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	return parseDec(s)
}
