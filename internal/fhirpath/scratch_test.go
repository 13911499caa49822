package fhirpath

import (
	"context"
	"testing"

	"sharedcare/internal/fhir"
)

// TestScratchStartsAfresh: what one evaluation leaves in a Scratch does
// not reach the next, not even its input when the next has none.
func TestScratchStartsAfresh(t *testing.T) {
	ctx := context.Background()
	v, err := fhir.Parse([]byte(`{"resourceType":"Patient","name":[{"family":"Smith"},{"family":"Jones"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	family := MustParse("name.family")
	var s Scratch
	got, err := family.EvaluateScratch(ctx, Resource(&v), nil, &s)
	if err != nil || len(got) != 2 {
		t.Fatalf("with the Patient as input: %v, %v; want 2 families", got, err)
	}
	got, err = family.EvaluateScratch(ctx, Item{}, nil, &s)
	if err != nil || len(got) != 0 {
		t.Errorf("with no input, after an evaluation that had one: %v, %v; want nothing", got, err)
	}
}
