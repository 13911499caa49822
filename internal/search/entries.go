package search

import "slices"

// Entries are the index values of one resource, by type of search
// parameter. Param is the parameter's code on the resource's type; a few
// derived rows carry a suffix: "code:text" (the display text of a token, for
// :text), "identifier:of-type" (type code and value, for :of-type) and
// "subject:identifier" (a reference's logical identifier, for :identifier).
// A store writes them in the same transaction as the version they index.
type Entries struct {
	Strings    []StringEntry
	Tokens     []TokenEntry
	References []ReferenceEntry
	Dates      []DateEntry
	Numbers    []NumberEntry
	Quantities []QuantityEntry
	URIs       []URIEntry
	Composites []CompositeEntry
	// Coded are the :text entries (in Strings) that belong to a coding,
	// keyed by it, so that a store may keep such a text once per code
	// instead of once per resource (texts.go). They are not rows.
	Coded []CodedText
}

// StringEntry is one string part: a name's family, an address's city ...
type StringEntry struct {
	Param string
	Norm  string // Normalize(Exact): lower case, accents and extra spaces gone
	Exact string
}

// TokenEntry is a code, identifier, boolean or contact point value.
type TokenEntry struct {
	Param  string
	System string // "" when the value has none
	Code   string
}

// ReferenceEntry is a reference to another resource: TargetType and
// TargetID for a relative (or this server's absolute) reference, URL for
// any other absolute or canonical one.
type ReferenceEntry struct {
	Param      string
	TargetType string
	TargetID   string
	URL        string
}

// DateEntry is the span of time a date, dateTime, instant, Period or
// Timing stands for, as Unix milliseconds: [Low, High), High exclusive.
// Open-ended periods use MinTime and MaxTime.
type DateEntry struct {
	Param     string
	Low, High int64
}

// Bounds of open-ended periods, in Unix milliseconds.
const (
	MinTime int64 = -62135596800000 // 0001-01-01
	MaxTime int64 = 253402300800000 // 10000-01-01
)

// NumberEntry is a number.
type NumberEntry struct {
	Param string
	Value float64
}

// QuantityEntry is a quantity with its unit, and the same amount in the
// canonical UCUM unit when it converts (mg → g, mmol/L → mol/m3 ...), so
// that a search in one unit finds values stored in another.
type QuantityEntry struct {
	Param          string
	System, Code   string // as stored; Code falls back to unit when code is absent
	Value          float64
	CanonicalCode  string // "" when the unit has no known conversion
	CanonicalValue float64
}

// URIEntry is a uri, url, canonical, oid or uuid.
type URIEntry struct {
	Param string
	Value string
}

// CompositeEntry is one combination of a composite parameter's
// components: A is the first component (a token: System and Code), B the
// second, as text (token code, string, reference) and/or a numeric span
// (quantity, number, date in Unix milliseconds); C a third numeric one
// (only MolecularSequence's window and variant parameters have three).
type CompositeEntry struct {
	Param     string
	ASystem   string
	ACode     string
	BSystem   string // token or quantity system
	BCode     string // token code, quantity unit code, normalised string, or Type/id
	BLow      float64
	BHigh     float64
	HasNumber bool // BLow/BHigh hold a value
	CLow      float64
	CHigh     float64
	HasC      bool
}

// Len is the number of entries.
func (e *Entries) Len() int {
	return len(e.Strings) + len(e.Tokens) + len(e.References) + len(e.Dates) + len(e.Numbers) +
		len(e.Quantities) + len(e.URIs) + len(e.Composites)
}

// dedup drops repeated entries, keeping the first of each: a
// CodeableConcept whose text repeats its coding's display, or a value
// reached by two paths of one expression, would otherwise cost the store
// an index insert for a row it already has.
func (e *Entries) dedup() {
	e.Strings = distinct(e.Strings)
	e.Tokens = distinct(e.Tokens)
	e.References = distinct(e.References)
	e.Dates = distinct(e.Dates)
	e.Numbers = distinct(e.Numbers)
	e.Quantities = distinct(e.Quantities)
	e.URIs = distinct(e.URIs)
	e.Composites = distinct(e.Composites)
	e.Coded = distinct(e.Coded)
}

// distinct removes repeats from s in place, keeping order. Resources have
// few entries of a kind, so a linear search beats a map until there are
// many.
func distinct[T comparable](s []T) []T {
	if len(s) < 2 {
		return s
	}
	out := s[:0]
	if len(s) <= 64 {
		for _, v := range s {
			if !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
	} else {
		seen := make(map[T]bool, len(s))
		for _, v := range s {
			if !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	clear(s[len(out):])
	return out
}
