package postgres

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"sync"
	"testing"

	"sharedcare/internal/fhir"
	"sharedcare/internal/search"
	"sharedcare/internal/store"
	"sharedcare/internal/store/storetest"
)

// TestTextsKeptOnce checks that a code's display is stored once and stood
// for by the token rows that carry it, across nodes (each with its own
// cache), that a rolled-back transaction leaves no display behind in a
// cache, and that two nodes storing different displays for a new code at
// once agree on one while each resource is still found by its own text.
func TestTextsKeptOnce(t *testing.T) {
	ctx := context.Background()
	u := storetest.PostgresURL(t)
	a, b := openURL(t, u, Options{}), openURL(t, u, Options{})
	const sct = "http://snomed.info/sct"
	entries := func(code, display string) *search.Entries {
		return &search.Entries{
			Tokens:  []search.TokenEntry{{Param: "code", System: sct, Code: code}},
			Strings: []search.StringEntry{{Param: "code:text", Norm: search.Normalize(display), Exact: display}},
			Coded:   []search.CodedText{{Key: search.TextKey{Param: "code", System: sct, Code: code, Kind: search.TextDisplay}, Norm: search.Normalize(display)}},
		}
	}
	write := func(db *DB, id, code, display string) *store.Write {
		res := fhir.ObjectValue("resourceType", fhir.StringValue("Condition"))
		return &store.Write{Type: "Condition", ID: id, Resource: &res, Index: entries(code, display)}
	}
	mustPut(t, a, write(a, "a1", "195967001", "Asthma"))
	mustPut(t, b, write(b, "a2", "195967001", "Asthma"))
	mustPut(t, b, write(b, "a3", "195967001", "Bronchial asthma"))

	// A rolled-back transaction stores a new code's display; the display
	// must not outlive it in node a's cache.
	errRollback := errors.New("rolled back")
	err := a.Tx(ctx, func(tx store.Tx) error {
		if _, err := tx.Put(ctx, write(a, "r1", "161891005", "Backache")); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("Tx = %v, want the rollback", err)
	}
	mustPut(t, b, write(b, "b1", "161891005", "Back pain"))
	mustPut(t, a, write(a, "b2", "161891005", "Backache"))

	// Two nodes store a new code's display at once, each a different one.
	var wg sync.WaitGroup
	for i, db := range []*DB{a, b} {
		wg.Go(func() {
			if _, err := put(ctx, db, write(db, []string{"c1", "c2"}[i], "38341003", []string{"Hypertension", "High blood pressure"}[i])); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()

	count := func(query string) int {
		t.Helper()
		var n int
		if err := a.pool.QueryRow(ctx, query).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(`SELECT count(*) FROM token_text`); n != 3 {
		t.Errorf("%d displays stored for three codes, want 3", n)
	}
	if n := count(`SELECT count(*) FROM idx_token WHERE texted <> 0`); n != 4 {
		t.Errorf("%d token rows stand for their display, want 4 (a1, a2, b1, and one of c1 and c2)", n)
	}
	if n := count(`SELECT count(*) FROM idx_string`); n != 3 {
		t.Errorf("%d :text rows, want 3 (a3, b2, and one of c1 and c2)", n)
	}
	for text, want := range map[string][]string{
		"asthma":       {"a1", "a2"},
		"bronchial":    {"a3"},
		"back pain":    {"b1"},
		"backache":     {"b2"},
		"hypertension": {"c1"},
		"high blood":   {"c2"},
	} {
		for _, db := range []*DB{a, b} {
			got := storetest.MatchIDs(t, db, "Condition", url.Values{"code:text": {text}}.Encode())
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("code:text=%s found %v, want %v", text, got, want)
			}
		}
	}
}
