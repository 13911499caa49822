package validate

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"sharedcare/internal/fhir"
	"sharedcare/internal/outcome"
)

// FuzzValidate feeds any JSON to the validator: it must not panic, must
// reject with an *outcome.Error only, and what it accepts must still be
// accepted after a marshal and re-parse.
func FuzzValidate(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	v := New(Options{})
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := fhir.Parse(data)
		if err != nil {
			return
		}
		ctx := context.Background()
		_, err = v.Resource(ctx, &res, Write{})
		if err != nil {
			oe, ok := outcome.As(err)
			if !ok || len(oe.Issues) == 0 || (oe.Status != 400 && oe.Status != 422) {
				t.Fatalf("Resource(%s) = %v, want an *outcome.Error with issues and status 400 or 422", data, err)
			}
			return
		}
		again, err := fhir.Parse(fhir.Marshal(res))
		if err != nil {
			t.Fatalf("re-parse of an accepted resource: %v", err)
		}
		if _, err := v.Resource(ctx, &again, Write{}); err != nil {
			t.Fatalf("Resource(%s) accepted, but its re-marshalled form is rejected: %v", data, describe(err))
		}
	})
}
