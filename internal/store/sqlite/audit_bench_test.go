package sqlite_test

import (
	"context"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"sharedcare/internal/store"
	"sharedcare/internal/store/sqlite"
)

// BenchmarkAppendAudit appends single events from many goroutines, as
// concurrent reads do, each waiting until its event is durable.
//
//	go test ./internal/store/sqlite -run '^$' -bench AppendAudit -cpu 2
func BenchmarkAppendAudit(b *testing.B) {
	db, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(b.TempDir(), "a.db")})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	body := []byte(`{"w":1795300000000000,"i":"read","o":"0","ar":"Practitioner/1","an":"Dr X","as":"u1","aa":"127.0.0.1","ak":"clinician","pt":["p1"],"rs":["Observation/1"],"rq":"abc-1"}`)
	b.SetParallelism(16)
	cpu0 := cpuTime()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			ev := &store.AuditRecord{ID: time.Now().Format("20060102150405.000000000") + string(rune('a'+i%26)), Recorded: time.Now(), Patients: []string{"p1"}, Body: body}
			if err := db.AppendAudit(context.Background(), []*store.AuditRecord{ev}); err != nil {
				b.Error(err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
}

// cpuTime is the CPU this process has used: steadier than wall time on a
// machine shared with other work.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
