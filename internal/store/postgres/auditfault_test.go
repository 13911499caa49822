package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"sharedcare/internal/store"
	"sharedcare/internal/store/storetest"
)

// TestAuditFailureAndRetry makes PostgreSQL refuse the trail's inserts for
// a while (a constraint no row meets): a waiting append fails; a queued
// event is kept; further reads' events are refused, so that no read goes
// unaudited; once inserts work again the kept event is written, in an
// unbroken chain, and queueing works again.
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
	// Ids are unique, as the trail's always are (PostgreSQL enforces it).
	event := func(id string) []*store.AuditRecord {
		return []*store.AuditRecord{{ID: id, Recorded: time.Now(), Patients: []string{"p1"},
			Body: []byte(fmt.Sprintf(`{"resourceType":"AuditEvent","id":%q}`, id))}}
	}
	if err := db.AppendAudit(ctx, event("before")); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, `ALTER TABLE audit ADD CONSTRAINT refuse_all CHECK (false) NOT VALID`); err != nil {
		t.Fatal(err)
	}
	if err := db.AppendAudit(ctx, event("waiting")); err == nil {
		t.Error("AppendAudit succeeded while PostgreSQL refused the trail's inserts")
	}
	if err := db.QueueAudit(ctx, event("kept")); err != nil {
		t.Fatalf("QueueAudit before any queued batch failed = %v", err)
	}
	refused := false
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if err := db.QueueAudit(ctx, event(fmt.Sprint("refused-", time.Now().UnixNano()))); err != nil {
			refused = true
			break
		}
	}
	if !refused {
		t.Fatal("QueueAudit never refused while the trail could not be written")
	}
	if _, err := admin.Exec(ctx, `ALTER TABLE audit DROP CONSTRAINT refuse_all`); err != nil {
		t.Fatal(err)
	}
	var qerr error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if qerr = db.QueueAudit(ctx, event(fmt.Sprint("after-", time.Now().UnixNano()))); qerr == nil {
			break
		}
	}
	if qerr != nil {
		t.Fatalf("QueueAudit after the trail recovered = %v", qerr)
	}
	var bodies []string
	var prev []byte
	err = db.ScanAudit(ctx, func(e *store.AuditRecord) error {
		if string(e.Prev) != string(prev) {
			return fmt.Errorf("event %d does not chain to the one before", e.Seq)
		}
		prev = e.Hash
		bodies = append(bodies, string(e.Body))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(bodies, " ")
	for _, want := range []string{`"before"`, `"kept"`, `"after-`} {
		if !strings.Contains(got, want) {
			t.Errorf("trail = %s; missing %s", got, want)
		}
	}
	if strings.Contains(got, `"waiting"`) {
		t.Errorf("trail = %s; the append that failed was written after all", got)
	}
}
