package load

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"sharedcare/internal/synth"
)

// Scenarios.
const (
	Ingest  = "ingest"  // load the synthetic population as transaction Bundles
	Read    = "read"    // read Patients and Observations by id
	Summary = "summary" // open patient summaries back to back
	Search  = "search"  // the search mix
	Monday  = "monday"  // a full house of clinicians signs in and opens patients
)

// Scenarios lists the scenarios in the order a session runs them.
var Scenarios = []string{Ingest, Read, Search, Summary, Monday}

// Options configure a run. Zero values are working defaults where a
// default makes sense; the command sets its own.
type Options struct {
	// URL is the FHIR base of the server, e.g. http://localhost:8080/fhir.
	URL string
	// AllowRemote allows a URL that is not on loopback.
	AllowRemote bool
	// Scenario is one of Scenarios.
	Scenario string

	// Population is the synthetic population: the server must hold patients
	// 0 to Patients-1 of it (Ingest loads them).
	Population synth.Options
	Patients   int
	// Start is where Ingest begins, to resume a load; the shared Bundle is
	// always sent first.
	Start int
	// Sample is how many patients, spread over the population, the
	// scenarios other than Ingest pick from; 0 means 5,000.
	Sample int

	// Concurrency is how many Bundles Ingest sends at once, or how many
	// virtual users Read, Search and Summary run; 0 means 8.
	Concurrency int
	// Clinicians sign in at random moments within Ramp (0: all at once)
	// and each opens Summaries patient summaries (Monday).
	Clinicians int
	Ramp       time.Duration
	Summaries  int
	// Think is the wait before each step of a virtual user: each summary of
	// Monday, each request of Read, Search and Summary.
	Think Think

	// Duration caps the run; Read, Search and Summary run until it.
	// 0 means 30s for those and an hour for Ingest and Monday.
	Duration time.Duration
	// MaxRequests caps the requests sent; 0 means 2,000,000.
	MaxRequests int
	// Timeout bounds each request; 0 means 10s.
	Timeout time.Duration
	// RespectRetryAfter makes a virtual user that was shed wait as the
	// Retry-After header says before its next step.
	RespectRetryAfter bool

	// Credentials, if set, sign each virtual user in with OAuth2 client
	// credentials for a bearer token; nil sends no token, for a server
	// without authentication.
	Credentials *Credentials

	// ServerPID, if the server runs on this machine, is read for memory
	// when /metrics does not answer.
	ServerPID int
	// Log receives progress every 10s; nil discards it.
	Log *slog.Logger
}

// run is the state of one run.
type run struct {
	opts  Options
	gen   *synth.Generator
	pop   *population
	c     *client
	rec   *recorder
	began time.Time
}

// Run runs the scenario and reports on it. It returns an error only when
// the run could not be made: a bad option, a server that does not answer
// or does not hold the population. Errors during the run are in the Report.
func Run(ctx context.Context, opts Options) (*Report, error) {
	if err := opts.fill(); err != nil {
		return nil, err
	}
	if err := CheckTarget(opts.URL, opts.AllowRemote); err != nil {
		return nil, err
	}
	if cr := opts.Credentials; cr != nil {
		if err := cr.check(); err != nil {
			return nil, err
		}
		if err := CheckTarget(cr.TokenURL, opts.AllowRemote); err != nil {
			return nil, fmt.Errorf("token URL: %w", err)
		}
	}
	g, err := synth.New(opts.Population)
	if err != nil {
		return nil, err
	}
	opts.Population = g.Options()
	tr := newTransport(1024)
	defer tr.CloseIdleConnections()
	hc := &http.Client{
		Transport: tr,
		// A redirect would take the load elsewhere than the server given.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	rn := &run{opts: opts, gen: g}
	if opts.Scenario != Ingest {
		t := time.Now()
		if rn.pop, err = samplePopulation(ctx, g, opts.Patients, opts.Sample); err != nil {
			return nil, err
		}
		opts.Log.Info("population sampled", "patients", len(rn.pop.patients), "clinicians", len(rn.pop.clinicians), "dur_ms", time.Since(t).Milliseconds())
		if err := rn.preflight(ctx, hc); err != nil {
			return nil, err
		}
	}

	rn.began = time.Now()
	rn.rec = newRecorder(rn.began, time.Now)
	runCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	runCtx, cancel := context.WithTimeoutCause(runCtx, opts.Duration, errDuration)
	defer cancel()
	rn.c = &client{base: strings.TrimSuffix(opts.URL, "/"), hc: hc, rec: rn.rec, timeout: opts.Timeout, respect: opts.RespectRetryAfter, stop: stop}
	rn.c.budget.Store(int64(opts.MaxRequests))
	rn.registerOps()

	mon := &monitor{hc: &http.Client{Transport: tr}, metricsURL: metricsURL(opts.URL), pid: opts.ServerPID, began: rn.began, now: time.Now}
	var wg sync.WaitGroup
	monCtx, stopMon := context.WithCancel(ctx)
	wg.Go(func() { mon.run(monCtx) })
	wg.Go(func() { rn.progress(monCtx) })

	switch opts.Scenario {
	case Ingest:
		err = rn.ingest(runCtx)
	case Read:
		rn.closedLoop(runCtx, func(ctx context.Context, u *user, rng *rand.Rand, _ int) bool {
			rs := readRequests(rn.pick(rng))
			rq := rs[0] // half Patients, half Observations when the patient has any
			if len(rs) > 1 && rng.IntN(2) == 1 {
				rq = rs[1+rng.IntN(len(rs)-1)]
			}
			return rn.c.get(ctx, u, rq.op, rq.path).class != classCancelled
		})
	case Search:
		rn.closedLoop(runCtx, func(ctx context.Context, u *user, rng *rand.Rand, i int) bool {
			rs := searchRequests(rn.pick(rng))
			rq := rs[i%len(rs)]
			return rn.c.get(ctx, u, rq.op, rq.path).class != classCancelled
		})
	case Summary:
		rn.closedLoop(runCtx, func(ctx context.Context, u *user, rng *rand.Rand, _ int) bool {
			return rn.openSummary(ctx, u, rn.pick(rng))
		})
	case Monday:
		rn.monday(runCtx)
	}
	elapsed := time.Since(rn.began)
	stopped := ""
	switch cause := context.Cause(runCtx); {
	case errors.Is(cause, errDuration):
		stopped = "duration"
	case errors.Is(cause, errMaxRequests):
		stopped = "max-requests"
	case ctx.Err() != nil:
		stopped = "interrupted"
	}
	mon.sample(context.WithoutCancel(monCtx)) // the state at the end
	stopMon()
	wg.Wait()
	if err != nil && stopped == "" {
		return nil, err
	}
	ops, events, transport, resources := rn.rec.snapshot()
	samples, missed := mon.results()
	rep := buildReport(reportInput{
		opts: opts, started: rn.began, elapsed: elapsed, stoppedBy: stopped,
		ops: ops, events: events, transport: transport, resources: resources,
		samples: samples, missedSamples: missed,
	})
	if rn.pop != nil {
		rep.Config.Sample = len(rn.pop.patients)
	}
	rep.Machine = thisMachine()
	rep.Machine.Shared = CheckTarget(opts.URL, false) == nil // on loopback
	return rep, nil
}

// registerOps lists the scenario's requests and steps in the order a
// reader expects them: as defined, not as they happened to finish.
func (rn *run) registerOps() {
	var reqs []request
	var steps []string
	if rn.opts.Credentials != nil {
		reqs = append(reqs, request{op: opToken})
	}
	switch rn.opts.Scenario {
	case Ingest:
		reqs = append(reqs, request{op: opTransaction})
	case Read:
		reqs = append(reqs, readRequests(&patient{observations: []string{""}})...)
	case Search:
		reqs = append(reqs, searchRequests(&patient{})...)
	case Summary:
		reqs, steps = append(reqs, summaryRequests(&patient{})...), []string{opSummary}
	case Monday:
		reqs = append(append(reqs, signInRequests(&clinician{})...), summaryRequests(&patient{})...)
		steps = []string{opSignIn, opSummary}
	}
	for _, r := range reqs {
		rn.rec.register(r.op, kindRequest)
	}
	for _, s := range steps {
		rn.rec.register(s, kindStep)
	}
}

// fill checks opts and fills in defaults.
func (o *Options) fill() error {
	known := false
	for _, s := range Scenarios {
		known = known || o.Scenario == s
	}
	switch {
	case !known:
		return fmt.Errorf("scenario %q: want one of %s", o.Scenario, strings.Join(Scenarios, ", "))
	case o.Patients <= 0:
		return fmt.Errorf("patients %d: the population must have at least one patient", o.Patients)
	case o.Start < 0 || o.Start > o.Patients:
		return fmt.Errorf("start %d: want 0 to the number of patients, %d", o.Start, o.Patients)
	case o.Scenario == Monday && o.Clinicians <= 0:
		return fmt.Errorf("clinicians %d: want at least one", o.Clinicians)
	case o.Scenario == Monday && o.Summaries < 0:
		return fmt.Errorf("summaries %d: want zero or more", o.Summaries)
	case o.Ramp < 0 || o.Duration < 0 || o.Timeout < 0 || o.MaxRequests < 0 || o.Concurrency < 0 || o.Sample < 0:
		return errors.New("ramp, duration, timeout, max requests, concurrency and sample must not be negative")
	}
	if o.Sample == 0 {
		o.Sample = 5000
	}
	if o.Concurrency == 0 {
		o.Concurrency = 8
	}
	if o.Duration == 0 {
		o.Duration = 30 * time.Second
		if o.Scenario == Ingest || o.Scenario == Monday {
			o.Duration = time.Hour
		}
	}
	if o.MaxRequests == 0 {
		o.MaxRequests = 2_000_000
	}
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return nil
}

// preflight checks that the server answers and holds the population: the
// first and last sampled patients and a clinician. Its requests are not
// part of the run.
func (rn *run) preflight(ctx context.Context, hc *http.Client) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	bearer := ""
	if cr := rn.opts.Credentials; cr != nil {
		form, err := cr.form(time.Now())
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, cr.TokenURL, strings.NewReader(form.Encode()))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		var tok tokenResponse
		status, err := exchange(hc, req, &tok)
		if err != nil {
			return fmt.Errorf("token request to %s: %w", cr.TokenURL, err)
		}
		if status != http.StatusOK || tok.AccessToken == "" {
			return fmt.Errorf("token request to %s: HTTP %d: is client %q registered with this key's JWKS (load -print-jwks) and system scopes?", cr.TokenURL, status, cr.ClientID)
		}
		bearer = "Bearer " + tok.AccessToken
	}
	ps := rn.pop.patients
	paths := []string{"Patient/" + ps[0].id, "Patient/" + ps[len(ps)-1].id, "Practitioner/" + rn.pop.clinicians[0].practitionerID}
	base := strings.TrimSuffix(rn.opts.URL, "/")
	for _, p := range paths {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/"+p, nil)
		if err != nil {
			return err
		}
		if bearer != "" {
			req.Header.Set("Authorization", bearer)
		}
		status, err := exchange(hc, req, nil)
		switch {
		case err != nil:
			return fmt.Errorf("the server does not answer: %w", err)
		case status == http.StatusUnauthorized || status == http.StatusForbidden:
			return fmt.Errorf("GET %s/%s: HTTP %d: the server wants a token this run does not have; give client credentials, or start the server without authentication", base, p, status)
		case status != http.StatusOK:
			o := rn.opts.Population
			return fmt.Errorf("GET %s/%s: HTTP %d: the server does not hold the synthetic population of %d patients (seed %d, %d practices, %d years of history); load it first with the ingest scenario and the same population options",
				base, p, status, rn.opts.Patients, o.Seed, o.Practices, o.HistoryYears)
		}
	}
	return nil
}

// exchange sends req and decodes a 200 answer's JSON body into v, if v is
// not nil; it returns the status.
func exchange(hc *http.Client, req *http.Request, v any) (int, error) {
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if v != nil && resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			return resp.StatusCode, err
		}
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}

// pick chooses a patient of the sample.
func (rn *run) pick(rng *rand.Rand) *patient {
	return &rn.pop.patients[rng.IntN(len(rn.pop.patients))]
}

// rng returns virtual user k's random numbers: the same seed and k give
// the same choices.
func (rn *run) rng(k int) *rand.Rand {
	return rand.New(rand.NewPCG(rn.opts.Population.Seed, uint64(k)))
}

// closedLoop runs Concurrency virtual users, each taking step after step,
// with Think before each, until the run ends.
func (rn *run) closedLoop(ctx context.Context, step func(ctx context.Context, u *user, rng *rand.Rand, i int) bool) {
	var wg sync.WaitGroup
	for k := range rn.opts.Concurrency {
		wg.Go(func() {
			u, rng := &user{}, rn.rng(k)
			for i := k; ; i++ { // users start at different places in a mix
				if !pause(ctx, u, time.Now(), rn.opts.Think.next(rng)) {
					return
				}
				if !rn.ensureToken(ctx, u) {
					// Try again in a second, or when Retry-After says.
					if !pause(ctx, u, time.Now(), time.Second) {
						return
					}
					continue
				}
				if !step(ctx, u, rng, i) {
					return
				}
			}
		})
	}
	wg.Wait()
}

// monday runs the clinicians: each signs in at a random moment within the
// ramp, then opens Summaries patients, with Think before each. A clinician
// whose sign-in fails or is shed stops there.
func (rn *run) monday(ctx context.Context) {
	var wg sync.WaitGroup
	for k := range rn.opts.Clinicians {
		wg.Go(func() {
			u, rng := &user{}, rn.rng(k)
			var at time.Duration
			if rn.opts.Ramp > 0 {
				at = time.Duration(rng.Int64N(int64(rn.opts.Ramp)))
			}
			if !pause(ctx, u, time.Now(), time.Until(rn.began.Add(at))) {
				return
			}
			// A clinician who cannot sign in goes away: counted, not retried.
			if rn.signIn(ctx, u, &rn.pop.clinicians[k%len(rn.pop.clinicians)]) != classOK {
				return
			}
			for range rn.opts.Summaries {
				if !pause(ctx, u, time.Now(), rn.opts.Think.next(rng)) || !rn.openSummary(ctx, u, rn.pick(rng)) {
					return
				}
			}
		})
	}
	wg.Wait()
}

// opTransaction names the request of Ingest.
const opTransaction = "transaction Bundle"

// ingestAttempts bounds how often Ingest sends a Bundle that was shed:
// the server asked to come back later, and a population with holes would
// fail every later scenario; past this the Bundle is left out.
const ingestAttempts = 5

// ingest loads patients Start to Patients-1, after the shared Bundle, with
// Concurrency Bundles in flight; synth generates them on its own workers
// meanwhile.
func (rn *run) ingest(ctx context.Context) error {
	bundles := make(chan []byte, rn.opts.Concurrency)
	var wg sync.WaitGroup
	for range rn.opts.Concurrency {
		wg.Go(func() {
			u := &user{}
			for b := range bundles {
				rn.postBundle(ctx, u, b)
			}
		})
	}
	err := rn.gen.Bundles(ctx, rn.opts.Start, rn.opts.Patients-rn.opts.Start, func(i int, b []byte) error {
		if i < 0 {
			// Patients refer to the shared resources: they go first, alone.
			if r := rn.postBundle(ctx, &user{}, b); !r.ok() && r.class != classCancelled {
				return fmt.Errorf("the shared Bundle (practices, hospitals, clinicians) was refused: HTTP %d", r.status)
			}
			return ctx.Err()
		}
		select {
		case bundles <- bytes.Clone(b): // b is synth's until fn returns
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	close(bundles)
	wg.Wait()
	return err
}

// postBundle sends one transaction Bundle, again after Retry-After when
// shed, and counts its resources when it is stored.
func (rn *run) postBundle(ctx context.Context, u *user, b []byte) result {
	var r result
	for range ingestAttempts {
		if !rn.ensureToken(ctx, u) {
			return result{class: classFailed}
		}
		r = rn.c.do(ctx, u, opTransaction, http.MethodPost, "", b)
		if r.class != classShed {
			break
		}
		// Wait a second, or as long as Retry-After said when it is respected.
		if !pause(ctx, u, time.Now(), time.Second) {
			break
		}
	}
	if r.ok() {
		// Each entry of a synth transaction has a fullUrl; resources do not.
		rn.rec.addResources(bytes.Count(b, []byte(`"fullUrl":`)))
	}
	return r
}

// progress logs how the run goes every 10 seconds.
func (rn *run) progress(ctx context.Context) {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
		c := rn.rec.progress()
		secs := time.Since(rn.began).Seconds()
		rn.opts.Log.Info("running", "scenario", rn.opts.Scenario, "elapsed_s", int(secs),
			"requests", c.requests, "per_s", int(float64(c.requests)/secs), "errors", c.errors, "shed", c.shed,
			"resources", c.resources, "resources_per_s", int(float64(c.resources)/secs))
	}
}
