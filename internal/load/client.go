package load

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// errMaxRequests and errDuration are why a run stopped early.
var (
	errMaxRequests = errors.New("request cap reached")
	errDuration    = errors.New("duration cap reached")
)

// maxRetryAfter bounds how long a virtual user waits when told to: a
// server asking for an hour is not going to get a Monday morning.
const maxRetryAfter = time.Minute

// client sends the requests of a run and records each. It never retries.
// It is safe for concurrent use.
type client struct {
	base    string // FHIR base, no trailing slash
	hc      *http.Client
	rec     *recorder
	timeout time.Duration
	respect bool // honour Retry-After on shed responses
	budget  atomic.Int64
	stop    context.CancelCauseFunc // ends the run when the request budget is spent
}

// newTransport returns the one transport of a run: keep-alive connections
// to one host, enough of them kept idle that a full house of virtual users
// reuses connections rather than churning through ephemeral ports.
// Responses are gzipped: the transport asks with Accept-Encoding: gzip and
// decompresses, as a browser would.
func newTransport(idle int) *http.Transport {
	return &http.Transport{
		Proxy:                 nil, // only ever the server we are given, never a proxy from the environment
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          idle,
		MaxIdleConnsPerHost:   idle,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 0, // the per-request context bounds the whole exchange
		ForceAttemptHTTP2:     false,
	}
}

// user is one virtual user: a clinician, or a worker of a closed-loop
// scenario. Only its own goroutine and the requests it issues touch it.
type user struct {
	mu      sync.Mutex // guards backoff: a summary's requests run at once
	backoff time.Time  // do not send before this (Retry-After)
	// token is the bearer token the user's requests carry, and expires when
	// it stops working; set between steps only (Credentials), never while
	// the user has requests in flight.
	token   string
	expires time.Time
}

// deferFor notes a Retry-After of d, from now.
func (u *user) deferFor(now time.Time, d time.Duration) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if t := now.Add(d); t.After(u.backoff) {
		u.backoff = t
	}
}

func (u *user) waitUntil() time.Time {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.backoff
}

// result is what a request came to.
type result struct {
	class  class
	status int
}

func (r result) ok() bool { return r.class == classOK }

// get sends GET base/path as op.
func (c *client) get(ctx context.Context, u *user, op, path string) result {
	return c.do(ctx, u, op, http.MethodGet, path, nil)
}

// do sends one FHIR request, base/path, and records it. A request that
// would exceed the run's request cap is not sent: it stops the run
// instead.
func (c *client) do(ctx context.Context, u *user, op, method, path string, body []byte) result {
	target := c.base
	if path != "" {
		target += "/" + path
	}
	ct := ""
	if body != nil {
		ct = "application/fhir+json"
	}
	return c.send(ctx, u, op, method, target, ct, body, nil)
}

// send sends one request to target and records it; read, if not nil,
// reads a successful answer's body, else the body is discarded.
func (c *client) send(ctx context.Context, u *user, op, method, target, contentType string, body []byte, read func(io.Reader) error) result {
	if ctx.Err() != nil {
		return result{class: classCancelled}
	}
	if c.budget.Add(-1) < 0 {
		c.stop(errMaxRequests)
		return result{class: classCancelled}
	}
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(rctx, method, target, rd)
	if err != nil {
		// Paths are built here from generated values; one that is not a URL is
		// a bug of this package, reported as such rather than sent.
		c.rec.record(op, kindRequest, c.rec.now(), classTransport, 0, "bad URL")
		return result{class: classTransport}
	}
	req.Header.Set("Accept", "application/fhir+json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if u != nil && u.token != "" {
		req.Header.Set("Authorization", "Bearer "+u.token)
	}
	start := c.rec.now()
	resp, err := c.hc.Do(req)
	if err == nil {
		// Read the whole body, as an app would, so the time includes it and
		// the connection goes back to the pool.
		if read != nil && resp.StatusCode < 300 {
			err = read(resp.Body)
		}
		if _, cerr := io.Copy(io.Discard, resp.Body); err == nil {
			err = cerr
		}
		resp.Body.Close()
	}
	if err != nil {
		if ctx.Err() != nil {
			c.rec.record(op, kindRequest, start, classCancelled, 0, "")
			return result{class: classCancelled}
		}
		c.rec.record(op, kindRequest, start, classTransport, 0, transportKind(err))
		return result{class: classTransport}
	}
	r := result{status: resp.StatusCode}
	switch ra := resp.Header.Get("Retry-After"); {
	case resp.StatusCode < 300 || resp.StatusCode == http.StatusNotModified:
		r.class = classOK
	case (resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusTooManyRequests) && ra != "":
		r.class = classShed
		if c.respect && u != nil {
			u.deferFor(c.rec.now(), retryAfter(ra, c.rec.now()))
		}
	default:
		r.class = classFailed
	}
	c.rec.record(op, kindRequest, start, r.class, r.status, "")
	return r
}

// retryAfter parses a Retry-After value, seconds or an HTTP date
// (RFC 9110 §10.2.3), bounded by maxRetryAfter; unparsable means a second.
func retryAfter(v string, now time.Time) time.Duration {
	if s, err := strconv.Atoi(v); err == nil {
		return min(time.Duration(max(s, 0))*time.Second, maxRetryAfter)
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), maxRetryAfter)
	}
	return time.Second
}

// transportKind names a transport error for the report.
func transportKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "no local port"
	case errors.Is(err, syscall.EMFILE):
		return "too many open files"
	}
	return "other"
}

// pause waits until d has passed and the user's Retry-After, if any, has
// expired; false when ctx ends first.
func pause(ctx context.Context, u *user, now time.Time, d time.Duration) bool {
	until := now.Add(d)
	if b := u.waitUntil(); b.After(until) {
		until = b
	}
	wait := until.Sub(now)
	if wait <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// CheckTarget refuses a FHIR base URL that is not http(s) on this machine,
// unless allowRemote: the tool loads only the server it is given, and by
// default only one on loopback.
func CheckTarget(base string, allowRemote bool) error {
	u, err := url.Parse(base)
	if err != nil {
		return fmt.Errorf("target %q: %v", base, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("target %q: want http://host:port/fhir", base)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("target %q: want a FHIR base URL without query, fragment or user", base)
	}
	if allowRemote {
		return nil
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("target %q is not on loopback; loading a remote server must be asked for (allow remote)", base)
}
