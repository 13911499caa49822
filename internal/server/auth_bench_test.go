package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"sharedcare/internal/server"
	"sharedcare/internal/store"
)

// BenchmarkReadByIDAuth reads a Patient by id on the full HTTP stack over
// SQLite: with a bearer token (reads' AuditEvents queued, as served by
// default, or durable before the answer), with authentication off but
// still audited, and with neither authentication nor audit (the trail
// discards events), the baseline for the cost that auth and audit add.
// cpu-µs/op is the CPU of the whole process, the client's included.
//
//	go test ./internal/server -run '^$' -bench ReadByIDAuth -count 5 -cpu 2
func BenchmarkReadByIDAuth(b *testing.B) {
	for _, mode := range []struct {
		name              string
		insecure, noAudit bool
		durable           bool
	}{{name: "token"}, {name: "token-durable-audit", durable: true}, {name: "no-auth", insecure: true},
		{name: "no-auth-no-audit", insecure: true, noAudit: true}} {
		b.Run(mode.name, func(b *testing.B) {
			var db store.Store = openDB(b)
			if mode.noAudit {
				db = discardAudit{db}
			}
			s := newAuthServer(b, db, server.Options{InsecureNoAuth: mode.insecure, DurableReadAudit: mode.durable})
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
			cpu0 := cpuTime()
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
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}

// discardAudit is a store whose audit trail keeps nothing: the baseline
// of BenchmarkReadByIDAuth, never a server's.
type discardAudit struct{ store.Store }

func (discardAudit) AppendAudit(context.Context, []*store.AuditRecord) error { return nil }
func (discardAudit) QueueAudit(context.Context, []*store.AuditRecord) error  { return nil }

// cpuTime is the CPU this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
