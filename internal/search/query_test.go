package search

import (
	"net/url"
	"testing"
)

// TestParseUnescapesText checks that a string or :text value keeps a
// backslash-escaped comma as text (https://hl7.org/fhir/R4/search.html#escaping)
// instead of splitting there or searching for the backslash.
func TestParseUnescapesText(t *testing.T) {
	for _, c := range []struct {
		typ, query string
		norms      []string
		raw        string
	}{
		{"Patient", `family=O\,Brien`, []string{"o,brien"}, "O,Brien"},
		{"Patient", `family:exact=O\,Brien,Smith`, []string{"o,brien", "smith"}, "O,Brien"},
		{"Patient", `name=a\\b`, []string{`a\b`}, `a\b`},
		{"Condition", `code:text=Asthma\, well`, []string{"asthma, well"}, ""},
		{"Condition", `code:text=asthma,wheeze`, []string{"asthma", "wheeze"}, ""},
	} {
		params, err := url.ParseQuery(url.PathEscape(c.query))
		if err != nil {
			t.Fatal(err)
		}
		q, err := Parse(c.typ, params, Options{})
		if err != nil {
			t.Fatalf("%s?%s: %v", c.typ, c.query, err)
		}
		vs := q.Filters[0].Values
		if len(vs) != len(c.norms) {
			t.Fatalf("%s?%s: %d values, want %d", c.typ, c.query, len(vs), len(c.norms))
		}
		for i, v := range vs {
			if v.Norm != c.norms[i] {
				t.Errorf("%s?%s: value %d normalised to %q, want %q", c.typ, c.query, i, v.Norm, c.norms[i])
			}
		}
		if c.raw != "" && vs[0].Raw != c.raw {
			t.Errorf("%s?%s: raw %q, want %q", c.typ, c.query, vs[0].Raw, c.raw)
		}
	}
}
