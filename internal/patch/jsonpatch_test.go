package patch

import (
	"context"
	"testing"

	"sharedcare/internal/fhir"
)

func TestJSONPatch(t *testing.T) {
	t.Parallel()
	for _, f := range loadFixtures(t, "jsonpatch") {
		t.Run(name(f.file), func(t *testing.T) {
			t.Parallel()
			doc := fhir.Marshal(f.patch)
			if f.patch.Kind == fhir.String {
				doc = []byte(f.patch.Text)
			}
			before := fhir.Marshal(f.resource)
			p, err := ParseJSON(doc)
			var got fhir.Value
			if err == nil {
				got, err = p.Apply(context.Background(), &f.resource)
			}
			f.check(t, before, &f.resource, got, err, false)
		})
	}
}

// TestNumbersByValue: test compares numbers as numbers (RFC 6902 §4.6).
func TestNumbersByValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want bool
	}{
		{"1", "1.0", true},
		{"1.50", "1.5", true},
		{"15e-1", "1.5", true},
		{"0", "-0.0", true},
		{"100", "1E2", true},
		{"100", "1e+2", true},
		{"0.001", "1e-3", true},
		{"1", "2", false},
		{"1", "-1", false},
		{"10", "1", false},
		{"1e999999999999", "1e999999999999", true}, // same literal
		{"1e9999999999999999999", "1e9999999999999999998", false},
	}
	for _, tt := range tests {
		a, b := fhir.NumberValue(tt.a), fhir.NumberValue(tt.b)
		if got := equal(&a, &b); got != tt.want {
			t.Errorf("equal(%s, %s) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func FuzzJSONPatch(f *testing.F) {
	for _, s := range seeds(f, "jsonpatch") {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, resource, doc []byte) {
		res, err := fhir.Parse(resource)
		if err != nil {
			return
		}
		p, err := ParseJSON(doc)
		checkApply(t, &res, err, func() (fhir.Value, error) { return p.Apply(context.Background(), &res) })
	})
}

// go test ./internal/patch -run '^$' -bench . -count 10 | tee new.txt; benchstat old.txt new.txt
func BenchmarkJSONPatch(b *testing.B) {
	p, err := ParseJSON([]byte(`[
		{"op":"test","path":"/name/0/family","value":"Smith"},
		{"op":"replace","path":"/telecom/0/value","value":"01632 960002"},
		{"op":"add","path":"/name/0/given/-","value":"Louise"}]`))
	if err != nil {
		b.Fatal(err)
	}
	benchApply(b, p)
}
