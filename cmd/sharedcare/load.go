package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"sharedcare/internal/load"
	"sharedcare/internal/nhs"
	"sharedcare/internal/synth"
)

// loadConfig is the effective configuration of load.
type loadConfig struct {
	Options   load.Options
	JSON      string // report file, "" for none
	Plot      string // SVG file, "" for none
	ClientKey string // PEM file of the client's P-384 key
	PrintJWKS bool   // print the key's JWKS, making the key if needed, and stop
}

// loadFlags parses load's flags; usage and flag errors go to stderr.
func loadFlags(args []string, stderr io.Writer) (*loadConfig, error) {
	var cfg loadConfig
	o := &cfg.Options
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: sharedcare load [flags]

Drives a sharedcare server with synthetic clinicians and reports
throughput, latency percentiles (p50/p95/p99/max), errors by status, shed
load (503/429 with Retry-After, never retried) and the server's memory and
database size, as a markdown table on standard output (-json, -plot for
more). It loads only the server at -url, on loopback unless -allow-remote.

scenarios:
  ingest   load -patients synthetic patients (-seed, -history-years) as
           transaction Bundles, -concurrency at once; resume with -start
  read     read Patients and Observations by id
  search   names, birth dates, postcodes, NHS numbers, Observations by code,
           chained searches
  summary  open patient summaries: the six requests a clinician app makes
           to open a patient, up to six at once, as a browser does
  monday   -clinicians sign in within -ramp, each then opens -summaries
           patient summaries with -think time before each

read, search and summary run -concurrency users back to back for
-duration. All but ingest need the population loaded by ingest with the
same -patients, -seed, -practices and -history-years.

A server that wants tokens: register the tool as a SMART Backend Service,
then give its id; each virtual user gets its own token with a client
assertion signed by the key:
  sharedcare load -client-key load.pem -print-jwks > load-jwks.json
  sharedcare admin register-client -name "Load generator" -jwks-file load-jwks.json -scopes "system/*.cruds"
  sharedcare load -client-id ID -client-key load.pem ...

flags:
`)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.URL, "url", envOr("SHAREDCARE_LOAD_URL", "http://localhost:8080/fhir"), "FHIR base of the server to load (env SHAREDCARE_LOAD_URL)")
	fs.BoolVar(&o.AllowRemote, "allow-remote", envOr("SHAREDCARE_LOAD_ALLOW_REMOTE", "") == "true", "allow a -url that is not on loopback (env SHAREDCARE_LOAD_ALLOW_REMOTE=true)")
	fs.StringVar(&o.Scenario, "scenario", envOr("SHAREDCARE_LOAD_SCENARIO", load.Monday), "one of "+strings.Join(load.Scenarios, ", ")+" (env SHAREDCARE_LOAD_SCENARIO)")
	patients := fs.String("patients", envOr("SHAREDCARE_PATIENTS", "1000"), "patients in the population: loaded by ingest, opened by the others (env SHAREDCARE_PATIENTS)")
	seed := fs.String("seed", envOr("SHAREDCARE_SEED", "0"), "selects the synthetic population, as for generate (env SHAREDCARE_SEED)")
	practices := fs.String("practices", envOr("SHAREDCARE_PRACTICES", "10"), "GP practices of the population (env SHAREDCARE_PRACTICES)")
	historyYears := fs.String("history-years", envOr("SHAREDCARE_HISTORY_YEARS", "10"), "years of history per patient (env SHAREDCARE_HISTORY_YEARS)")
	workers := fs.String("workers", envOr("SHAREDCARE_WORKERS", strconv.Itoa(runtime.GOMAXPROCS(0))), "goroutines generating patients (env SHAREDCARE_WORKERS)")
	start := fs.String("start", envOr("SHAREDCARE_START", "0"), "ingest: first patient to load, to resume (env SHAREDCARE_START)")
	sample := fs.String("sample", envOr("SHAREDCARE_LOAD_SAMPLE", "5000"), "patients, spread over the population, that the scenarios open (env SHAREDCARE_LOAD_SAMPLE)")
	concurrency := fs.String("concurrency", envOr("SHAREDCARE_LOAD_CONCURRENCY", "8"), "ingest: Bundles at once; read, search, summary: virtual users (env SHAREDCARE_LOAD_CONCURRENCY)")
	clinicians := fs.String("clinicians", envOr("SHAREDCARE_LOAD_CLINICIANS", "2000"), "monday: clinicians who sign in (env SHAREDCARE_LOAD_CLINICIANS)")
	ramp := fs.String("ramp", envOr("SHAREDCARE_LOAD_RAMP", "60s"), "monday: the clinicians sign in at random moments within this (env SHAREDCARE_LOAD_RAMP)")
	summaries := fs.String("summaries", envOr("SHAREDCARE_LOAD_SUMMARIES", "5"), "monday: patient summaries each clinician opens (env SHAREDCARE_LOAD_SUMMARIES)")
	think := fs.String("think", envOr("SHAREDCARE_LOAD_THINK", ""), "wait before each step: 0, exp:5s (exponential, mean 5s) or fixed:5s; empty: exp:5s for monday, 0 otherwise (env SHAREDCARE_LOAD_THINK)")
	duration := fs.String("duration", envOr("SHAREDCARE_LOAD_DURATION", ""), "cap on the run; read, search and summary run this long; empty: 30s for those, 1h for ingest and monday (env SHAREDCARE_LOAD_DURATION)")
	maxRequests := fs.String("max-requests", envOr("SHAREDCARE_LOAD_MAX_REQUESTS", "2000000"), "cap on requests sent (env SHAREDCARE_LOAD_MAX_REQUESTS)")
	timeout := fs.String("timeout", envOr("SHAREDCARE_LOAD_TIMEOUT", "10s"), "bound on each request (env SHAREDCARE_LOAD_TIMEOUT)")
	fs.BoolVar(&o.RespectRetryAfter, "respect-retry-after", envOr("SHAREDCARE_LOAD_RESPECT_RETRY_AFTER", "true") == "true", "a user that was shed waits as Retry-After says before its next step (env SHAREDCARE_LOAD_RESPECT_RETRY_AFTER)")
	serverPID := fs.String("server-pid", envOr("SHAREDCARE_LOAD_SERVER_PID", "0"), "the server's pid on this machine, read for memory when /metrics does not answer; 0: none (env SHAREDCARE_LOAD_SERVER_PID)")
	fs.StringVar(&cfg.ClientKey, "client-key", envOr("SHAREDCARE_LOAD_CLIENT_KEY", ""), "PEM file of the P-384 key that signs client assertions (env SHAREDCARE_LOAD_CLIENT_KEY)")
	clientID := fs.String("client-id", envOr("SHAREDCARE_LOAD_CLIENT_ID", ""), "OAuth2 client id, registered with the key's JWKS; empty: send no tokens (env SHAREDCARE_LOAD_CLIENT_ID)")
	tokenURL := fs.String("token-url", envOr("SHAREDCARE_LOAD_TOKEN_URL", ""), "OAuth2 token endpoint; empty: /oauth2/token at -url's host (env SHAREDCARE_LOAD_TOKEN_URL)")
	scope := fs.String("scope", envOr("SHAREDCARE_LOAD_SCOPE", ""), "scopes to ask for; empty: all the client may have (env SHAREDCARE_LOAD_SCOPE)")
	fs.BoolVar(&cfg.PrintJWKS, "print-jwks", false, "print the JWKS of -client-key to register the client with, making the key if the file does not exist, and stop")
	fs.StringVar(&cfg.JSON, "json", envOr("SHAREDCARE_LOAD_JSON", ""), "also write the report as JSON to this file (env SHAREDCARE_LOAD_JSON)")
	fs.StringVar(&cfg.Plot, "plot", envOr("SHAREDCARE_LOAD_PLOT", ""), "also write latency and throughput per second as SVG to this file (env SHAREDCARE_LOAD_PLOT)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	count := func(s, flag, env string, lo, hi int) (int, error) {
		n, err := strconv.Atoi(s)
		if err != nil || n < lo || n > hi {
			return 0, fmt.Errorf("-%s (%s) %q: want a whole number from %d to %d", flag, env, s, lo, hi)
		}
		return n, nil
	}
	dur := func(s, flag, env string) (time.Duration, error) {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return 0, fmt.Errorf("-%s (%s) %q: want a duration such as 90s or 10m", flag, env, s)
		}
		return d, nil
	}
	var err error
	if !isScenario(o.Scenario) {
		return nil, fmt.Errorf("-scenario (SHAREDCARE_LOAD_SCENARIO) %q: want one of %s", o.Scenario, strings.Join(load.Scenarios, ", "))
	}
	if err := load.CheckTarget(o.URL, o.AllowRemote); err != nil {
		return nil, fmt.Errorf("-url (SHAREDCARE_LOAD_URL): %v; pass -allow-remote to load a server elsewhere", err)
	}
	if o.Patients, err = count(*patients, "patients", "SHAREDCARE_PATIENTS", 1, nhs.TestNumbers); err != nil {
		return nil, err
	}
	if o.Population.Seed, err = strconv.ParseUint(*seed, 10, 64); err != nil {
		return nil, fmt.Errorf("-seed (SHAREDCARE_SEED) %q: want a whole number from 0 to %d", *seed, uint64(1<<64-1))
	}
	if o.Population.Practices, err = count(*practices, "practices", "SHAREDCARE_PRACTICES", 1, synth.MaxPractices); err != nil {
		return nil, err
	}
	if o.Population.HistoryYears, err = count(*historyYears, "history-years", "SHAREDCARE_HISTORY_YEARS", 1, synth.MaxHistoryYears); err != nil {
		return nil, err
	}
	if o.Population.Workers, err = count(*workers, "workers", "SHAREDCARE_WORKERS", 1, 1024); err != nil {
		return nil, err
	}
	if o.Start, err = count(*start, "start", "SHAREDCARE_START", 0, o.Patients); err != nil {
		return nil, err
	}
	if o.Sample, err = count(*sample, "sample", "SHAREDCARE_LOAD_SAMPLE", 1, 1_000_000); err != nil {
		return nil, err
	}
	if o.Concurrency, err = count(*concurrency, "concurrency", "SHAREDCARE_LOAD_CONCURRENCY", 1, 10_000); err != nil {
		return nil, err
	}
	if o.Clinicians, err = count(*clinicians, "clinicians", "SHAREDCARE_LOAD_CLINICIANS", 1, 1_000_000); err != nil {
		return nil, err
	}
	if o.Ramp, err = dur(*ramp, "ramp", "SHAREDCARE_LOAD_RAMP"); err != nil {
		return nil, err
	}
	if o.Summaries, err = count(*summaries, "summaries", "SHAREDCARE_LOAD_SUMMARIES", 0, 10_000); err != nil {
		return nil, err
	}
	if *think == "" {
		*think = "0"
		if o.Scenario == load.Monday {
			*think = "exp:5s"
		}
	}
	if o.Think, err = load.ParseThink(*think); err != nil {
		return nil, fmt.Errorf("-think (SHAREDCARE_LOAD_THINK): %v", err)
	}
	if *duration != "" {
		if o.Duration, err = dur(*duration, "duration", "SHAREDCARE_LOAD_DURATION"); err != nil {
			return nil, err
		}
		if o.Duration == 0 {
			return nil, fmt.Errorf("-duration (SHAREDCARE_LOAD_DURATION) %q: want more than nothing", *duration)
		}
	}
	if o.MaxRequests, err = count(*maxRequests, "max-requests", "SHAREDCARE_LOAD_MAX_REQUESTS", 1, 100_000_000); err != nil {
		return nil, err
	}
	if o.Timeout, err = dur(*timeout, "timeout", "SHAREDCARE_LOAD_TIMEOUT"); err != nil || o.Timeout == 0 {
		return nil, fmt.Errorf("-timeout (SHAREDCARE_LOAD_TIMEOUT) %q: want a positive duration such as 10s", *timeout)
	}
	if o.ServerPID, err = count(*serverPID, "server-pid", "SHAREDCARE_LOAD_SERVER_PID", 0, 1<<31-1); err != nil {
		return nil, err
	}
	switch {
	case cfg.PrintJWKS && cfg.ClientKey == "":
		return nil, errors.New("-print-jwks needs -client-key (SHAREDCARE_LOAD_CLIENT_KEY), the key file to print or make")
	case cfg.PrintJWKS:
	case *clientID != "":
		if cfg.ClientKey == "" {
			return nil, errors.New("-client-id (SHAREDCARE_LOAD_CLIENT_ID) needs -client-key (SHAREDCARE_LOAD_CLIENT_KEY)")
		}
		key, err := readClientKey(cfg.ClientKey)
		if err != nil {
			return nil, fmt.Errorf("-client-key (SHAREDCARE_LOAD_CLIENT_KEY): %w", err)
		}
		if *tokenURL == "" {
			u, _ := url.Parse(o.URL) // CheckTarget parsed it
			*tokenURL = (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: "/oauth2/token"}).String()
		}
		if err := load.CheckTarget(*tokenURL, o.AllowRemote); err != nil {
			return nil, fmt.Errorf("-token-url (SHAREDCARE_LOAD_TOKEN_URL): %v", err)
		}
		o.Credentials = &load.Credentials{TokenURL: *tokenURL, ClientID: *clientID, Key: key, Scope: *scope}
	}
	return &cfg, nil
}

// readClientKey reads a P-384 private key from a PEM file: PKCS #8 ("PRIVATE
// KEY", as openssl genpkey writes) or SEC 1 ("EC PRIVATE KEY").
func readClientKey(path string) (*ecdsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("no PEM block")
	}
	var key any
	switch blk.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(blk.Bytes)
	default:
		return nil, fmt.Errorf("PEM block %q: want PRIVATE KEY or EC PRIVATE KEY", blk.Type)
	}
	if err != nil {
		return nil, err
	}
	ec, ok := key.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P384() {
		return nil, errors.New("want an ECDSA P-384 key, for ES384")
	}
	return ec, nil
}

// printJWKS writes the JWKS of the key in path to w, first making a new
// key there (readable by its owner only) when the file does not exist.
func printJWKS(path string, w io.Writer) error {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		if err != nil {
			return err
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	key, err := readClientKey(path)
	if err != nil {
		return err
	}
	jwks, err := load.JWKS(key)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", jwks)
	return err
}

func clientIDOf(c *load.Credentials) string {
	if c == nil {
		return ""
	}
	return c.ClientID
}

func isScenario(s string) bool {
	for _, x := range load.Scenarios {
		if s == x {
			return true
		}
	}
	return false
}

// runLoad runs a scenario and writes its report: markdown on standard
// output, JSON and SVG to files when asked. Progress goes to standard
// error. It fails when any request failed, so that a script notices; shed
// load is not a failure.
func runLoad(ctx context.Context, args []string) error {
	cfg, err := loadFlags(args, os.Stderr)
	if err != nil {
		return err
	}
	if cfg.PrintJWKS {
		if err := printJWKS(cfg.ClientKey, os.Stdout); err != nil {
			return fmt.Errorf("-client-key (SHAREDCARE_LOAD_CLIENT_KEY): %w", err)
		}
		return nil
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("component", "load")
	cfg.Options.Log = log
	o := cfg.Options
	log.Info("load", "scenario", o.Scenario, "url", o.URL, "patients", o.Patients, "seed", o.Population.Seed,
		"concurrency", o.Concurrency, "clinicians", o.Clinicians, "ramp", o.Ramp.String(), "summaries", o.Summaries,
		"think", o.Think.String(), "max_requests", o.MaxRequests, "respect_retry_after", o.RespectRetryAfter,
		"client_id", clientIDOf(o.Credentials))
	rep, err := load.Run(ctx, cfg.Options)
	if err != nil {
		return err
	}
	return writeLoadReport(rep, cfg, os.Stdout)
}

func writeLoadReport(rep *load.Report, cfg *loadConfig, stdout io.Writer) error {
	if err := rep.WriteMarkdown(stdout); err != nil {
		return err
	}
	write := func(name string, fn func(io.Writer) error) error {
		if name == "" {
			return nil
		}
		f, err := os.Create(name)
		if err != nil {
			return err
		}
		if err := fn(f); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	if err := write(cfg.JSON, rep.WriteJSON); err != nil {
		return fmt.Errorf("-json: %w", err)
	}
	if err := write(cfg.Plot, rep.WritePlot); err != nil {
		return fmt.Errorf("-plot: %w", err)
	}
	if n := rep.Requests.Errors; n > 0 {
		return fmt.Errorf("%d of %d requests failed", n, rep.Requests.Count)
	}
	if rep.StoppedBy == "interrupted" {
		return errors.New("interrupted")
	}
	return nil
}
