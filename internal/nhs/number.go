package nhs

import (
	"errors"
	"fmt"
)

// Errors of ParseNumber, for errors.Is.
var (
	ErrNumberFormat     = errors.New("an NHS number is 10 digits, optionally grouped 3-3-4 by spaces or hyphens")
	ErrNumberCheckDigit = errors.New("the NHS number fails its Modulus 11 check")
)

// ParseNumber returns the NHS number in s as its 10 digits. It accepts the
// bare digits ("9434765919") and the printed 3-3-4 grouping with single
// spaces or hyphens ("943 476 5919", "943-476-5919"), and checks the
// Modulus 11 check digit (NHS Data Dictionary, "NHS NUMBER"). The error
// wraps ErrNumberFormat or ErrNumberCheckDigit; it does not quote s, which
// is patient data.
func ParseNumber(s string) (string, error) {
	var d [10]byte
	n := 0
	switch len(s) {
	case 10:
		copy(d[:], s)
		n = 10
	case 12:
		sep := s[3]
		if (sep != ' ' && sep != '-') || s[7] != sep {
			return "", ErrNumberFormat
		}
		n += copy(d[n:], s[:3])
		n += copy(d[n:], s[4:7])
		n += copy(d[n:], s[8:])
	default:
		return "", ErrNumberFormat
	}
	for _, c := range d {
		if c < '0' || c > '9' {
			return "", ErrNumberFormat
		}
	}
	check, ok := checkDigit(d[:9])
	if !ok || check != d[9] {
		return "", ErrNumberCheckDigit
	}
	return string(d[:]), nil
}

// ValidNumber reports whether s is exactly 10 digits whose last is the
// Modulus 11 check digit of the first nine.
func ValidNumber(s string) bool {
	if len(s) != 10 {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	check, ok := checkDigit([]byte(s[:9]))
	return ok && check == s[9]
}

// FormatNumber prints a 10-digit NHS number in the 3-3-4 grouping people
// read ("943 476 5919"); anything else is returned unchanged.
func FormatNumber(s string) string {
	if len(s) != 10 {
		return s
	}
	return s[:3] + " " + s[3:6] + " " + s[6:]
}

// checkDigit computes the Modulus 11 check digit of nine ASCII digits: each
// digit is weighted 10 down to 2, the check digit is 11 minus the sum modulo
// 11, 11 becomes 0, and 10 means no valid number has these nine digits.
func checkDigit(nine []byte) (byte, bool) {
	sum := 0
	for i, c := range nine {
		sum += int(c-'0') * (10 - i)
	}
	check := 11 - sum%11
	switch check {
	case 11:
		return '0', true
	case 10:
		return 0, false
	}
	return byte('0' + check), true
}

// NumbersPerPrefix is how many valid NHS numbers NumberIn numbers for each
// three-digit prefix: of the ten choices of the ninth digit at least nine
// give a valid check digit, and NumberIn uses nine of them.
const NumbersPerPrefix = 900_000

// NumberIn returns the i-th valid NHS number whose first three digits are
// prefix, for prefix in [100, 999] and i in [0, NumbersPerPrefix). Distinct
// i give distinct numbers, in increasing order.
func NumberIn(prefix, i int) (string, error) {
	if prefix < 100 || prefix > 999 {
		return "", fmt.Errorf("NHS number prefix %d is not three digits", prefix)
	}
	if i < 0 || i >= NumbersPerPrefix {
		return "", fmt.Errorf("NHS number index %d is outside [0, %d)", i, NumbersPerPrefix)
	}
	// Digits 4-8 count i/9; the ninth digit is the (i%9)-th of the values
	// that give a valid check digit. Weight 2 on the ninth digit makes the
	// ten candidates land on ten distinct residues modulo 11, so at most one
	// of them is invalid.
	var d [10]byte
	body := i / 9
	d[0], d[1], d[2] = byte('0'+prefix/100), byte('0'+prefix/10%10), byte('0'+prefix%10)
	for k := 7; k >= 3; k-- {
		d[k] = byte('0' + body%10)
		body /= 10
	}
	want := i % 9
	for nine := byte('0'); nine <= '9'; nine++ {
		d[8] = nine
		check, ok := checkDigit(d[:9])
		if !ok {
			continue
		}
		if want == 0 {
			d[9] = check
			return string(d[:]), nil
		}
		want--
	}
	panic("unreachable: nine of ten ninth digits give a valid NHS number")
}

// TestNumbers is how many numbers TestNumber can give.
const TestNumbers = 99 * NumbersPerPrefix

// TestNumber returns the i-th synthetic NHS number for i in [0, TestNumbers).
// The first NumbersPerPrefix are the 999 test range; later ones continue in
// 998, 997 ... down to 901, all outside the ranges issued to people (4xx
// and 6xx-7xx in England). Prefix 900 is left for hand-picked demonstration
// patients, such as 9000000009.
func TestNumber(i int) (string, error) {
	if i < 0 || i >= TestNumbers {
		return "", fmt.Errorf("test NHS number index %d is outside [0, %d)", i, TestNumbers)
	}
	return NumberIn(999-i/NumbersPerPrefix, i%NumbersPerPrefix)
}
