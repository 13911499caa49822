package server

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"sharedcare/internal/traffic"
)

// metrics counts what operators watch, exposed at /metrics in the
// Prometheus text format. It is updated with atomics only.
type metrics struct {
	started  time.Time
	inFlight atomic.Int64
	// interactive counts the requests in flight that paced bulk jobs stand
	// aside for (bulk.Traffic): all but health checks, metrics and bulk
	// jobs' own requests. A slow client fetching a large export file
	// would otherwise hold jobs back for as long, and a client polling
	// its job's status every two seconds would keep it paced on a server
	// that serves nobody else.
	// The counters are shared with bulk workers in processes of their own
	// (traffic.Meter.Share).
	interactive traffic.Meter
	byClass     [6]atomic.Uint64 // responses by status class: 1xx .. 5xx (index 1..5)
	shed        atomic.Uint64    // requests refused by the limiter
	durNanos    atomic.Uint64    // total time serving requests
	// latency counts requests by the time taken to serve them, per bucket
	// of latencyBounds (the last: longer), health checks and metrics left
	// out; rendered as a cumulative histogram.
	latency    [len(latencyBounds) + 1]atomic.Uint64
	latencySum atomic.Uint64 // nanoseconds, of the requests counted in latency
}

// latencyBounds are the upper bounds of the latency histogram's buckets:
// fine around the millisecond that a read by id takes, so that a change
// of a tenth in its p99 shows.
var latencyBounds = [...]time.Duration{
	250 * time.Microsecond, 500 * time.Microsecond, 750 * time.Microsecond,
	time.Millisecond, 1250 * time.Microsecond, 1500 * time.Microsecond, 1750 * time.Microsecond,
	2 * time.Millisecond, 2500 * time.Microsecond, 3 * time.Millisecond, 4 * time.Millisecond,
	5 * time.Millisecond, 7500 * time.Microsecond, 10 * time.Millisecond, 25 * time.Millisecond,
	50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second,
}

// observe counts a request that took d.
func (m *metrics) observe(d time.Duration) {
	i := 0
	for i < len(latencyBounds) && d > latencyBounds[i] {
		i++
	}
	m.latency[i].Add(1)
	m.latencySum.Add(uint64(d))
}

// Busy reports whether an interactive request is being served.
func (m *metrics) Busy() bool { return m.interactive.Busy() }

// Quiet reports whether no interactive request has been served for d.
func (m *metrics) Quiet(d time.Duration) bool {
	return m.interactive.Quiet(d)
}

// File is the file that maps the count of interactive requests, for bulk
// workers to inherit; nil when it is not shared.
func (m *metrics) File() *os.File { return m.interactive.File() }

// committer is a store whose writer commits callers' transactions in
// groups.
type committer interface {
	Commits() (commits, jobs int64)
}

// sizer is a store that can tell how much disk its database takes.
type sizer interface {
	Size(ctx context.Context) (int64, error)
}

// count wraps next to count requests and their outcomes.
func (m *metrics) count(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var operator, interactive bool // health checks and metrics; what bulk jobs yield to
		switch r.URL.Path {
		case "/healthz", "/readyz", "/metrics":
			operator = true
		case "/fhir/$bulk-file", "/fhir/$bulk-status":
		default:
			interactive = true
		}
		m.inFlight.Add(1)
		if interactive {
			m.interactive.Begin()
		}
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			m.inFlight.Add(-1)
			end := time.Now()
			if interactive {
				m.interactive.End(end)
			}
			d := end.Sub(start)
			m.durNanos.Add(uint64(d))
			if !operator {
				m.observe(d)
			}
			if c := sw.status / 100; c >= 1 && c <= 5 {
				m.byClass[c].Add(1)
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// residentBytes reads the process's resident set size from /proc.
func residentBytes() (int64, bool) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb * 1024, err == nil
		}
	}
	return 0, false
}

// serveMetrics writes the metrics. It answers callers on loopback only:
// load and size are for the operator's scraper, not the internet.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err != nil || !net.ParseIP(host).IsLoopback() {
		http.NotFound(w, r)
		return
	}
	m := s.metrics
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	var b strings.Builder
	gauge := func(name, help string, v float64) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n%s %g\n", name, help, name, name, v)
	}
	if rss, ok := residentBytes(); ok {
		gauge("process_resident_memory_bytes", "Resident memory of the server process.", float64(rss))
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	gauge("go_memstats_heap_inuse_bytes", "Bytes in in-use heap spans.", float64(ms.HeapInuse))
	gauge("go_goroutines", "Goroutines that exist.", float64(runtime.NumGoroutine()))
	gauge("sharedcare_http_in_flight_requests", "Requests being served.", float64(m.inFlight.Load()))
	gauge("sharedcare_uptime_seconds", "Seconds since the server started.", time.Since(m.started).Seconds())
	if sz, ok := s.store.(sizer); ok {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		if n, err := sz.Size(ctx); err == nil {
			gauge("sharedcare_database_bytes", "Bytes the database takes on disk.", float64(n))
		}
		cancel()
	}
	if c, ok := s.store.(committer); ok {
		commits, jobs := c.Commits()
		fmt.Fprintf(&b, "# HELP sharedcare_store_commits_total Transactions the database writer has ended.\n# TYPE sharedcare_store_commits_total counter\nsharedcare_store_commits_total %d\n", commits)
		fmt.Fprintf(&b, "# HELP sharedcare_store_committed_writes_total Writes in those transactions: each commit shares its cost among them.\n# TYPE sharedcare_store_committed_writes_total counter\nsharedcare_store_committed_writes_total %d\n", jobs)
	}
	fmt.Fprintf(&b, "# HELP sharedcare_http_responses_total Responses by status class.\n# TYPE sharedcare_http_responses_total counter\n")
	for c := 1; c <= 5; c++ {
		fmt.Fprintf(&b, "sharedcare_http_responses_total{class=\"%dxx\"} %d\n", c, m.byClass[c].Load())
	}
	fmt.Fprintf(&b, "# HELP sharedcare_http_shed_total Requests refused with 503 because the server was at capacity.\n# TYPE sharedcare_http_shed_total counter\nsharedcare_http_shed_total %d\n", m.shed.Load())
	fmt.Fprintf(&b, "# HELP sharedcare_http_request_seconds_total Time spent serving requests.\n# TYPE sharedcare_http_request_seconds_total counter\nsharedcare_http_request_seconds_total %g\n", float64(m.durNanos.Load())/1e9)
	fmt.Fprintf(&b, "# HELP sharedcare_http_request_duration_seconds Time to serve a request, from its headers read to its response written (health checks and metrics left out).\n# TYPE sharedcare_http_request_duration_seconds histogram\n")
	var n uint64
	for i, le := range latencyBounds {
		n += m.latency[i].Load()
		fmt.Fprintf(&b, "sharedcare_http_request_duration_seconds_bucket{le=\"%g\"} %d\n", le.Seconds(), n)
	}
	n += m.latency[len(latencyBounds)].Load()
	fmt.Fprintf(&b, "sharedcare_http_request_duration_seconds_bucket{le=\"+Inf\"} %d\n", n)
	fmt.Fprintf(&b, "sharedcare_http_request_duration_seconds_sum %g\nsharedcare_http_request_duration_seconds_count %d\n", float64(m.latencySum.Load())/1e9, n)
	w.Write([]byte(b.String()))
}
