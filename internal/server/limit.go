package server

import (
	"net/http"
	"strings"
	"time"

	"sharedcare/internal/api"
	"sharedcare/internal/outcome"
)

// limiter bounds the requests being served at once. Past MaxActive a
// request waits, up to MaxWait, in a queue of at most MaxQueue; past that
// it is shed at once with 503 and Retry-After, so that an overload (a
// Monday morning at 5x) costs the excess requests, not the server: memory
// stays bounded and admitted requests keep a bounded latency.
//
// Signing in has slots of its own, so that a crowd of searches cannot
// keep clinicians from signing in; health checks and metrics are never
// queued, so that operators can see an overloaded server.
//
// Writes to the record have slots of their own too, four times as many:
// most of a create's or update's time is spent waiting for its group
// commit, using no CPU, so with the same eight slots as reads the slots,
// not the machine, bounded writes (2,000 creates/s with a quarter of the
// CPU idle; 3,000/s with 32 slots, docs/PERFORMANCE.md).
type limiter struct {
	active  chan struct{}
	queue   chan struct{}
	maxWait time.Duration
	metrics *metrics
	next    http.Handler
	signIn  *limiter // for /oauth2 and /.well-known
	writes  *limiter // for writes to /fhir
}

func newLimiter(maxActive, maxQueue int, maxWait time.Duration, m *metrics, next http.Handler) http.Handler {
	if maxActive <= 0 {
		return next
	}
	l := &limiter{active: make(chan struct{}, maxActive), queue: make(chan struct{}, maxQueue), maxWait: maxWait, metrics: m, next: next}
	l.signIn = &limiter{active: make(chan struct{}, max(2, maxActive/2)), queue: make(chan struct{}, maxQueue), maxWait: maxWait, metrics: m, next: next}
	l.writes = &limiter{active: make(chan struct{}, 4*maxActive), queue: make(chan struct{}, maxQueue), maxWait: maxWait, metrics: m, next: next}
	return l
}

func (l *limiter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch p := r.URL.Path; {
	case p == "/healthz" || p == "/readyz" || p == "/metrics":
		l.next.ServeHTTP(w, r)
		return
	case l.signIn != nil && (strings.HasPrefix(p, "/oauth2/") || strings.HasPrefix(p, "/.well-known/")):
		l.signIn.ServeHTTP(w, r)
		return
	case l.writes != nil && isWrite(r):
		l.writes.ServeHTTP(w, r)
		return
	}
	select {
	case l.active <- struct{}{}:
	default:
		if !l.wait(r) {
			l.metrics.shed.Add(1)
			shed(w, r)
			return
		}
	}
	defer func() { <-l.active }()
	l.next.ServeHTTP(w, r)
}

// isWrite reports a request that writes to the record: a create, update,
// patch, delete or transaction, not a search or an operation sent by POST.
func isWrite(r *http.Request) bool {
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		return false
	}
	p := r.URL.Path
	return (p == "/fhir" || strings.HasPrefix(p, "/fhir/")) && !strings.HasSuffix(p, "/_search") && !strings.Contains(p, "$")
}

// wait queues for an active slot; false when the queue is full, the wait
// too long, or the client gone.
func (l *limiter) wait(r *http.Request) bool {
	select {
	case l.queue <- struct{}{}:
	default:
		return false
	}
	defer func() { <-l.queue }()
	t := time.NewTimer(l.maxWait)
	defer t.Stop()
	select {
	case l.active <- struct{}{}:
		return true
	case <-t.C:
		return false
	case <-r.Context().Done():
		return false
	}
}

func shed(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Retry-After", "1")
	api.WriteOutcome(w, r, http.StatusServiceUnavailable, []outcome.Issue{{
		Severity: outcome.Err, Code: outcome.CodeThrottled,
		Diagnostics: "the server is at capacity; retry after a second",
	}})
}
