package fhirpath

import (
	"encoding/base64"
	"encoding/hex"
	"html"
	"regexp"
	"strings"
	"unicode/utf8"
)

// String functions (http://hl7.org/fhirpath/N1/#string-manipulation) take
// one String as input; an empty input or argument gives empty, and any
// other input is an error. Positions and lengths count characters, not bytes.

func (r *run) inputString(in []Item, c *call) (string, bool, error) {
	it, ok, err := r.oneItem(in, c)
	if err != nil || !ok {
		return "", false, err
	}
	if it.kind != KindString {
		return "", false, r.errorf(c.pos, "%s: expected a String, got %s", c.fnName(), typeOf(it))
	}
	s, ok := it.str()
	return s, ok, nil
}

// stringAndArg reads the input string and argument i as a string.
func (r *run) stringAndArg(s scope, in []Item, c *call, i int) (str, arg string, ok bool, err error) {
	str, ok, err = r.inputString(in, c)
	if err != nil || !ok {
		return "", "", false, err
	}
	arg, ok, err = r.stringArg(s, c, i)
	return str, arg, ok, err
}

func runeIndex(s string, byteIdx int) int {
	if byteIdx < 0 {
		return -1
	}
	return utf8.RuneCountInString(s[:byteIdx])
}

func fnIndexOf(r *run, s scope, in []Item, c *call) ([]Item, error) {
	str, sub, ok, err := r.stringAndArg(s, in, c, 0)
	if err != nil || !ok {
		return nil, err
	}
	return []Item{Integer(int64(runeIndex(str, strings.Index(str, sub))))}, nil
}

func fnLastIndexOf(r *run, s scope, in []Item, c *call) ([]Item, error) {
	str, sub, ok, err := r.stringAndArg(s, in, c, 0)
	if err != nil || !ok {
		return nil, err
	}
	return []Item{Integer(int64(runeIndex(str, strings.LastIndex(str, sub))))}, nil
}

func fnSubstring(r *run, s scope, in []Item, c *call) ([]Item, error) {
	str, ok, err := r.inputString(in, c)
	if err != nil || !ok {
		return nil, err
	}
	start, ok, err := r.intArg(s, c, 0)
	if err != nil || !ok {
		return nil, err
	}
	runes := []rune(str)
	if start < 0 || start >= int64(len(runes)) {
		return nil, nil
	}
	end := int64(len(runes))
	if len(c.args) > 1 {
		n, ok, err := r.intArg(s, c, 1)
		if err != nil {
			return nil, err
		}
		if ok {
			end = min(end, start+max(n, 0))
		}
	}
	return []Item{String(string(runes[start:end]))}, nil
}

func fnStartsWith(r *run, s scope, in []Item, c *call) ([]Item, error) {
	str, arg, ok, err := r.stringAndArg(s, in, c, 0)
	if err != nil || !ok {
		return nil, err
	}
	return boolResult(strings.HasPrefix(str, arg)), nil
}

func fnEndsWith(r *run, s scope, in []Item, c *call) ([]Item, error) {
	str, arg, ok, err := r.stringAndArg(s, in, c, 0)
	if err != nil || !ok {
		return nil, err
	}
	return boolResult(strings.HasSuffix(str, arg)), nil
}

func fnContainsString(r *run, s scope, in []Item, c *call) ([]Item, error) {
	str, arg, ok, err := r.stringAndArg(s, in, c, 0)
	if err != nil || !ok {
		return nil, err
	}
	return boolResult(strings.Contains(str, arg)), nil
}

func stringMap(f func(string) string) func(*run, scope, []Item, *call) ([]Item, error) {
	return func(r *run, s scope, in []Item, c *call) ([]Item, error) {
		str, ok, err := r.inputString(in, c)
		if err != nil || !ok {
			return nil, err
		}
		return []Item{String(f(str))}, nil
	}
}

var (
	fnUpper = stringMap(strings.ToUpper)
	fnLower = stringMap(strings.ToLower)
	fnTrim  = stringMap(strings.TrimSpace)
)

func fnReplace(r *run, s scope, in []Item, c *call) ([]Item, error) {
	str, pattern, ok, err := r.stringAndArg(s, in, c, 0)
	if err != nil || !ok {
		return nil, err
	}
	sub, ok, err := r.stringArg(s, c, 1)
	if err != nil || !ok {
		return nil, err
	}
	if len(pattern) == 0 && len(sub)*(len(str)+1) > maxString || len(pattern) > 0 && len(sub) > len(pattern) && len(str)/len(pattern)*len(sub) > maxString {
		return nil, r.errorf(c.pos, "replace(): result too long")
	}
	return r.stringResult(strings.ReplaceAll(str, pattern, sub), c.pos)
}

// regex returns the compiled pattern: compiled once by Parse when it is a
// literal, otherwise now. Patterns are matched in single-line mode, where
// . matches a newline (http://hl7.org/fhirpath/N1/#matchesregex-string-boolean).
func (r *run) regex(s scope, c *call, full bool) (*regexp.Regexp, bool, error) {
	if c.re != nil {
		return c.re, true, nil
	}
	pattern, ok, err := r.stringArg(s, c, 0)
	if err != nil || !ok {
		return nil, false, err
	}
	re, err := compileRegex(pattern, full)
	if err != nil {
		return nil, false, r.errorf(c.pos, "%s: invalid regular expression", c.fnName())
	}
	return re, true, nil
}

func compileRegex(pattern string, full bool) (*regexp.Regexp, error) {
	if full {
		pattern = "^(?:" + pattern + ")$"
	}
	return regexp.Compile("(?s)" + pattern)
}

func fnMatches(full bool) func(*run, scope, []Item, *call) ([]Item, error) {
	return func(r *run, s scope, in []Item, c *call) ([]Item, error) {
		str, ok, err := r.inputString(in, c)
		if err != nil || !ok {
			return nil, err
		}
		re, ok, err := r.regex(s, c, full)
		if err != nil || !ok {
			return nil, err
		}
		return boolResult(re.MatchString(str)), nil
	}
}

func fnReplaceMatches(r *run, s scope, in []Item, c *call) ([]Item, error) {
	str, ok, err := r.inputString(in, c)
	if err != nil || !ok {
		return nil, err
	}
	re, ok, err := r.regex(s, c, false)
	if err != nil || !ok {
		return nil, err
	}
	sub, ok, err := r.stringArg(s, c, 1)
	if err != nil || !ok {
		return nil, err
	}
	if re.String() == "(?s)" {
		return []Item{String(str)}, nil // an empty pattern matches nothing to replace
	}
	if len(sub)*(len(str)+1) > maxString {
		return nil, r.errorf(c.pos, "replaceMatches(): result may be too long")
	}
	return r.stringResult(re.ReplaceAllString(str, sub), c.pos)
}

func fnLength(r *run, s scope, in []Item, c *call) ([]Item, error) {
	str, ok, err := r.inputString(in, c)
	if err != nil || !ok {
		return nil, err
	}
	return []Item{Integer(int64(utf8.RuneCountInString(str)))}, nil
}

func fnToChars(r *run, s scope, in []Item, c *call) ([]Item, error) {
	str, ok, err := r.inputString(in, c)
	if err != nil || !ok {
		return nil, err
	}
	out := make([]Item, 0, len(str))
	for _, ch := range str {
		out = append(out, String(string(ch)))
	}
	return out, nil
}

func fnSplit(r *run, s scope, in []Item, c *call) ([]Item, error) {
	str, sep, ok, err := r.stringAndArg(s, in, c, 0)
	if err != nil || !ok {
		return nil, err
	}
	parts := strings.Split(str, sep)
	out := make([]Item, len(parts))
	for i, p := range parts {
		out[i] = String(p)
	}
	return out, nil
}

func fnJoin(r *run, s scope, in []Item, c *call) ([]Item, error) {
	sep, _, err := r.stringArg(s, c, 0)
	if err != nil {
		return nil, err
	}
	if len(in) == 0 {
		return nil, nil
	}
	parts := make([]string, 0, len(in))
	for _, it := range in {
		if it.kind != KindString {
			return nil, r.errorf(c.pos, "join(): expected Strings, got %s", typeOf(it))
		}
		if str, ok := it.str(); ok { // skipping strings with only extensions
			parts = append(parts, str)
		}
	}
	return r.stringResult(strings.Join(parts, sep), c.pos)
}

// fnEncode and fnDecode convert between a string and base64, urlbase64 or
// hex (FHIRPath 2.1).
func fnEncode(r *run, s scope, in []Item, c *call) ([]Item, error) {
	str, format, ok, err := r.stringAndArg(s, in, c, 0)
	if err != nil || !ok {
		return nil, err
	}
	switch format {
	case "base64":
		return []Item{String(base64.StdEncoding.EncodeToString([]byte(str)))}, nil
	case "urlbase64":
		return []Item{String(base64.URLEncoding.EncodeToString([]byte(str)))}, nil
	case "hex":
		return []Item{String(hex.EncodeToString([]byte(str)))}, nil
	}
	return nil, r.errorf(c.pos, "encode(): unknown format")
}

func fnDecode(r *run, s scope, in []Item, c *call) ([]Item, error) {
	str, format, ok, err := r.stringAndArg(s, in, c, 0)
	if err != nil || !ok {
		return nil, err
	}
	var b []byte
	switch format {
	case "base64":
		b, err = base64.StdEncoding.DecodeString(str)
	case "urlbase64":
		b, err = base64.URLEncoding.DecodeString(str)
	case "hex":
		b, err = hex.DecodeString(str)
	default:
		return nil, r.errorf(c.pos, "decode(): unknown format")
	}
	if err != nil || !utf8.Valid(b) {
		return nil, nil
	}
	return []Item{String(string(b))}, nil
}

// fnEscape and fnUnescape convert for html and json (FHIRPath 2.1).
func fnEscape(r *run, s scope, in []Item, c *call) ([]Item, error) {
	str, format, ok, err := r.stringAndArg(s, in, c, 0)
	if err != nil || !ok {
		return nil, err
	}
	switch format {
	case "html":
		return []Item{String(htmlEscaper.Replace(str))}, nil
	case "json":
		return []Item{String(jsonEscape(str))}, nil
	}
	return nil, r.errorf(c.pos, "escape(): unknown format")
}

var htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#39;")

// jsonEscape escapes s as the inside of a JSON string.
func jsonEscape(s string) string {
	var b strings.Builder
	for _, ch := range s {
		switch ch {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			if ch < 0x20 {
				b.WriteString(`\u00`)
				b.WriteByte("0123456789abcdef"[ch>>4])
				b.WriteByte("0123456789abcdef"[ch&0xF])
			} else {
				b.WriteRune(ch)
			}
		}
	}
	return b.String()
}

func fnUnescape(r *run, s scope, in []Item, c *call) ([]Item, error) {
	str, format, ok, err := r.stringAndArg(s, in, c, 0)
	if err != nil || !ok {
		return nil, err
	}
	switch format {
	case "html":
		return []Item{String(html.UnescapeString(str))}, nil
	case "json":
		l := lexer{src: "'" + strings.ReplaceAll(str, "'", `\'`) + "'"}
		u, err := l.quoted('\'')
		if err != nil {
			return nil, nil
		}
		return []Item{String(u)}, nil
	}
	return nil, r.errorf(c.pos, "unescape(): unknown format")
}
