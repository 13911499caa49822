package sqlite_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"sharedcare/internal/store/sqlite"
	"sharedcare/internal/store/storetest"
)

// TestAuditFailureAndRetry fails the trail's batches through the test
// hook, as a full disk or an I/O error would.
func TestAuditFailureAndRetry(t *testing.T) {
	db, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "fault.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	diskFull := errors.New("disk full")
	storetest.AuditFailure(t, db,
		func() { sqlite.SetAuditFault(db, func() error { return diskFull }) },
		func() { sqlite.SetAuditFault(db, nil) },
		func(err error) bool { return errors.Is(err, diskFull) })
}
