package validate

import (
	"testing"

	"sharedcare/internal/fhir"
)

func TestSchema(t *testing.T) {
	t.Parallel()
	s := loadSchema()
	for _, p := range s.problems {
		t.Error(p)
	}
	for _, name := range fhir.ResourceTypes() {
		if s.resource(name) == nil {
			t.Errorf("no typeInfo for resource type %s", name)
		}
	}
	for name, ti := range s.types {
		if ti.kind == fhir.PrimitiveType && name != "xhtml" && ti.prim.re == nil {
			t.Errorf("primitive %s has no regex", name)
		}
	}
	if s.resource("Resource") != nil || s.resource("DomainResource") != nil {
		t.Error("abstract resource types resolve as concrete")
	}
}

// nativeCases are values that probe the edges of the hand-written checks.
var nativeCases = []string{
	"", " ", "a", "a b", "a  b", " a", "a ", "a\tb", "a\t\tb", "a\nb", "a\rb", "\f", "a\fb", "a\vb", "\x00",
	"日本", "日 本", "abcd", "ab cd", "abcd efgh", " abcd ", "abc=", "====", "abcd\nefgh\n", "abc", "abcde", "ab+/",
	"A-Z.09", "a_b", "x-1.2", "0123456789012345678901234567890123456789012345678901234567890123",
	"01234567890123456789012345678901234567890123456789012345678901234",
	"urn:oid:1.2", "http://x y", "http://example.org/fhir", "#", "\u00a0", "a\u00a0b", "a\u2028b",
}

// TestNativeMatchesRegex holds each hand-written check to the spec's regex
// it stands in for.
func TestNativeMatchesRegex(t *testing.T) {
	t.Parallel()
	for name, ti := range loadSchema().types {
		p := ti.prim
		if p == nil || p.native == nil {
			continue
		}
		for _, s := range nativeCases {
			if got, want := p.native(s), p.re.MatchString(s); got != want {
				t.Errorf("native %s(%q) = %v, regex %s says %v", name, s, got, p.re, want)
			}
		}
	}
}

func FuzzNative(f *testing.F) {
	for _, s := range nativeCases {
		f.Add(s)
	}
	s := loadSchema()
	f.Fuzz(func(t *testing.T, v string) {
		for name, ti := range s.types {
			p := ti.prim
			if p == nil || p.native == nil {
				continue
			}
			if got, want := p.native(v), p.re.MatchString(v); got != want {
				t.Errorf("native %s(%q) = %v, regex %s says %v", name, v, got, p.re, want)
			}
		}
	})
}

func TestRealDate(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		"2023": true, "2023-02": true, "2023-02-28": true, "2023-02-29": false, "2024-02-29": true,
		"1900-02-29": false, "2000-02-29": true, "2023-04-31": false, "2023-12-31": true,
		"2023-02-30T10:00:00Z": false, "2023-01-31T10:00:00Z": true,
	} {
		if got := realDate(s); got != want {
			t.Errorf("realDate(%q) = %v, want %v", s, got, want)
		}
	}
}
