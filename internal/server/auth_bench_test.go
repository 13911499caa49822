package server_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"sharedcare/internal/server"
)

// BenchmarkReadByIDAuth compares reading a Patient by id with a bearer
// token against the same read with authentication off: the cost auth adds
// to a read, on the full HTTP stack over SQLite.
//
//	go test ./internal/server -run '^$' -bench ReadByIDAuth -count 10 -cpu 2
func BenchmarkReadByIDAuth(b *testing.B) {
	for _, mode := range []struct {
		name     string
		insecure bool
	}{{"token", false}, {"no-auth", true}} {
		b.Run(mode.name, func(b *testing.B) {
			s := newAuthServer(b, openDB(b), server.Options{InsecureNoAuth: mode.insecure})
			loader := s.newBackend(b, "system/*.cruds")
			tok := s.systemToken(b, loader, "system/*.cruds")
			const n = 200
			for i := range n {
				body := strings.Replace(patientJSON, `"Patient",`, fmt.Sprintf(`"Patient","id":"p%d",`, i), 1)
				if resp := s.send(b, "PUT", fmt.Sprintf("/fhir/Patient/p%d", i), tok, body); resp.status != 201 {
					b.Fatalf("PUT = %d %s", resp.status, resp.body)
				}
			}
			if mode.insecure {
				tok = ""
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
				for i := 0; pb.Next(); i++ {
					req, _ := http.NewRequest("GET", fmt.Sprintf("%s/fhir/Patient/p%d", s.URL, i%n), nil)
					if tok != "" {
						req.Header.Set("Authorization", "Bearer "+tok)
					}
					resp, err := c.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Errorf("GET = %d", resp.StatusCode)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
		})
	}
}
