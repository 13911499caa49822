package postgres

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"sharedcare/internal/store/storetest"
)

// TestAuditFailureAndRetry makes PostgreSQL refuse the trail's inserts for
// a while (a constraint no row meets), with no hook in the code.
func TestAuditFailureAndRetry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := storetest.PostgresURL(t)
	db := openURL(t, url, Options{})
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	exec := func(sql string) {
		if _, err := admin.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	storetest.AuditFailure(t, db,
		func() { exec(`ALTER TABLE audit ADD CONSTRAINT refuse_all CHECK (false) NOT VALID`) },
		func() { exec(`ALTER TABLE audit DROP CONSTRAINT refuse_all`) },
		func(err error) bool { return err != nil })
}
