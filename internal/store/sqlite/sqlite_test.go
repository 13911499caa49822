package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sharedcare/internal/store"
	"sharedcare/internal/store/sqlite"
	"sharedcare/internal/store/storetest"
)

func open(t *testing.T) store.Store {
	t.Helper()
	db, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "test.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestContract(t *testing.T) { storetest.Run(t, open) }

func TestReopenKeepsNumbering(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.db")
	ctx := context.Background()
	for round := range 2 {
		db, err := sqlite.Open(ctx, sqlite.Options{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		err = db.Tx(ctx, func(tx store.Tx) error {
			v, err := tx.Read(ctx, "Patient", "x")
			if round == 1 && (err != nil || v.VersionID != 1) {
				t.Errorf("after reopen: Read = %v, %v; want version 1", v, err)
			}
			_, err = tx.Put(ctx, &store.Write{Type: "Patient", ID: "x", Resource: mustParse(t, `{"resourceType":"Patient"}`)})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestWALBounded writes for a while under a small WAL limit and expects
// the WAL to have been restarted rather than grow with every write.
func TestWALBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.db")
	ctx := context.Background()
	db, err := sqlite.Open(ctx, sqlite.Options{Path: path, WALLimitPages: 200, CheckpointEvery: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	body := `{"resourceType":"Patient","name":[{"family":"` + strings.Repeat("x", 2000) + `"}]}`
	maxWAL := int64(0)
	for i := range 3000 {
		err := db.Tx(ctx, func(tx store.Tx) error {
			_, err := tx.Put(ctx, &store.Write{Type: "Patient", ID: fmt.Sprint("w", i), Resource: mustParse(t, body)})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(path + "-wal"); err == nil {
			maxWAL = max(maxWAL, fi.Size())
		}
	}
	// 3000 writes of 2 KB each put over 24 MB through the WAL; the limit
	// is 200 pages (0.8 MB), which the checkpointer sees passed within
	// 10 ms, so the WAL never gets far past it. The bound leaves room for
	// a checkpointer that a loaded machine runs late.
	if maxWAL > 4<<20 {
		t.Errorf("WAL reached %d bytes, want it kept near the 0.8 MB limit", maxWAL)
	}
}

// TestAuditPatientIndexBehind finds every event of a patient whether the
// patient index has caught up with it or not.
func TestAuditPatientIndexBehind(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(t.TempDir(), "a.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	want := map[string]int{}
	for batch := range 60 {
		var evs []*store.AuditRecord
		for i := range 100 {
			p := fmt.Sprint("p", (batch*100+i)%7)
			want[p]++
			evs = append(evs, &store.AuditRecord{Recorded: time.Now(), Patients: []string{p}, Body: []byte(`{}`)})
		}
		if err := db.AppendAudit(ctx, evs); err != nil {
			t.Fatal(err)
		}
		if batch%20 == 19 {
			for p, n := range want {
				got, err := db.SearchAudit(ctx, &store.AuditQuery{Patient: p, Count: 10000})
				if err != nil || len(got) != n {
					t.Fatalf("after %d events, SearchAudit %s = %d, %v; want %d", (batch+1)*100, p, len(got), err, n)
				}
				for i := 1; i < len(got); i++ {
					if got[i].Seq >= got[i-1].Seq {
						t.Fatalf("SearchAudit %s not newest first", p)
					}
				}
			}
		}
	}
}

// TestQueuedAuditWrittenOnClose queues events, closes the store at once,
// and expects every event on the chain when it is opened again: nobody
// waited for them, but a clean shutdown writes them all.
func TestQueuedAuditWrittenOnClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.db")
	ctx := context.Background()
	db, err := sqlite.Open(ctx, sqlite.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	const n = 300
	for i := range n {
		ev := &store.AuditRecord{Recorded: time.Now(), Patients: []string{"p1"}, Body: []byte(fmt.Sprintf(`{"n":%d}`, i))}
		if err := db.QueueAudit(ctx, []*store.AuditRecord{ev}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = sqlite.Open(ctx, sqlite.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got := 0
	err = db.ScanAudit(ctx, func(e *store.AuditRecord) error {
		if want := fmt.Sprintf(`{"n":%d}`, got); string(e.Body) != want {
			return fmt.Errorf("event %d is %s, want %s", got, e.Body, want)
		}
		got++
		return nil
	})
	if err != nil || got != n {
		t.Fatalf("after reopen: %d events, %v; want %d in order", got, err, n)
	}
	if err := db.QueueAudit(ctx, nil); err != nil {
		t.Errorf("QueueAudit of nothing = %v", err)
	}
}

// TestBatchTakesInQueuedJobs: writes queued while a batch runs are
// committed with it, not after another commit; and a failing job among
// them undoes only its own writes.
func TestBatchTakesInQueuedJobs(t *testing.T) {
	db, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "b.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	put := func(tx store.Tx, id string) error {
		_, err := tx.Put(ctx, &store.Write{Type: "Patient", ID: id, Resource: mustParse(t, `{"resourceType":"Patient"}`)})
		return err
	}
	c0, j0 := db.Commits()
	queued := make(chan struct{})
	others := make(chan error, 3)
	first := db.Tx(ctx, func(tx store.Tx) error {
		go func() { others <- db.Tx(ctx, func(tx store.Tx) error { return put(tx, "second") }) }()
		go func() {
			others <- db.Tx(ctx, func(tx store.Tx) error {
				if err := put(tx, "failing"); err != nil {
					return err
				}
				return errors.New("refused")
			})
		}()
		go func() { others <- db.Tx(ctx, func(tx store.Tx) error { return put(tx, "third") }) }()
		for deadline := time.Now().Add(10 * time.Second); sqlite.Queued(db) < 3; {
			if time.Now().After(deadline) {
				t.Error("the other writes never queued")
				break
			}
			time.Sleep(time.Millisecond)
		}
		close(queued)
		return put(tx, "first")
	})
	<-queued
	if first != nil {
		t.Fatal(first)
	}
	failed := 0
	for range 3 {
		if err := <-others; err != nil {
			if err.Error() != "refused" {
				t.Errorf("queued write: %v", err)
			}
			failed++
		}
	}
	if failed != 1 {
		t.Errorf("%d queued writes failed, want the one that returned an error", failed)
	}
	if c, j := db.Commits(); c-c0 != 1 || j-j0 != 4 {
		t.Errorf("%d commits of %d writes, want the four writes in one commit", c-c0, j-j0)
	}
	for id, want := range map[string]bool{"first": true, "second": true, "third": true, "failing": false} {
		_, err := db.Read(ctx, "Patient", id)
		if got := err == nil; got != want {
			t.Errorf("Read(Patient/%s) = %v; want stored %v", id, err, want)
		}
	}
}

// TestIdleWALTruncated: once writes stop, the checkpointer gives the WAL's
// disk space back instead of leaving it at its high-water mark.
func TestIdleWALTruncated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "idle.db")
	ctx := context.Background()
	db, err := sqlite.Open(ctx, sqlite.Options{Path: path, CheckpointEvery: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	body := `{"resourceType":"Patient","name":[{"family":"` + strings.Repeat("x", 2000) + `"}]}`
	for i := range 1000 {
		err := db.Tx(ctx, func(tx store.Tx) error {
			_, err := tx.Put(ctx, &store.Write{Type: "Patient", ID: fmt.Sprint("w", i), Resource: mustParse(t, body)})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	size := func() int64 {
		fi, err := os.Stat(path + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	if s := size(); s <= 1<<20 {
		t.Fatalf("WAL after 1,000 writes of 2 KB: %d bytes; the test needs more than 1 MB", s)
	}
	// 60 quiet passes at 5 ms: truncated within a second when the machine
	// is not loaded; the deadline allows for one that is.
	for deadline := time.Now().Add(15 * time.Second); size() != 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("WAL still %d bytes after 15 s without writes", size())
		}
	}
	if v, err := db.Read(ctx, "Patient", "w999"); err != nil || v.VersionID != 1 {
		t.Errorf("after truncation: Read = %v, %v", v, err)
	}
}
