package fhirpath

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"sharedcare/internal/fhir"
)

// fuzzSeeds are the official suite's expressions (when the shared test data
// is there) and the model's own invariants and search parameters.
func fuzzSeeds(f *testing.F) {
	if data, err := os.ReadFile(filepath.Join(suiteDir, "tests-fhir-r4.xml")); err == nil {
		re := regexp.MustCompile(`(?s)<expression[^>]*>(.*?)</expression>`)
		for _, m := range re.FindAllSubmatch(data, -1) {
			f.Add(unescapeXML(string(m[1])))
		}
	}
	seen := map[string]bool{}
	for _, t := range modelTypes() {
		for _, c := range t.Constraints {
			if !seen[c.Expression] {
				seen[c.Expression] = true
				f.Add(c.Expression)
			}
		}
	}
	for _, p := range fhir.SearchParams("Observation") {
		f.Add(p.Expression)
	}
}

var unescapeXML = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&quot;", `"`, "&apos;", "'", "&amp;", "&").Replace

// FuzzParse: Parse never panics, fails only with a *SyntaxError whose
// offset lies in the input, and keeps the source of what it accepts.
func FuzzParse(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, src string) {
		e, err := Parse(src)
		if err != nil {
			se, ok := errors.AsType[*SyntaxError](err)
			if !ok {
				t.Fatalf("Parse(%q) error %T, want *SyntaxError", src, err)
			}
			if se.Offset < 0 || se.Offset > len(src) || se.Line < 1 || se.Column < 1 {
				t.Fatalf("Parse(%q) error position %d (%d:%d) out of range", src, se.Offset, se.Line, se.Column)
			}
			return
		}
		if e.String() != src {
			t.Fatalf("String() = %q, want %q", e.String(), src)
		}
	})
}

// FuzzEvaluate: whatever parses evaluates over a small Patient without
// panicking, fails only with an *EvalError, and gives the same answer twice.
func FuzzEvaluate(f *testing.F) {
	fuzzSeeds(f)
	v, err := fhir.Parse([]byte(patientJSON))
	if err != nil {
		f.Fatal(err)
	}
	now := time.Date(2024, 2, 29, 23, 59, 59, 0, time.FixedZone("", 3600))
	env := &Env{Now: func() time.Time { return now }, Vars: map[string][]Item{"x": {String("y")}}}
	f.Fuzz(func(t *testing.T, src string) {
		e, err := Parse(src)
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		in := Resource(&v)
		res1, err1 := e.Evaluate(ctx, in, env)
		if err1 != nil {
			if _, ok := errors.AsType[*EvalError](err1); !ok {
				t.Fatalf("Evaluate(%q) error %T %v, want *EvalError", src, err1, err1)
			}
		}
		res2, err2 := e.Evaluate(ctx, in, env)
		if ctx.Err() != nil {
			return // too slow to compare; cancellation itself is tested elsewhere
		}
		if (err1 == nil) != (err2 == nil) || render(res1) != render(res2) {
			t.Fatalf("Evaluate(%q) twice: %s %v, then %s %v", src, render(res1), err1, render(res2), err2)
		}
	})
}
