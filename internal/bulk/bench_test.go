package bulk_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"sharedcare/internal/bulk"
	"sharedcare/internal/record"
	"sharedcare/internal/store"
	"sharedcare/internal/store/postgres"
	"sharedcare/internal/store/sqlite"
	"sharedcare/internal/store/storetest"
	"sharedcare/internal/synth"
	"sharedcare/internal/validate"
)

// benchBackends are the stores the bulk benchmarks run on, each opened
// fresh and empty.
var benchBackends = []struct {
	name string
	open func(b *testing.B) store.Store
}{
	{"sqlite", func(b *testing.B) store.Store {
		db, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(b.TempDir(), "bench.db")})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		return db
	}},
	{"postgres", func(b *testing.B) store.Store {
		db, err := postgres.Open(context.Background(), postgres.Options{URL: storetest.PostgresURL(b)})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		return db
	}},
}

// practiceNDJSON writes a synthetic practice of patients as NDJSON files,
// one per type, and returns them as import inputs and their resource count.
func practiceNDJSON(b *testing.B, patients int) ([]bulk.Input, int) {
	b.Helper()
	dir := b.TempDir()
	g, err := synth.New(synth.Options{Practices: 1})
	if err != nil {
		b.Fatal(err)
	}
	files := map[string]*os.File{}
	n := 0
	err = g.NDJSON(context.Background(), 0, patients, func(typ string, lines []byte) error {
		f := files[typ]
		if f == nil {
			if f, err = os.Create(filepath.Join(dir, typ+".ndjson")); err != nil {
				return err
			}
			files[typ] = f
		}
		n += strings.Count(string(lines), "\n")
		_, err := f.Write(lines)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	var inputs []bulk.Input
	for typ, f := range files {
		f.Close()
		inputs = append(inputs, bulk.Input{Type: typ, URL: f.Name()})
	}
	return inputs, n
}

func newBenchRecord(db store.Store) *record.Service {
	return record.New(record.Options{Store: db, Validator: validate.New(validate.Options{Invariants: validate.NewFHIRPathInvariants()})})
}

// BenchmarkImport imports a synthetic practice of 200 patients (about
// 17,000 resources), validated as the server validates, into an empty
// store per round.
//
//	go test ./internal/bulk -run '^$' -bench Import -benchtime 3x -count 5 -cpu 2
func BenchmarkImport(b *testing.B) {
	inputs, n := practiceNDJSON(b, 200)
	for _, be := range benchBackends {
		b.Run(be.name, func(b *testing.B) {
			var total time.Duration
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				rec := newBenchRecord(be.open(b))
				svc := bulk.New(bulk.Options{Record: rec, Dir: b.TempDir(), AllowFiles: true})
				b.StartTimer()
				began := time.Now()
				sum, err := svc.ImportLocal(dev(), "bench", &bulk.ImportRequest{InputFormat: "ndjson", Inputs: inputs})
				total += time.Since(began)
				if err != nil || sum.Errors > 0 || sum.Written != n {
					b.Fatalf("import = %+v, %v; want %d written", sum, err, n)
				}
			}
			b.ReportMetric(float64(n*b.N)/total.Seconds(), "resources/s")
		})
	}
}

// BenchmarkExport exports the Observations, Conditions and Encounters
// of a synthetic practice of 200 patients from a store loaded once.
//
//	go test ./internal/bulk -run '^$' -bench Export -benchtime 5x -count 5 -cpu 2
func BenchmarkExport(b *testing.B) {
	inputs, _ := practiceNDJSON(b, 200)
	for _, be := range benchBackends {
		b.Run(be.name, func(b *testing.B) {
			rec := newBenchRecord(be.open(b))
			dir := b.TempDir()
			svc := bulk.New(bulk.Options{Record: rec, Dir: dir, AllowFiles: true, Poll: time.Millisecond})
			if _, err := svc.ImportLocal(dev(), "bench", &bulk.ImportRequest{InputFormat: "ndjson", Inputs: inputs}); err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(dev())
			var wg sync.WaitGroup
			wg.Go(func() { svc.Run(ctx) })
			defer func() { cancel(); wg.Wait() }()
			var total time.Duration
			n := 0
			for b.Loop() {
				began := time.Now()
				id, err := svc.Export(dev(), "system", "", map[string][]string{"_type": {"Observation,Condition,Encounter,Patient,MedicationRequest"}}, "bench")
				if err != nil {
					b.Fatal(err)
				}
				var m []byte
				for m == nil {
					if m, _, err = svc.Status(dev(), id, ""); err != nil {
						b.Fatal(err)
					}
					if m == nil {
						time.Sleep(time.Millisecond)
					}
				}
				total += time.Since(began)
				n += manifestCount(b, m)
			}
			b.ReportMetric(float64(n)/total.Seconds(), "resources/s")
		})
	}
}

func manifestCount(b *testing.B, m []byte) int {
	var v struct{ Output []struct{ Count int } }
	if err := json.Unmarshal(m, &v); err != nil {
		b.Fatal(err)
	}
	n := 0
	for _, o := range v.Output {
		n += o.Count
	}
	return n
}
