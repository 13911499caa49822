package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"sharedcare/internal/store"
)

// AuditFailure makes s's trail unwritable for a while (breakTrail, then
// mendTrail), each backend in its own way, and checks what its writers
// do: a waiting append fails with an error isFailure recognises; a queued
// event is kept; further reads' events are refused, so that no read goes
// unaudited; once the trail is writable the kept event is written, in an
// unbroken chain, the failed append is not, and queueing works again.
func AuditFailure(t *testing.T, s store.Store, breakTrail, mendTrail func(), isFailure func(error) bool) {
	t.Helper()
	ctx := context.Background()
	// Ids are unique, as the trail's always are (PostgreSQL enforces it).
	event := func(id string) []*store.AuditRecord {
		return []*store.AuditRecord{{ID: id, Recorded: time.Now(), Patients: []string{"p1"},
			Body: []byte(fmt.Sprintf(`{"resourceType":"AuditEvent","id":%q}`, id))}}
	}
	if err := s.AppendAudit(ctx, event("before")); err != nil {
		t.Fatal(err)
	}
	breakTrail()
	if err := s.AppendAudit(ctx, event("waiting")); err == nil || !isFailure(err) {
		t.Errorf("AppendAudit while the trail fails = %v, want the failure", err)
	}
	if err := s.QueueAudit(ctx, event("kept")); err != nil {
		t.Fatalf("QueueAudit before any queued batch failed = %v", err)
	}
	refused := false
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if err := s.QueueAudit(ctx, event(fmt.Sprint("refused-", time.Now().UnixNano()))); err != nil {
			refused = isFailure(err)
			break
		}
		// Accepted before the kept event's batch failed: it is kept too.
	}
	if !refused {
		t.Fatal("QueueAudit never refused, with the failure, while the trail could not be written")
	}
	mendTrail()
	var qerr error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if qerr = s.QueueAudit(ctx, event(fmt.Sprint("after-", time.Now().UnixNano()))); qerr == nil {
			break
		}
	}
	if qerr != nil {
		t.Fatalf("QueueAudit after the trail recovered = %v", qerr)
	}
	var bodies []string
	var prev []byte
	err := s.ScanAudit(ctx, func(e *store.AuditRecord) error {
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
