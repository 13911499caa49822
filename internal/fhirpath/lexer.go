package fhirpath

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// tokenKind is the lexical class of a token.
type tokenKind uint8

const (
	tokEOF     tokenKind = iota
	tokIdent             // name, or a keyword such as and, div, is: the parser decides by position
	tokDelimID           // `delimited identifier`: never a keyword
	tokString            // 'text', escapes resolved
	tokNumber            // 12 or 12.5
	tokDate              // @2015-02-04T14:34, text without the @
	tokTime              // @T14:34, text without the @T
	tokVar               // %name or %`name` or %'name', text without the %
	tokSpecial           // $this, $index, $total: text without the $
	tokPunct             // . , ( ) [ ] { } + - * / & | = != ~ !~ < <= > >=
)

type token struct {
	kind tokenKind
	text string
	pos  int // byte offset in the source
}

// SyntaxError is an expression that does not parse, or that names a function
// or type that does not exist. Offset is a byte offset into Expr; Line and
// Column are 1-based.
type SyntaxError struct {
	Expr   string
	Offset int
	Line   int
	Column int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("fhirpath: syntax error at line %d, column %d: %s", e.Line, e.Column, e.Msg)
}

func newSyntaxError(src string, pos int, format string, args ...any) *SyntaxError {
	pos = min(max(pos, 0), len(src))
	line, col := 1, 1
	for _, r := range src[:pos] {
		if r == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return &SyntaxError{Expr: src, Offset: pos, Line: line, Column: col, Msg: fmt.Sprintf(format, args...)}
}

// lex splits src into tokens, ending with a tokEOF.
func lex(src string) ([]token, error) {
	l := lexer{src: src}
	var toks []token
	for {
		t, err := l.next()
		if err != nil {
			return nil, err
		}
		toks = append(toks, t)
		if t.kind == tokEOF {
			return toks, nil
		}
	}
}

type lexer struct {
	src string
	pos int
}

func (l *lexer) errorf(pos int, format string, args ...any) error {
	return newSyntaxError(l.src, pos, format, args...)
}

// skip passes over white space and comments.
func (l *lexer) skip() error {
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			l.pos++
		case strings.HasPrefix(l.src[l.pos:], "//"):
			end := strings.IndexByte(l.src[l.pos:], '\n')
			if end < 0 {
				l.pos = len(l.src)
			} else {
				l.pos += end + 1
			}
		case strings.HasPrefix(l.src[l.pos:], "/*"):
			end := strings.Index(l.src[l.pos+2:], "*/")
			if end < 0 {
				return l.errorf(l.pos, "unterminated comment")
			}
			l.pos += 2 + end + 2
		default:
			return nil
		}
	}
	return nil
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentPart(c byte) bool { return isIdentStart(c) || isDigit(c) }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (l *lexer) next() (token, error) {
	if err := l.skip(); err != nil {
		return token{}, err
	}
	start := l.pos
	if l.pos >= len(l.src) {
		return token{kind: tokEOF, pos: start}, nil
	}
	c := l.src[l.pos]
	switch {
	case isIdentStart(c):
		for l.pos < len(l.src) && isIdentPart(l.src[l.pos]) {
			l.pos++
		}
		return token{kind: tokIdent, text: l.src[start:l.pos], pos: start}, nil
	case isDigit(c):
		for l.pos < len(l.src) && isDigit(l.src[l.pos]) {
			l.pos++
		}
		// A '.' belongs to the number only when a digit follows: 1.toString() is
		// an invocation on the integer 1.
		if l.pos+1 < len(l.src) && l.src[l.pos] == '.' && isDigit(l.src[l.pos+1]) {
			l.pos++
			for l.pos < len(l.src) && isDigit(l.src[l.pos]) {
				l.pos++
			}
		}
		return token{kind: tokNumber, text: l.src[start:l.pos], pos: start}, nil
	case c == '\'':
		s, err := l.quoted('\'')
		return token{kind: tokString, text: s, pos: start}, err
	case c == '`':
		s, err := l.quoted('`')
		return token{kind: tokDelimID, text: s, pos: start}, err
	case c == '@':
		return l.dateTime()
	case c == '%':
		l.pos++
		if l.pos < len(l.src) && (l.src[l.pos] == '`' || l.src[l.pos] == '\'') {
			s, err := l.quoted(l.src[l.pos])
			return token{kind: tokVar, text: s, pos: start}, err
		}
		n := l.pos
		for l.pos < len(l.src) && (isIdentPart(l.src[l.pos]) || l.src[l.pos] == '-') {
			l.pos++
		}
		if l.pos == n {
			return token{}, l.errorf(start, "expected a name after %%")
		}
		return token{kind: tokVar, text: l.src[n:l.pos], pos: start}, nil
	case c == '$':
		l.pos++
		n := l.pos
		for l.pos < len(l.src) && isIdentPart(l.src[l.pos]) {
			l.pos++
		}
		switch name := l.src[n:l.pos]; name {
		case "this", "index", "total":
			return token{kind: tokSpecial, text: name, pos: start}, nil
		}
		return token{}, l.errorf(start, "unknown special variable $%s", l.src[n:l.pos])
	}
	for _, op := range [...]string{"<=", ">=", "!=", "!~"} {
		if strings.HasPrefix(l.src[l.pos:], op) {
			l.pos += 2
			return token{kind: tokPunct, text: op, pos: start}, nil
		}
	}
	if strings.IndexByte(".,()[]{}+-*/&|=~<>", c) >= 0 {
		l.pos++
		return token{kind: tokPunct, text: l.src[start:l.pos], pos: start}, nil
	}
	r, _ := utf8.DecodeRuneInString(l.src[l.pos:])
	return token{}, l.errorf(start, "unexpected character %q", r)
}

// quoted reads a string or delimited identifier, resolving escapes
// (http://hl7.org/fhirpath/N1/#string).
func (l *lexer) quoted(q byte) (string, error) {
	start := l.pos
	l.pos++
	var b strings.Builder
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch c {
		case q:
			l.pos++
			return b.String(), nil
		case '\\':
			if l.pos+1 >= len(l.src) {
				return "", l.errorf(l.pos, "unterminated escape")
			}
			e := l.src[l.pos+1]
			l.pos += 2
			switch e {
			case '\'', '"', '`', '\\', '/':
				b.WriteByte(e)
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				if l.pos+4 > len(l.src) {
					return "", l.errorf(l.pos-2, "invalid \\u escape")
				}
				n, err := strconv.ParseUint(l.src[l.pos:l.pos+4], 16, 32)
				if err != nil {
					return "", l.errorf(l.pos-2, "invalid \\u escape")
				}
				l.pos += 4
				r := rune(n)
				// A surrogate pair arrives as two escapes.
				if r >= 0xD800 && r < 0xDC00 && strings.HasPrefix(l.src[l.pos:], "\\u") && l.pos+6 <= len(l.src) {
					if n2, err := strconv.ParseUint(l.src[l.pos+2:l.pos+6], 16, 32); err == nil && n2 >= 0xDC00 && n2 < 0xE000 {
						r = 0x10000 + (r-0xD800)<<10 + (rune(n2) - 0xDC00)
						l.pos += 6
					}
				}
				b.WriteRune(r)
			default:
				return "", l.errorf(l.pos-2, "invalid escape \\%c", e)
			}
		default:
			b.WriteByte(c)
			l.pos++
		}
	}
	return "", l.errorf(start, "unterminated %c", q)
}

// dateTime reads a date, dateTime or time literal: @2015, @2015-02-04T14:34:28.123+10:00, @T14:34.
func (l *lexer) dateTime() (token, error) {
	start := l.pos
	l.pos++ // @
	if l.pos < len(l.src) && l.src[l.pos] == 'T' {
		l.pos++
		n := l.pos
		if !l.timePart() {
			return token{}, l.errorf(start, "invalid time literal")
		}
		return token{kind: tokTime, text: l.src[n:l.pos], pos: start}, nil
	}
	n := l.pos
	if !l.digits(4) {
		return token{}, l.errorf(start, "invalid date literal")
	}
	if l.peekDash() {
		l.pos++
		if !l.digits(2) {
			return token{}, l.errorf(start, "invalid date literal")
		}
		if l.peekDash() {
			l.pos++
			if !l.digits(2) {
				return token{}, l.errorf(start, "invalid date literal")
			}
		}
	}
	if l.pos < len(l.src) && l.src[l.pos] == 'T' {
		l.pos++
		if l.pos < len(l.src) && isDigit(l.src[l.pos]) {
			if !l.timePart() {
				return token{}, l.errorf(start, "invalid dateTime literal")
			}
			l.zone()
		}
	}
	return token{kind: tokDate, text: l.src[n:l.pos], pos: start}, nil
}

func (l *lexer) peekDash() bool {
	return l.pos+1 < len(l.src) && l.src[l.pos] == '-' && isDigit(l.src[l.pos+1])
}

func (l *lexer) digits(n int) bool {
	if l.pos+n > len(l.src) {
		return false
	}
	for i := range n {
		if !isDigit(l.src[l.pos+i]) {
			return false
		}
	}
	l.pos += n
	return true
}

// timePart reads hh(:mm(:ss(.fff)?)?)?.
func (l *lexer) timePart() bool {
	if !l.digits(2) {
		return false
	}
	if l.pos+2 < len(l.src) && l.src[l.pos] == ':' && isDigit(l.src[l.pos+1]) {
		l.pos++
		if !l.digits(2) {
			return false
		}
		if l.pos+2 < len(l.src) && l.src[l.pos] == ':' && isDigit(l.src[l.pos+1]) {
			l.pos++
			if !l.digits(2) {
				return false
			}
			if l.pos+1 < len(l.src) && l.src[l.pos] == '.' && isDigit(l.src[l.pos+1]) {
				l.pos++
				for l.pos < len(l.src) && isDigit(l.src[l.pos]) {
					l.pos++
				}
			}
		}
	}
	return true
}

// zone reads Z or (+|-)hh:mm when present.
func (l *lexer) zone() {
	if l.pos < len(l.src) && l.src[l.pos] == 'Z' {
		l.pos++
		return
	}
	if l.pos+6 <= len(l.src) && (l.src[l.pos] == '+' || l.src[l.pos] == '-') {
		s := l.src[l.pos+1 : l.pos+6]
		if isDigit(s[0]) && isDigit(s[1]) && s[2] == ':' && isDigit(s[3]) && isDigit(s[4]) {
			l.pos += 6
		}
	}
}
