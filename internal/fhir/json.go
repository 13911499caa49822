package fhir

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// Kind is the JSON kind of a Value.
type Kind uint8

const (
	Null Kind = iota
	Bool
	Number
	String
	Object
	Array
)

func (k Kind) String() string {
	switch k {
	case Null:
		return "null"
	case Bool:
		return "boolean"
	case Number:
		return "number"
	case String:
		return "string"
	case Object:
		return "object"
	case Array:
		return "array"
	}
	return "?"
}

// Value is a JSON value as FHIR needs it: object members keep document order
// and numbers keep their literal text, so that a decimal's precision (1.50 is
// not 1.5, https://hl7.org/fhir/R4/json.html#primitive) survives a round trip.
// A Value is not safe for concurrent mutation.
type Value struct {
	Kind  Kind
	Bool  bool
	Text  string   // a string's contents, or a number's literal text
	Keys  []string // an object's member names, parallel to Items
	Items []Value  // an object's member values, or an array's elements
}

// Get returns the member named name of an object, or nil.
func (v *Value) Get(name string) *Value {
	if v == nil || v.Kind != Object {
		return nil
	}
	for i, k := range v.Keys {
		if k == name {
			return &v.Items[i]
		}
	}
	return nil
}

// Str returns the string member named name, or "".
func (v *Value) Str(name string) string {
	m := v.Get(name)
	if m == nil || m.Kind != String {
		return ""
	}
	return m.Text
}

// Set replaces the member named name, or appends it.
func (v *Value) Set(name string, x Value) {
	for i, k := range v.Keys {
		if k == name {
			v.Items[i] = x
			return
		}
	}
	v.Keys = append(v.Keys, name)
	v.Items = append(v.Items, x)
}

// SetAfter sets member name, placing a new member right after the member
// named after (or first when after is absent), which keeps id and meta near
// the top of a resource as the spec's examples have them.
func (v *Value) SetAfter(name, after string, x Value) {
	for i, k := range v.Keys {
		if k == name {
			v.Items[i] = x
			return
		}
	}
	pos := 0
	for i, k := range v.Keys {
		if k == after {
			pos = i + 1
			break
		}
	}
	v.Keys = append(v.Keys, "")
	v.Items = append(v.Items, Value{})
	copy(v.Keys[pos+1:], v.Keys[pos:])
	copy(v.Items[pos+1:], v.Items[pos:])
	v.Keys[pos] = name
	v.Items[pos] = x
}

// Delete removes the member named name, if present.
func (v *Value) Delete(name string) {
	for i, k := range v.Keys {
		if k == name {
			v.Keys = append(v.Keys[:i], v.Keys[i+1:]...)
			v.Items = append(v.Items[:i], v.Items[i+1:]...)
			return
		}
	}
}

// Clone returns a deep copy.
func (v Value) Clone() Value {
	c := v
	if v.Keys != nil {
		c.Keys = append([]string(nil), v.Keys...)
	}
	if v.Items != nil {
		c.Items = make([]Value, len(v.Items))
		for i := range v.Items {
			c.Items[i] = v.Items[i].Clone()
		}
	}
	return c
}

// StringValue makes a JSON string.
func StringValue(s string) Value { return Value{Kind: String, Text: s} }

// NumberValue makes a JSON number from its literal text.
func NumberValue(lit string) Value { return Value{Kind: Number, Text: lit} }

// BoolValue makes a JSON boolean.
func BoolValue(b bool) Value { return Value{Kind: Bool, Bool: b} }

// ObjectValue makes an object from alternating names and values.
func ObjectValue(members ...any) Value {
	o := Value{Kind: Object}
	for i := 0; i+1 < len(members); i += 2 {
		o.Keys = append(o.Keys, members[i].(string))
		o.Items = append(o.Items, members[i+1].(Value))
	}
	return o
}

// SyntaxError is a malformed JSON document.
type SyntaxError struct {
	Offset int // byte offset of the fault
	Line   int // 1-based
	Col    int // 1-based
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at line %d, column %d: %s", e.Line, e.Col, e.Msg)
}

// MaxDepth bounds nesting so that hostile input cannot exhaust the stack.
const MaxDepth = 200

// Parse parses one JSON document. It rejects what FHIR JSON forbids beyond
// RFC 8259: duplicate member names in an object, and invalid UTF-8.
func Parse(data []byte) (Value, error) {
	p := parsers.Get().(*parser)
	defer func() {
		p.data = nil
		// A huge document leaves huge stacks: let those go.
		if cap(p.items) <= 1<<14 && cap(p.keys) <= 1<<14 {
			parsers.Put(p)
		}
	}()
	p.data, p.pos = data, 0
	p.skipSpace()
	v, err := p.value(0)
	if err != nil {
		return Value{}, err
	}
	p.skipSpace()
	if p.pos != len(p.data) {
		return Value{}, p.errorf("unexpected data after the JSON value")
	}
	return v, nil
}

// parsers keep their stacks between documents.
var parsers = sync.Pool{New: func() any { return new(parser) }}

type parser struct {
	data  []byte
	pos   int
	keys  []string // members of the objects being parsed
	items []Value  // members and elements of the objects and arrays being parsed
}

func (p *parser) errorf(format string, args ...any) *SyntaxError {
	line, col := 1, 1
	end := min(p.pos, len(p.data))
	for _, c := range p.data[:end] {
		if c == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return &SyntaxError{Offset: p.pos, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) skipSpace() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) value(depth int) (Value, error) {
	if depth > MaxDepth {
		return Value{}, p.errorf("nesting deeper than %d", MaxDepth)
	}
	if p.pos >= len(p.data) {
		return Value{}, p.errorf("unexpected end of input")
	}
	switch c := p.data[p.pos]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		s, err := p.str()
		return Value{Kind: String, Text: s}, err
	case c == 't':
		return Value{Kind: Bool, Bool: true}, p.literal("true")
	case c == 'f':
		return Value{Kind: Bool}, p.literal("false")
	case c == 'n':
		return Value{Kind: Null}, p.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	default:
		return Value{}, p.errorf("unexpected character %q", rune(c))
	}
}

func (p *parser) literal(word string) error {
	if !bytes.HasPrefix(p.data[p.pos:], []byte(word)) {
		return p.errorf("invalid literal, expected %s", word)
	}
	p.pos += len(word)
	return nil
}

func (p *parser) object(depth int) (Value, error) {
	p.pos++ // {
	v := Value{Kind: Object}
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		return v, nil
	}
	// Members collect on the parser's stacks, above those of the objects
	// and arrays this one is inside, and move to slices of their exact
	// size at the end: one allocation each instead of one per doubling.
	kmark, mark := len(p.keys), len(p.items)
	defer func() {
		clear(p.keys[kmark:])
		clear(p.items[mark:])
		p.keys, p.items = p.keys[:kmark], p.items[:mark]
	}()
	for {
		p.skipSpace()
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return Value{}, p.errorf("expected a member name in quotes")
		}
		start := p.pos
		name, err := p.name()
		if err != nil {
			return Value{}, err
		}
		for _, k := range p.keys[kmark:] {
			if k == name {
				p.pos = start
				return Value{}, p.errorf("duplicate member %q", name)
			}
		}
		p.skipSpace()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return Value{}, p.errorf("expected ':' after member name")
		}
		p.pos++
		p.skipSpace()
		item, err := p.value(depth + 1)
		if err != nil {
			return Value{}, err
		}
		p.keys = append(p.keys, name)
		p.items = append(p.items, item)
		p.skipSpace()
		if p.pos >= len(p.data) {
			return Value{}, p.errorf("unexpected end of input in object")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			v.Keys = append([]string(nil), p.keys[kmark:]...)
			v.Items = append([]Value(nil), p.items[mark:]...)
			return v, nil
		default:
			return Value{}, p.errorf("expected ',' or '}' in object")
		}
	}
}

func (p *parser) array(depth int) (Value, error) {
	p.pos++ // [
	v := Value{Kind: Array, Items: []Value{}}
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		return v, nil
	}
	mark := len(p.items)
	defer func() {
		clear(p.items[mark:])
		p.items = p.items[:mark]
	}()
	for {
		p.skipSpace()
		item, err := p.value(depth + 1)
		if err != nil {
			return Value{}, err
		}
		p.items = append(p.items, item)
		p.skipSpace()
		if p.pos >= len(p.data) {
			return Value{}, p.errorf("unexpected end of input in array")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			v.Items = append([]Value(nil), p.items[mark:]...)
			return v, nil
		default:
			return Value{}, p.errorf("expected ',' or ']' in array")
		}
	}
}

// name reads a member name. The names of FHIR's elements are shared
// strings rather than a new one per member.
func (p *parser) name() (string, error) {
	end := p.pos + 1
	for end < len(p.data) && p.data[end] != '"' && p.data[end] != '\\' {
		end++
	}
	if end < len(p.data) && p.data[end] == '"' {
		if s, ok := elementNames()[string(p.data[p.pos+1:end])]; ok {
			p.pos = end + 1
			return s, nil
		}
	}
	return p.str()
}

// elementNames holds every element name of the R4 model as it appears in
// JSON, choices expanded ("valueQuantity"), and resourceType.
var elementNames = sync.OnceValue(func() map[string]string {
	m := map[string]string{"resourceType": "resourceType"}
	for _, t := range types {
		for _, e := range t.Elements {
			m[e.Name] = e.Name
			if e.Choice {
				for _, code := range e.Types {
					n := e.Name + strings.ToUpper(code[:1]) + code[1:]
					m[n] = n
				}
			}
		}
	}
	return m
})

func (p *parser) number() (Value, error) {
	start := p.pos
	d := p.data
	if p.pos < len(d) && d[p.pos] == '-' {
		p.pos++
	}
	switch {
	case p.pos < len(d) && d[p.pos] == '0':
		p.pos++
	case p.pos < len(d) && d[p.pos] >= '1' && d[p.pos] <= '9':
		for p.pos < len(d) && d[p.pos] >= '0' && d[p.pos] <= '9' {
			p.pos++
		}
	default:
		return Value{}, p.errorf("invalid number")
	}
	if p.pos < len(d) && d[p.pos] == '.' {
		p.pos++
		n := p.pos
		for p.pos < len(d) && d[p.pos] >= '0' && d[p.pos] <= '9' {
			p.pos++
		}
		if p.pos == n {
			return Value{}, p.errorf("invalid number: no digits after '.'")
		}
	}
	if p.pos < len(d) && (d[p.pos] == 'e' || d[p.pos] == 'E') {
		p.pos++
		if p.pos < len(d) && (d[p.pos] == '+' || d[p.pos] == '-') {
			p.pos++
		}
		n := p.pos
		for p.pos < len(d) && d[p.pos] >= '0' && d[p.pos] <= '9' {
			p.pos++
		}
		if p.pos == n {
			return Value{}, p.errorf("invalid number: no digits in exponent")
		}
	}
	return Value{Kind: Number, Text: string(d[start:p.pos])}, nil
}

func (p *parser) str() (string, error) {
	p.pos++ // opening quote
	start := p.pos
	d := p.data
	// Fast path: no escapes, ASCII or valid UTF-8.
	ascii := true
	for p.pos < len(d) {
		c := d[p.pos]
		if c == '"' {
			s := d[start:p.pos]
			p.pos++
			if !ascii && !utf8.Valid(s) {
				p.pos = start
				return "", p.errorf("invalid UTF-8 in string")
			}
			return string(s), nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return "", p.errorf("control character in string")
		}
		if c >= 0x80 {
			ascii = false
		}
		p.pos++
	}
	buf := append([]byte(nil), d[start:p.pos]...)
	for p.pos < len(d) {
		c := d[p.pos]
		switch {
		case c == '"':
			p.pos++
			if !utf8.Valid(buf) {
				return "", p.errorf("invalid UTF-8 in string")
			}
			return string(buf), nil
		case c < 0x20:
			return "", p.errorf("control character in string")
		case c == '\\':
			p.pos++
			if p.pos >= len(d) {
				return "", p.errorf("unexpected end of input in string")
			}
			e := d[p.pos]
			p.pos++
			switch e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := p.hex4()
				if !ok {
					return "", p.errorf("invalid \\u escape")
				}
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if p.pos+1 < len(d) && d[p.pos] == '\\' && d[p.pos+1] == 'u' {
						p.pos += 2
						var ok2 bool
						r2, ok2 = p.hex4()
						if !ok2 {
							return "", p.errorf("invalid \\u escape")
						}
					}
					r = utf16.DecodeRune(r, r2)
				}
				buf = utf8.AppendRune(buf, r)
			default:
				return "", p.errorf("invalid escape \\%c", e)
			}
		default:
			buf = append(buf, c)
			p.pos++
		}
	}
	return "", p.errorf("unterminated string")
}

func (p *parser) hex4() (rune, bool) {
	if p.pos+4 > len(p.data) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(p.data[p.pos:p.pos+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	p.pos += 4
	return rune(n), true
}

// Marshal encodes v compactly.
func Marshal(v Value) []byte {
	// Encode into a pooled buffer and copy out the exact size: growing a
	// new buffer by doubling allocated about three times what it kept.
	bp := marshalBufs.Get().(*[]byte)
	b := AppendJSON((*bp)[:0], v, "")
	out := append([]byte(nil), b...)
	if cap(b) <= 1<<20 {
		*bp = b
		marshalBufs.Put(bp)
	}
	return out
}

var marshalBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// MarshalIndent encodes v with two-space indentation.
func MarshalIndent(v Value) []byte {
	return AppendJSON(make([]byte, 0, 1024), v, "  ")
}

// AppendJSON appends the encoding of v to dst; indent "" means compact.
func AppendJSON(dst []byte, v Value, indent string) []byte {
	e := encoder{buf: dst, indent: indent}
	e.value(v, 0)
	return e.buf
}

type encoder struct {
	buf    []byte
	indent string
}

func (e *encoder) newline(depth int) {
	if e.indent == "" {
		return
	}
	e.buf = append(e.buf, '\n')
	for range depth {
		e.buf = append(e.buf, e.indent...)
	}
}

func (e *encoder) value(v Value, depth int) {
	switch v.Kind {
	case Null:
		e.buf = append(e.buf, "null"...)
	case Bool:
		e.buf = strconv.AppendBool(e.buf, v.Bool)
	case Number:
		e.buf = append(e.buf, v.Text...)
	case String:
		e.buf = AppendQuoted(e.buf, v.Text)
	case Object:
		e.buf = append(e.buf, '{')
		for i, k := range v.Keys {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			e.newline(depth + 1)
			e.buf = AppendQuoted(e.buf, k)
			e.buf = append(e.buf, ':')
			if e.indent != "" {
				e.buf = append(e.buf, ' ')
			}
			e.value(v.Items[i], depth+1)
		}
		if len(v.Keys) > 0 {
			e.newline(depth)
		}
		e.buf = append(e.buf, '}')
	case Array:
		e.buf = append(e.buf, '[')
		for i, it := range v.Items {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			e.newline(depth + 1)
			e.value(it, depth+1)
		}
		if len(v.Items) > 0 {
			e.newline(depth)
		}
		e.buf = append(e.buf, ']')
	}
}

const hexDigits = "0123456789abcdef"

// AppendQuoted appends s as a JSON string. It escapes <, > and & as encoding/json
// does, so that a stored value is safe to embed in HTML.
// plainJSON marks the bytes a JSON string carries as they are: printable
// ASCII but for the quote, the backslash and the markup characters.
var plainJSON = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

func AppendQuoted(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if plainJSON[c] {
			continue
		}
		if c >= 0x80 {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == '\u2028' || r == '\u2029' {
				dst = append(dst, s[start:i]...)
				dst = append(dst, `\u202`...)
				dst = append(dst, hexDigits[r&0xF])
				start = i + size
			}
			i += size - 1
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"':
			dst = append(dst, `\"`...)
		case '\\':
			dst = append(dst, `\\`...)
		case '\n':
			dst = append(dst, `\n`...)
		case '\r':
			dst = append(dst, `\r`...)
		case '\t':
			dst = append(dst, `\t`...)
		default:
			dst = append(dst, `\u00`...)
			dst = append(dst, hexDigits[c>>4], hexDigits[c&0xF])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
