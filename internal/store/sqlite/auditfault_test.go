package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sharedcare/internal/store"
	"sharedcare/internal/store/sqlite"
)

// TestAuditFailureAndRetry makes the trail unwritable for a while: a
// waiting append fails; a queued event is kept; further reads' events are
// refused, so that no read goes unaudited; once the trail is writable the
// kept event is written, in an unbroken chain, and queueing works again.
func TestAuditFailureAndRetry(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(t.TempDir(), "fault.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Ids are unique, as the trail's always are (PostgreSQL enforces it).
	event := func(id string) []*store.AuditRecord {
		return []*store.AuditRecord{{ID: id, Recorded: time.Now(), Patients: []string{"p1"},
			Body: []byte(fmt.Sprintf(`{"resourceType":"AuditEvent","id":%q}`, id))}}
	}
	if err := db.AppendAudit(ctx, event("before")); err != nil {
		t.Fatal(err)
	}
	diskFull := errors.New("disk full")
	sqlite.SetAuditFault(db, func() error { return diskFull })
	if err := db.AppendAudit(ctx, event("waiting")); !errors.Is(err, diskFull) {
		t.Errorf("AppendAudit while the trail fails = %v, want the failure", err)
	}
	if err := db.QueueAudit(ctx, event("kept")); err != nil {
		t.Fatalf("QueueAudit before any queued batch failed = %v", err)
	}
	refused := false
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if err := db.QueueAudit(ctx, event(fmt.Sprint("refused-", time.Now().UnixNano()))); err != nil {
			refused = errors.Is(err, diskFull)
			break
		}
		// Accepted before the kept event's batch failed: it is kept too.
	}
	if !refused {
		t.Fatal("QueueAudit never refused while the trail could not be written")
	}
	sqlite.SetAuditFault(db, nil)
	var err2 error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if err2 = db.QueueAudit(ctx, event(fmt.Sprint("after-", time.Now().UnixNano()))); err2 == nil {
			break
		}
	}
	if err2 != nil {
		t.Fatalf("QueueAudit after the trail recovered = %v", err2)
	}
	var ids []string
	var prev []byte
	err = db.ScanAudit(ctx, func(e *store.AuditRecord) error {
		if string(e.Prev) != string(prev) {
			return fmt.Errorf("event %d does not chain to the one before", e.Seq)
		}
		prev = e.Hash
		ids = append(ids, string(e.Body))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(ids)
	for _, want := range []string{`"before"`, `"kept"`, `"after-`} {
		if !strings.Contains(got, want) {
			t.Errorf("trail = %s; missing %s", got, want)
		}
	}
	if strings.Contains(got, `"waiting"`) {
		t.Errorf("trail = %s; the append that failed was written after all", got)
	}
}
