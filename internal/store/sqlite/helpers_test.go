package sqlite_test

import (
	"testing"

	"sharedcare/internal/fhir"
)

func mustParse(t testing.TB, s string) *fhir.Value {
	t.Helper()
	v, err := fhir.Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return &v
}
