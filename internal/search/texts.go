package search

import "strings"

// TextKey names a text that a store may keep once per code instead of
// once per resource: the display of a coding (TextDisplay), or the text of
// a CodeableConcept whose first coding with a code it is (TextConcept),
// under token parameter Param.
type TextKey struct {
	Param        string // the token parameter's code, without ":text"
	System, Code string
	Kind         int // TextDisplay or TextConcept
}

// The kinds of coded text, as bits: a store marks a token row with the
// kinds of text it stands for.
const (
	TextDisplay = 1
	TextConcept = 2
)

// CodedText is a :text entry that belongs to a coding, with its key
// (Entries.Coded).
type CodedText struct {
	Key  TextKey
	Norm string
}

// Covered reports whether string entry s needs no row of its own because
// held, the coded texts of its resource that the store keeps for their
// codes, has its text under the same parameter: its own coding's, or
// another coding's with the same text (a CodeableConcept's text repeating
// a display).
func Covered(held []CodedText, s StringEntry) bool {
	if len(held) == 0 {
		return false
	}
	param, ok := strings.CutSuffix(s.Param, ":text")
	if !ok {
		return false
	}
	for _, h := range held {
		if h.Key.Param == param && h.Norm == s.Norm {
			return true
		}
	}
	return false
}

// Texted returns the kinds of held text that token entry t's row stands
// for: those kept for its parameter, system and code.
func Texted(held []CodedText, t TokenEntry) int {
	kinds := 0
	for _, h := range held {
		if h.Key.Param == t.Param && h.Key.System == t.System && h.Key.Code == t.Code {
			kinds |= h.Key.Kind
		}
	}
	return kinds
}
