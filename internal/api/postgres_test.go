package api_test

import (
	"context"
	"testing"

	"sharedcare/internal/store"
	"sharedcare/internal/store/postgres"
	"sharedcare/internal/store/storetest"
)

// openPostgres opens a store on a fresh database of the test server; the
// test is skipped when PostgreSQL is not running (failed under CI=true).
func openPostgres(t testing.TB) store.Store {
	t.Helper()
	db, err := postgres.Open(context.Background(), postgres.Options{URL: storetest.PostgresURL(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
