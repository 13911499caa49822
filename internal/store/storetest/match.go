package storetest

import (
	"context"
	"net/url"
	"testing"

	"sharedcare/internal/search"
	"sharedcare/internal/store"
)

// MatchIDs runs the search typ?query (a URL query string) on s and
// returns the ids of its matches, in the order found.
func MatchIDs(t testing.TB, s store.Store, typ, query string) []string {
	t.Helper()
	vals, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	q, err := search.Parse(typ, vals, search.Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Search(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range res.Matches {
		ids = append(ids, m.ID)
	}
	return ids
}
