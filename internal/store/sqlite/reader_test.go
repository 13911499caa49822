package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"sharedcare/internal/store"
)

// TestReaderLeavesTheTrail: a Reader store beside the server refuses
// audit events, and leaves the trail's patient index, however far behind,
// to the server: indexing it would take the trail's write lock.
func TestReaderLeavesTheTrail(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "r.db")
	db, err := Open(ctx, Options{Path: path, Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	ev := []*store.AuditRecord{{ID: "e1", Recorded: time.Now(), Patients: []string{"p1"}, Body: []byte(`{"i":"read"}`)}}
	if err := db.AppendAudit(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// The index as if the server had not yet caught up.
	raw := sql.OpenDB(connector(path+"-audit", "NORMAL", false))
	defer raw.Close()
	if _, err := raw.Exec(`DELETE FROM trail_patient; UPDATE trail_state SET v = 0 WHERE k = 'indexed'`); err != nil {
		t.Fatal(err)
	}

	r, err := Open(ctx, Options{Path: path, Reader: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.AppendAudit(ctx, ev); err == nil {
		t.Error("a Reader appended an audit event")
	}
	if err := r.QueueAudit(ctx, ev); err == nil {
		t.Error("a Reader queued an audit event")
	}
	time.Sleep(3 * auditIdle) // long enough for a writer to index when idle
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	var indexed, rows int64
	if err := raw.QueryRow(`SELECT (SELECT v FROM trail_state WHERE k = 'indexed'), (SELECT count(*) FROM trail_patient)`).Scan(&indexed, &rows); err != nil {
		t.Fatal(err)
	}
	if indexed != 0 || rows != 0 {
		t.Errorf("after a Reader: indexed %d, %d index rows; want the index left to the server", indexed, rows)
	}
}
