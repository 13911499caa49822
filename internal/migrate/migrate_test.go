package migrate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"sharedcare/internal/migrate"
	"sharedcare/internal/server"
	"sharedcare/internal/store"
	"sharedcare/internal/store/postgres"
	"sharedcare/internal/store/sqlite"
	"sharedcare/internal/store/storetest"
	"sharedcare/internal/synth"
)

func openSQLite(t testing.TB) store.Store {
	db, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "m.db"), Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func openPostgres(t testing.TB) store.Store {
	db, err := postgres.Open(context.Background(), postgres.Options{URL: storetest.PostgresURL(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// newServer is a whole sharedcare with bulk data on, authentication off,
// whose $import may fetch from loopback (where the tests serve files).
func newServer(t testing.TB, db store.Store) *httptest.Server {
	t.Helper()
	return newServerOpts(t, server.Options{Store: db, InsecureNoAuth: true, ExportDir: t.TempDir(), ImportFrom: []string{"http://127.0.0.1"}})
}

func newServerOpts(t testing.TB, opts server.Options) *httptest.Server {
	t.Helper()
	srv := server.New(opts)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { srv.RunWorkers(ctx) })
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { hs.Close(); cancel(); wg.Wait() })
	return hs
}

// practice writes n synthetic patients of one practice as NDJSON files,
// one per type, and returns the folder and the practice's id.
func practice(t testing.TB, n int) (dir, org string) {
	t.Helper()
	dir = t.TempDir()
	g, err := synth.New(synth.Options{Practices: 1, HistoryYears: 3})
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]*os.File{}
	err = g.NDJSON(context.Background(), 0, n, func(typ string, lines []byte) error {
		if typ == "Patient" && org == "" {
			var p struct{ GeneralPractitioner []struct{ Reference string } }
			json.Unmarshal(lines[:bytes.IndexByte(lines, '\n')], &p)
			org = strings.TrimPrefix(p.GeneralPractitioner[0].Reference, "Organization/")
		}
		f := files[typ]
		if f == nil {
			if f, err = os.Create(filepath.Join(dir, typ+".ndjson")); err != nil {
				return err
			}
			files[typ] = f
		}
		_, err := f.Write(lines)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		f.Close()
	}
	return dir, org
}

// load imports the folder's files into a server by its $import.
func load(t testing.TB, srv *httptest.Server, dir string) {
	t.Helper()
	files := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer files.Close()
	names, _ := filepath.Glob(filepath.Join(dir, "*.ndjson"))
	var inputs []string
	for _, n := range names {
		base := filepath.Base(n)
		inputs = append(inputs, fmt.Sprintf(`{"type":%q,"url":%q}`, strings.TrimSuffix(base, ".ndjson"), files.URL+"/"+base))
	}
	body := `{"inputFormat":"application/fhir+ndjson","input":[` + strings.Join(inputs, ",") + `]}`
	req, _ := http.NewRequest("POST", srv.URL+"/fhir/$import", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Prefer", "respond-async")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 202 {
		t.Fatalf("$import = %v, %v", resp, err)
	}
	resp.Body.Close()
	status := resp.Header.Get("Content-Location")
	deadline := time.Now().Add(10 * time.Minute)
	for {
		resp, err := http.Get(status)
		if err != nil {
			t.Fatal(err)
		}
		var m struct{ Error []struct{ Count int } }
		json.NewDecoder(resp.Body).Decode(&m)
		resp.Body.Close()
		if resp.StatusCode == 200 {
			if len(m.Error) > 0 {
				t.Fatalf("loading the source rejected resources: %+v", m.Error)
			}
			return
		}
		if resp.StatusCode != 202 || time.Now().After(deadline) {
			t.Fatalf("loading the source: status %d", resp.StatusCode)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRoundTrip moves a generated practice from sharedcare on SQLite to a
// fresh sharedcare on PostgreSQL by $export and $import, and finds every
// resource at the target with the same content hash.
func TestRoundTrip(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 50
	}
	dir, org := practice(t, n)
	from := newServer(t, openSQLite(t))
	to := newServer(t, openPostgres(t))
	load(t, from, dir)
	began := time.Now()
	r, err := migrate.Run(context.Background(), migrate.Options{
		From: migrate.Endpoint{Base: from.URL + "/fhir"}, To: migrate.Endpoint{Base: to.URL + "/fhir"},
		Organization: org, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("migrated %d patients in %s\n%s", r.Patients, time.Since(began).Round(time.Millisecond), r.Markdown())
	if !r.OK || r.Patients != n || r.Extract != "bulk $export" || r.Load != "bulk $import" || r.Verify != "bulk $export" {
		t.Fatalf("report: OK %v, %d patients, %s / %s / %s; want verified, %d patients, by bulk data", r.OK, r.Patients, r.Extract, r.Load, r.Verify, n)
	}
	total := 0
	for _, ty := range r.Types {
		total += ty.Same
	}
	want := 0
	names, _ := filepath.Glob(filepath.Join(dir, "*.ndjson"))
	for _, name := range names {
		b, _ := os.ReadFile(name)
		if base := filepath.Base(name); base != "PractitionerRole.ndjson" {
			want += bytes.Count(b, []byte("\n"))
		}
	}
	// Every generated resource but the PractitionerRoles (which nothing of
	// the practice refers to) and the other hospitals' organisations is in
	// scope.
	if total < want-20 || total > want {
		t.Errorf("%d resources verified; the practice has %d", total, want)
	}
}

// TestRoundTripImportRefused: a target that does not fetch from loopback
// (no -import-from) refuses the $import of the files this tool serves
// there; the migration writes them with batch Bundles instead and still
// verifies every resource.
func TestRoundTripImportRefused(t *testing.T) {
	dir, org := practice(t, 20)
	from := newServer(t, openSQLite(t))
	to := newServerOpts(t, server.Options{Store: openSQLite(t), InsecureNoAuth: true, ExportDir: t.TempDir()})
	load(t, from, dir)
	r, err := migrate.Run(context.Background(), migrate.Options{
		From: migrate.Endpoint{Base: from.URL + "/fhir"}, To: migrate.Endpoint{Base: to.URL + "/fhir"},
		Organization: org, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK || r.Patients != 20 || r.Load != "batch PUT" {
		t.Fatalf("report: OK %v, %d patients, loaded by %s; want verified, 20 patients, by batch PUT", r.OK, r.Patients, r.Load)
	}
}

// TestMigrateBySearchResumes moves a practice by paged search and batch
// writes, interrupted after reading the source: run again with the same
// state, it goes on and verifies.
func TestMigrateBySearchResumes(t *testing.T) {
	dir, org := practice(t, 12)
	from := newServer(t, openSQLite(t))
	to := newServer(t, openSQLite(t))
	load(t, from, dir)
	state := t.TempDir()
	opts := migrate.Options{From: migrate.Endpoint{Base: from.URL + "/fhir"}, To: migrate.Endpoint{Base: to.URL + "/fhir"},
		Organization: org, StateDir: state, Search: true}
	ctx, cancel := context.WithCancel(context.Background())
	opts.Phase = func(p string) {
		if p == "load" {
			cancel() // as if interrupted once the source is read
		}
	}
	if _, err := migrate.Run(ctx, opts); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted migration = %v, want it cancelled", err)
	}
	var phases []string
	opts.Phase = func(p string) { phases = append(phases, p) }
	r, err := migrate.Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(phases, " ") != "load verify" {
		t.Errorf("the resumed migration ran %v, want load and verify only", phases)
	}
	if !r.OK || r.Patients != 12 || r.Extract != "paged search" || r.Load != "batch PUT" {
		t.Fatalf("report: OK %v, %d patients, %s / %s\n%s", r.OK, r.Patients, r.Extract, r.Load, r.Markdown())
	}
	// Done: running it again reports the same without moving anything.
	again, err := migrate.Run(context.Background(), opts)
	if err != nil || !again.OK {
		t.Errorf("a finished migration run again = %v, %v", again, err)
	}
}

func TestContentHash(t *testing.T) {
	a := `{"resourceType":"Observation","id":"o1","meta":{"versionId":"3","lastUpdated":"2020-01-01T00:00:00Z","source":"x"},"status":"final","valueQuantity":{"value":1.50,"unit":"mmol/L"}}`
	tests := []struct {
		name, b string
		same    bool
	}{
		{"other order, spacing and meta stamps", `{ "status":"final", "id":"o1", "resourceType":"Observation", "valueQuantity":{"unit":"mmol/L","value":1.50}, "meta":{"lastUpdated":"2024-05-05T00:00:00Z","versionId":"9"} }`, true},
		{"decimal precision", `{"resourceType":"Observation","id":"o1","status":"final","valueQuantity":{"value":1.5,"unit":"mmol/L"}}`, false},
		{"a security label", `{"resourceType":"Observation","id":"o1","meta":{"security":[{"code":"R"}]},"status":"final","valueQuantity":{"value":1.50,"unit":"mmol/L"}}`, false},
		{"array order", `{"resourceType":"Observation","id":"o1","status":"final","valueQuantity":{"value":1.50,"unit":"mmol/L"},"note":[{"text":"b"},{"text":"a"}]}`, false},
	}
	_, _, ha, err := migrate.ContentHash([]byte(a))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		typ, id, hb, err := migrate.ContentHash([]byte(tt.b))
		if err != nil || typ != "Observation" || id != "o1" {
			t.Fatalf("%s: ContentHash = %s/%s, %v", tt.name, typ, id, err)
		}
		if (ha == hb) != tt.same {
			t.Errorf("%s: same hash = %v, want %v", tt.name, ha == hb, tt.same)
		}
	}
}
