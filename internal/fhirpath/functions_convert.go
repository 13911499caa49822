package fhirpath

import (
	"math/big"
	"strconv"
	"strings"
)

// converter converts one item; ok is false when it does not convert
// (http://hl7.org/fhirpath/N1/#conversion).
type converter func(it Item) (Item, bool)

func convert(f converter) func(*run, scope, []Item, *call) ([]Item, error) {
	return func(r *run, s scope, in []Item, c *call) ([]Item, error) {
		it, ok, err := r.oneItem(in, c)
		if err != nil || !ok {
			return nil, err
		}
		v, ok := f(it)
		if !ok {
			return nil, nil
		}
		return []Item{v}, nil
	}
}

func convertsTo(f converter) func(*run, scope, []Item, *call) ([]Item, error) {
	return func(r *run, s scope, in []Item, c *call) ([]Item, error) {
		it, ok, err := r.oneItem(in, c)
		if err != nil || !ok {
			return nil, err
		}
		_, ok = f(it)
		return boolResult(ok), nil
	}
}

func toBoolean(it Item) (Item, bool) {
	switch it.kind {
	case KindBoolean:
		b, ok := it.boolean()
		return Boolean(b), ok
	case KindInteger:
		n, ok := it.integer()
		if !ok || (n != 0 && n != 1) {
			return Item{}, false
		}
		return Boolean(n == 1), true
	case KindDecimal:
		d, ok := it.decimal()
		if !ok {
			return Item{}, false
		}
		switch {
		case d.cmp(decFromInt(0)) == 0:
			return Boolean(false), true
		case d.cmp(decFromInt(1)) == 0:
			return Boolean(true), true
		}
	case KindString:
		s, ok := it.str()
		if !ok {
			return Item{}, false
		}
		switch strings.ToLower(s) {
		case "true", "t", "yes", "y", "1", "1.0":
			return Boolean(true), true
		case "false", "f", "no", "n", "0", "0.0":
			return Boolean(false), true
		}
	}
	return Item{}, false
}

func toInteger(it Item) (Item, bool) {
	switch it.kind {
	case KindInteger:
		n, ok := it.integer()
		return Integer(n), ok
	case KindBoolean:
		b, ok := it.boolean()
		if b {
			return Integer(1), ok
		}
		return Integer(0), ok
	case KindString:
		s, ok := it.str()
		if !ok || !isIntegerText(s) {
			return Item{}, false
		}
		n, err := strconv.ParseInt(s, 10, 64)
		return Integer(n), err == nil
	}
	return Item{}, false
}

// isIntegerText is (\+|-)?\d+.
func isIntegerText(s string) bool {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	return s != "" && allDigits(s)
}

func toDecimal(it Item) (Item, bool) {
	switch it.kind {
	case KindInteger, KindDecimal:
		d, ok := it.number()
		return decItem(d), ok
	case KindBoolean:
		b, ok := it.boolean()
		if b {
			return decItem(dec{u: big.NewInt(10), scale: 1}), ok // 1.0
		}
		return decItem(dec{u: big.NewInt(0), scale: 1}), ok
	case KindString:
		s, ok := it.str()
		if !ok || strings.ContainsAny(s, "eE") {
			return Item{}, false
		}
		d, ok := parseDec(s)
		return decItem(d), ok
	}
	return Item{}, false
}

func toStringItem(it Item) (Item, bool) {
	s, ok := it.Text()
	if !ok {
		return Item{}, false
	}
	return String(s), true
}

func toDate(it Item) (Item, bool) {
	switch it.kind {
	case KindDate, KindDateTime:
		d, ok := it.dateTime()
		if !ok {
			return Item{}, false
		}
		d = d.truncate(min(d.Precision, PrecisionDay))
		d.Kind = KindDate
		return dtItem(d), true
	case KindString:
		s, _ := it.str()
		d, ok := parseDateTime(s, KindDate)
		return dtItem(d), ok
	}
	return Item{}, false
}

func toDateTime(it Item) (Item, bool) {
	switch it.kind {
	case KindDate, KindDateTime:
		d, ok := it.dateTime()
		d.Kind = KindDateTime
		return dtItem(d), ok
	case KindString:
		s, _ := it.str()
		d, ok := parseDateTime(s, KindDateTime)
		return dtItem(d), ok
	}
	return Item{}, false
}

func toTime(it Item) (Item, bool) {
	switch it.kind {
	case KindTime:
		d, ok := it.dateTime()
		return dtItem(d), ok
	case KindString:
		s, _ := it.str()
		d, ok := parseDateTime(s, KindTime)
		return dtItem(d), ok
	}
	return Item{}, false
}

func toQuantity(it Item) (quantity, bool) {
	switch it.kind {
	case KindQuantity:
		return it.quantity()
	case KindInteger, KindDecimal:
		d, ok := it.number()
		return quantity{value: d, unit: "1"}, ok
	case KindBoolean:
		b, ok := it.boolean()
		v := dec{u: big.NewInt(0), scale: 1}
		if b {
			v = dec{u: big.NewInt(10), scale: 1}
		}
		return quantity{value: v, unit: "1"}, ok
	case KindString:
		s, _ := it.str()
		return parseQuantityString(s)
	}
	return quantity{}, false
}

// fnToQuantity is toQuantity([unit]) and convertsToQuantity([unit]): with a
// unit, the quantity must convert to it.
func fnToQuantity(test bool) func(*run, scope, []Item, *call) ([]Item, error) {
	return func(r *run, s scope, in []Item, c *call) ([]Item, error) {
		it, ok, err := r.oneItem(in, c)
		if err != nil || !ok {
			return nil, err
		}
		q, ok := toQuantity(it)
		if ok && len(c.args) > 0 {
			unit, has, err := r.stringArg(s, c, 0)
			if err != nil {
				return nil, err
			}
			if has {
				var v dec
				if v, ok = convertQuantity(q, unit); ok {
					_, cal := calendarWord(unit)
					q = quantity{value: v, unit: unit, cal: cal}
				}
			}
		}
		if test {
			return boolResult(ok), nil
		}
		if !ok {
			return nil, nil
		}
		return []Item{qtyItem(q)}, nil
	}
}
