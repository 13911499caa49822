// Package server assembles the record, its faces (the FHIR API, the web
// apps, and as they land the workers) and the middleware around them into one
// http.Handler with a lifecycle. Only server and cmd/sharedcare see a
// concrete storage backend.
package server

import (
	"context"
	"log/slog"
	"net/http"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"time"

	"sharedcare/internal/api"
	"sharedcare/internal/auth"
	"sharedcare/internal/bulk"
	"sharedcare/internal/record"
	"sharedcare/internal/store"
	"sharedcare/internal/validate"
	"sharedcare/internal/web"
)

// Options configure a Server. Zero values are working defaults.
type Options struct {
	Store store.Store
	// Validator checks each resource before it is stored; nil means the
	// base R4 validator with FHIRPath invariants.
	Validator record.Validator
	// BaseURL is the public FHIR base ("https://host/fhir"); "" derives it
	// from each request's Host.
	BaseURL string
	// MaxBody bounds request bodies in bytes; 0 means 32 MiB.
	MaxBody int64
	// MaxActive bounds requests served at once; 0 means 4 per CPU.
	// MaxQueue bounds those waiting for a turn (0 means 512), each at most
	// MaxWait (0 means 1 s); beyond either, requests are shed with 503.
	MaxActive, MaxQueue int
	MaxWait             time.Duration
	Version             string
	Log                 *slog.Logger
	// Auth configures sign-in and tokens; its Records is the Store. An
	// empty Auth.Issuer is BaseURL without its "/fhir", and an empty
	// Auth.FHIRBase is BaseURL; with neither set, both come from each
	// request's Host (development only).
	Auth auth.Options
	// InsecureNoAuth turns authentication off: every /fhir request runs
	// as auth.DevPrincipal, with all access, and a warning is logged at
	// start and every minute. For development and the API tests only;
	// the zero value requires a bearer token on every /fhir request but
	// GET /fhir/metadata.
	InsecureNoAuth bool
	// SessionIdle signs a web app user out after this long unused; 0
	// means 30 minutes.
	SessionIdle time.Duration
	// CORSOrigins are the origins whose browser apps may call /fhir,
	// /oauth2 and /.well-known ("*" for any); nil allows none.
	CORSOrigins []string
	// ExportDir holds bulk export files and import error reports, a folder
	// per job; "" turns $export and $import off. Several nodes on one
	// database must share it.
	ExportDir string
	// ExportExpiry is how long finished bulk jobs and their files are kept;
	// 0 means 24 hours.
	ExportExpiry time.Duration
	// BulkJobs bounds the bulk jobs this node runs at once; 0 means 1.
	BulkJobs int
	// ImportFrom: see bulk.Options.
	ImportFrom []string
	// BulkDuty is the share of time a running bulk job works, pausing
	// between batches for the rest (0.05 to 1); 0 means 1.
	BulkDuty float64
	// DurableReadAudit makes reads wait for their AuditEvents to be
	// written (record.Options.DurableReadAudit).
	DurableReadAudit bool
	// BulkWorker runs exports in worker processes: see bulk.Options.Worker.
	// The server then shares its count of interactive requests with them.
	BulkWorker func(ctx context.Context) *exec.Cmd
}

// Server is the whole HTTP face of sharedcare.
type Server struct {
	handler  http.Handler
	store    store.Store
	log      *slog.Logger
	metrics  *metrics
	auth     *auth.Server
	insecure bool
	bulk     *bulk.Service // nil when bulk data is off
}

// New assembles a Server over opts.Store.
func New(opts Options) *Server {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.MaxActive == 0 {
		// A few per core: more only share the same CPU and stretch every
		// admitted request's latency.
		opts.MaxActive = 4 * runtime.GOMAXPROCS(0)
	}
	if opts.MaxQueue == 0 {
		opts.MaxQueue = 512
	}
	if opts.MaxWait == 0 {
		opts.MaxWait = time.Second
	}
	if opts.Validator == nil {
		opts.Validator = validate.New(validate.Options{Invariants: validate.NewFHIRPathInvariants()})
	}
	if opts.Auth.Issuer == "" && opts.BaseURL != "" {
		opts.Auth.Issuer = strings.TrimSuffix(strings.TrimSuffix(opts.BaseURL, "/"), "/fhir")
	}
	if opts.Auth.FHIRBase == "" {
		opts.Auth.FHIRBase = opts.BaseURL
	}
	opts.Auth.Records = opts.Store
	if opts.Auth.Log == nil {
		opts.Auth.Log = opts.Log.With("component", "auth")
	}
	authz := auth.New(opts.Auth)
	e := authz.ConfiguredEndpoints()
	rec := record.New(record.Options{Store: opts.Store, Validator: opts.Validator, DurableReadAudit: opts.DurableReadAudit,
		Log: opts.Log.With("component", "record")})
	var jobs *bulk.Service
	m := &metrics{started: time.Now()}
	apiOpts := api.Options{Record: rec, MaxBody: opts.MaxBody, BaseURL: opts.BaseURL, Version: opts.Version, Log: opts.Log.With("component", "api"),
		Security: &api.Security{Authorize: e.Authorize, Token: e.Token, Introspect: e.Introspect, Revoke: e.Revoke}}
	if opts.ExportDir != "" {
		if opts.BulkWorker != nil {
			if err := m.interactive.Share(); err != nil {
				// The workers are then paced throughout, even on a quiet server.
				opts.Log.Warn("bulk workers will not see interactive requests", "err", err)
			}
		}
		jobs = bulk.New(bulk.Options{Record: rec, Dir: opts.ExportDir, Expiry: opts.ExportExpiry, MaxJobs: opts.BulkJobs, Duty: opts.BulkDuty, Traffic: m,
			Log: opts.Log, ImportFrom: opts.ImportFrom, Worker: opts.BulkWorker})
		apiOpts.Bulk = jobs
	}
	fhirAPI := api.New(apiOpts)
	apps := web.New(web.Options{Record: rec, Auth: authz, Origin: opts.Auth.Issuer, FHIRBase: opts.Auth.FHIRBase,
		IdleTimeout: opts.SessionIdle, Now: opts.Auth.Now, Log: opts.Log.With("component", "web")})
	s := &Server{store: opts.Store, log: opts.Log, metrics: m, auth: authz, insecure: opts.InsecureNoAuth, bulk: jobs}
	if s.insecure {
		s.warnInsecure(context.Background())
	}
	cors := newCORS(opts.CORSOrigins)
	fhir := cors.wrap(s.authenticate(fhirAPI))
	oauth := cors.wrap(authz.Handler())
	mux := http.NewServeMux()
	mux.Handle("/fhir/", fhir)
	mux.Handle("/fhir", fhir)
	mux.Handle("/fhir/.well-known/", oauth)
	mux.Handle("/oauth2/", oauth)
	mux.Handle("/.well-known/", oauth)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", s.ready)
	mux.HandleFunc("GET /metrics", s.serveMetrics)
	mux.Handle("/", apps) // the patient and clinician apps, and every other page
	s.handler = securityHeaders(api.WithRequestID(record.NewUUID()[:8]+"-", s.metrics.count(compress(newLimiter(opts.MaxActive, opts.MaxQueue, opts.MaxWait, s.metrics, mux)))))
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// RunWorkers runs the background workers until ctx ends: auth's cache
// refresh, bulk data jobs, and the reminder that authentication is off.
func (s *Server) RunWorkers(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { s.auth.Run(ctx) })
	if s.bulk != nil {
		wg.Go(func() { s.bulk.Run(ctx) })
	}
	if s.insecure {
		wg.Go(func() {
			t := time.NewTicker(time.Minute)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					s.warnInsecure(ctx)
				}
			}
		})
	}
}

// Auth returns the authorisation server, for the admin commands and the
// demo.
func (s *Server) Auth() *auth.Server { return s.auth }

// ready answers 200 when the database does, for load balancers.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.log.WarnContext(ctx, "not ready", "err", err)
		http.Error(w, "database unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Write([]byte("ready\n"))
}
