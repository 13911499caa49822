package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"

	"sharedcare/internal/fhir"
	"sharedcare/internal/synth"
)

// benchClient is an HTTP client for benchmarks: errors go to b.Error,
// which is safe off the main goroutine.
type benchClient struct {
	c    *http.Client
	base string
}

func newBenchClient(srv *testServer) *benchClient {
	tr := &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}
	return &benchClient{c: &http.Client{Transport: tr}, base: srv.URL}
}

func (c *benchClient) do(b *testing.B, method, path string, body []byte, want int) []byte {
	req, _ := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if body != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	resp, err := c.c.Do(req)
	if err != nil {
		b.Error(err)
		return nil
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		b.Errorf("%s %s = %d, want %d: %.300s", method, path, resp.StatusCode, want, out)
	}
	return out
}

const benchPatient = `{"resourceType":"Patient","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9000000009"}],"name":[{"family":"Smith","given":["Jane"]}],"gender":"female","birthDate":"1970-01-01","address":[{"line":["1 High Street"],"city":"Leeds","postalCode":"LS1 4AP"}]}`

// BenchmarkReadByID reads Patients by id through the full HTTP stack.
//
//	go test ./internal/api -run '^$' -bench ReadByID -count 10 -cpu 2
func BenchmarkReadByID(b *testing.B) {
	for _, be := range backends {
		for _, par := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/conc%d", be.name, par), func(b *testing.B) {
				srv := newTestServer(b, be.name, be.open(b))
				c := newBenchClient(srv)
				var ids []string
				for range 1000 {
					var res struct{ ID string }
					json.Unmarshal(c.do(b, "POST", "/fhir/Patient", []byte(benchPatient), 201), &res)
					ids = append(ids, res.ID)
				}
				b.ReportAllocs()
				b.ResetTimer()
				var n atomic.Int64
				read := func() { c.do(b, "GET", "/fhir/Patient/"+ids[n.Add(1)%int64(len(ids))], nil, 200) }
				runConc(b, par, read)
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
			})
		}
	}
}

// runConc calls fn b.N times: one after another when conc is 1, else
// from conc goroutines per CPU.
func runConc(b *testing.B, conc int, fn func()) {
	if conc == 1 {
		for range b.N {
			fn()
		}
		return
	}
	b.SetParallelism(conc)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			fn()
		}
	})
}

// BenchmarkCreate creates Patients: validated, versioned, indexed.
func BenchmarkCreate(b *testing.B) {
	for _, be := range backends {
		for _, par := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/conc%d", be.name, par), func(b *testing.B) {
				srv := newTestServer(b, be.name, be.open(b))
				c := newBenchClient(srv)
				body := []byte(benchPatient)
				b.ReportAllocs()
				runConc(b, par, func() { c.do(b, "POST", "/fhir/Patient", body, 201) })
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
			})
		}
	}
}

// BenchmarkIngestBundles posts synthetic patients as transaction Bundles,
// from four clients per core, and reports resources stored per second.
// Run it with -benchtime 500x or less, so that every bundle is a new
// patient:
//
//	go test ./internal/api -run '^$' -bench IngestBundles -benchtime 500x
func BenchmarkIngestBundles(b *testing.B) {
	g, err := synth.New(synth.Options{Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	var bundles [][]byte
	resources := 0
	err = g.Bundles(context.Background(), 0, 512, func(i int, bundle []byte) error {
		bundles = append(bundles, append([]byte(nil), bundle...))
		v, err := fhir.Parse(bundle)
		if err == nil {
			resources += len(v.Get("entry").Items)
		}
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	perBundle := float64(resources) / float64(len(bundles))
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			srv := newTestServer(b, be.name, be.open(b))
			c := newBenchClient(srv)
			c.do(b, "POST", "/fhir", bundles[0], 200) // the shared practices and staff
			var n atomic.Int64
			b.SetParallelism(4)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := 1 + n.Add(1)%int64(len(bundles)-1)
					c.do(b, "POST", "/fhir", bundles[i], 200)
				}
			})
			b.ReportMetric(float64(b.N)*perBundle/b.Elapsed().Seconds(), "resources/s")
		})
	}
}
