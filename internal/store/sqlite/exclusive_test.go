package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"sharedcare/internal/outcome"
	"sharedcare/internal/store"
	"sharedcare/internal/store/sqlite"
	"sharedcare/internal/store/storetest"
)

func openExclusive(t *testing.T) store.Store {
	t.Helper()
	db, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "test.db"), Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestContractCached holds the store with its read cache (as serve opens
// it) to the whole contract.
func TestContractCached(t *testing.T) { storetest.Run(t, openExclusive) }

// TestExclusiveLock: a second process that would write resources is
// refused while one holds the file; tools that only read beside it are not.
func TestExclusiveLock(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "lock.db")
	first, err := sqlite.Open(ctx, sqlite.Options{Path: path, Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	if db, err := sqlite.Open(ctx, sqlite.Options{Path: path, Exclusive: true}); err == nil {
		db.Close()
		t.Fatal("a second exclusive Open succeeded")
	} else if !strings.Contains(err.Error(), "in use by another sharedcare process") {
		t.Errorf("second exclusive Open: %v; want it to say the file is in use", err)
	}
	beside, err := sqlite.Open(ctx, sqlite.Options{Path: path})
	if err != nil {
		t.Fatalf("a non-exclusive Open beside the exclusive one: %v", err)
	}
	beside.Close()
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := sqlite.Open(ctx, sqlite.Options{Path: path, Exclusive: true})
	if err != nil {
		t.Fatalf("exclusive Open after Close: %v", err)
	}
	again.Close()
}

// TestCachedReadsSeeWrites races readers filling the cache against
// writers: once a write is acknowledged, every read that starts after it
// sees that version or a later one, and a deletion reads as gone.
func TestCachedReadsSeeWrites(t *testing.T) {
	ctx := context.Background()
	db := openExclusive(t)
	const keys, rounds = 8, 60
	put := func(id string, del bool) (int64, error) {
		var version int64
		err := db.Tx(ctx, func(tx store.Tx) error {
			r, err := tx.Put(ctx, &store.Write{Type: "Patient", ID: id, Delete: del, Resource: mustParse(t, `{"resourceType":"Patient"}`)})
			if err == nil && r.Version != nil {
				version = r.Version.VersionID
			}
			return err
		})
		return version, err
	}
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for r := range 4 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for i := r; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				db.Read(ctx, "Patient", fmt.Sprint("k", i%keys))
			}
		}()
	}
	var writers sync.WaitGroup
	for k := range keys {
		writers.Add(1)
		go func() {
			defer writers.Done()
			id := fmt.Sprint("k", k)
			for round := range rounds {
				del := round%5 == 4
				version, err := put(id, del)
				if err != nil {
					t.Error(err)
					return
				}
				v, err := db.Read(ctx, "Patient", id)
				var oe *outcome.Error
				switch {
				case del && (!errors.As(err, &oe) || oe.Status != http.StatusGone):
					t.Errorf("%s: read after acknowledged delete = %v, %v; want 410", id, v, err)
					return
				case !del && err != nil:
					t.Errorf("%s: read after acknowledged version %d: %v", id, version, err)
					return
				case !del && v.VersionID < version:
					t.Errorf("%s: read version %d after version %d was acknowledged", id, v.VersionID, version)
					return
				}
			}
		}()
	}
	writers.Wait()
	close(stop)
	readers.Wait()
}
