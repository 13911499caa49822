package search

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Normalize prepares a string for matching as FHIR string search wants:
// case- and accent-insensitive (https://hl7.org/fhir/R4/search.html#string),
// with runs of white space as one space. "Zoë  O'Brien" becomes "zoe o'brien".
func Normalize(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if !ascii {
		s = norm.NFD.String(s)
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue // a combining accent
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// normalizeFor is Normalize, and for postcodes also drops spaces, so that
// "LS1 4AP", "ls14ap" and "LS1  4AP" are one postcode.
func normalizeFor(param, s string) string {
	n := Normalize(s)
	if strings.HasSuffix(param, "postalcode") || param == "address-postalcode" {
		n = strings.ReplaceAll(n, " ", "")
	}
	return n
}
