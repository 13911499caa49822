package validate

import (
	"context"
	"testing"
)

// go test ./internal/validate -run '^$' -bench . -count 10 -cpu 2 | tee new.txt; benchstat old.txt new.txt

func benchmark(b *testing.B, file string) {
	res := fixture(b, file)
	v := New(Options{})
	ctx := context.Background()
	if _, err := v.Resource(ctx, res, Write{}); err != nil {
		b.Fatalf("%s: %v", file, describe(err))
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Resource(ctx, res, Write{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPatient is the Patient a client typically creates: the one of
// ../shared/perf/post.lua with telecom, contacts, an extension and more.
func BenchmarkPatient(b *testing.B)          { benchmark(b, "patient-typical.json") }
func BenchmarkPatientNarrative(b *testing.B) { benchmark(b, "patient-narrative.json") }
func BenchmarkObservation(b *testing.B)      { benchmark(b, "observation-components.json") }
func BenchmarkBundle(b *testing.B)           { benchmark(b, "bundle-transaction.json") }
