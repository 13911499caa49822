package postgres

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"sharedcare/internal/fhir"
	"sharedcare/internal/outcome"
	"sharedcare/internal/store"
	"sharedcare/internal/store/storetest"
)

// openURL opens a DB on url, closed when t ends.
func openURL(t testing.TB, url string, opts Options) *DB {
	t.Helper()
	opts.URL = url
	db, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func open(t *testing.T) store.Store { return openURL(t, storetest.PostgresURL(t), Options{}) }

func TestContract(t *testing.T) { storetest.Run(t, open) }

func patient(t testing.TB, family string) *fhir.Value {
	t.Helper()
	v, err := fhir.Parse([]byte(`{"resourceType":"Patient","name":[{"family":"` + family + `"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	return &v
}

func put(ctx context.Context, s store.Store, w *store.Write) (*store.Result, error) {
	var res *store.Result
	err := s.Tx(ctx, func(tx store.Tx) error {
		var err error
		res, err = tx.Put(ctx, w)
		return err
	})
	return res, err
}

func mustPut(t testing.TB, s store.Store, w *store.Write) *store.Result {
	t.Helper()
	res, err := put(context.Background(), s, w)
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

// admin connects to the test database itself, outside any DB's pool.
func admin(t testing.TB, url string) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func TestMigrationsRace(t *testing.T) {
	t.Parallel()
	url := storetest.PostgresURL(t)
	const nodes = 8
	errs := make([]error, nodes)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range nodes {
		wg.Go(func() {
			<-start
			db, err := Open(context.Background(), Options{URL: url, MaxConns: 2})
			if err == nil {
				db.Close()
			}
			errs[i] = err
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d of %d at once: %v", i, nodes, err)
		}
	}
	var applied, newest int
	if err := admin(t, url).QueryRow(context.Background(), `SELECT count(*), max(version) FROM schema_migrations`).Scan(&applied, &newest); err != nil {
		t.Fatal(err)
	}
	if applied != len(migrations) || newest != len(migrations) {
		t.Errorf("schema_migrations has %d rows up to version %d, want %d each", applied, newest, len(migrations))
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	t.Parallel()
	url := storetest.PostgresURL(t)
	openURL(t, url, Options{}).Close()
	if _, err := admin(t, url).Exec(context.Background(), `INSERT INTO schema_migrations (version) VALUES ($1)`, len(migrations)+1); err != nil {
		t.Fatal(err)
	}
	if db, err := Open(context.Background(), Options{URL: url}); err == nil {
		db.Close()
		t.Errorf("Open on a schema newer than the program = nil error, want a refusal")
	}
}

func TestReopenKeepsNumbering(t *testing.T) {
	t.Parallel()
	url := storetest.PostgresURL(t)
	ctx := context.Background()
	for round := range 2 {
		db := openURL(t, url, Options{})
		res := mustPut(t, db, &store.Write{Type: "Patient", ID: "x", Resource: patient(t, "A")})
		if res.Version.VersionID != int64(round+1) {
			t.Errorf("round %d: version %d, want %d", round, res.Version.VersionID, round+1)
		}
		db.Close()
	}
	if err := openURL(t, url, Options{}).Check(ctx); err != nil {
		t.Errorf("Check: %v", err)
	}
}

// Two nodes whose clocks disagree: the version written by the node behind
// is stamped no earlier than the one before it.
func TestLastUpdatedNeverGoesBack(t *testing.T) {
	t.Parallel()
	url := storetest.PostgresURL(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	ahead := openURL(t, url, Options{Now: func() time.Time { return now.Add(time.Hour) }})
	behind := openURL(t, url, Options{Now: func() time.Time { return now }})
	v1 := mustPut(t, ahead, &store.Write{Type: "Patient", ID: "skew", Resource: patient(t, "A")}).Version
	v2 := mustPut(t, behind, &store.Write{Type: "Patient", ID: "skew", Resource: patient(t, "B")}).Version
	v3 := mustPut(t, behind, &store.Write{Type: "Patient", ID: "skew", Delete: true}).Version
	if !v1.LastUpdated.Equal(now.Add(time.Hour)) || !v2.LastUpdated.Equal(v1.LastUpdated) || !v3.LastUpdated.Equal(v1.LastUpdated) {
		t.Errorf("lastUpdated v1 %s, v2 %s, v3 %s; want all %s", v1.LastUpdated, v2.LastUpdated, v3.LastUpdated, now.Add(time.Hour))
	}
	got, err := behind.VRead(context.Background(), "Patient", "skew", 2)
	if err != nil || !got.LastUpdated.Equal(v1.LastUpdated) {
		t.Errorf("VRead 2 = %v, %v; want lastUpdated %s", got, err, v1.LastUpdated)
	}
	body, _ := fhir.Parse(got.Body)
	if lu := body.Get("meta").Str("lastUpdated"); lu != v1.LastUpdated.Format(store.InstantFormat) {
		t.Errorf("stored meta.lastUpdated = %s, want %s", lu, v1.LastUpdated.Format(store.InstantFormat))
	}
	if err := behind.Check(context.Background()); err != nil {
		t.Errorf("Check: %v", err)
	}
}

func TestCheckFindsDamage(t *testing.T) {
	t.Parallel()
	url := storetest.PostgresURL(t)
	db := openURL(t, url, Options{})
	ctx := context.Background()
	for i := range 3 {
		mustPut(t, db, &store.Write{Type: "Patient", ID: "c", Resource: patient(t, fmt.Sprint(i))})
	}
	if err := db.Check(ctx); err != nil {
		t.Fatalf("Check on a sound database: %v", err)
	}
	if _, err := admin(t, url).Exec(ctx, `DELETE FROM versions WHERE version = 2`); err != nil {
		t.Fatal(err)
	}
	if err := db.Check(ctx); err == nil {
		t.Errorf("Check after deleting a middle version = nil, want the gap reported")
	}
}

// A deadlock between two transactions is forced (each holds the row the
// other wants next); PostgreSQL aborts one, and Tx runs its fn again.
func TestDeadlockRetried(t *testing.T) {
	t.Parallel()
	db := openURL(t, storetest.PostgresURL(t), Options{})
	ctx := context.Background()
	mustPut(t, db, &store.Write{Type: "Patient", ID: "a", Resource: patient(t, "A")})
	mustPut(t, db, &store.Write{Type: "Patient", ID: "b", Resource: patient(t, "B")})
	var mu sync.Mutex // guards runs
	runs := 0
	var holding sync.WaitGroup // both first rows locked
	holding.Add(2)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, order := range [][2]string{{"a", "b"}, {"b", "a"}} {
		wg.Go(func() {
			first := true
			errs[i] = db.Tx(ctx, func(tx store.Tx) error {
				mu.Lock()
				runs++
				mu.Unlock()
				_, err := tx.Put(ctx, &store.Write{Type: "Patient", ID: order[0], Resource: patient(t, "X")})
				if first {
					first = false
					holding.Done()
					holding.Wait()
				}
				if err != nil {
					return err
				}
				_, err = tx.Put(ctx, &store.Write{Type: "Patient", ID: order[1], Resource: patient(t, "X")})
				return err
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Tx %d: %v", i, err)
		}
	}
	if runs < 3 {
		t.Errorf("fn ran %d times, want at least 3 (a transaction re-run after the deadlock)", runs)
	}
	for _, id := range []string{"a", "b"} {
		if v, err := db.Read(ctx, "Patient", id); err != nil || v.VersionID != 3 {
			t.Errorf("Read %s = %v, %v; want version 3", id, v, err)
		}
	}
}

// Errors from Put leave the transaction usable, as on SQLite: a 409 or 412
// is the caller's to handle, and the rest of fn still commits.
func TestOutcomeKeepsTxUsable(t *testing.T) {
	t.Parallel()
	db := openURL(t, storetest.PostgresURL(t), Options{})
	ctx := context.Background()
	mustPut(t, db, &store.Write{Type: "Patient", ID: "taken", Resource: patient(t, "A")})
	err := db.Tx(ctx, func(tx store.Tx) error {
		if _, err := tx.Put(ctx, &store.Write{Type: "Patient", ID: "taken", Resource: patient(t, "B"), CreateOnly: true}); status(err) != http.StatusConflict {
			return fmt.Errorf("CreateOnly on a taken id = %v, want 409", err)
		}
		if _, err := tx.Put(ctx, &store.Write{Type: "Patient", ID: "taken", Resource: patient(t, "B"), IfMatch: 9}); status(err) != http.StatusPreconditionFailed {
			return fmt.Errorf("IfMatch 9 = %v, want 412", err)
		}
		_, err := tx.Put(ctx, &store.Write{Type: "Patient", ID: "after", Resource: patient(t, "C")})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Read(ctx, "Patient", "after"); err != nil {
		t.Errorf("Read after = %v, want the write that followed the refusals", err)
	}
}
