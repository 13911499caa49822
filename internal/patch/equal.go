package patch

import (
	"strconv"
	"strings"

	"sharedcare/internal/fhir"
)

// equal reports whether a and b are the same JSON value as RFC 6902 §4.6
// defines it for test: numbers by numeric value (1.0 equals 1), objects by
// their members in any order, arrays element by element.
func equal(a, b *fhir.Value) bool {
	if a.Kind != b.Kind {
		return false
	}
	switch a.Kind {
	case fhir.Null:
		return true
	case fhir.Bool:
		return a.Bool == b.Bool
	case fhir.String:
		return a.Text == b.Text
	case fhir.Number:
		return a.Text == b.Text || sameNumber(a.Text, b.Text)
	case fhir.Array:
		if len(a.Items) != len(b.Items) {
			return false
		}
		for i := range a.Items {
			if !equal(&a.Items[i], &b.Items[i]) {
				return false
			}
		}
		return true
	case fhir.Object:
		if len(a.Keys) != len(b.Keys) {
			return false
		}
		if len(a.Keys) > 16 {
			// Member names are unique (fhir.Parse insists), so a map
			// keeps wide objects linear.
			at := make(map[string]int, len(b.Keys))
			for i, k := range b.Keys {
				at[k] = i
			}
			for i, k := range a.Keys {
				j, ok := at[k]
				if !ok || !equal(&a.Items[i], &b.Items[j]) {
					return false
				}
			}
			return true
		}
		for i, k := range a.Keys {
			y := b.Get(k)
			if y == nil || !equal(&a.Items[i], y) {
				return false
			}
		}
		return true
	}
	return false
}

// number is a JSON number as sign × digits × 10^exp with digits free of
// leading and trailing zeros; zero has no digits, no sign and exponent 0.
type number struct {
	neg    bool
	digits string
	exp    int64
}

// sameNumber compares two JSON number literals by value without converting
// them to floating point (which rounds) or expanding the exponent
// (1e999999999 must not cost a gigabyte). Numbers whose exponent does not fit
// in 18 digits are equal only when written the same.
func sameNumber(a, b string) bool {
	x, ok1 := parseNumber(a)
	y, ok2 := parseNumber(b)
	return ok1 && ok2 && x == y
}

func parseNumber(s string) (number, bool) {
	var n number
	if strings.HasPrefix(s, "-") {
		n.neg, s = true, s[1:]
	}
	mant, expText, hasExp := strings.Cut(strings.ReplaceAll(s, "E", "e"), "e")
	if hasExp {
		expText = strings.TrimPrefix(expText, "+")
		neg := strings.HasPrefix(expText, "-")
		expText = strings.TrimLeft(strings.TrimPrefix(expText, "-"), "0")
		if len(expText) > 18 {
			return n, false
		}
		e, err := strconv.ParseInt("0"+expText, 10, 64)
		if err != nil {
			return n, false
		}
		if neg {
			e = -e
		}
		n.exp = e
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	if len(frac) > 1<<30 {
		return n, false
	}
	n.exp -= int64(len(frac))
	digits := strings.TrimLeft(intPart+frac, "0")
	trimmed := strings.TrimRight(digits, "0")
	n.exp += int64(len(digits) - len(trimmed))
	n.digits = trimmed
	if n.digits == "" {
		return number{}, true
	}
	for _, c := range n.digits {
		if c < '0' || c > '9' {
			return n, false
		}
	}
	return n, true
}
