package nhs

import (
	"errors"
	"strings"
)

// ErrPostcode is the error of ParsePostcode.
var ErrPostcode = errors.New("not a UK postcode")

// ParsePostcode returns the UK postcode in s in its printed form: upper
// case, one space between outward and inward code ("LS1 4AP"). It accepts
// any case and any spacing ("ls14ap", " LS1  4AP "). The formats are those
// of Royal Mail's Postcode Address File (A9 9AA, A99 9AA, A9A 9AA, AA9 9AA,
// AA99 9AA, AA9A 9AA) with its letter rules, plus the special GIR 0AA. It
// checks form only; whether the postcode exists needs the address file.
func ParsePostcode(s string) (string, error) {
	var b [8]byte
	n := 0
	for i := range len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			continue
		case c >= 'a' && c <= 'z':
			c = c - 'a' + 'A'
		case isUpper(c), isDigit(c):
		default:
			return "", ErrPostcode
		}
		if n == len(b) {
			return "", ErrPostcode
		}
		b[n] = c
		n++
	}
	if n < 5 || n > 7 {
		return "", ErrPostcode
	}
	out, in := string(b[:n-3]), string(b[n-3:n])
	if out == "GIR" && in == "0AA" {
		return "GIR 0AA", nil
	}
	if !validOutward(out) || !validInward(in) {
		return "", ErrPostcode
	}
	return out + " " + in, nil
}

// ValidPostcode reports whether s is a UK postcode exactly in its printed
// form, as ParsePostcode would return it.
func ValidPostcode(s string) bool {
	p, err := ParsePostcode(s)
	return err == nil && p == s
}

// Letter rules of the PAF: the first position never uses Q, V or X; the
// second never I, J or Z; a letter in the third position (A9A) is one of
// ABCDEFGHJKPSTUW and in the fourth (AA9A) one of ABEHMNPRVWXY; the inward
// code's letters never use C, I, K, M, O or V.
const (
	notFirst   = "QVX"
	notSecond  = "IJZ"
	third      = "ABCDEFGHJKPSTUW"
	fourth     = "ABEHMNPRVWXY"
	notInwards = "CIKMOV"
)

func validOutward(o string) bool {
	if len(o) < 2 || len(o) > 4 || !isUpper(o[0]) || strings.IndexByte(notFirst, o[0]) >= 0 {
		return false
	}
	switch {
	case len(o) == 2: // A9
		return isDigit(o[1])
	case len(o) == 3 && isDigit(o[1]) && isDigit(o[2]): // A99
		return true
	case len(o) == 3 && isDigit(o[1]) && isUpper(o[2]): // A9A
		return strings.IndexByte(third, o[2]) >= 0
	case len(o) == 3 && isUpper(o[1]) && isDigit(o[2]): // AA9
		return strings.IndexByte(notSecond, o[1]) < 0
	case len(o) == 4 && isUpper(o[1]) && isDigit(o[2]) && isDigit(o[3]): // AA99
		return strings.IndexByte(notSecond, o[1]) < 0
	case len(o) == 4 && isUpper(o[1]) && isDigit(o[2]) && isUpper(o[3]): // AA9A
		return strings.IndexByte(notSecond, o[1]) < 0 && strings.IndexByte(fourth, o[3]) >= 0
	}
	return false
}

func validInward(in string) bool {
	return len(in) == 3 && isDigit(in[0]) &&
		isUpper(in[1]) && strings.IndexByte(notInwards, in[1]) < 0 &&
		isUpper(in[2]) && strings.IndexByte(notInwards, in[2]) < 0
}
