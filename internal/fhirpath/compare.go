package fhirpath

import (
	"strings"
	"unicode"

	"sharedcare/internal/fhir"
)

// equalItems is = on two items (http://hl7.org/fhirpath/N1/#equals): known
// is false when the answer is empty, as for dates of different precision.
func equalItems(x, y Item) (eq, known bool) {
	if x.kind != KindNone && y.kind != KindNone {
		if eq, known, ok := equalValues(x, y); ok {
			return eq, known
		}
	}
	if ti, ok := x.x.(typeInfo); ok {
		tj, ok := y.x.(typeInfo)
		return ok && ti == tj, true
	}
	if x.node == nil || y.node == nil {
		// Stubs from resolve(): the same type and reference.
		return x.node == nil && y.node == nil && x.typ == y.typ && x.typ != nil && x.s == y.s, true
	}
	if x.node.Kind != fhir.Object || y.node.Kind != fhir.Object {
		return false, true
	}
	return deepEqual(x.node, y.node, false), true
}

// equalValues compares System values; ok is false when either item has no
// value of its kind (a FHIR Quantity without a value), so the caller falls
// back to comparing structure.
func equalValues(x, y Item) (eq, known, ok bool) {
	if !x.HasValue() && x.kind != KindQuantity || !y.HasValue() && y.kind != KindQuantity {
		return false, false, true // a primitive with only extensions has no value to compare
	}
	switch {
	case x.kind == KindString && y.kind == KindString:
		a, ok1 := x.str()
		b, ok2 := y.str()
		return a == b, true, ok1 && ok2
	case x.kind == KindBoolean && y.kind == KindBoolean:
		a, ok1 := x.boolean()
		b, ok2 := y.boolean()
		return a == b, true, ok1 && ok2
	case isNumber(x.kind) && isNumber(y.kind):
		if x.kind == KindInteger && y.kind == KindInteger {
			a, ok1 := x.integer()
			b, ok2 := y.integer()
			return a == b, true, ok1 && ok2
		}
		a, ok1 := x.number()
		b, ok2 := y.number()
		if !ok1 || !ok2 {
			return false, false, false
		}
		return a.cmp(b) == 0, true, true
	case isTemporal(x.kind) && isTemporal(y.kind):
		a, b, ok := temporalPair(x, y)
		if !ok {
			return false, true, true // a Time and a Date are simply different
		}
		c, known := compareDateTimes(a, b)
		return c == 0, known, true
	case x.kind == KindQuantity && y.kind == KindQuantity:
		a, ok1 := x.quantity()
		b, ok2 := y.quantity()
		if !ok1 || !ok2 {
			return false, false, false
		}
		c, known := compareQuantities(a, b)
		return c == 0, known, true
	}
	if x.node != nil && x.node.Kind == fhir.Object || y.node != nil && y.node.Kind == fhir.Object {
		return false, false, false
	}
	return false, true, true
}

func isNumber(k Kind) bool   { return k == KindInteger || k == KindDecimal }
func isTemporal(k Kind) bool { return k == KindDate || k == KindDateTime || k == KindTime }

// temporalPair reads two dates or times for comparison, promoting a Date to
// a DateTime when the other is one (http://hl7.org/fhirpath/N1/#conversion).
// ok is false when one is a Time and the other is not, or a value is unreadable.
func temporalPair(x, y Item) (DateTime, DateTime, bool) {
	if (x.kind == KindTime) != (y.kind == KindTime) {
		return DateTime{}, DateTime{}, false
	}
	a, ok1 := x.dateTime()
	b, ok2 := y.dateTime()
	if !ok1 || !ok2 {
		return a, b, false
	}
	if a.Kind != b.Kind {
		a.Kind, b.Kind = KindDateTime, KindDateTime
	}
	return a, b, true
}

// deepEqual compares JSON trees member by member, whatever the members'
// order; numbers compare as decimals. With equiv, strings compare as ~ does.
func deepEqual(a, b *fhir.Value, equiv bool) bool {
	if a.Kind != b.Kind {
		return false
	}
	switch a.Kind {
	case fhir.Null:
		return true
	case fhir.Bool:
		return a.Bool == b.Bool
	case fhir.String:
		if equiv {
			return normalizeSpace(a.Text) == normalizeSpace(b.Text)
		}
		return a.Text == b.Text
	case fhir.Number:
		if a.Text == b.Text {
			return true
		}
		x, ok1 := parseDec(a.Text)
		y, ok2 := parseDec(b.Text)
		if !ok1 || !ok2 {
			return false
		}
		if equiv {
			return equivalentDecimals(x, y)
		}
		return x.cmp(y) == 0
	case fhir.Array:
		if len(a.Items) != len(b.Items) {
			return false
		}
		for i := range a.Items {
			if !deepEqual(&a.Items[i], &b.Items[i], equiv) {
				return false
			}
		}
		return true
	case fhir.Object:
		if len(a.Keys) != len(b.Keys) {
			return false
		}
		for i, k := range a.Keys {
			if equiv && k == "id" {
				continue
			}
			m := b.Get(k)
			if m == nil || !deepEqual(&a.Items[i], m, equiv) {
				return false
			}
		}
		return true
	}
	return false
}

// equivalentItems is ~ on two items (http://hl7.org/fhirpath/N1/#equivalent).
func equivalentItems(x, y Item) bool {
	if x.kind != KindNone && y.kind != KindNone && x.HasValue() && y.HasValue() {
		switch {
		case x.kind == KindString && y.kind == KindString:
			a, _ := x.str()
			b, _ := y.str()
			return normalizeSpace(a) == normalizeSpace(b)
		case isNumber(x.kind) && isNumber(y.kind):
			a, ok1 := x.number()
			b, ok2 := y.number()
			return ok1 && ok2 && equivalentDecimals(a, b)
		case isTemporal(x.kind) && isTemporal(y.kind):
			a, b, ok := temporalPair(x, y)
			if !ok || level(a.Precision) != level(b.Precision) {
				return false
			}
			c, known := compareDateTimes(a, b)
			return known && c == 0
		}
	}
	if x.kind == KindQuantity && y.kind == KindQuantity {
		a, ok1 := x.quantity()
		b, ok2 := y.quantity()
		if ok1 && ok2 {
			return equivalentQuantities(a, b)
		}
	}
	if x.node != nil && y.node != nil && x.node.Kind == fhir.Object && y.node.Kind == fhir.Object {
		return deepEqual(x.node, y.node, true)
	}
	eq, known := equalItems(x, y)
	return known && eq
}

// normalizeSpace lower-cases s and collapses runs of white space, for ~ on strings.
func normalizeSpace(s string) string {
	return strings.ToLower(strings.Join(strings.FieldsFunc(s, unicode.IsSpace), " "))
}

// compareItems orders two values for <, <=, >, >=. known is false when the
// answer is empty (dates of different precision, quantities in
// incomparable units); ok is false when the types cannot be ordered at all,
// which is an error.
func compareItems(x, y Item) (c int, known, ok bool) {
	if !x.HasValue() && x.kind != KindQuantity || !y.HasValue() && y.kind != KindQuantity {
		return 0, false, x.kind != KindNone && y.kind != KindNone
	}
	switch {
	case x.kind == KindString && y.kind == KindString:
		a, _ := x.str()
		b, _ := y.str()
		return strings.Compare(a, b), true, true
	case isNumber(x.kind) && isNumber(y.kind):
		if x.kind == KindInteger && y.kind == KindInteger {
			a, ok1 := x.integer()
			b, ok2 := y.integer()
			switch {
			case !ok1 || !ok2:
				return 0, false, true
			case a < b:
				return -1, true, true
			case a > b:
				return 1, true, true
			}
			return 0, true, true
		}
		a, ok1 := x.number()
		b, ok2 := y.number()
		if !ok1 || !ok2 {
			return 0, false, true
		}
		return a.cmp(b), true, true
	case isTemporal(x.kind) && isTemporal(y.kind):
		a, b, ok := temporalPair(x, y)
		if !ok {
			return 0, false, (x.kind == KindTime) == (y.kind == KindTime)
		}
		c, known := compareDateTimes(a, b)
		return c, known, true
	case x.kind == KindQuantity && y.kind == KindQuantity:
		a, ok1 := x.quantity()
		b, ok2 := y.quantity()
		if !ok1 || !ok2 {
			return 0, false, true
		}
		c, known := compareQuantities(a, b)
		return c, known, true
	}
	return 0, false, false
}

// contains reports whether coll has an item equal to it.
func contains(coll []Item, it Item) bool {
	for _, c := range coll {
		if eq, known := equalItems(c, it); known && eq {
			return true
		}
	}
	return false
}

// distinct drops items equal to an earlier one, keeping order.
func distinct(in []Item) []Item {
	if len(in) < 2 {
		return in
	}
	out := make([]Item, 0, len(in))
	for _, it := range in {
		if !contains(out, it) {
			out = append(out, it)
		}
	}
	if len(out) == len(in) {
		return in
	}
	return out
}
