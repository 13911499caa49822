package validate

import (
	"regexp"
	"strconv"
	"unicode/utf8"

	"sharedcare/internal/fhir"
	"sharedcare/internal/outcome"
)

// primitive is how to check the value of one primitive type.
type primitive struct {
	name string
	json fhir.Kind
	// re is the spec's regex for the type, anchored; nil for xhtml, whose
	// form the narrative check owns.
	re *regexp.Regexp
	// native, when set, stands in for re on the hot path: it accepts exactly
	// what re accepts (TestNativeMatchesRegex and FuzzNative hold it to that),
	// without regexp's cost on large values.
	native func(string) bool
	sem    semantic
}

// semantic is a check the regex cannot express.
type semantic uint8

const (
	semNone  semantic = iota
	semText           // string, markdown, code, id: at most 1 MB, advice on whitespace and control characters
	semDate           // date, dateTime, instant: a real calendar date
	semInt32          // integer, positiveInt, unsignedInt: a 32-bit value
	semXHTML          // the narrative div
)

// maxString is the spec's limit on a string's length: "Strings SHALL NOT
// exceed 1MB (1024*1024 characters) in size" (https://hl7.org/fhir/R4/datatypes.html#string).
const maxString = 1024 * 1024

func newPrimitive(t *fhir.Type) *primitive {
	p := &primitive{name: t.Name, json: t.JSON}
	if t.Regex != "" {
		p.re = regexp.MustCompile(`^(?:` + t.Regex + `)$`) // the spec's patterns are RE2-compatible; TestSchema compiles them all
	}
	switch {
	case t.Name == "xhtml":
		p.sem = semXHTML
	case t.Name == "date" || t.Name == "dateTime" || t.Name == "instant":
		p.sem = semDate
	case fhir.Derives(t.Name, "integer"):
		p.sem = semInt32
	case fhir.Derives(t.Name, "string"):
		p.sem = semText
	}
	p.native = native(t.Name)
	return p
}

// native returns a hand-written equivalent of the spec's regex for the
// primitives that every resource is full of, and for base64Binary, whose
// values run to megabytes; nil for the others. Go's \s is [\t\n\f\r ].
func native(typ string) func(string) bool {
	switch typ {
	case "string", "markdown":
		return isString
	case "uri", "url", "canonical":
		return isURI
	case "code":
		return isCode
	case "id":
		return isID
	case "base64Binary":
		return isBase64
	}
	return nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r' }

// isString is [ \r\n\t\S]+: anything but a form feed.
func isString(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] == '\f' {
			return false
		}
	}
	return true
}

// isURI is \S*.
func isURI(s string) bool {
	for i := 0; i < len(s); i++ {
		if isSpace(s[i]) {
			return false
		}
	}
	return true
}

// isCode is [^\s]+(\s[^\s]+)*: words separated by single whitespace
// characters.
func isCode(s string) bool {
	if s == "" || isSpace(s[0]) || isSpace(s[len(s)-1]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if isSpace(s[i]) && isSpace(s[i-1]) {
			return false
		}
	}
	return true
}

// isID is [A-Za-z0-9\-\.]{1,64}.
func isID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// match reports whether s has the type's form.
func (p *primitive) match(s string) bool {
	switch {
	case p.native != nil:
		return p.native(s)
	case p.re != nil:
		return p.re.MatchString(s)
	}
	return true
}

// primitiveValue checks a primitive's JSON value (not null: the caller has
// dealt with that) at the current path. e is the element holding it.
func (w *walker) primitiveValue(v *fhir.Value, p *primitive, e *elemInfo) {
	if v.Kind != p.json {
		w.errorf(outcome.CodeStructure, "", "%s must be a JSON %s, not %s", p.name, p.json, v.Kind)
		return
	}
	switch v.Kind {
	case fhir.Bool:
		return
	case fhir.Number:
		if !p.match(v.Text) {
			w.errorf(outcome.CodeValue, "", "%s is not a valid %s", v.Text, p.name)
			return
		}
		if p.sem == semInt32 {
			if _, err := strconv.ParseInt(v.Text, 10, 32); err != nil {
				w.errorf(outcome.CodeValue, "", "%s is out of the 32-bit range of %s", v.Text, p.name)
			}
		}
		return
	}
	s := v.Text
	if s == "" {
		w.errorf(outcome.CodeInvariant, "", "ele-1: a %s must not be empty (https://hl7.org/fhir/R4/json.html#primitive)", p.name)
		return
	}
	switch p.sem {
	case semXHTML:
		w.narrative(s)
		return
	case semText:
		if len(s) > maxString && utf8.RuneCountInString(s) > maxString {
			w.errorf(outcome.CodeTooLong, "", "a %s must not exceed 1 MB (%d characters)", p.name, maxString)
			return
		}
	}
	if !p.match(s) {
		w.errorf(outcome.CodeValue, "", "%q is not a valid %s", clip(s), p.name)
		return
	}
	switch p.sem {
	case semDate:
		if !realDate(s) {
			w.errorf(outcome.CodeValue, "", "%q is not a calendar date", s)
		}
	case semText:
		w.textAdvice(s, p)
	}
	if s[0] == '#' && (p.name == "uri" || p.name == "url" || p.name == "canonical") {
		w.fragment(s[1:]) // dom-3 counts these as references to contained resources
	}
	if e != nil && e.required != "" && p.name == "code" {
		w.codeBinding(s, e.required)
	}
}

// textAdvice warns about what the spec says a string SHOULD NOT hold
// (https://hl7.org/fhir/R4/datatypes.html#string): only whitespace, or
// control characters other than tab, CR and LF.
func (w *walker) textAdvice(s string, p *primitive) {
	blank := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 && c != '\t' && c != '\r' && c != '\n' {
			w.warnf(outcome.CodeValue, "", "a %s should not contain control character U+%04X", p.name, c)
			return
		}
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			blank = false
		}
	}
	if blank {
		w.warnf(outcome.CodeValue, "", "a %s should have non-whitespace content", p.name)
	}
}

// realDate reports whether the day of a date, dateTime or instant that
// already matches its regex exists in the calendar (no 2023-02-30).
func realDate(s string) bool {
	if len(s) < 10 {
		return true // a year, or a year and month
	}
	y := atoi(s[0:4])
	m := atoi(s[5:7])
	d := atoi(s[8:10])
	return d <= daysIn(m, y)
}

func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// isBase64 accepts what the spec's base64Binary regex,
// (\s*([0-9a-zA-Z\+/=]){4}\s*)+, accepts: runs of base64 characters whose
// lengths are multiples of four, separated by whitespace. It is linear with
// a small constant, where the regex costs too much on megabytes of data.
func isBase64(s string) bool {
	run, runs := 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/', c == '=':
			run++
		case isSpace(c):
			if run%4 != 0 {
				return false
			}
			if run > 0 {
				runs++
			}
			run = 0
		default:
			return false
		}
	}
	if run%4 != 0 {
		return false
	}
	return runs > 0 || run > 0
}

// clip shortens a value quoted in a diagnostic.
func clip(s string) string {
	const n = 64
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}
