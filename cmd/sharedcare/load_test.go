package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sharedcare/internal/load"
)

func TestLoadFlagsDefaults(t *testing.T) {
	for _, env := range []string{"SHAREDCARE_LOAD_URL", "SHAREDCARE_LOAD_SCENARIO", "SHAREDCARE_PATIENTS", "SHAREDCARE_LOAD_THINK",
		"SHAREDCARE_LOAD_RESPECT_RETRY_AFTER", "SHAREDCARE_LOAD_CLINICIANS", "SHAREDCARE_LOAD_DURATION", "SHAREDCARE_SEED"} {
		t.Setenv(env, "")
		os.Unsetenv(env)
	}
	cfg, err := loadFlags(nil, io.Discard)
	if err != nil {
		t.Fatalf("loadFlags(no flags): %v", err)
	}
	o := cfg.Options
	if o.URL != "http://localhost:8080/fhir" || o.Scenario != load.Monday || o.Clinicians != 2000 || o.Ramp != time.Minute ||
		o.Summaries != 5 || o.Think != (load.Think{Mean: 5 * time.Second}) || !o.RespectRetryAfter || o.AllowRemote || o.Duration != 0 {
		t.Errorf("defaults = %+v; want monday against localhost:8080, 2000 clinicians over 1m, 5 summaries, think exp:5s, Retry-After respected", o)
	}
	cfg, err = loadFlags([]string{"-scenario", "read"}, io.Discard)
	if err != nil || cfg.Options.Think != (load.Think{}) {
		t.Errorf("loadFlags(-scenario read) think = %+v, %v; want no think time outside monday", cfg.Options.Think, err)
	}
}

func TestLoadFlagsEnv(t *testing.T) {
	t.Setenv("SHAREDCARE_LOAD_SCENARIO", "search")
	t.Setenv("SHAREDCARE_PATIENTS", "300")
	t.Setenv("SHAREDCARE_LOAD_RESPECT_RETRY_AFTER", "false")
	t.Setenv("SHAREDCARE_LOAD_DURATION", "90s")
	cfg, err := loadFlags([]string{"-patients", "400"}, io.Discard)
	if err != nil {
		t.Fatalf("loadFlags: %v", err)
	}
	o := cfg.Options
	if o.Scenario != load.Search || o.Patients != 400 || o.RespectRetryAfter || o.Duration != 90*time.Second {
		t.Errorf("options = scenario %s, patients %d, respect %v, duration %v; want search from env, 400 from the flag over env, false, 90s",
			o.Scenario, o.Patients, o.RespectRetryAfter, o.Duration)
	}
}

func TestLoadFlagsRefuse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string // in the message: the flag and its variable
	}{
		{[]string{"-url", "https://fhir.example.nhs.uk/fhir"}, "-allow-remote"},
		{[]string{"-scenario", "tuesday"}, "-scenario (SHAREDCARE_LOAD_SCENARIO)"},
		{[]string{"-patients", "0"}, "-patients (SHAREDCARE_PATIENTS)"},
		{[]string{"-think", "often"}, "-think (SHAREDCARE_LOAD_THINK)"},
		{[]string{"-ramp", "soon"}, "-ramp (SHAREDCARE_LOAD_RAMP)"},
		{[]string{"-duration", "0s"}, "-duration (SHAREDCARE_LOAD_DURATION)"},
		{[]string{"-timeout", "0s"}, "-timeout (SHAREDCARE_LOAD_TIMEOUT)"},
		{[]string{"-max-requests", "0"}, "-max-requests (SHAREDCARE_LOAD_MAX_REQUESTS)"},
		{[]string{"-patients", "10", "-start", "11"}, "-start (SHAREDCARE_START)"},
		{[]string{"extra"}, "unexpected argument"},
		{[]string{"-client-id", "load"}, "-client-key (SHAREDCARE_LOAD_CLIENT_KEY)"},
		{[]string{"-client-id", "load", "-client-key", "/nonexistent/load.pem"}, "-client-key (SHAREDCARE_LOAD_CLIENT_KEY)"},
		{[]string{"-print-jwks"}, "-client-key (SHAREDCARE_LOAD_CLIENT_KEY)"},
	}
	for _, tt := range tests {
		_, err := loadFlags(tt.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("loadFlags(%q) = %v, want an error naming %q", tt.args, err, tt.want)
		}
	}
	if _, err := loadFlags([]string{"-url", "https://fhir.example.nhs.uk/fhir", "-allow-remote"}, io.Discard); err != nil {
		t.Errorf("loadFlags(remote, -allow-remote) = %v, want it allowed", err)
	}
}

func TestWriteLoadReport(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := &loadConfig{JSON: filepath.Join(dir, "r.json"), Plot: filepath.Join(dir, "r.svg")}
	rep := &load.Report{Scenario: load.Read, Requests: load.Operation{Name: "all requests", Count: 3, OK: 2, Errors: 1},
		Timeline: []load.Second{{T: 0, Requests: 3, Errors: 1, P50: 1, P99: 2}}}
	var out bytes.Buffer
	err := writeLoadReport(rep, cfg, &out)
	if err == nil || !strings.Contains(err.Error(), "1 of 3 requests failed") {
		t.Errorf("writeLoadReport(a run with an error) = %v, want it to fail so scripts notice", err)
	}
	if !strings.Contains(out.String(), "| **all requests** | 3 | 2 | 1 |") {
		t.Errorf("markdown on stdout lacks the totals row:\n%s", out.String())
	}
	if b, err := os.ReadFile(cfg.JSON); err != nil || !bytes.Contains(b, []byte(`"scenario": "read"`)) {
		t.Errorf("-json file: %v\n%s", err, b)
	}
	b, err := os.ReadFile(cfg.Plot)
	if err != nil {
		t.Fatalf("-plot file: %v", err)
	}
	if err := xml.Unmarshal(b, new(struct{})); err != nil {
		t.Errorf("-plot file is not XML: %v", err)
	}
}

func TestLoadClientKey(t *testing.T) {
	t.Parallel()
	key := filepath.Join(t.TempDir(), "load.pem")
	var first, again bytes.Buffer
	if err := printJWKS(key, &first); err != nil {
		t.Fatalf("printJWKS(new key): %v", err)
	}
	if err := printJWKS(key, &again); err != nil || first.String() != again.String() {
		t.Errorf("printJWKS(the same key) = %v, %s; want the same JWKS as first: %s", err, again.String(), first.String())
	}
	var jwks struct {
		Keys []struct{ Kty, Crv, Kid, Alg string }
	}
	if err := json.Unmarshal(first.Bytes(), &jwks); err != nil || len(jwks.Keys) != 1 || jwks.Keys[0].Crv != "P-384" || jwks.Keys[0].Alg != "ES384" || jwks.Keys[0].Kid == "" {
		t.Errorf("JWKS = %s (%v), want one P-384 ES384 key with a kid", first.String(), err)
	}
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	cfg, err := loadFlags([]string{"-client-id", "load", "-client-key", key, "-url", "http://127.0.0.1:9000/fhir"}, io.Discard)
	if err != nil {
		t.Fatalf("loadFlags(-client-id, -client-key): %v", err)
	}
	if c := cfg.Options.Credentials; c == nil || c.ClientID != "load" || c.TokenURL != "http://127.0.0.1:9000/oauth2/token" || c.Key == nil {
		t.Errorf("credentials = %+v, want client load, token URL at -url's host, the key", c)
	}
	_, err = loadFlags([]string{"-client-id", "load", "-client-key", key, "-token-url", "https://auth.example.nhs.uk/oauth2/token"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "-token-url") {
		t.Errorf("loadFlags(remote -token-url) = %v, want it refused without -allow-remote", err)
	}
}
