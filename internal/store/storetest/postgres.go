package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// postgresAdmin lists where PostgresURL looks for the test server, in
// order: PostgreSQL on loopback with trust authentication, as the postgres
// role or as root (scripts/test starts it).
var postgresAdmin = []string{
	"postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
	"postgres://root@127.0.0.1:5432/test?sslmode=disable",
}

// PostgresURL returns the URL of a new, empty database on the test server,
// dropped when t ends, so that tests share nothing. It skips t when nothing
// answers there, but fails it when the environment says CI=true, where
// PostgreSQL must be up.
func PostgresURL(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var admin *pgx.Conn
	var adminURL string
	var errs []error
	for _, u := range postgresAdmin {
		c, err := pgx.Connect(ctx, u)
		if err == nil {
			admin, adminURL = c, u
			break
		}
		errs = append(errs, err)
	}
	if admin == nil {
		err := errors.Join(errs...)
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL on 127.0.0.1:5432: %v", err)
		}
		t.Skipf("PostgreSQL does not answer on 127.0.0.1:5432 (scripts/test starts it): %v", err)
	}
	defer admin.Close(ctx)
	var b [6]byte
	rand.Read(b[:])
	name := "sc_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, adminURL)
		if err != nil {
			t.Errorf("drop test database %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		// FORCE ends sessions a failed test left open.
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	u, err := url.Parse(adminURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}
