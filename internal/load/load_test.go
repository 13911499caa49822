package load_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sharedcare/internal/auth"
	"sharedcare/internal/load"
	"sharedcare/internal/server"
	"sharedcare/internal/store/sqlite"
	"sharedcare/internal/synth"
)

// newServer starts the real server on SQLite in a temporary folder,
// without authentication.
func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	hs, _ := newServerWith(t, server.Options{InsecureNoAuth: true})
	return hs
}

func newServerWith(t *testing.T, opts server.Options) (*httptest.Server, *server.Server) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "load.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	opts.Store = db
	srv := server.New(opts)
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return hs, srv
}

// TestClientCredentials runs against a server that wants tokens: every
// virtual user gets its own with a signed client assertion, as a SMART
// Backend Service registered with the key's JWKS.
func TestClientCredentials(t *testing.T) {
	t.Parallel()
	hs, srv := newServerWith(t, server.Options{})
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwks, err := load.JWKS(key)
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := srv.Auth().RegisterClient(context.Background(), auth.NewClient{Name: "Load generator", JWKS: jwks, Scopes: "system/*.cruds"})
	if err != nil {
		t.Fatalf("RegisterClient: %v", err)
	}
	base := load.Options{
		URL: hs.URL + "/fhir", Patients: 2, Population: synth.Options{Seed: 8, HistoryYears: 2}, Timeout: time.Minute,
		Credentials: &load.Credentials{TokenURL: hs.URL + "/oauth2/token", ClientID: c.ID, Key: key},
	}
	for _, sc := range []string{load.Ingest, load.Monday} {
		opts := base
		opts.Scenario, opts.Concurrency, opts.Clinicians, opts.Summaries = sc, 2, 2, 1
		rep, err := load.Run(context.Background(), opts)
		if err != nil {
			t.Fatalf("Run(%s) with client credentials: %v", sc, err)
		}
		check(t, rep)
		if sc == load.Ingest && rep.Ingest.Bundles != 3 {
			t.Errorf("ingest: %d bundles, want 3 (shared + 2 patients), token requests apart", rep.Ingest.Bundles)
		}
		tokens := 0
		for _, o := range rep.Operations {
			if strings.Contains(o.Name, "client_credentials") {
				tokens += o.OK
			}
		}
		if tokens < 2 {
			t.Errorf("%s: %d tokens issued, want one for each of 2 users", sc, tokens)
		}
	}
	opts := base
	opts.Scenario, opts.Clinicians = load.Monday, 1
	opts.Credentials = nil
	if _, err := load.Run(context.Background(), opts); err == nil || !strings.Contains(err.Error(), "token") {
		t.Errorf("Run(monday) without credentials against a server that wants them = %v, want an error saying so", err)
	}
}

// TestIngestThenMonday loads five synthetic patients into a real server
// with the tool, then runs each scenario on them: a tiny Monday (three
// clinicians, a summary each, no think time) and short read, search and
// summary runs, each bounded by its request cap.
func TestIngestThenMonday(t *testing.T) {
	t.Parallel()
	hs := newServer(t)
	ctx := context.Background()
	base := load.Options{
		URL:        hs.URL + "/fhir",
		Patients:   5,
		Population: synth.Options{Seed: 7, HistoryYears: 3},
		Timeout:    time.Minute, // -race on a busy machine: slow, but not an error
	}

	opts := base
	opts.Scenario = load.Ingest
	opts.Concurrency = 2
	rep, err := load.Run(ctx, opts)
	if err != nil {
		t.Fatalf("Run(ingest): %v", err)
	}
	check(t, rep)
	if rep.Ingest == nil || rep.Ingest.Bundles != 6 || rep.Ingest.Resources <= 5 || rep.Ingest.ResourcesPerSecond <= 0 {
		t.Errorf("ingest = %+v, want 6 bundles (shared + 5 patients) and their resources at a positive rate", rep.Ingest)
	}

	opts = base
	opts.Scenario = load.Monday
	opts.Clinicians, opts.Summaries = 3, 1
	rep, err = load.Run(ctx, opts)
	if err != nil {
		t.Fatalf("Run(monday): %v", err)
	}
	check(t, rep)
	steps := map[string]load.Operation{}
	for _, o := range rep.Operations {
		if o.Step {
			steps[o.Name] = o
		}
	}
	if s := steps["sign-in"]; s.OK != 3 {
		t.Errorf("monday: sign-in = %+v, want 3 OK", s)
	}
	if s := steps["patient summary (page)"]; s.OK != 3 || s.P99 <= 0 {
		t.Errorf("monday: patient summary = %+v, want 3 OK with a latency", s)
	}
	if rep.Server.RSSMaxBytes <= 0 {
		t.Errorf("monday: server RSS max = %d, want it read from /metrics", rep.Server.RSSMaxBytes)
	}

	for _, sc := range []string{load.Read, load.Search, load.Summary} {
		opts = base
		opts.Scenario, opts.Concurrency, opts.MaxRequests = sc, 2, 30
		rep, err := load.Run(ctx, opts)
		if err != nil {
			t.Fatalf("Run(%s): %v", sc, err)
		}
		check(t, rep)
		if rep.StoppedBy != "max-requests" {
			t.Errorf("%s: stopped by %q, want max-requests", sc, rep.StoppedBy)
		}
	}
}

// check asserts a run had no errors, no shed load and some throughput.
func check(t *testing.T, rep *load.Report) {
	t.Helper()
	r := rep.Requests
	if r.Errors != 0 || r.Shed != 0 {
		t.Errorf("%s: %d errors (%v, transport %v), %d shed; want none", rep.Scenario, r.Errors, rep.ErrorsByStatus, rep.TransportErrors, r.Shed)
	}
	if r.OK == 0 || r.PerSecond <= 0 {
		t.Errorf("%s: %d OK at %v/s, want some throughput", rep.Scenario, r.OK, r.PerSecond)
	}
}

func TestRunRefusesWhatItCannotLoad(t *testing.T) {
	t.Parallel()
	hs := newServer(t)
	tests := []struct {
		name string
		opts load.Options
	}{
		{"a remote server", load.Options{URL: "http://192.0.2.1:8080/fhir", Scenario: load.Read, Patients: 5}},
		{"an unknown scenario", load.Options{URL: hs.URL + "/fhir", Scenario: "tuesday", Patients: 5}},
		{"an empty server", load.Options{URL: hs.URL + "/fhir", Scenario: load.Monday, Patients: 5, Clinicians: 1}},
	}
	for _, tt := range tests {
		if rep, err := load.Run(context.Background(), tt.opts); err == nil {
			t.Errorf("Run(%s) = %+v, nil; want an error", tt.name, rep)
		}
	}
}

func TestCheckTarget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url         string
		allowRemote bool
		ok          bool
	}{
		{"http://localhost:8080/fhir", false, true},
		{"http://127.0.0.1:8080/fhir", false, true},
		{"http://127.3.4.5/fhir", false, true},
		{"http://[::1]:8080/fhir", false, true},
		{"https://fhir.example.nhs.uk/fhir", false, false},
		{"http://10.0.0.5:8080/fhir", false, false},
		{"http://localhost.example.com/fhir", false, false},
		{"https://fhir.example.nhs.uk/fhir", true, true},
		{"ftp://localhost/fhir", true, false},
		{"localhost:8080/fhir", false, false},
		{"http://localhost:8080/fhir?x=1", false, false},
	}
	for _, tt := range tests {
		if err := load.CheckTarget(tt.url, tt.allowRemote); (err == nil) != tt.ok {
			t.Errorf("CheckTarget(%q, %v) = %v, want ok %v", tt.url, tt.allowRemote, err, tt.ok)
		}
	}
}
