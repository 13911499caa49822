package sqlite

import (
	"context"
	"net/url"
	"path/filepath"
	"slices"
	"testing"

	"sharedcare/internal/fhir"
	"sharedcare/internal/search"
	"sharedcare/internal/store"
	"sharedcare/internal/store/storetest"
)

// TestTextsKeptOnce checks that a code's display is stored once and
// stood for by the token rows that carry it, across a restart (the cache
// is empty then, so the stored display is read back), while a resource
// whose coding says something else keeps a :text row of its own.
func TestTextsKeptOnce(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "d.db")
	condition := func(display string) *search.Entries {
		return &search.Entries{
			Tokens:  []search.TokenEntry{{Param: "code", System: "http://snomed.info/sct", Code: "195967001"}},
			Strings: []search.StringEntry{{Param: "code:text", Norm: search.Normalize(display), Exact: display}},
			Coded: []search.CodedText{{Key: search.TextKey{Param: "code", System: "http://snomed.info/sct", Code: "195967001", Kind: search.TextDisplay},
				Norm: search.Normalize(display)}},
		}
	}
	put := func(db *DB, id, display string) {
		t.Helper()
		res := fhir.ObjectValue("resourceType", fhir.StringValue("Condition"))
		err := db.Tx(ctx, func(tx store.Tx) error {
			_, err := tx.Put(ctx, &store.Write{Type: "Condition", ID: id, Resource: &res, Index: condition(display)})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	db, err := Open(ctx, Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	put(db, "a1", "Asthma")
	put(db, "a2", "Asthma")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if db, err = Open(ctx, Options{Path: path}); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	put(db, "a3", "asthma")
	put(db, "a4", "Bronchial asthma")

	count := func(query string) int {
		t.Helper()
		var n int
		if err := db.read.QueryRowContext(ctx, query).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(`SELECT count(*) FROM token_text`); n != 1 {
		t.Errorf("%d displays stored for one code, want 1", n)
	}
	if n := count(`SELECT count(*) FROM idx_token WHERE texted != 0`); n != 3 {
		t.Errorf("%d token rows stand for their display, want 3 (a1, a2, a3)", n)
	}
	if n := count(`SELECT count(*) FROM idx_string`); n != 1 {
		t.Errorf("%d :text rows, want 1 (a4's own display)", n)
	}
	for text, want := range map[string][]string{
		"asthma":    {"a1", "a2", "a3"},
		"bronchial": {"a4"},
		"asthma,br": {"a1", "a2", "a3", "a4"},
	} {
		got := storetest.MatchIDs(t, db, "Condition", url.Values{"code:text": {text}}.Encode())
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("code:text=%s found %v, want %v", text, got, want)
		}
	}
}
