package nhs

import "errors"

// ErrODSCode is the error of ParseODSCode.
var ErrODSCode = errors.New("an ODS code is 3 to 9 letters and digits")

// ParseODSCode returns s as an Organisation Data Service code: surrounding
// spaces trimmed and letters upper-cased, 3 to 9 characters of A-Z and 0-9
// (the coding frames of the NHS Data Dictionary: "RR8" for a trust, "RR801"
// for one of its sites, "B82001" for a GP practice).
func ParseODSCode(s string) (string, error) {
	for len(s) > 0 && s[0] == ' ' {
		s = s[1:]
	}
	for len(s) > 0 && s[len(s)-1] == ' ' {
		s = s[:len(s)-1]
	}
	if len(s) < 3 || len(s) > 9 {
		return "", ErrODSCode
	}
	b := []byte(s)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z':
			b[i] = c - 'a' + 'A'
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		default:
			return "", ErrODSCode
		}
	}
	return string(b), nil
}

// ValidODSCode reports whether s is an ODS code exactly as it should be
// sent: 3 to 9 upper-case letters and digits.
func ValidODSCode(s string) bool {
	if len(s) < 3 || len(s) > 9 {
		return false
	}
	for i := range len(s) {
		if !isUpper(s[i]) && !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// IsGPPracticeCode reports whether s has the form of a GP practice code:
// one letter for the region, then five digits ("B82001").
func IsGPPracticeCode(s string) bool {
	if len(s) != 6 || !isUpper(s[0]) {
		return false
	}
	for i := 1; i < 6; i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// IsTrustCode reports whether s has the form of an NHS trust code: R (or T
// for a care trust) and two letters or digits ("RR8", "R0A", "TAK").
func IsTrustCode(s string) bool {
	return len(s) == 3 && (s[0] == 'R' || s[0] == 'T') &&
		(isUpper(s[1]) || isDigit(s[1])) && (isUpper(s[2]) || isDigit(s[2]))
}

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
