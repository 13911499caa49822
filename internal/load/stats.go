package load

import (
	"slices"
	"sync"
	"time"
)

// class is what became of a request or a step.
type class uint8

const (
	classOK        class = iota // 2xx or 304
	classFailed                 // any other HTTP status
	classShed                   // 503 or 429 with Retry-After: the server refused load, as designed
	classTransport              // no HTTP answer: timeout, refused, reset ...
	classCancelled              // the run ended (duration or request cap) while it was in flight
)

// kind tells requests from steps, which are what a user waits for: a
// sign-in or a patient summary, made of several requests.
type kind uint8

const (
	kindRequest kind = iota
	kindStep
)

// event is one finished request or step.
type event struct {
	at     time.Duration // when it finished, since the run began
	dur    time.Duration
	op     uint16
	class  class
	status uint16 // the HTTP status; 0 for a step or without an answer
}

// recorder keeps every event of a run, so that percentiles are exact: the
// run's request cap bounds how many there are (24 bytes each). It is safe
// for concurrent use.
type recorder struct {
	began time.Time
	now   func() time.Time

	mu        sync.Mutex // guards the fields below
	ops       []opName
	opIndex   map[string]uint16
	events    []event
	transport map[string]int // transport errors by kind
	counts    counts         // requests so far, for progress
}

// counts are running totals of requests.
type counts struct {
	requests, errors, shed int
	resources              int // written by successful transaction Bundles
}

type opName struct {
	name string
	kind kind
}

func newRecorder(began time.Time, now func() time.Time) *recorder {
	return &recorder{began: began, now: now, opIndex: map[string]uint16{}, transport: map[string]int{}}
}

// register names an op before any event of it, so that reports list ops
// in the order registered rather than the order they first finished.
func (r *recorder) register(op string, k kind) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.index(op, k)
}

// index returns op's index, adding it if new; r.mu is held.
func (r *recorder) index(op string, k kind) uint16 {
	i, ok := r.opIndex[op]
	if !ok {
		i = uint16(len(r.ops))
		r.ops = append(r.ops, opName{op, k})
		r.opIndex[op] = i
	}
	return i
}

// record notes an event that started at start and ends now. transport names
// the kind of transport error for classTransport.
func (r *recorder) record(op string, k kind, start time.Time, c class, status int, transport string) {
	end := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	i := r.index(op, k)
	r.events = append(r.events, event{at: end.Sub(r.began), dur: end.Sub(start), op: i, class: c, status: uint16(status)})
	if c == classTransport {
		r.transport[transport]++
	}
	if k == kindRequest && c != classCancelled {
		r.counts.requests++
		switch c {
		case classFailed, classTransport:
			r.counts.errors++
		case classShed:
			r.counts.shed++
		}
	}
}

func (r *recorder) addResources(n int) {
	r.mu.Lock()
	r.counts.resources += n
	r.mu.Unlock()
}

func (r *recorder) progress() counts {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts
}

// snapshot returns copies of what was recorded.
func (r *recorder) snapshot() (ops []opName, events []event, transport map[string]int, resources int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	transport = make(map[string]int, len(r.transport))
	for k, v := range r.transport {
		transport[k] = v
	}
	return slices.Clone(r.ops), slices.Clone(r.events), transport, r.counts.resources
}

// Latency is a latency distribution in milliseconds. Percentiles are by
// nearest rank over every sample: the p-th percentile is the smallest
// sample with at least p% of the samples at or below it, so p99 is a time
// that 99% of requests beat or matched, and never interpolated.
type Latency struct {
	P50 float64 `json:"p50_ms"`
	P95 float64 `json:"p95_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

// latencyOf sorts ds in place and summarises it.
func latencyOf(ds []time.Duration) Latency {
	slices.Sort(ds)
	return Latency{
		P50: ms(percentile(ds, 50)),
		P95: ms(percentile(ds, 95)),
		P99: ms(percentile(ds, 99)),
		Max: ms(percentile(ds, 100)),
	}
}

// percentile returns the nearest-rank p-th percentile (0 < p ≤ 100) of
// sorted, or 0 when it is empty. The rank is computed in integers, so that
// p99 of 100 samples is the 99th and not, by a rounding error, the 100th.
func percentile(sorted []time.Duration, p float64) time.Duration {
	n := int64(len(sorted))
	if n == 0 {
		return 0
	}
	perHundredThousand := int64(p*1000 + 0.5)
	rank := (perHundredThousand*n + 100_000 - 1) / 100_000 // ceil(p/100 * n)
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

// ms is d in milliseconds, to the microsecond.
func ms(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}
