package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"sharedcare/internal/auth"
	"sharedcare/internal/bulk"
	"sharedcare/internal/server"
	"sharedcare/internal/store"
	"sharedcare/internal/store/postgres"
	"sharedcare/internal/store/sqlite"
	"sharedcare/internal/synth"
)

// serveConfig is the effective configuration of serve.
type serveConfig struct {
	Addr            string
	DataDir         string
	DatabaseURL     string
	BaseURL         string
	MaxBody         int64
	MaxActive       int
	MaxQueue        int
	Synchronous     string
	LogFormat       string
	LogLevel        string
	ShutdownTimeout time.Duration
	DebugAddr       string
	Demo            bool
	Issuer          string
	OIDCIssuer      string
	OIDCAudience    string
	OIDCClaim       string
	TLSCert         string
	TLSKey          string
	CORSOrigins     []string
	InsecureNoAuth  bool
	TokenTTL        time.Duration
	SessionIdle     time.Duration
	ExportDir       string
	ExportExpiry    time.Duration
	BulkJobs        int
	BulkDuty        float64
	// BulkProcess runs exports in worker processes (bulk.Options.Worker).
	BulkProcess bool
	// DurableReadAudit: see server.Options.
	DurableReadAudit bool
	// ImportFrom: see bulk.Options.
	ImportFrom []string
	// ReadCacheMB sizes the embedded store's cache of versions read by id;
	// 0 turns it off.
	ReadCacheMB int64
	// exclusive: this process writes resources, so the embedded store is
	// locked against other such processes (serve and import set it).
	exclusive bool
}

func serveFlags(args []string) (*serveConfig, error) {
	var cfg serveConfig
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&cfg.Addr, "addr", envOr("SHAREDCARE_ADDR", ":8080"), "listen address (env SHAREDCARE_ADDR)")
	fs.StringVar(&cfg.DataDir, "data", envOr("SHAREDCARE_DATA", "data"), "folder for the embedded database (env SHAREDCARE_DATA)")
	databaseFlag(fs, &cfg.DatabaseURL, "PostgreSQL URL (postgres://...); empty: embedded SQLite in -data")
	fs.StringVar(&cfg.BaseURL, "base-url", envOr("SHAREDCARE_BASE_URL", ""), "public FHIR base URL for Location headers; empty: from each request's Host (env SHAREDCARE_BASE_URL)")
	maxBody := fs.String("max-body", envOr("SHAREDCARE_MAX_BODY", "33554432"), "largest request body in bytes (env SHAREDCARE_MAX_BODY)")
	maxActive := fs.String("max-active", envOr("SHAREDCARE_MAX_ACTIVE", strconv.Itoa(4*runtime.GOMAXPROCS(0))), "requests served at once (default 4 per CPU); more wait in a queue (env SHAREDCARE_MAX_ACTIVE)")
	maxQueue := fs.String("max-queue", envOr("SHAREDCARE_MAX_QUEUE", "512"), "requests that may wait, each at most 1 s; beyond this they get 503 (env SHAREDCARE_MAX_QUEUE)")
	fs.StringVar(&cfg.Synchronous, "sqlite-synchronous", envOr("SHAREDCARE_SQLITE_SYNCHRONOUS", "FULL"), "FULL: a write is acknowledged after fsync; NORMAL: survives a crash but not a power cut (env SHAREDCARE_SQLITE_SYNCHRONOUS)")
	fs.StringVar(&cfg.LogFormat, "log-format", envOr("SHAREDCARE_LOG_FORMAT", ""), "text or json; empty: text on a terminal, json otherwise (env SHAREDCARE_LOG_FORMAT)")
	fs.StringVar(&cfg.LogLevel, "log-level", envOr("SHAREDCARE_LOG_LEVEL", "info"), "debug, info, warn or error (env SHAREDCARE_LOG_LEVEL)")
	fs.StringVar(&cfg.DebugAddr, "debug-addr", envOr("SHAREDCARE_DEBUG_ADDR", ""), "if set, serve Go's pprof profiles here, e.g. 127.0.0.1:6060; never expose it (env SHAREDCARE_DEBUG_ADDR)")
	fs.BoolVar(&cfg.DurableReadAudit, "durable-read-audit", envOr("SHAREDCARE_DURABLE_READ_AUDIT", "") == "true", "make every read wait until its AuditEvent is written, as writes do; by default reads' events are committed in batches within milliseconds (env SHAREDCARE_DURABLE_READ_AUDIT=true)")
	importFrom := fs.String("import-from", envOr("SHAREDCARE_IMPORT_FROM", ""), "comma-separated origins (http://10.1.2.3:8080; no port: any) on loopback or private networks that $import may fetch from; public addresses need no listing (env SHAREDCARE_IMPORT_FROM)")
	readCache := fs.String("read-cache-mb", envOr("SHAREDCARE_READ_CACHE_MB", "64"), "embedded database only: MiB of memory for resources read by id, so that repeated reads skip the disk; 0: off (env SHAREDCARE_READ_CACHE_MB)")
	demo := fs.Bool("demo", envOr("SHAREDCARE_DEMO", "") == "true", "load the demo population (a practice, its GP and 20 patients) before serving (env SHAREDCARE_DEMO=true)")
	fs.StringVar(&cfg.Issuer, "issuer", envOr("SHAREDCARE_ISSUER", ""), "public origin of the OAuth server, the iss of its tokens (https://ehr.example.nhs.uk); empty: -base-url without /fhir, else each request's host (env SHAREDCARE_ISSUER)")
	fs.StringVar(&cfg.OIDCIssuer, "oidc-issuer", envOr("SHAREDCARE_OIDC_ISSUER", ""), "also accept bearer tokens of this external OpenID Connect provider, such as NHS CIS2 or NHS login (env SHAREDCARE_OIDC_ISSUER)")
	fs.StringVar(&cfg.OIDCAudience, "oidc-audience", envOr("SHAREDCARE_OIDC_AUDIENCE", ""), "the aud the external provider's tokens must carry: this server's client id there (env SHAREDCARE_OIDC_AUDIENCE)")
	fs.StringVar(&cfg.OIDCClaim, "oidc-claim", envOr("SHAREDCARE_OIDC_CLAIM", "sub"), "the external token claim that matches a user's --external-id (env SHAREDCARE_OIDC_CLAIM)")
	fs.StringVar(&cfg.TLSCert, "tls-cert", envOr("SHAREDCARE_TLS_CERT", ""), "serve HTTPS with this certificate file (PEM), with -tls-key (env SHAREDCARE_TLS_CERT)")
	fs.StringVar(&cfg.TLSKey, "tls-key", envOr("SHAREDCARE_TLS_KEY", ""), "the certificate's private key file (PEM) (env SHAREDCARE_TLS_KEY)")
	cors := fs.String("cors-origins", envOr("SHAREDCARE_CORS_ORIGINS", ""), "comma-separated origins whose browser apps may call /fhir and /oauth2, or *; empty: none (env SHAREDCARE_CORS_ORIGINS)")
	noAuth := fs.Bool("insecure-no-auth", envOr("SHAREDCARE_INSECURE_NO_AUTH", "") == "true", "turn authentication OFF: every request may read and change everything; development only (env SHAREDCARE_INSECURE_NO_AUTH=true)")
	tokenTTL := fs.String("token-ttl", envOr("SHAREDCARE_TOKEN_TTL", "15m"), "how long access tokens live (env SHAREDCARE_TOKEN_TTL)")
	sessionIdle := fs.String("session-idle", envOr("SHAREDCARE_SESSION_IDLE", "30m"), "sign a web app user out after this long unused (env SHAREDCARE_SESSION_IDLE)")
	shutdown := fs.String("shutdown-timeout", envOr("SHAREDCARE_SHUTDOWN_TIMEOUT", "20s"), "how long to let requests finish on SIGTERM (env SHAREDCARE_SHUTDOWN_TIMEOUT)")
	fs.StringVar(&cfg.ExportDir, "export-dir", envOr("SHAREDCARE_EXPORT_DIR", ""), "folder of bulk export files; several nodes must share it; off: no $export or $import; empty: DATA/exports (env SHAREDCARE_EXPORT_DIR)")
	exportExpiry := fs.String("export-expiry", envOr("SHAREDCARE_EXPORT_EXPIRY", "24h"), "how long finished bulk jobs and their files are kept (env SHAREDCARE_EXPORT_EXPIRY)")
	bulkJobs := fs.String("bulk-jobs", envOr("SHAREDCARE_BULK_JOBS", "1"), "bulk export and import jobs this node runs at once (env SHAREDCARE_BULK_JOBS)")
	bulkProcess := fs.String("bulk-process", envOr("SHAREDCARE_BULK_PROCESS", "true"), "true: run each export in a worker process of its own at the lowest priority, so that its memory and failures are not the server's; false: in the server's process (env SHAREDCARE_BULK_PROCESS)")
	bulkDuty := fs.String("bulk-duty", envOr("SHAREDCARE_BULK_DUTY", "0.1"), "share of its time a bulk job works while interactive requests are being served, pausing for the rest, from 0.05 to 1 (after a second without any it works unpaced): 1 is fastest, lower keeps interactive latency (docs/PERFORMANCE.md) (env SHAREDCARE_BULK_DUTY)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	if cfg.MaxBody, err = strconv.ParseInt(*maxBody, 10, 64); err != nil || cfg.MaxBody <= 0 {
		return nil, fmt.Errorf("-max-body (SHAREDCARE_MAX_BODY) %q: want a positive number of bytes", *maxBody)
	}
	if cfg.MaxActive, err = strconv.Atoi(*maxActive); err != nil || cfg.MaxActive <= 0 {
		return nil, fmt.Errorf("-max-active (SHAREDCARE_MAX_ACTIVE) %q: want a positive number", *maxActive)
	}
	if cfg.ReadCacheMB, err = strconv.ParseInt(*readCache, 10, 64); err != nil || cfg.ReadCacheMB < 0 {
		return nil, fmt.Errorf("-read-cache-mb (SHAREDCARE_READ_CACHE_MB) %q: want a number of MiB, 0 for none", *readCache)
	}
	cfg.exclusive = true
	for o := range strings.SplitSeq(*importFrom, ",") {
		if o = strings.TrimSpace(o); o != "" {
			cfg.ImportFrom = append(cfg.ImportFrom, o)
		}
	}
	if err := bulk.CheckImportFrom(cfg.ImportFrom); err != nil {
		return nil, fmt.Errorf("-import-from (SHAREDCARE_IMPORT_FROM): %w", err)
	}
	if cfg.MaxQueue, err = strconv.Atoi(*maxQueue); err != nil || cfg.MaxQueue < 0 {
		return nil, fmt.Errorf("-max-queue (SHAREDCARE_MAX_QUEUE) %q: want a number", *maxQueue)
	}
	if cfg.ExportExpiry, err = time.ParseDuration(*exportExpiry); err != nil || cfg.ExportExpiry < time.Minute {
		return nil, fmt.Errorf("-export-expiry (SHAREDCARE_EXPORT_EXPIRY) %q: want a duration of a minute or more", *exportExpiry)
	}
	if cfg.BulkJobs, err = strconv.Atoi(*bulkJobs); err != nil || cfg.BulkJobs < 1 || cfg.BulkJobs > 64 {
		return nil, fmt.Errorf("-bulk-jobs (SHAREDCARE_BULK_JOBS) %q: want a whole number from 1 to 64", *bulkJobs)
	}
	if cfg.BulkDuty, err = strconv.ParseFloat(*bulkDuty, 64); err != nil || cfg.BulkDuty < 0.05 || cfg.BulkDuty > 1 {
		return nil, fmt.Errorf("-bulk-duty (SHAREDCARE_BULK_DUTY) %q: want a number from 0.05 to 1", *bulkDuty)
	}
	if cfg.BulkProcess, err = strconv.ParseBool(*bulkProcess); err != nil {
		return nil, fmt.Errorf("-bulk-process (SHAREDCARE_BULK_PROCESS) %q: want true or false", *bulkProcess)
	}
	switch cfg.ExportDir {
	case "":
		cfg.ExportDir = filepath.Join(cfg.DataDir, "exports")
	case "off":
		cfg.ExportDir = ""
	}
	if cfg.ShutdownTimeout, err = time.ParseDuration(*shutdown); err != nil {
		return nil, fmt.Errorf("-shutdown-timeout (SHAREDCARE_SHUTDOWN_TIMEOUT) %q: %v", *shutdown, err)
	}
	cfg.Demo = *demo
	cfg.InsecureNoAuth = *noAuth
	if cfg.TokenTTL, err = time.ParseDuration(*tokenTTL); err != nil || cfg.TokenTTL < time.Minute || cfg.TokenTTL > 24*time.Hour {
		return nil, fmt.Errorf("-token-ttl (SHAREDCARE_TOKEN_TTL) %q: want a duration from 1m to 24h", *tokenTTL)
	}
	if cfg.SessionIdle, err = time.ParseDuration(*sessionIdle); err != nil || cfg.SessionIdle < time.Minute || cfg.SessionIdle > 12*time.Hour {
		return nil, fmt.Errorf("-session-idle (SHAREDCARE_SESSION_IDLE) %q: want a duration from 1m to 12h", *sessionIdle)
	}
	for _, o := range strings.Split(*cors, ",") {
		if o = strings.TrimSpace(o); o != "" {
			if u, err := url.Parse(o); o != "*" && (err != nil || u.Scheme == "" || u.Host == "" || u.Path != "") {
				return nil, fmt.Errorf("-cors-origins (SHAREDCARE_CORS_ORIGINS) %q: want origins such as https://app.example.nhs.uk, or *", o)
			}
			cfg.CORSOrigins = append(cfg.CORSOrigins, o)
		}
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return nil, errors.New("-tls-cert (SHAREDCARE_TLS_CERT) and -tls-key (SHAREDCARE_TLS_KEY) go together")
	}
	if (cfg.OIDCIssuer == "") != (cfg.OIDCAudience == "") {
		return nil, errors.New("-oidc-issuer (SHAREDCARE_OIDC_ISSUER) and -oidc-audience (SHAREDCARE_OIDC_AUDIENCE) go together")
	}
	for _, u := range []struct{ flag, env, v string }{{"issuer", "SHAREDCARE_ISSUER", cfg.Issuer}, {"oidc-issuer", "SHAREDCARE_OIDC_ISSUER", cfg.OIDCIssuer}} {
		if p, err := url.Parse(u.v); u.v != "" && (err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "") {
			return nil, fmt.Errorf("-%s (%s) %q: want an https URL", u.flag, u.env, u.v)
		}
	}
	if cfg.Synchronous != "FULL" && cfg.Synchronous != "NORMAL" {
		return nil, fmt.Errorf("-sqlite-synchronous (SHAREDCARE_SQLITE_SYNCHRONOUS) %q: want FULL or NORMAL", cfg.Synchronous)
	}
	return &cfg, nil
}

func newLogger(format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level (SHAREDCARE_LOG_LEVEL) %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	if format == "" {
		format = "json"
		if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			format = "text"
		}
	}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("-log-format (SHAREDCARE_LOG_FORMAT) %q: want text or json", format)
}

func runServe(ctx context.Context, args []string) error {
	cfg, err := serveFlags(args)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg.LogFormat, cfg.LogLevel)
	if err != nil {
		return err
	}
	return serve(ctx, cfg, log)
}

// openStore opens the configured backend.
func openStore(ctx context.Context, cfg *serveConfig, log *slog.Logger) (store.Store, string, error) {
	if cfg.DatabaseURL != "" {
		db, err := postgres.Open(ctx, postgres.Options{URL: cfg.DatabaseURL, Log: log})
		if err != nil {
			return nil, "", fmt.Errorf("-database-url (SHAREDCARE_DATABASE_URL): %w", err)
		}
		// Logged at startup: no password, and no query, which may carry one.
		where := "postgres"
		if u, err := url.Parse(cfg.DatabaseURL); err == nil && u.Host != "" {
			if u.User != nil {
				u.User = url.User(u.User.Username())
			}
			u.RawQuery = ""
			where = u.String()
		}
		return db, where, nil
	}
	path := filepath.Join(cfg.DataDir, "sharedcare.db")
	cache := cfg.ReadCacheMB << 20
	if cache == 0 {
		cache = -1 // off
	}
	db, err := sqlite.Open(ctx, sqlite.Options{Path: path, Synchronous: cfg.Synchronous, Log: log, Exclusive: cfg.exclusive, ReadCacheBytes: cache})
	if err != nil {
		return nil, "", err
	}
	abs, _ := filepath.Abs(path)
	return db, "sqlite:" + abs, nil
}

// serve runs the server until SIGINT or SIGTERM, then drains requests,
// stops workers and closes the database, in that order.
func serve(ctx context.Context, cfg *serveConfig, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	db, where, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.Close() // runs last: every user of db has stopped by then
	srv := server.New(server.Options{
		Store: db, BaseURL: cfg.BaseURL, MaxBody: cfg.MaxBody,
		MaxActive: cfg.MaxActive, MaxQueue: cfg.MaxQueue, Log: log, DurableReadAudit: cfg.DurableReadAudit,
		Auth: auth.Options{Issuer: cfg.Issuer, TokenTTL: cfg.TokenTTL,
			OIDC: auth.OIDCOptions{Issuer: cfg.OIDCIssuer, Audience: cfg.OIDCAudience, Claim: cfg.OIDCClaim}},
		InsecureNoAuth: cfg.InsecureNoAuth, CORSOrigins: cfg.CORSOrigins, SessionIdle: cfg.SessionIdle,
		ExportDir: cfg.ExportDir, ExportExpiry: cfg.ExportExpiry, BulkJobs: cfg.BulkJobs, BulkDuty: cfg.BulkDuty, ImportFrom: cfg.ImportFrom,
		BulkWorker: bulkWorker(cfg, log),
	})
	if cfg.Demo {
		start := time.Now()
		demo, err := srv.LoadDemo(ctx, time.Now().UTC())
		if err != nil {
			return err
		}
		log.Info("demo population loaded", "bundles", len(demo.Bundles), "dur_ms", time.Since(start).Milliseconds())
		logins, err := srv.DemoUsers(ctx, demo)
		if err != nil {
			return err
		}
		printDemo(os.Stdout, demo, logins, cfg)
	}
	workCtx, stopWork := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stopWork() // workers stop after HTTP has drained
	wg.Go(func() { srv.RunWorkers(workCtx) })

	if cfg.DebugAddr != "" {
		dbg := &http.Server{Addr: cfg.DebugAddr, Handler: debugMux(), ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := dbg.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Warn("debug listener stopped", "err", err)
			}
		}()
		defer dbg.Close()
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen %s (-addr, SHAREDCARE_ADDR): %w", cfg.Addr, err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	errc := make(chan error, 1)
	tls := cfg.TLSCert != ""
	go func() {
		if tls {
			errc <- hs.ServeTLS(ln, cfg.TLSCert, cfg.TLSKey)
			return
		}
		errc <- hs.Serve(ln)
	}()
	log.Info("sharedcare serving", "addr", ln.Addr().String(), "fhir_base", displayBase(cfg.BaseURL, ln.Addr(), tls), "database", where,
		"max_body", cfg.MaxBody, "max_active", cfg.MaxActive, "max_queue", cfg.MaxQueue, "sqlite_synchronous", cfg.Synchronous,
		"tls", tls, "auth", !cfg.InsecureNoAuth, "issuer", cfg.Issuer, "oidc_issuer", cfg.OIDCIssuer, "token_ttl", cfg.TokenTTL.String(), "session_idle", cfg.SessionIdle.String(),
		"cors_origins", strings.Join(cfg.CORSOrigins, ","), "export_dir", cfg.ExportDir, "export_expiry", cfg.ExportExpiry.String(),
		"bulk_jobs", cfg.BulkJobs, "bulk_duty", cfg.BulkDuty, "bulk_process", cfg.BulkProcess)
	select {
	case err := <-errc:
		return fmt.Errorf("serve %s: %w", cfg.Addr, err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// printDemo tells the user who is in the demo, how to sign in, and where
// to look.
func printDemo(w io.Writer, demo *synth.DemoPopulation, logins []server.DemoLogin, cfg *serveConfig) {
	base := cfg.BaseURL
	if base == "" {
		base = "http://localhost" + portOf(cfg.Addr) + "/fhir"
	}
	fmt.Fprintf(w, "\nDemo population loaded: %s (ODS %s)\n", demo.Practice.Name, demo.Practice.ODSCode)
	fmt.Fprintf(w, "  Demo clinician: %s  %s/Practitioner/%s\n", demo.Clinician.Name, base, demo.Clinician.PractitionerID)
	fmt.Fprintln(w, "  Demo patients (NHS number, name, born):")
	for i, p := range demo.Patients {
		if i == 5 {
			fmt.Fprintf(w, "    ... and %d more: %s/Patient?general-practitioner=Organization/%s\n", len(demo.Patients)-5, base, demo.Practice.ID)
			break
		}
		fmt.Fprintf(w, "    %s  %-22s %s  %s/Patient/%s\n", p.NHSNumber, p.Name, p.BirthDate, base, p.ID)
	}
	if len(logins) > 0 {
		fmt.Fprintln(w, "  Demo sign-ins (passwords shown this once; they are stored hashed):")
		for _, l := range logins {
			fmt.Fprintf(w, "    %-9s %-20s %s  (%s)\n", l.Role, l.Username, l.Password, l.FHIRUser)
		}
	} else {
		fmt.Fprintln(w, "  Demo sign-ins were created on an earlier start; reset a password with: sharedcare admin set-password --username ...")
	}
	fmt.Fprintln(w)
}

func portOf(addr string) string {
	if _, port, err := net.SplitHostPort(addr); err == nil {
		return ":" + port
	}
	return ""
}

// debugMux serves pprof without touching http.DefaultServeMux.
func debugMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	return mux
}

func displayBase(base string, addr net.Addr, tls bool) string {
	if base != "" {
		return base
	}
	scheme := "http"
	if tls {
		scheme = "https"
	}
	if ta, ok := addr.(*net.TCPAddr); ok && (ta.IP.IsUnspecified() || ta.IP.IsLoopback()) {
		return fmt.Sprintf("%s://localhost:%d/fhir", scheme, ta.Port)
	}
	return scheme + "://" + addr.String() + "/fhir"
}
