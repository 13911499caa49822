package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"sharedcare/internal/fhir"
	"sharedcare/internal/search"
	"sharedcare/internal/store"
	"sharedcare/internal/store/sqlite"
)

const benchPatient = `{"resourceType":"Patient","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9000000009"}],"name":[{"family":"Smith","given":["Jane"]}],"gender":"female","birthDate":"1970-01-01","address":[{"line":["1 High Street"],"city":"Leeds","postalCode":"LS1 4AP"}],"generalPractitioner":[{"reference":"Organization/gp1"}]}`

// BenchmarkPut writes Patients, with and without their index rows, to
// show what indexing adds to a write (extraction runs before the
// transaction and is measured by search's BenchmarkExtract).
//
//	go test ./internal/store/sqlite -run '^$' -bench Put -count 5
func BenchmarkPut(b *testing.B) {
	v, err := fhir.Parse([]byte(benchPatient))
	if err != nil {
		b.Fatal(err)
	}
	entries, err := search.NewIndexer().Extract(context.Background(), &v)
	if err != nil {
		b.Fatal(err)
	}
	for _, indexed := range []bool{false, true} {
		b.Run(fmt.Sprintf("indexed=%v", indexed), func(b *testing.B) {
			db, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(b.TempDir(), "b.db")})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			var n atomic.Int64
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					res := v.Clone()
					w := &store.Write{Type: "Patient", ID: fmt.Sprint("p", n.Add(1)), Resource: &res, CreateOnly: true}
					if indexed {
						w.Index = entries
					}
					err := db.Tx(context.Background(), func(tx store.Tx) error {
						_, err := tx.Put(context.Background(), w)
						return err
					})
					if err != nil {
						b.Error(err)
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
		})
	}
}
