// Package storetest holds every backend to the store contract: the sqlite
// and postgres tests call Run with a function that opens a fresh, empty store.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"sharedcare/internal/fhir"
	"sharedcare/internal/outcome"
	"sharedcare/internal/store"
)

// Opener returns a new empty store, closed when the test ends.
type Opener func(t *testing.T) store.Store

// Run runs the contract's tests against stores from open.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store)
	}{
		{"CreateRead", testCreateRead},
		{"UpdateVersions", testUpdateVersions},
		{"IfMatch", testIfMatch},
		{"CreateOnly", testCreateOnly},
		{"Delete", testDelete},
		{"TxAtomic", testTxAtomic},
		{"TxSeesOwnWrites", testTxSeesOwnWrites},
		{"History", testHistory},
		{"HistoryAt", testHistoryAt},
		{"ConcurrentIfMatch", testConcurrentIfMatch},
		{"ConcurrentCreates", testConcurrentCreates},
		{"Records", testRecords},
		{"RecordsOnce", testRecordsOnce},
		{"AuditChain", testAuditChain},
		{"PatientsAndSource", testPatientsAndSource},
		{"ConcurrentUpsert", testConcurrentUpsert},
		{"ConcurrentCreateOnly", testConcurrentCreateOnly},
		{"CrossedTx", testCrossedTx},
		{"Lock", testLock},
		{"Scan", testScan},
		{"ScanMatch", testScanMatch},
		{"ImportWrites", testImportWrites},
		{"CreateMany", testCreateMany},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

func patient(t testing.TB, family string) *fhir.Value {
	t.Helper()
	v, err := fhir.Parse([]byte(`{"resourceType":"Patient","name":[{"family":"` + family + `"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	return &v
}

func put(t testing.TB, s store.Store, w *store.Write) (*store.Result, error) {
	t.Helper()
	var res *store.Result
	err := s.Tx(context.Background(), func(tx store.Tx) error {
		var err error
		res, err = tx.Put(context.Background(), w)
		return err
	})
	return res, err
}

func mustPut(t testing.TB, s store.Store, w *store.Write) *store.Result {
	t.Helper()
	res, err := put(t, s, w)
	if err != nil {
		t.Fatalf("Put %s/%s: %v", w.Type, w.ID, err)
	}
	return res
}

func status(err error) int {
	if e, ok := outcome.As(err); ok {
		return e.Status
	}
	return 0
}

func testCreateRead(t *testing.T, s store.Store) {
	ctx := context.Background()
	res := mustPut(t, s, &store.Write{Type: "Patient", ID: "p1", Resource: patient(t, "Smith"), CreateOnly: true})
	if !res.Created || res.Version.VersionID != 1 {
		t.Errorf("create: Created=%v VersionID=%d, want true 1", res.Created, res.Version.VersionID)
	}
	v, err := s.Read(ctx, "Patient", "p1")
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	body, err := fhir.Parse(v.Body)
	if err != nil {
		t.Fatalf("stored body: %v", err)
	}
	meta := body.Get("meta")
	if body.Str("id") != "p1" || meta.Str("versionId") != "1" || meta.Str("lastUpdated") != v.LastUpdated.Format(store.InstantFormat) {
		t.Errorf("stored body id=%q meta=%s, want id p1, versionId 1, lastUpdated %s", body.Str("id"), fhir.Marshal(*meta), v.LastUpdated.Format(store.InstantFormat))
	}
	if _, err := s.Read(ctx, "Patient", "nope"); status(err) != http.StatusNotFound {
		t.Errorf("Read unknown: %v, want 404", err)
	}
	if _, err := s.Read(ctx, "Observation", "p1"); status(err) != http.StatusNotFound {
		t.Errorf("Read p1 as Observation: %v, want 404", err)
	}
}

func testUpdateVersions(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustPut(t, s, &store.Write{Type: "Patient", ID: "u1", Resource: patient(t, "One")})
	res := mustPut(t, s, &store.Write{Type: "Patient", ID: "u1", Resource: patient(t, "Two")})
	if res.Created || res.Version.VersionID != 2 || res.Version.Method != store.Update {
		t.Errorf("update: Created=%v VersionID=%d Method=%d, want false 2 Update", res.Created, res.Version.VersionID, res.Version.Method)
	}
	v1, err := s.VRead(ctx, "Patient", "u1", 1)
	if err != nil {
		t.Fatalf("VRead 1: %v", err)
	}
	b1, _ := fhir.Parse(v1.Body)
	if got := b1.Get("name").Items[0].Str("family"); got != "One" {
		t.Errorf("VRead 1 family = %q, want One", got)
	}
	cur, err := s.Read(ctx, "Patient", "u1")
	if err != nil || cur.VersionID != 2 {
		t.Fatalf("Read after update = %v, %v; want version 2", cur, err)
	}
	if cur.LastUpdated.Before(v1.LastUpdated) {
		t.Errorf("lastUpdated went back: v1 %s, v2 %s", v1.LastUpdated, cur.LastUpdated)
	}
	if _, err := s.VRead(ctx, "Patient", "u1", 3); status(err) != http.StatusNotFound {
		t.Errorf("VRead 3: %v, want 404", err)
	}
}

func testIfMatch(t *testing.T, s store.Store) {
	mustPut(t, s, &store.Write{Type: "Patient", ID: "m1", Resource: patient(t, "A")})
	tests := []struct {
		name    string
		ifMatch int64
		want    int
	}{
		{"stale version", 2, http.StatusPreconditionFailed},
		{"current version", 1, 0},
		{"now stale", 1, http.StatusPreconditionFailed},
	}
	for _, tt := range tests {
		_, err := put(t, s, &store.Write{Type: "Patient", ID: "m1", Resource: patient(t, "B"), IfMatch: tt.ifMatch})
		if status(err) != tt.want || (tt.want == 0 && err != nil) {
			t.Errorf("%s: Put IfMatch %d = %v, want status %d", tt.name, tt.ifMatch, err, tt.want)
		}
	}
	if _, err := put(t, s, &store.Write{Type: "Patient", ID: "absent", Resource: patient(t, "B"), IfMatch: 1}); status(err) != http.StatusPreconditionFailed {
		t.Errorf("IfMatch on absent resource = %v, want 412", err)
	}
}

func testCreateOnly(t *testing.T, s store.Store) {
	mustPut(t, s, &store.Write{Type: "Patient", ID: "c1", Resource: patient(t, "A"), CreateOnly: true})
	if _, err := put(t, s, &store.Write{Type: "Patient", ID: "c1", Resource: patient(t, "B"), CreateOnly: true}); status(err) != http.StatusConflict {
		t.Errorf("second CreateOnly = %v, want 409", err)
	}
}

func testDelete(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustPut(t, s, &store.Write{Type: "Patient", ID: "d1", Resource: patient(t, "A")})
	res := mustPut(t, s, &store.Write{Type: "Patient", ID: "d1", Delete: true})
	if res.Unchanged || res.Version.VersionID != 2 || !res.Version.Deleted {
		t.Errorf("delete = %+v, want version 2 deleted", res.Version)
	}
	if _, err := s.Read(ctx, "Patient", "d1"); status(err) != http.StatusGone {
		t.Errorf("Read deleted = %v, want 410", err)
	}
	if v, err := s.VRead(ctx, "Patient", "d1", 1); err != nil || v.Deleted {
		t.Errorf("VRead 1 of deleted = %v, %v; want the first version", v, err)
	}
	if v, err := s.VRead(ctx, "Patient", "d1", 2); err != nil || !v.Deleted {
		t.Errorf("VRead 2 of deleted = %v, %v; want the deletion", v, err)
	}
	again := mustPut(t, s, &store.Write{Type: "Patient", ID: "d1", Delete: true})
	if !again.Unchanged {
		t.Errorf("second delete wrote version %d, want no change", again.Version.VersionID)
	}
	if none := mustPut(t, s, &store.Write{Type: "Patient", ID: "never", Delete: true}); !none.Unchanged {
		t.Errorf("delete of unknown resource wrote a version")
	}
	back := mustPut(t, s, &store.Write{Type: "Patient", ID: "d1", Resource: patient(t, "Back")})
	if !back.Created || back.Version.VersionID != 3 {
		t.Errorf("recreate after delete: Created=%v VersionID=%d, want true 3", back.Created, back.Version.VersionID)
	}
}

func testTxAtomic(t *testing.T, s store.Store) {
	ctx := context.Background()
	boom := errors.New("boom")
	err := s.Tx(ctx, func(tx store.Tx) error {
		for i := range 3 {
			if _, err := tx.Put(ctx, &store.Write{Type: "Patient", ID: fmt.Sprintf("a%d", i), Resource: patient(t, "A")}); err != nil {
				return err
			}
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Tx = %v, want boom", err)
	}
	for i := range 3 {
		if _, err := s.Read(ctx, "Patient", fmt.Sprintf("a%d", i)); status(err) != http.StatusNotFound {
			t.Errorf("Read a%d after failed tx = %v, want 404", i, err)
		}
	}
	// A failed transaction leaves the next one's numbering intact.
	res := mustPut(t, s, &store.Write{Type: "Patient", ID: "a0", Resource: patient(t, "A")})
	if res.Version.VersionID != 1 {
		t.Errorf("after rollback, version = %d, want 1", res.Version.VersionID)
	}
}

func testTxSeesOwnWrites(t *testing.T, s store.Store) {
	ctx := context.Background()
	err := s.Tx(ctx, func(tx store.Tx) error {
		if _, err := tx.Read(ctx, "Patient", "own"); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("Read before write = %v, want ErrNotFound", err)
		}
		if _, err := tx.Put(ctx, &store.Write{Type: "Patient", ID: "own", Resource: patient(t, "A")}); err != nil {
			return err
		}
		v, err := tx.Read(ctx, "Patient", "own")
		if err != nil || v.VersionID != 1 {
			return fmt.Errorf("Read after write = %v, %v", v, err)
		}
		_, err = tx.Put(ctx, &store.Write{Type: "Patient", ID: "own", Resource: patient(t, "B"), IfMatch: 1})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testHistory(t *testing.T, s store.Store) {
	ctx := context.Background()
	for i := range 3 {
		mustPut(t, s, &store.Write{Type: "Patient", ID: "h1", Resource: patient(t, fmt.Sprint("v", i))})
	}
	mustPut(t, s, &store.Write{Type: "Observation", ID: "o1", Resource: obs(t)})
	mustPut(t, s, &store.Write{Type: "Patient", ID: "h1", Delete: true})

	inst, err := s.History(ctx, &store.HistoryQuery{Type: "Patient", ID: "h1", Count: 10})
	if err != nil {
		t.Fatal(err)
	}
	if got := versions(inst); got != "4 3 2 1" {
		t.Errorf("instance history versions = %s, want 4 3 2 1", got)
	}
	if !inst[0].Deleted || inst[0].Method != store.Delete || inst[3].Method != store.Create {
		t.Errorf("instance history methods: newest deleted=%v method=%d, oldest method=%d", inst[0].Deleted, inst[0].Method, inst[3].Method)
	}
	page1, err := s.History(ctx, &store.HistoryQuery{Type: "Patient", ID: "h1", Count: 2})
	if err != nil {
		t.Fatal(err)
	}
	// Writes after the first page do not shift the second.
	mustPut(t, s, &store.Write{Type: "Patient", ID: "h1", Resource: patient(t, "later")})
	page2, err := s.History(ctx, &store.HistoryQuery{Type: "Patient", ID: "h1", Count: 2, Before: page1[len(page1)-1].Seq})
	if err != nil {
		t.Fatal(err)
	}
	if got := versions(page1) + " | " + versions(page2); got != "4 3 | 2 1" {
		t.Errorf("paged history = %s, want 4 3 | 2 1", got)
	}
	typ, err := s.History(ctx, &store.HistoryQuery{Type: "Observation", Count: 10})
	if err != nil || len(typ) != 1 || typ[0].ID != "o1" {
		t.Errorf("type history = %v, %v; want o1 only", typ, err)
	}
	sys, err := s.History(ctx, &store.HistoryQuery{Count: 100})
	if err != nil || len(sys) != 6 {
		t.Errorf("system history: %d versions, %v; want 6", len(sys), err)
	}
	newest := sys[0].LastUpdated
	since, err := s.History(ctx, &store.HistoryQuery{Since: newest.Add(time.Millisecond), Count: 10})
	if err != nil || len(since) != 0 {
		t.Errorf("history _since after newest = %d versions, %v; want 0", len(since), err)
	}
}

func testHistoryAt(t *testing.T, s store.Store) {
	ctx := context.Background()
	r1 := mustPut(t, s, &store.Write{Type: "Patient", ID: "at1", Resource: patient(t, "A")})
	r2 := mustPut(t, s, &store.Write{Type: "Patient", ID: "at1", Resource: patient(t, "B")})
	if !r2.Version.LastUpdated.After(r1.Version.LastUpdated) {
		t.Skip("both versions share a millisecond; _at cannot tell them apart")
	}
	at := r1.Version.LastUpdated
	got, err := s.History(ctx, &store.HistoryQuery{Type: "Patient", ID: "at1", AtLow: at, AtHigh: at, Count: 10})
	if err != nil {
		t.Fatal(err)
	}
	if versions(got) != "1" {
		t.Errorf("_at first stamp = versions %s, want 1", versions(got))
	}
}

func testConcurrentIfMatch(t *testing.T, s store.Store) {
	mustPut(t, s, &store.Write{Type: "Patient", ID: "race", Resource: patient(t, "A")})
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = put(t, s, &store.Write{Type: "Patient", ID: "race", Resource: patient(t, fmt.Sprint("w", i)), IfMatch: 1})
		})
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch status(err) {
		case 0:
			if err != nil {
				t.Errorf("Put: %v", err)
			}
			wins++
		case http.StatusPreconditionFailed:
		default:
			t.Errorf("Put: %v, want success or 412", err)
		}
	}
	if wins != 1 {
		t.Errorf("%d concurrent updates with If-Match 1 succeeded, want exactly 1", wins)
	}
}

func testConcurrentCreates(t *testing.T, s store.Store) {
	const n = 50
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if _, err := put(t, s, &store.Write{Type: "Patient", ID: fmt.Sprint("cc", i), Resource: patient(t, "C"), CreateOnly: true}); err != nil {
				t.Errorf("create cc%d: %v", i, err)
			}
		})
	}
	wg.Wait()
	for i := range n {
		if _, err := s.Read(context.Background(), "Patient", fmt.Sprint("cc", i)); err != nil {
			t.Errorf("Read cc%d: %v", i, err)
		}
	}
}

func obs(t testing.TB) *fhir.Value {
	v, err := fhir.Parse([]byte(`{"resourceType":"Observation","status":"final","code":{"text":"x"}}`))
	if err != nil {
		t.Fatal(err)
	}
	return &v
}

func versions(vs []*store.Version) string {
	s := ""
	for i, v := range vs {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprint(v.VersionID)
	}
	return s
}

func testRecords(t *testing.T, s store.Store) {
	ctx := context.Background()
	if _, err := s.GetRecord(ctx, "user", "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetRecord absent = %v, want ErrNotFound", err)
	}
	if err := s.PutRecord(ctx, "user", "b", []byte("two"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutRecord(ctx, "user", "a", []byte("one"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutRecord(ctx, "user", "a", []byte("uno"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutRecord(ctx, "user", "old", []byte("x"), time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.PutRecord(ctx, "client", "a", []byte("other kind"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if v, err := s.GetRecord(ctx, "user", "a"); err != nil || string(v) != "uno" {
		t.Errorf("GetRecord a = %q, %v; want uno", v, err)
	}
	if _, err := s.GetRecord(ctx, "user", "old"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetRecord expired = %v, want ErrNotFound", err)
	}
	var keys []string
	err := s.ListRecords(ctx, "user", func(k string, v []byte) error { keys = append(keys, k+"="+string(v)); return nil })
	if err != nil || fmt.Sprint(keys) != "[a=uno b=two]" {
		t.Errorf("ListRecords = %v, %v; want [a=uno b=two]", keys, err)
	}
	if err := s.DeleteRecord(ctx, "user", "a"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRecord(ctx, "user", "a"); err != nil {
		t.Errorf("second DeleteRecord: %v", err)
	}
	if _, err := s.GetRecord(ctx, "user", "a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetRecord deleted = %v, want ErrNotFound", err)
	}
}

func testAuditChain(t *testing.T, s store.Store) {
	ctx := context.Background()
	// Concurrent appends, some waiting and some queued, still make one
	// unbroken chain; a scan or search sees the queued events too.
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 10 {
				ev := &store.AuditRecord{ID: fmt.Sprintf("ev-%d-%d", w, i), Recorded: time.Now(),
					Patients: []string{fmt.Sprintf("p%d", w%2)}, Body: []byte(fmt.Sprintf(`{"resourceType":"AuditEvent","id":"ev-%d-%d"}`, w, i))}
				if w >= 4 {
					if err := s.QueueAudit(ctx, []*store.AuditRecord{ev}); err != nil {
						t.Errorf("QueueAudit: %v", err)
						return
					}
					continue
				}
				if err := s.AppendAudit(ctx, []*store.AuditRecord{ev}); err != nil {
					t.Errorf("AppendAudit: %v", err)
					return
				}
				if len(ev.Hash) == 0 || ev.Seq == 0 {
					t.Errorf("AppendAudit left Seq %d Hash %x unset", ev.Seq, ev.Hash)
				}
			}
		})
	}
	wg.Wait()
	var prev []byte
	n := 0
	err := s.ScanAudit(ctx, func(e *store.AuditRecord) error {
		n++
		if !bytes.Equal(e.Prev, prev) && !(len(prev) == 0 && len(e.Prev) == 0) {
			return fmt.Errorf("event %s: prev %x, want %x", e.ID, e.Prev, prev)
		}
		if want := store.AuditHash(e.Prev, e.Body); !bytes.Equal(e.Hash, want) {
			return fmt.Errorf("event %s: hash %x, want %x", e.ID, e.Hash, want)
		}
		prev = e.Hash
		return nil
	})
	if err != nil || n != 80 {
		t.Fatalf("ScanAudit: %d events, %v; want 80 chained", n, err)
	}
	got0(t, s)
	got, err := s.SearchAudit(ctx, &store.AuditQuery{Patient: "p1", Count: 100})
	if err != nil || len(got) != 40 {
		t.Fatalf("SearchAudit patient p1 = %d, %v; want 40", len(got), err)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Seq >= got[i-1].Seq {
			t.Fatalf("SearchAudit not newest first")
		}
	}
	// The store may give an event an id of its own: it sets ID on append.
	probe := &store.AuditRecord{ID: "probe", Recorded: time.Now(), Patients: []string{"p9"}, Body: []byte(`{"probe":true}`)}
	if err := s.AppendAudit(ctx, []*store.AuditRecord{probe}); err != nil {
		t.Fatal(err)
	}
	one, err := s.SearchAudit(ctx, &store.AuditQuery{ID: probe.ID})
	if err != nil || len(one) != 1 || string(one[0].Body) != `{"probe":true}` || one[0].ID != probe.ID {
		t.Errorf("SearchAudit by id %q = %v, %v", probe.ID, one, err)
	}
	if none, err := s.SearchAudit(ctx, &store.AuditQuery{ID: "no-such-event"}); err != nil || len(none) != 0 {
		t.Errorf("SearchAudit by unknown id = %v, %v", none, err)
	}
	page, err := s.SearchAudit(ctx, &store.AuditQuery{Patient: "p0", Count: 5, After: got[0].Seq})
	if err != nil || len(page) != 5 {
		t.Errorf("SearchAudit paged = %d, %v", len(page), err)
	}
}

func testPatientsAndSource(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustPut(t, s, &store.Write{Type: "Observation", ID: "ps1", Resource: obs(t), Patients: []string{"p1", "p2"}, Source: "Organization/gp1"})
	v, err := s.Read(ctx, "Observation", "ps1")
	if err != nil || fmt.Sprint(v.Patients) != "[p1 p2]" || v.Source != "Organization/gp1" {
		t.Errorf("Read = %v %q, %v; want [p1 p2] Organization/gp1", v.Patients, v.Source, err)
	}
	mustPut(t, s, &store.Write{Type: "Observation", ID: "ps1", Resource: obs(t), Patients: []string{"p3"}, Source: "Organization/h1"})
	v1, err := s.VRead(ctx, "Observation", "ps1", 1)
	if err != nil || fmt.Sprint(v1.Patients) != "[p1 p2]" || v1.Source != "Organization/gp1" {
		t.Errorf("VRead 1 = %v %q, %v; want the first version's", v1.Patients, v1.Source, err)
	}
	h, err := s.History(ctx, &store.HistoryQuery{Type: "Observation", ID: "ps1", Count: 10})
	if err != nil || len(h) != 2 || h[0].Source != "Organization/h1" {
		t.Errorf("History = %v, want the newest from Organization/h1", err)
	}
}

func got0(t *testing.T, s store.Store) []*store.AuditRecord {
	t.Helper()
	evs, err := s.SearchAudit(context.Background(), &store.AuditQuery{Patient: "p0", Count: 100})
	if err != nil || len(evs) != 40 {
		t.Fatalf("SearchAudit patient p0 = %d, %v; want 40", len(evs), err)
	}
	return evs
}

func testRecordsOnce(t *testing.T, s store.Store) {
	ctx := context.Background()
	if err := s.PutRecord(ctx, "code", "c1", []byte("grant"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	took, claimed := 0, 0
	for range 8 {
		wg.Go(func() {
			v, err := s.TakeRecord(ctx, "code", "c1")
			ok, cerr := s.PutRecordIfAbsent(ctx, "jti", "j1", []byte("1"), time.Now().Add(time.Hour))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && string(v) == "grant":
				took++
			case !errors.Is(err, store.ErrNotFound):
				t.Errorf("TakeRecord: %v", err)
			}
			if cerr != nil {
				t.Errorf("PutRecordIfAbsent: %v", cerr)
			}
			if ok {
				claimed++
			}
		})
	}
	wg.Wait()
	if took != 1 || claimed != 1 {
		t.Errorf("8 racing callers: %d took the record, %d claimed the key; want 1 and 1", took, claimed)
	}
	// An expired record is absent: it can be claimed again.
	if err := s.PutRecord(ctx, "jti", "old", []byte("1"), time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.PutRecordIfAbsent(ctx, "jti", "old", []byte("2"), time.Time{}); err != nil || !ok {
		t.Errorf("PutRecordIfAbsent over an expired record = %v, %v; want true", ok, err)
	}
	if _, err := s.TakeRecord(ctx, "code", "never"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TakeRecord of nothing = %v, want ErrNotFound", err)
	}
}
