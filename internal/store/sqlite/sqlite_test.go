package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
// the WAL to have been truncated rather than grow with every write.
func TestWALBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.db")
	ctx := context.Background()
	db, err := sqlite.Open(ctx, sqlite.Options{Path: path, WALLimitPages: 200})
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
	// 3000 writes of 2 KB each put well over 6 MB through the WAL; the
	// limit is 200 pages (0.8 MB), checked after every batch, so the WAL
	// never gets far past it.
	if maxWAL > 2<<20 {
		t.Errorf("WAL reached %d bytes, want it kept near the 0.8 MB limit", maxWAL)
	}
}
