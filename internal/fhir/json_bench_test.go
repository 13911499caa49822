package fhir_test

import (
	"context"
	"testing"

	"sharedcare/internal/fhir"
	"sharedcare/internal/synth"
)

// BenchmarkParse parses one synthetic patient's transaction Bundle, as the
// API does with each request body.
func BenchmarkParse(b *testing.B) {
	g, err := synth.New(synth.Options{Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	var body []byte
	err = g.Bundles(context.Background(), 1, 1, func(_ int, bundle []byte) error {
		body = append([]byte(nil), bundle...)
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := fhir.Parse(body); err != nil {
			b.Fatal(err)
		}
	}
}
