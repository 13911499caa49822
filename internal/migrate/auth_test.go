package migrate_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"sharedcare/internal/auth"
	"sharedcare/internal/migrate"
	"sharedcare/internal/server"
	"sharedcare/internal/store"
)

// newAuthServer is a sharedcare that wants tokens, with a backend service
// registered for key with scopes; it returns the server and the client id.
func newAuthServer(t *testing.T, db store.Store, key *ecdsa.PrivateKey, scopes string) (*httptest.Server, string) {
	t.Helper()
	srv := server.New(server.Options{Store: db, ExportDir: t.TempDir(), ImportFrom: []string{"http://127.0.0.1"}})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { srv.RunWorkers(ctx) })
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { hs.Close(); cancel(); wg.Wait() })
	c, _, err := srv.Auth().RegisterClient(context.Background(), auth.NewClient{Name: "migration", JWKS: migrate.JWKS(&key.PublicKey), Scopes: scopes})
	if err != nil {
		t.Fatal(err)
	}
	return hs, c.ID
}

// TestMigrateSignsIn moves a practice between two servers that want
// tokens, signing in to each as a SMART backend service; a source client
// without system read scopes is refused the export.
func TestMigrateSignsIn(t *testing.T) {
	dir, org := practice(t, 5)
	key, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	// The source's store is loaded through a server without sign-in, then
	// served by one that wants tokens.
	srcDB := openSQLite(t)
	load(t, newServer(t, srcDB), dir)
	from, fromID := newAuthServer(t, srcDB, key, "system/*.rs")
	to, toID := newAuthServer(t, openSQLite(t), key, "system/*.cruds")
	src := migrate.Endpoint{Base: from.URL + "/fhir", Credentials: &migrate.Credentials{ClientID: fromID, Key: key}}
	dst := migrate.Endpoint{Base: to.URL + "/fhir", Credentials: &migrate.Credentials{ClientID: toID, Key: key}}
	r, err := migrate.Run(context.Background(), migrate.Options{From: src, To: dst, Organization: org, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK || r.Patients != 5 {
		t.Fatalf("signed-in migration: OK %v, %d patients\n%s", r.OK, r.Patients, r.Markdown())
	}

	// A client that may only read Observations cannot export the practice.
	narrow, narrowID := newAuthServer(t, srcDB, key, "system/Observation.rs")
	_, err = migrate.Run(context.Background(), migrate.Options{
		From: migrate.Endpoint{Base: narrow.URL + "/fhir", Credentials: &migrate.Credentials{ClientID: narrowID, Key: key}},
		To:   dst, Organization: org, StateDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("migration with system/Observation.rs at the source = %v, want a 403", err)
	}
}
