package sqlite_test

import (
	"context"
	"path/filepath"
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
