package synth

import (
	"context"
	"testing"

	"sharedcare/internal/fhir"
)

// go test ./internal/synth -run '^$' -bench . -count 10 -cpu 2 | tee new.txt; benchstat old.txt new.txt

// BenchmarkPatient generates one patient's resources, without encoding.
func BenchmarkPatient(b *testing.B) {
	g := newTestGenerator(b, Options{Seed: 1})
	b.ReportAllocs()
	i, resources := 0, 0
	for b.Loop() {
		r, err := g.Patient(i)
		if err != nil {
			b.Fatal(err)
		}
		resources += len(r.Resources)
		i++
	}
	b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "patients/s")
	b.ReportMetric(float64(resources)/b.Elapsed().Seconds(), "resources/s")
}

// BenchmarkBundles is the generate subcommand's bundle path: generation and
// JSON encoding on all workers, in order.
func BenchmarkBundles(b *testing.B) {
	g := newTestGenerator(b, Options{Seed: 1})
	const batch = 200
	b.ReportAllocs()
	patients, bytes := 0, 0
	for b.Loop() {
		err := g.Bundles(context.Background(), patients, batch, func(i int, data []byte) error {
			bytes += len(data)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		patients += batch
	}
	b.ReportMetric(float64(patients)/b.Elapsed().Seconds(), "patients/s")
	b.ReportMetric(float64(bytes)/b.Elapsed().Seconds()/(1<<20), "MB/s")
}

// BenchmarkNDJSON is the NDJSON path.
func BenchmarkNDJSON(b *testing.B) {
	g := newTestGenerator(b, Options{Seed: 1})
	const batch = 200
	b.ReportAllocs()
	patients, lines := 0, 0
	for b.Loop() {
		err := g.NDJSON(context.Background(), patients, batch, func(typ string, data []byte) error {
			for _, c := range data {
				if c == '\n' {
					lines++
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		patients += batch
	}
	b.ReportMetric(float64(patients)/b.Elapsed().Seconds(), "patients/s")
	b.ReportMetric(float64(lines)/b.Elapsed().Seconds(), "resources/s")
}

// BenchmarkMarshalPatient is the encoding share of the bundle path.
func BenchmarkMarshalPatient(b *testing.B) {
	g := newTestGenerator(b, Options{Seed: 1})
	r, _ := g.Patient(17)
	bundle := r.Bundle()
	buf := make([]byte, 0, 1<<20)
	b.ReportAllocs()
	for b.Loop() {
		buf = fhir.AppendJSON(buf[:0], bundle, "")
	}
	b.SetBytes(int64(len(buf)))
}
