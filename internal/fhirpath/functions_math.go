package fhirpath

import (
	"math"
	"math/big"
)

// Math functions (http://hl7.org/fhirpath/N1/#math) take one number (abs
// also a Quantity); empty gives empty, anything else is an error. Functions
// with no exact decimal answer (exp, ln, log, sqrt, fractional powers) go
// through float64.

func (r *run) inputNumber(in []Item, c *call) (Item, bool, error) {
	it, ok, err := r.oneItem(in, c)
	if err != nil || !ok {
		return Item{}, false, err
	}
	if !isNumber(it.kind) {
		return Item{}, false, r.errorf(c.pos, "%s: expected a number, got %s", c.fnName(), typeOf(it))
	}
	if !it.HasValue() {
		return Item{}, false, nil
	}
	return it, true, nil
}

func fnAbs(r *run, s scope, in []Item, c *call) ([]Item, error) {
	it, ok, err := r.oneItem(in, c)
	if err != nil || !ok {
		return nil, err
	}
	switch it.kind {
	case KindInteger:
		n, ok := it.integer()
		if !ok || n == math.MinInt64 {
			return nil, nil
		}
		return []Item{Integer(max(n, -n))}, nil
	case KindDecimal:
		d, ok := it.decimal()
		if !ok {
			return nil, nil
		}
		return []Item{decItem(d.abs())}, nil
	case KindQuantity:
		q, ok := it.quantity()
		if !ok {
			return nil, nil
		}
		q.value = q.value.abs()
		return []Item{qtyItem(q)}, nil
	}
	return nil, r.errorf(c.pos, "abs(): expected a number or Quantity, got %s", typeOf(it))
}

// integerResult turns a whole decimal into an Integer item.
func (r *run) integerResult(v *big.Int, c *call) ([]Item, error) {
	if !v.IsInt64() {
		return nil, r.errorf(c.pos, "%s: result out of range", c.fnName())
	}
	return []Item{Integer(v.Int64())}, nil
}

func roundingFunc(f func(dec) dec) func(*run, scope, []Item, *call) ([]Item, error) {
	return func(r *run, s scope, in []Item, c *call) ([]Item, error) {
		it, ok, err := r.inputNumber(in, c)
		if err != nil || !ok {
			return nil, err
		}
		if it.kind == KindInteger {
			return []Item{it}, nil
		}
		d, _ := it.decimal()
		return r.integerResult(f(d).u, c)
	}
}

var (
	fnCeiling  = roundingFunc(func(d dec) dec { return d.ceil(0) })
	fnFloor    = roundingFunc(func(d dec) dec { return d.floor(0) })
	fnTruncate = roundingFunc(func(d dec) dec { return dec{u: d.truncInt()} })
)

func fnRound(r *run, s scope, in []Item, c *call) ([]Item, error) {
	it, ok, err := r.inputNumber(in, c)
	if err != nil || !ok {
		return nil, err
	}
	p := int64(0)
	if len(c.args) > 0 {
		n, has, err := r.intArg(s, c, 0)
		if err != nil {
			return nil, err
		}
		if has {
			p = n
		}
	}
	if p < 0 || p > maxDecimalScale {
		return nil, r.errorf(c.pos, "round(): precision must be 0 to %d", maxDecimalScale)
	}
	d, _ := it.number()
	return []Item{decItem(d.round(int32(p)))}, nil
}

func expFn(f float64) float64  { return math.Exp(f) }
func lnFn(f float64) float64   { return math.Log(f) }
func sqrtFn(f float64) float64 { return math.Sqrt(f) }

// floatFunc applies f; a result that is not a finite number (the square root
// of -1, the log of 0) gives empty.
func floatFunc(f func(float64) float64) func(*run, scope, []Item, *call) ([]Item, error) {
	return func(r *run, s scope, in []Item, c *call) ([]Item, error) {
		it, ok, err := r.inputNumber(in, c)
		if err != nil || !ok {
			return nil, err
		}
		d, _ := it.number()
		v, ok := decFromFloat(f(d.Float64()))
		if !ok {
			return nil, nil
		}
		return []Item{decItem(v)}, nil
	}
}

func (r *run) numberArg(s scope, c *call, i int) (dec, bool, error) {
	v, err := r.arg(s, c, i)
	if err != nil || len(v) == 0 {
		return dec{}, false, err
	}
	if len(v) > 1 || !isNumber(v[0].kind) {
		return dec{}, false, r.errorf(c.pos, "%s: expected a number argument", c.fnName())
	}
	d, ok := v[0].number()
	return d, ok, nil
}

func fnLog(r *run, s scope, in []Item, c *call) ([]Item, error) {
	it, ok, err := r.inputNumber(in, c)
	if err != nil || !ok {
		return nil, err
	}
	base, ok, err := r.numberArg(s, c, 0)
	if err != nil || !ok {
		return nil, err
	}
	x, _ := it.number()
	var f float64
	switch b := base.Float64(); b {
	case 10:
		f = math.Log10(x.Float64())
	case 2:
		f = math.Log2(x.Float64())
	default:
		f = math.Log(x.Float64()) / math.Log(b)
	}
	v, ok := decFromFloat(f)
	if !ok {
		return nil, nil
	}
	return []Item{decItem(v)}, nil
}

// fnPower is exact for whole, non-negative exponents: an Integer to an
// Integer stays an Integer.
func fnPower(r *run, s scope, in []Item, c *call) ([]Item, error) {
	it, ok, err := r.inputNumber(in, c)
	if err != nil || !ok {
		return nil, err
	}
	v, err := r.arg(s, c, 0)
	if err != nil || len(v) == 0 {
		return nil, err
	}
	if len(v) > 1 || !isNumber(v[0].kind) {
		return nil, r.errorf(c.pos, "power(): expected a number argument")
	}
	x, _ := it.number()
	e, ok := v[0].number()
	if !ok {
		return nil, nil
	}
	if n, whole := e.int64(); whole && n >= 0 && n <= 1000 {
		if it.kind == KindInteger && v[0].kind == KindInteger {
			p := new(big.Int).Exp(x.u, big.NewInt(n), nil)
			return r.integerResult(p, c)
		}
		p := decFromInt(1)
		for range n {
			p = p.mul(x)
			if p.scale > maxDecimalScale {
				p = p.round(maxDecimalScale)
			}
		}
		return []Item{decItem(p)}, nil
	}
	res, ok := decFromFloat(math.Pow(x.Float64(), e.Float64()))
	if !ok {
		return nil, nil
	}
	return []Item{decItem(res)}, nil
}

// fnBoundary is lowBoundary([precision]) and highBoundary([precision])
// (FHIRPath 2.1): the least or greatest value the input could stand for.
// A decimal stands for the values that round to it, so 1.587 spans
// [1.5865, 1.5875]; a date spans its missing fields.
func fnBoundary(high bool) func(*run, scope, []Item, *call) ([]Item, error) {
	return func(r *run, s scope, in []Item, c *call) ([]Item, error) {
		it, ok, err := r.oneItem(in, c)
		if err != nil || !ok || !it.HasValue() && it.kind != KindQuantity {
			return nil, err
		}
		p, hasP, err := r.intArg(s, c, 0)
		if err != nil {
			return nil, err
		}
		switch it.kind {
		case KindInteger, KindDecimal:
			d, _ := it.number()
			if !hasP {
				p = 8
			}
			v, ok := decimalBoundary(d, p, high)
			if !ok {
				return nil, nil
			}
			return []Item{decItem(v)}, nil
		case KindQuantity:
			q, ok := it.quantity()
			if !ok {
				return nil, nil
			}
			if !hasP {
				p = 8
			}
			if q.value, ok = decimalBoundary(q.value, p, high); !ok {
				return nil, nil
			}
			return []Item{qtyItem(q)}, nil
		case KindDate, KindDateTime, KindTime:
			d, ok := it.dateTime()
			if !ok {
				return nil, nil
			}
			prec := PrecisionMillisecond
			if d.Kind == KindDate {
				prec = PrecisionDay
			}
			if hasP {
				if prec, ok = digitsPrecision(d.Kind, int(p)); !ok {
					return nil, nil
				}
			}
			return []Item{dtItem(d.boundary(prec, high))}, nil
		}
		return nil, r.errorf(c.pos, "%s: expected a number, quantity, date or time, got %s", c.fnName(), typeOf(it))
	}
}

// decimalBoundary widens d by half a unit in its last digit and rounds
// outward to p digits after the point.
func decimalBoundary(d dec, p int64, high bool) (dec, bool) {
	if p < 0 || p > maxDecimalScale {
		return dec{}, false
	}
	half := dec{u: big.NewInt(5), scale: d.scale + 1}
	if high {
		return d.add(half).ceil(int32(p)), true
	}
	return d.sub(half).floor(int32(p)), true
}

func fnPrecision(r *run, s scope, in []Item, c *call) ([]Item, error) {
	it, ok, err := r.oneItem(in, c)
	if err != nil || !ok || !it.HasValue() {
		return nil, err
	}
	switch it.kind {
	case KindDecimal, KindInteger:
		d, _ := it.number()
		return []Item{Integer(int64(d.scale))}, nil
	case KindDate, KindDateTime, KindTime:
		d, ok := it.dateTime()
		if !ok {
			return nil, nil
		}
		return []Item{Integer(int64(precisionDigits(d.Kind, d.Precision)))}, nil
	}
	return nil, r.errorf(c.pos, "precision(): expected a number, date or time, got %s", typeOf(it))
}

func fnComparable(r *run, s scope, in []Item, c *call) ([]Item, error) {
	it, ok, err := r.oneItem(in, c)
	if err != nil || !ok {
		return nil, err
	}
	other, err := r.arg(s, c, 0)
	if err != nil || len(other) == 0 {
		return nil, err
	}
	if it.kind != KindQuantity || len(other) != 1 || other[0].kind != KindQuantity {
		return nil, r.errorf(c.pos, "comparable(): expected Quantities")
	}
	a, ok1 := it.quantity()
	b, ok2 := other[0].quantity()
	if !ok1 || !ok2 {
		return nil, nil
	}
	return boolResult(comparableUnits(a, b)), nil
}

// dateComponent is yearOf() ... millisecondOf(): empty when the value does
// not have that precision.
func dateComponent(p Precision) func(*run, scope, []Item, *call) ([]Item, error) {
	return func(r *run, s scope, in []Item, c *call) ([]Item, error) {
		it, ok, err := r.oneItem(in, c)
		if err != nil || !ok {
			return nil, err
		}
		if !isTemporal(it.kind) {
			return nil, r.errorf(c.pos, "%s: expected a date or time, got %s", c.fnName(), typeOf(it))
		}
		d, ok := it.dateTime()
		if !ok || d.Precision < p || (d.Kind == KindTime && p < PrecisionHour) {
			return nil, nil
		}
		switch p {
		case PrecisionYear:
			return []Item{Integer(int64(d.Year))}, nil
		case PrecisionMonth:
			return []Item{Integer(int64(d.Month))}, nil
		case PrecisionDay:
			return []Item{Integer(int64(d.Day))}, nil
		case PrecisionHour:
			return []Item{Integer(int64(d.Hour))}, nil
		case PrecisionMinute:
			return []Item{Integer(int64(d.Minute))}, nil
		case PrecisionSecond:
			return []Item{Integer(int64(d.Second))}, nil
		}
		return []Item{Integer(int64(d.Nanosecond / 1e6))}, nil
	}
}
