package load

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// monitor samples the server's resident memory and database size every
// second: from its /metrics endpoint when it answers, else the memory from
// /proc/<pid>/status when the server's pid is known (it runs on this
// machine), else nothing. With the pid it also reads the anonymous part of
// the resident memory: file pages mapped from the database (SQLite's mmap)
// count in RSS once per mapping, yet are the kernel's page cache, which it
// reclaims when memory is short; anonymous memory is what the process
// really holds.
type monitor struct {
	hc         *http.Client
	metricsURL string
	pid        int
	began      time.Time
	now        func() time.Time

	mu      sync.Mutex // guards samples and missed
	samples []serverSample
	missed  int // samples with neither source answering
}

// serverSample is one reading; -1 is unknown.
type serverSample struct {
	at     time.Duration
	rss    int64
	anon   int64 // RssAnon, from /proc only
	db     int64
	source string // metrics | proc
}

// metricsURL is /metrics at the origin of the FHIR base.
func metricsURL(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return ""
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: "/metrics"}).String()
}

// run samples until ctx ends, once at once and then every second.
func (m *monitor) run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		m.sample(ctx)
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

// sample takes one reading.
func (m *monitor) sample(ctx context.Context) {
	s := serverSample{rss: -1, anon: -1, db: -1}
	if rss, db, err := m.scrape(ctx); err == nil {
		s.rss, s.db, s.source = rss, db, "metrics"
	}
	if m.pid > 0 {
		if rss, anon, err := procMemory(m.pid); err == nil {
			s.anon = anon
			if s.rss < 0 {
				s.rss, s.source = rss, "proc"
			}
		}
	}
	s.at = m.now().Sub(m.began)
	m.mu.Lock()
	defer m.mu.Unlock()
	if s.source == "" {
		m.missed++
		return
	}
	m.samples = append(m.samples, s)
}

func (m *monitor) results() ([]serverSample, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]serverSample(nil), m.samples...), m.missed
}

// scrape reads process_resident_memory_bytes and sharedcare_database_bytes
// (-1 when absent) from /metrics.
func (m *monitor) scrape(ctx context.Context) (rss, db int64, err error) {
	if m.metricsURL == "" {
		return -1, -1, fmt.Errorf("no metrics URL")
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.metricsURL, nil)
	if err != nil {
		return -1, -1, err
	}
	resp, err := m.hc.Do(req)
	if err != nil {
		return -1, -1, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, resp.Body)
		return -1, -1, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	return parseMetrics(resp.Body)
}

// parseMetrics reads the two gauges from the Prometheus text format.
func parseMetrics(r io.Reader) (rss, db int64, err error) {
	rss, db = -1, -1
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			continue
		}
		switch name {
		case "process_resident_memory_bytes":
			rss = int64(v)
		case "sharedcare_database_bytes":
			db = int64(v)
		}
	}
	if err := sc.Err(); err != nil {
		return -1, -1, err
	}
	if rss < 0 {
		return -1, -1, fmt.Errorf("/metrics has no process_resident_memory_bytes")
	}
	return rss, db, nil
}

// procMemory reads VmRSS and RssAnon of a process on this machine.
func procMemory(pid int) (rss, anon int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	rss, anon = -1, -1
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, value, _ := strings.Cut(sc.Text(), ":")
		kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(value), "kB")), 10, 64)
		switch {
		case err != nil:
		case name == "VmRSS":
			rss = kb * 1024
		case name == "RssAnon":
			anon = kb * 1024
		}
	}
	if rss < 0 || anon < 0 {
		return 0, 0, fmt.Errorf("/proc/%d/status has no VmRSS or RssAnon", pid)
	}
	return rss, anon, sc.Err()
}
