package postgres

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"sharedcare/internal/fhir"
	"sharedcare/internal/search"
	"sharedcare/internal/store"
	"sharedcare/internal/store/storetest"
)

// benchPatient is a typical patient: identifiers, name, telecom, address,
// practice; about thirty index rows.
const benchPatient = `{"resourceType":"Patient","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9000000009"}],
"active":true,"name":[{"use":"official","family":"Smith","given":["Jane","Anne"],"prefix":["Mrs"]}],
"telecom":[{"system":"phone","value":"0113 496 0000","use":"home"},{"system":"email","value":"jane@example.org"}],
"gender":"female","birthDate":"1970-01-01",
"address":[{"use":"home","line":["1 High Street"],"city":"Leeds","postalCode":"LS1 4AP","country":"GB"}],
"generalPractitioner":[{"reference":"Organization/gp1"}]}`

// benchResource returns a fresh copy of benchPatient and its index values.
func benchResource(b *testing.B) (*fhir.Value, *search.Entries) {
	v, err := fhir.Parse([]byte(benchPatient))
	if err != nil {
		b.Fatal(err)
	}
	e, err := search.NewIndexer().Extract(context.Background(), &v)
	if err != nil {
		b.Fatal(err)
	}
	return &v, e
}

// preload creates n patients p0 ... p<n-1>, 500 to a transaction.
func preload(b *testing.B, db *DB, n int) {
	ctx := context.Background()
	res, idx := benchResource(b)
	for i := 0; i < n; i += 500 {
		err := db.Tx(ctx, func(tx store.Tx) error {
			for j := i; j < min(i+500, n); j++ {
				if _, err := tx.Put(ctx, &store.Write{Type: "Patient", ID: fmt.Sprint("p", j), Resource: res, CreateOnly: true, Index: idx}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// cpuMeter measures the CPU time a benchmark costs this process and the
// PostgreSQL sessions serving its database (read from /proc, so only for a
// server on this machine): on a machine others share, CPU per operation is
// a steadier figure than throughput.
type cpuMeter struct {
	db   *DB
	pg   map[int]time.Duration
	self time.Duration
	ok   bool
}

func startCPU(b *testing.B, db *DB) *cpuMeter {
	m := &cpuMeter{db: db}
	m.pg, m.ok = backendCPU(b, db)
	m.self = selfCPU()
	return m
}

// report adds the metrics go-µs/op and pg-µs/op.
func (m *cpuMeter) report(b *testing.B) {
	self := selfCPU() - m.self
	b.ReportMetric(float64(self.Microseconds())/float64(b.N), "go-µs/op")
	end, ok := backendCPU(b, m.db)
	if !ok || !m.ok {
		return
	}
	var pg time.Duration
	for pid, t := range end {
		pg += t - m.pg[pid]
	}
	b.ReportMetric(float64(pg.Microseconds())/float64(b.N), "pg-µs/op")
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// backendCPU returns the CPU time of each session on db's database.
func backendCPU(b *testing.B, db *DB) (map[int]time.Duration, bool) {
	rows, err := db.pool.Query(context.Background(), `SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	out := map[int]time.Duration{}
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			b.Fatal(err)
		}
		raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return nil, false // not on this machine
		}
		// Fields after the parenthesised command: utime and stime are the
		// 12th and 13th, in clock ticks (USER_HZ, 100 on Linux).
		f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		out[pid] = time.Duration(ut+st) * 10 * time.Millisecond
	}
	return out, rows.Err() == nil
}

// go test ./internal/store/postgres -run '^$' -bench . -count 10 -cpu 2 | tee new.txt; benchstat old.txt new.txt
//
// Each benchmark runs 16 goroutines per CPU: a write spends most of its
// time waiting for the commit's WAL flush, and PostgreSQL flushes the
// commits of concurrent transactions together.
func BenchmarkCreate(b *testing.B) {
	db := openURL(b, storetest.PostgresURL(b), Options{})
	ctx := context.Background()
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(16)
	cpu := startCPU(b, db)
	b.RunParallel(func(pb *testing.PB) {
		res, idx := benchResource(b)
		for pb.Next() {
			id := fmt.Sprint("c", n.Add(1))
			err := db.Tx(ctx, func(tx store.Tx) error {
				_, err := tx.Put(ctx, &store.Write{Type: "Patient", ID: id, Resource: res, CreateOnly: true, Index: idx})
				return err
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	cpu.report(b)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
}

func BenchmarkUpdate(b *testing.B) {
	db := openURL(b, storetest.PostgresURL(b), Options{})
	const resources = 10_000
	preload(b, db, resources)
	ctx := context.Background()
	var n atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.SetParallelism(16)
	cpu := startCPU(b, db)
	b.RunParallel(func(pb *testing.PB) {
		res, idx := benchResource(b)
		for pb.Next() {
			id := fmt.Sprint("p", n.Add(7919)%resources) // a prime stride spreads the rows locked at once
			err := db.Tx(ctx, func(tx store.Tx) error {
				_, err := tx.Put(ctx, &store.Write{Type: "Patient", ID: id, Resource: res, Index: idx})
				return err
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	cpu.report(b)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
}

func BenchmarkReadByID(b *testing.B) {
	db := openURL(b, storetest.PostgresURL(b), Options{})
	const resources = 10_000
	preload(b, db, resources)
	ctx := context.Background()
	var n atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.SetParallelism(16)
	cpu := startCPU(b, db)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := fmt.Sprint("p", n.Add(1)%resources)
			if _, err := db.Read(ctx, "Patient", id); err != nil {
				b.Error(err)
				return
			}
		}
	})
	cpu.report(b)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
}
