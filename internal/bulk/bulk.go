package bulk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"sharedcare/internal/auth"
	"sharedcare/internal/outcome"
	"sharedcare/internal/record"
)

// Options configure a Service. Zero values are working defaults, but for
// Record and Dir.
type Options struct {
	Record *record.Service
	// Dir holds the export files, a folder per job. Several nodes on one
	// database must share it (a network file system or a shared volume),
	// since a file written by one node's worker is downloaded from any.
	Dir string
	// Expiry is how long a finished job and its files are kept; 0 means
	// 24 hours.
	Expiry time.Duration
	// MaxJobs bounds the jobs this node runs at once; 0 means 1, so that an
	// export uses at most about one core and interactive requests keep the
	// rest.
	MaxJobs int
	// Duty is the share of its time a running job works while interactive
	// requests are being served, pausing between batches for the rest,
	// from 0.05 to 1; 0 means 1 (no pauses). Lower it when exports slow
	// interactive requests more than they should.
	Duty float64
	// Traffic tells a paced job (Duty below 1) about interactive requests:
	// it works unpaced once none has been served for quietAfter, and a job
	// in the server's process stands aside while one is being served, for
	// up to maxYield at a time. nil: the job is paced throughout and never
	// stands aside. Each node knows only its own requests: on nodes
	// sharing PostgreSQL, one that serves none works unpaced against the
	// database the others serve from.
	Traffic Traffic
	// Poll is how often the worker looks for jobs and checks for
	// cancellation; 0 means 1s.
	Poll time.Duration
	// Lease is how long a node's claim on a running job lasts without a
	// checkpoint before another node (or this one, restarted) takes it
	// over; 0 means 30s.
	Lease time.Duration
	// Client fetches $import inputs; nil means a client with timeouts
	// that follows no redirects.
	Client *http.Client
	// AllowFiles lets imports read local files (file:// URLs and plain
	// paths): for the command line, which runs as the operator, never for
	// the server, whose clients must not read its disk.
	AllowFiles bool
	// ImportFrom lists the origins (http(s)://host[:port]; no port: any)
	// on loopback or private networks that a server's $import may fetch
	// from; public addresses need no listing (fetch.go). The command line
	// (AllowFiles) may fetch from anywhere.
	ImportFrom []string
	// Worker, when set, returns the command of a process to run an export
	// in, made with exec.CommandContext(ctx, ...): the same program, whose
	// command calls Work. There the export's reads and garbage, all at the
	// lowest priority, are kept apart from the server's, and its failures
	// too (worker.go). nil: exports run in this process, as imports always
	// do.
	Worker func(ctx context.Context) *exec.Cmd
	Now    func() time.Time
	Log    *slog.Logger
}

// Traffic is what a server knows of the interactive requests it serves,
// for bulk jobs to keep out of their way.
type Traffic interface {
	// Busy reports whether one is being served now.
	Busy() bool
	// Quiet reports whether none has been served for d.
	Quiet(d time.Duration) bool
}

// Service runs bulk jobs. It is safe for concurrent use.
type Service struct {
	rec  *record.Service
	opts Options
	log  *slog.Logger
	node string // this process's name in job leases
	now  func() time.Time
	wake chan struct{} // a kick-off nudges the worker

	allowed origins // private origins $import may fetch from

	inWorker bool // this is a worker process's (Work)

	mu      sync.Mutex                    // guards running
	running map[string]context.CancelFunc // jobs this node runs, by id
}

// New returns a Service. It does no I/O until Run or a kick-off.
func New(opts Options) *Service {
	if opts.Expiry <= 0 {
		opts.Expiry = 24 * time.Hour
	}
	if opts.MaxJobs <= 0 {
		opts.MaxJobs = 1
	}
	if opts.Duty <= 0 || opts.Duty > 1 {
		opts.Duty = 1
	}
	opts.Duty = max(opts.Duty, 0.05)
	if opts.Poll <= 0 {
		opts.Poll = time.Second
	}
	if opts.Lease <= 0 {
		opts.Lease = 30 * time.Second
	}
	allowed, err := parseOrigins(opts.ImportFrom)
	if err != nil {
		allowed = origins{} // CheckImportFrom refuses it before here
	}
	if opts.Client == nil {
		opts.Client = fetchClient(allowed, opts.AllowFiles)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{rec: opts.Record, opts: opts, log: opts.Log.With("component", "bulk"), node: record.NewUUID()[:8],
		now: opts.Now, wake: make(chan struct{}, 1), running: map[string]context.CancelFunc{}, allowed: allowed}
}

// CheckImportFrom reports whether list is a valid Options.ImportFrom.
func CheckImportFrom(list []string) error {
	_, err := parseOrigins(list)
	return err
}

// Job states.
const (
	queued    = "queued"
	running   = "running"
	complete  = "complete"
	failed    = "failed"
	cancelled = "cancelled"
)

// job is a bulk operation's state, as JSON in the store's records.
type job struct {
	ID      string    `json:"id"`
	Kind    string    `json:"kind"` // export | import
	Owner   string    `json:"owner"`
	As      principal `json:"as"`
	Request string    `json:"request"`
	State   string    `json:"state"`
	Created time.Time `json:"created"`
	// TransactionTime is when the export's reads began: a client's next
	// _since.
	TransactionTime time.Time `json:"transactionTime"`
	Finished        time.Time `json:"finished,omitzero"`
	// Node holds the job while it runs, until Lease.
	Node  string    `json:"node,omitempty"`
	Lease time.Time `json:"lease,omitzero"`
	// Failure is why a failed job failed, for its status.
	Failure *failure `json:"failure,omitempty"`

	Export *exportSpec `json:"export,omitempty"`
	Import *importSpec `json:"import,omitempty"`
}

type failure struct {
	Status int             `json:"status"`
	Issues []outcome.Issue `json:"issues"`
}

// principal is whom a job runs as: the caller who kicked it off.
type principal struct {
	Kind     string `json:"kind"`
	Subject  string `json:"subject"`
	Name     string `json:"name,omitempty"`
	ClientID string `json:"clientId,omitempty"`
	Scopes   string `json:"scopes"`
	Address  string `json:"address,omitempty"`
}

func principalOf(p *auth.Principal) principal {
	return principal{Kind: p.Kind.String(), Subject: p.Subject, Name: p.Name, ClientID: p.ClientID, Scopes: p.Scopes.String(), Address: p.Address}
}

// context returns ctx carrying the job's principal, so that record checks
// and audits the job's reads and writes as the caller's.
func (p principal) context(ctx context.Context) (context.Context, error) {
	k, ok := auth.ParseKind(p.Kind)
	if !ok {
		return nil, fmt.Errorf("bulk: job principal kind %q", p.Kind)
	}
	scopes, err := auth.ParseScopes(p.Scopes)
	if err != nil {
		return nil, fmt.Errorf("bulk: job principal scopes: %w", err)
	}
	return auth.NewContext(ctx, &auth.Principal{Kind: k, Subject: p.Subject, Name: p.Name, ClientID: p.ClientID, Scopes: scopes, Address: p.Address}), nil
}

// owner names who may see a job: the same kind of principal with the
// same subject (a backend service's client id).
func owner(p *auth.Principal) string { return p.Kind.String() + ":" + p.Subject }

// caller returns the principal of the request, or a 401.
func caller(ctx context.Context) (*auth.Principal, error) {
	p, ok := auth.FromContext(ctx)
	if !ok {
		e := outcome.New(http.StatusUnauthorized, outcome.CodeLogin, "", "sign in first: this needs an access token")
		e.Headers = map[string]string{"WWW-Authenticate": `Bearer realm="sharedcare"`}
		return nil, e
	}
	return p, nil
}

func (s *Service) load(ctx context.Context, id string) (*job, error) {
	b, err := s.rec.Job(ctx, id)
	if errors.Is(err, record.ErrNoJob) {
		return nil, noJob(id)
	}
	if err != nil {
		return nil, err
	}
	var j job
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("bulk: job %s: %w", id, err)
	}
	return &j, nil
}

// save writes the job; a finished one expires after Options.Expiry.
func (s *Service) save(ctx context.Context, j *job) error {
	b, err := json.Marshal(j)
	if err != nil {
		return err
	}
	var expires time.Time
	if !j.Finished.IsZero() {
		expires = j.Finished.Add(s.opts.Expiry)
	}
	return s.rec.PutJob(ctx, j.ID, b, expires)
}

func noJob(id string) error {
	return outcome.Newf(http.StatusNotFound, outcome.CodeNotFound, "", "there is no bulk job %s (it may have finished long ago, or been cancelled)", id)
}

// mine loads a job for the caller in ctx: a 404 for anyone else's, so that
// a job's existence is not told to others.
func (s *Service) mine(ctx context.Context, id string) (*job, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if !validJobID(id) {
		return nil, noJob(id)
	}
	j, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if j.Owner != owner(p) || j.State == cancelled {
		return nil, noJob(id)
	}
	return j, nil
}

func validJobID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// maxActive bounds the unfinished jobs one caller may have.
const maxActive = 4

// create records a new job for the caller and wakes the worker.
func (s *Service) create(ctx context.Context, p *auth.Principal, j *job) (string, error) {
	active := 0
	err := s.rec.Jobs(ctx, func(_ string, b []byte) error {
		var o job
		if json.Unmarshal(b, &o) == nil && o.Owner == owner(p) && (o.State == queued || o.State == running) {
			active++
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	if active >= maxActive {
		e := outcome.Newf(http.StatusTooManyRequests, outcome.CodeThrottled, "", "you have %d bulk jobs under way; wait for one to finish or cancel one", active)
		e.Headers = map[string]string{"Retry-After": "60"}
		return "", e
	}
	j.ID, j.Owner, j.As, j.State, j.Created = record.NewUUID(), owner(p), principalOf(p), queued, s.now().UTC()
	if err := s.save(ctx, j); err != nil {
		return "", err
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return j.ID, nil
}

// Status reports a job to its owner. While it is under way, manifest is
// nil and progress says how far it got (for X-Progress). When it has
// finished, manifest is the completion JSON, whose file URLs are fileBase
// followed by a file's name. A failed job's error is its outcome.
func (s *Service) Status(ctx context.Context, id, fileBase string) (manifest []byte, progress string, err error) {
	j, err := s.mine(ctx, id)
	if err != nil {
		return nil, "", err
	}
	switch j.State {
	case queued:
		return nil, "queued", nil
	case running:
		return nil, j.progress(), nil
	case failed:
		e := &outcome.Error{Status: j.Failure.Status, Issues: j.Failure.Issues}
		return nil, "", e
	}
	if j.Export != nil {
		return j.Export.manifest(j, fileBase), "", nil
	}
	return j.Import.manifest(j, fileBase), "", nil
}

// Expires returns when a finished job's files go, for the Expires header;
// zero while it runs.
func (s *Service) Expires(ctx context.Context, id string) time.Time {
	j, err := s.mine(ctx, id)
	if err != nil || j.Finished.IsZero() {
		return time.Time{}
	}
	return j.Finished.Add(s.opts.Expiry)
}

func (j *job) progress() string {
	if j.Export != nil {
		return j.Export.progress()
	}
	return j.Import.progress()
}

// Cancel stops the caller's job and deletes its files
// (https://hl7.org/fhir/uv/bulkdata/export.html#bulk-data-delete-request);
// for a finished one it means the client is done with the files. The job
// then reads as unknown.
func (s *Service) Cancel(ctx context.Context, id string) error {
	j, err := s.mine(ctx, id)
	if err != nil {
		return err
	}
	j.State = cancelled
	if j.Finished.IsZero() {
		j.Finished = s.now().UTC()
	}
	if err := s.save(ctx, j); err != nil {
		return err
	}
	s.mu.Lock()
	stop := s.running[id]
	s.mu.Unlock()
	if stop != nil {
		stop() // this node runs it; another node sees the state at its next checkpoint
	}
	if err := os.RemoveAll(filepath.Join(s.opts.Dir, id)); err != nil {
		s.log.WarnContext(ctx, "removing a cancelled job's files", "job", id, "err", err)
	}
	return nil
}

// File opens one output file of the caller's finished job for download;
// the caller closes it.
func (s *Service) File(ctx context.Context, id, name string) (*os.File, error) {
	j, err := s.mine(ctx, id)
	if err != nil {
		return nil, err
	}
	notFound := outcome.Newf(http.StatusNotFound, outcome.CodeNotFound, "", "job %s has no file %s", id, name)
	if j.State != complete || !slices.Contains(j.files(), name) {
		return nil, notFound
	}
	f, err := os.OpenInRoot(filepath.Join(s.opts.Dir, id), name)
	if errors.Is(err, os.ErrNotExist) {
		return nil, notFound
	}
	return f, err
}

// files lists the names of a finished job's files.
func (j *job) files() []string {
	var out []string
	if j.Export != nil {
		for _, p := range j.Export.Parts {
			if p.Count > 0 {
				out = append(out, p.File)
			}
		}
	}
	if j.Import != nil {
		for _, in := range j.Import.Inputs {
			if in.Errors > 0 {
				out = append(out, in.ErrFile)
			}
		}
	}
	return out
}

// Run runs jobs until ctx ends: it claims queued jobs (and running ones
// whose node stopped renewing its lease), at most Options.MaxJobs at once,
// runs each on a goroutine it waits for, and removes the files of jobs
// that expired or were cancelled. When ctx ends, running jobs stop at
// their next batch and give up their lease, so that the next start
// resumes them at once.
func (s *Service) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	slots := make(chan struct{}, s.opts.MaxJobs)
	tick := time.NewTicker(s.opts.Poll)
	defer tick.Stop()
	lastClean := time.Time{}
	for {
		s.schedule(ctx, slots, &wg)
		if now := s.now(); now.Sub(lastClean) > time.Minute {
			s.clean(ctx)
			lastClean = now
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-s.wake:
		}
	}
}

// schedule claims the jobs there is room for and starts them.
func (s *Service) schedule(ctx context.Context, slots chan struct{}, wg *sync.WaitGroup) {
	if len(slots) == cap(slots) {
		return
	}
	var ids []string
	now := s.now()
	err := s.rec.Jobs(ctx, func(id string, b []byte) error {
		var j job
		if json.Unmarshal(b, &j) != nil {
			return nil
		}
		if j.Import != nil && j.Import.Local {
			return nil // the command line's, reading its own files
		}
		if j.State == queued || j.State == running && now.After(j.Lease) {
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		if ctx.Err() == nil {
			s.log.WarnContext(ctx, "listing bulk jobs", "err", err)
		}
		return
	}
	for _, id := range ids {
		select {
		case slots <- struct{}{}:
		default:
			return
		}
		s.mu.Lock()
		_, mine := s.running[id]
		s.mu.Unlock()
		if mine {
			<-slots
			continue
		}
		j, err := s.claim(ctx, id)
		if err != nil || j == nil {
			if err != nil && ctx.Err() == nil {
				s.log.WarnContext(ctx, "claiming a bulk job", "job", id, "err", err)
			}
			<-slots
			continue
		}
		jctx, cancel := context.WithCancel(ctx)
		s.mu.Lock()
		s.running[id] = cancel
		s.mu.Unlock()
		wg.Go(func() {
			defer func() { <-slots }()
			defer func() {
				cancel()
				s.mu.Lock()
				delete(s.running, id)
				s.mu.Unlock()
			}()
			s.run(jctx, j)
		})
	}
}

// claim takes a job for this node. Of nodes that find the same job
// waiting (or its node's lease lapsed), exactly one wins the claim record,
// which lapses with the lease it starts, and goes on to write the lease
// into the job; the others leave it. A node whose lease lapsed while it
// still ran the job learns at its next checkpoint that the job is no
// longer its own.
func (s *Service) claim(ctx context.Context, id string) (*job, error) {
	j, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if !(j.State == queued || j.State == running && now.After(j.Lease)) {
		return nil, nil
	}
	won, err := s.rec.ClaimJob(ctx, id, s.node, now.Add(s.opts.Lease))
	if err != nil || !won {
		return nil, err
	}
	j.State, j.Node, j.Lease = running, s.node, now.Add(s.opts.Lease)
	if err := s.save(ctx, j); err != nil {
		return nil, err
	}
	again, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if again.Node != s.node {
		return nil, nil
	}
	return j, nil
}

// errStopped means the job was cancelled, or this node lost its lease.
var errStopped = errors.New("bulk job stopped")

// checkpoint saves a running job's progress and renews its lease; it
// returns errStopped when the job was cancelled or another node holds it.
func (s *Service) checkpoint(ctx context.Context, j *job) error {
	cur, err := s.load(ctx, j.ID)
	if err != nil {
		if _, ok := outcome.As(err); ok {
			return errStopped // deleted
		}
		return err
	}
	if cur.State != running || cur.Node != s.node {
		return errStopped
	}
	j.Lease = s.now().Add(s.opts.Lease)
	return s.save(ctx, j)
}

// run runs a claimed job to its end, or until ctx ends: an export in a
// worker process when there is one (Options.Worker), else here.
func (s *Service) run(ctx context.Context, j *job) {
	if j.Kind == "export" && s.opts.Worker != nil {
		if err := s.runInWorker(ctx, j); err != nil {
			s.failWorker(ctx, j.ID, err)
		}
		return
	}
	defer extraProcessor()()
	s.runHere(ctx, j)
}

// runHere runs a claimed job in this process, and saves how it ended.
func (s *Service) runHere(ctx context.Context, j *job) {
	defer lowPriority()()
	log := s.log.With("job", j.ID, "kind", j.Kind)
	actx, err := j.As.context(ctx)
	if err == nil {
		started := time.Now()
		log.InfoContext(ctx, "bulk job started")
		switch j.Kind {
		case "export":
			err = s.runExport(actx, j)
		case "import":
			err = s.runImport(actx, j)
		default:
			err = fmt.Errorf("unknown job kind %q", j.Kind)
		}
		log = log.With("dur_ms", time.Since(started).Milliseconds())
	}
	// The job's own context may have ended; its state must still be saved.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	switch {
	case errors.Is(err, errStopped):
		log.InfoContext(ctx, "bulk job stopped")
		return
	case ctx.Err() != nil:
		// Shutting down: give the lease back so that the next start, on
		// any node, resumes the job at once.
		j.Lease = time.Time{}
		saved, err := s.saveIfMine(sctx, j)
		switch {
		case err != nil:
			log.WarnContext(sctx, "releasing a bulk job", "err", err)
		case saved:
			log.InfoContext(sctx, "bulk job paused for shutdown")
		default:
			log.InfoContext(sctx, "bulk job stopped") // cancelled, or taken over
		}
		return
	case err != nil:
		j.State, j.Failure = failed, failureOf(err)
		if _, ok := outcome.As(err); !ok {
			log.ErrorContext(sctx, "bulk job failed", "err", err)
		} else {
			log.InfoContext(sctx, "bulk job refused", "err", err)
		}
	default:
		j.State = complete
		log.InfoContext(sctx, "bulk job complete", "progress", j.progress())
	}
	j.Finished, j.Node, j.Lease = s.now().UTC(), "", time.Time{}
	if _, err := s.saveIfMine(sctx, j); err != nil {
		log.WarnContext(sctx, "saving a finished bulk job", "err", err)
	}
}

// saveIfMine saves j unless it was cancelled or taken over meanwhile, and
// reports whether it did.
func (s *Service) saveIfMine(ctx context.Context, j *job) (bool, error) {
	cur, err := s.load(ctx, j.ID)
	if err != nil {
		return false, err
	}
	if cur.State != running || cur.Node != s.node {
		return false, nil
	}
	return true, s.save(ctx, j)
}

func failureOf(err error) *failure {
	if e, ok := outcome.As(err); ok {
		return &failure{Status: e.Status, Issues: e.Issues}
	}
	return &failure{Status: http.StatusInternalServerError, Issues: []outcome.Issue{{Severity: outcome.Err, Code: outcome.CodeException,
		Diagnostics: "the job failed on the server; run it again, and if it fails again tell the server's operators"}}}
}

// clean removes the folders of jobs that are gone (expired, cancelled or
// never recorded) from Options.Dir.
func (s *Service) clean(ctx context.Context) {
	if s.opts.Dir == "" {
		return
	}
	entries, err := os.ReadDir(s.opts.Dir)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			s.log.WarnContext(ctx, "listing export files", "err", err)
		}
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !validJobID(e.Name()) {
			continue
		}
		j, err := s.load(ctx, e.Name())
		if err != nil {
			if _, ok := outcome.As(err); !ok {
				continue // the database did not answer: decide next time
			}
		} else if j.State != cancelled {
			continue
		}
		if info, err := e.Info(); err == nil && s.now().Sub(info.ModTime()) < time.Minute {
			continue // just made, its job perhaps not yet visible here
		}
		if err := os.RemoveAll(filepath.Join(s.opts.Dir, e.Name())); err != nil {
			s.log.WarnContext(ctx, "removing expired export files", "job", e.Name(), "err", err)
		}
	}
}

// pacer pauses a job so that it works Options.Duty of its time, in
// slices short enough (workSlice) that an interactive request arriving
// meanwhile waits little for a core. In the server's process (aside) a
// slice is cut short when a request arrives, and the job waits until none
// is being served (or maxYield has passed), so that it works in the gaps
// between them. When no request has been served for quietAfter, there is
// nobody to make way for and the job works unpaced until one comes.
type pacer struct {
	duty    float64
	traffic Traffic // nil: no signal
	// aside: stand aside while a request is in flight. A job in a worker
	// process does not: the kernel already runs the server first, and
	// looking every 100 µs while requests were in flight woke the worker
	// thousands of times a second, which cost the requests more than
	// standing aside saved them (docs/PERFORMANCE.md).
	aside bool
	yield time.Duration // the longest it stands aside at once: maxYield
	since time.Time     // when the current slice of work began
	owed  time.Duration // pause still due; negative after oversleeping
	n     int
}

// quietAfter is how long a server must have served no interactive request
// before a paced job works unpaced. A clinician's next request after a
// pause of a second or more finds the job working, for at most four
// resources, before it stands aside; with requests coming more often the
// job stays paced.
const quietAfter = time.Second

// maxYield bounds how long a job stands aside for interactive requests
// before it works another slice, so that a server never idle still
// finishes its exports: at 5 ms, a job under constant interactive load
// works one 250 µs slice in about twenty.
const maxYield = 5 * time.Millisecond

// yieldPoll is how often a job standing aside looks again (timers here
// wake about a millisecond late: it looks about that often).
const yieldPoll = 100 * time.Microsecond

// maxCredit bounds how much oversleeping later pauses may make up for,
// so that a long stall is not followed by a burst of unpaced work.
const maxCredit = 2 * time.Millisecond

// workSlice is the longest a paced job works between pauses. A request
// that finds both cores busy, one with the job, may wait that long for
// it: with 2 ms slices an export at 12,000 resources/s took read p99 on
// a million-resource store from 0.9 ms to 2.6-2.9 ms; with 250 µs slices
// and 100 resources a query, to 1.9-2.0 ms (docs/PERFORMANCE.md).
const workSlice = 250 * time.Microsecond

// pacedScanBatch is how many resources a paced export reads per query:
// a query's rows are read without a pause, so it bounds the longest
// stretch of work (32: about 0.3 ms).
const pacedScanBatch = 32

func (s *Service) pacer() *pacer {
	return &pacer{duty: s.opts.Duty, traffic: s.opts.Traffic, aside: !s.inWorker, yield: maxYield, since: time.Now()}
}

// step counts one resource; once the job has worked a slice, or an
// interactive request has come in, it pauses, unless the server has been
// quiet for a while.
func (p *pacer) step(ctx context.Context) error {
	if p.duty >= 1 {
		return nil
	}
	if p.n++; p.n%4 != 0 {
		return nil
	}
	if p.quiet() {
		p.since = time.Now() // the slice starts again when a request comes
		return nil
	}
	if time.Since(p.since) < workSlice && !p.interrupted() {
		return nil
	}
	return p.pause(ctx)
}

func (p *pacer) interrupted() bool { return p.aside && p.traffic != nil && p.traffic.Busy() }

func (p *pacer) quiet() bool { return p.traffic != nil && p.traffic.Quiet(quietAfter) }

// pause waits for the rest of the duty cycle after a batch of work, and
// while interactive requests are served (up to maxYield), or until ctx
// ends; on a quiet server it does not wait. A timer wakes late, by a
// large part of a short pause, so what a pause overslept is taken off the
// next: the job works its duty, not less.
func (p *pacer) pause(ctx context.Context) error {
	if p.duty < 1 && !p.quiet() {
		p.owed += time.Duration(float64(time.Since(p.since)) * (1 - p.duty) / p.duty)
		start := time.Now()
		for p.interrupted() && time.Since(start) < p.yield {
			if err := sleep(ctx, yieldPoll); err != nil {
				return err
			}
		}
		if rest := p.owed - time.Since(start); rest > 0 {
			if err := sleep(ctx, rest); err != nil {
				return err
			}
		}
		p.owed = max(p.owed-time.Since(start), -maxCredit)
	}
	p.since = time.Now()
	return ctx.Err()
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
