package storetest

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"testing"

	"sharedcare/internal/store"
)

// testConcurrentUpsert has many writers put the same new id at once, as
// clients choosing their own ids (or several nodes) may: the first makes
// version 1 and each other a later one, never a duplicate-key failure.
func testConcurrentUpsert(t *testing.T, s store.Store) {
	const n = 8
	var wg sync.WaitGroup
	results := make([]*store.Result, n)
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			results[i], errs[i] = put(t, s, &store.Write{Type: "Patient", ID: "upsert", Resource: patient(t, fmt.Sprint("w", i))})
		})
	}
	close(start)
	wg.Wait()
	var got []int64
	created := 0
	for i, err := range errs {
		if err != nil {
			t.Errorf("Put %d: %v", i, err)
			continue
		}
		got = append(got, results[i].Version.VersionID)
		if results[i].Created {
			created++
		}
	}
	sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
	if want := "[1 2 3 4 5 6 7 8]"; fmt.Sprint(got) != want || created != 1 {
		t.Errorf("%d concurrent puts of one new id made versions %v, %d created; want %s, 1 created", n, got, created, want)
	}
}

// testConcurrentCreateOnly has many writers create the same id at once:
// exactly one succeeds, the others get 409.
func testConcurrentCreateOnly(t *testing.T, s store.Store) {
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			_, errs[i] = put(t, s, &store.Write{Type: "Patient", ID: "once", Resource: patient(t, "C"), CreateOnly: true})
		})
	}
	close(start)
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch status(err) {
		case 0:
			if err != nil {
				t.Errorf("CreateOnly: %v, want success or 409", err)
				continue
			}
			wins++
		case http.StatusConflict:
		default:
			t.Errorf("CreateOnly: %v, want success or 409", err)
		}
	}
	if wins != 1 {
		t.Errorf("%d of %d concurrent CreateOnly puts of one id succeeded, want 1", wins, n)
	}
}

// testCrossedTx runs transactions that write the same two resources in
// opposite orders, which can deadlock on a backend with row locks: the
// backend must resolve it itself (re-running fn) so that every one commits.
func testCrossedTx(t *testing.T, s store.Store) {
	ctx := context.Background()
	const rounds = 10
	var wg sync.WaitGroup
	for g, order := range [][2]string{{"x1", "x2"}, {"x2", "x1"}} {
		wg.Go(func() {
			for i := range rounds {
				err := s.Tx(ctx, func(tx store.Tx) error {
					for _, id := range order {
						if _, err := tx.Put(ctx, &store.Write{Type: "Patient", ID: id, Resource: patient(t, fmt.Sprint("g", g, "r", i))}); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					t.Errorf("Tx %v round %d: %v", order, i, err)
				}
			}
		})
	}
	wg.Wait()
	for _, id := range []string{"x1", "x2"} {
		if v, err := s.Read(ctx, "Patient", id); err != nil || v.VersionID != 2*rounds {
			t.Errorf("Read %s = %v, %v; want version %d", id, v, err, 2*rounds)
		}
	}
}

// testLock has two transactions lock the same key: the second, started
// once the first holds the lock, sees what the first wrote, as a
// conditional create on another node must.
func testLock(t *testing.T, s store.Store) {
	ctx := context.Background()
	locked := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- s.Tx(ctx, func(tx store.Tx) error {
			if err := tx.Lock(ctx, "Patient?identifier=lock"); err != nil {
				return err
			}
			if _, err := tx.Put(ctx, &store.Write{Type: "Patient", ID: "locked", Resource: patient(t, "First"), CreateOnly: true}); err != nil {
				return err
			}
			select {
			case <-locked: // a re-run
			default:
				close(locked)
			}
			return nil
		})
	}()
	<-locked
	err := s.Tx(ctx, func(tx store.Tx) error {
		if err := tx.Lock(ctx, "Patient?identifier=lock"); err != nil {
			return err
		}
		if _, err := tx.Read(ctx, "Patient", "locked"); err != nil {
			return fmt.Errorf("Read after Lock = %v, want the first transaction's write", err)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	if err := <-errc; err != nil {
		t.Errorf("first Tx: %v", err)
	}
}
