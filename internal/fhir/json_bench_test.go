package fhir_test

import (
	"context"
	"testing"

	"sharedcare/internal/fhir"
	"sharedcare/internal/synth"
)

// patientBundle is one synthetic patient's transaction Bundle.
func patientBundle(b *testing.B) []byte {
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
	return body
}

// BenchmarkParse parses one synthetic patient's transaction Bundle, as the
// API does with each request body.
func BenchmarkParse(b *testing.B) {
	body := patientBundle(b)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := fhir.Parse(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMarshal encodes each resource of one synthetic patient's
// Bundle, as a store does before writing it.
func BenchmarkMarshal(b *testing.B) {
	v, err := fhir.Parse(patientBundle(b))
	if err != nil {
		b.Fatal(err)
	}
	entries := v.Get("entry").Items
	b.ReportAllocs()
	for b.Loop() {
		for i := range entries {
			fhir.Marshal(*entries[i].Get("resource"))
		}
	}
}
