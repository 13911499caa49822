package load

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// TestClientClasses checks how answers are counted: shed load is a 503 or
// 429 with Retry-After and is never retried; anything else that is not 2xx
// or 304 is an error.
func TestClientClasses(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex        // guards hits
	hits := map[string]int{} // requests by path
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.Path]++
		mu.Unlock()
		switch r.URL.Path {
		case "/fhir/ok":
		case "/fhir/not-modified":
			w.WriteHeader(http.StatusNotModified)
		case "/fhir/shed":
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/fhir/throttled":
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusTooManyRequests)
		case "/fhir/unavailable":
			w.WriteHeader(http.StatusServiceUnavailable) // no Retry-After: an error, not shed load
		case "/fhir/missing":
			w.WriteHeader(http.StatusNotFound)
		case "/fhir/hang":
			<-r.Context().Done()
		}
	}))
	defer hs.Close()
	now := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	rec := newRecorder(now, func() time.Time { return now })
	c := &client{base: hs.URL + "/fhir", hc: hs.Client(), rec: rec, timeout: time.Minute, respect: true, stop: func(error) {}}
	c.budget.Store(100)
	tests := []struct {
		path       string
		want       class
		wantStatus int
		backoff    time.Duration
	}{
		{"ok", classOK, 200, 0},
		{"not-modified", classOK, 304, 0},
		{"shed", classShed, 503, 7 * time.Second},
		{"throttled", classShed, 429, 2 * time.Second},
		{"unavailable", classFailed, 503, 0},
		{"missing", classFailed, 404, 0},
		{"hang", classTransport, 0, 0}, // the request times out: never answered, so whatever the machine's speed
	}
	for _, tt := range tests {
		u := &user{}
		c := c
		if tt.path == "hang" {
			c = &client{base: c.base, hc: c.hc, rec: rec, timeout: 50 * time.Millisecond, stop: c.stop}
			c.budget.Store(1)
		}
		r := c.get(context.Background(), u, tt.path, tt.path)
		if r.class != tt.want || r.status != tt.wantStatus {
			t.Errorf("GET %s = class %d status %d, want class %d status %d", tt.path, r.class, r.status, tt.want, tt.wantStatus)
		}
		if got := u.waitUntil().Sub(now); tt.backoff > 0 && got != tt.backoff || tt.backoff == 0 && !u.waitUntil().IsZero() {
			t.Errorf("GET %s: user waits %v, want %v", tt.path, got, tt.backoff)
		}
	}
	hs.Close()
	mu.Lock()
	defer mu.Unlock()
	for path, n := range hits {
		if n != 1 {
			t.Errorf("%s was requested %d times, want once: the client never retries", path, n)
		}
	}
	_, events, transport, _ := rec.snapshot()
	if len(events) != len(tests) || transport["timeout"] != 1 {
		t.Errorf("recorded %d events, transport errors %v; want %d events and one timeout", len(events), transport, len(tests))
	}
}

func TestClientBudget(t *testing.T) {
	t.Parallel()
	hs := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer hs.Close()
	rec := newRecorder(time.Now(), time.Now)
	var stopped error
	c := &client{base: hs.URL, hc: hs.Client(), rec: rec, timeout: time.Minute, stop: func(err error) { stopped = err }}
	c.budget.Store(2)
	var got []class
	for range 3 {
		got = append(got, c.get(context.Background(), &user{}, "x", "x").class)
	}
	if got[0] != classOK || got[1] != classOK || got[2] != classCancelled || stopped != errMaxRequests {
		t.Errorf("three GETs with a budget of two = %v, stop(%v); want ok, ok, cancelled and stop(%v)", got, stopped, errMaxRequests)
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"1", time.Second},
		{"120", maxRetryAfter},
		{"-5", 0},
		{now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{"soon", time.Second},
	}
	for _, tt := range tests {
		if got := retryAfter(tt.in, now); got != tt.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
