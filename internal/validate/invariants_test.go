package validate

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// invariantsHook is the FHIRPath engine TestInvariants runs against, as the
// server passes it in Options.Invariants. No stand-in evaluator is used: a
// fake engine would test the fake.
var invariantsHook Invariants = NewFHIRPathInvariants()

// TestInvariants checks that invariants reach the hook at the right
// locations, with the right severities and status.
func TestInvariants(t *testing.T) {
	t.Parallel()
	if invariantsHook == nil {
		t.Skip("skipping: no FHIRPath engine in invariantsHook yet (internal/fhirpath)")
	}
	tests := []struct {
		file   string
		want   []string
		status int
	}{
		// dom-6: a resource should have narrative.
		{"patient-typical.json", []string{"warning invariant Patient"}, 0},
		{"observation-quantity-code-no-system.json", []string{"error invariant Observation.valueQuantity"}, 422}, // qty-3
		{"patient-contact-no-details.json", []string{"error invariant Patient.contact[0]"}, 422},                 // pat-1
		{"observation-absent-reason-with-value.json", []string{"error invariant Observation"}, 422},              // obs-6
		{"bundle-transaction-no-request.json", []string{"error invariant Bundle"}, 422},                          // bdl-3
		{"patient-structural-and-invariant.json", []string{"error value Patient.birthDate"}, 400},                // invariants wait for a sound structure
	}
	v := New(Options{Invariants: invariantsHook})
	for _, tt := range tests {
		t.Run(strings.TrimSuffix(tt.file, ".json"), func(t *testing.T) {
			t.Parallel()
			warnings, err := v.Resource(context.Background(), fixture(t, tt.file), Write{})
			got, status := issues(t, warnings, err)
			if !slices.Equal(got, tt.want) || status != tt.status {
				t.Errorf("Resource(%s) = %d\n\t%s\nwant %d\n\t%s", tt.file, status, strings.Join(got, "\n\t"), tt.status, strings.Join(tt.want, "\n\t"))
			}
		})
	}
}

// TestNativeInvariantKeys checks that the keys the validator checks itself
// are real invariants of the model, so that a typo cannot let the hook
// evaluate one twice or skip one silently.
func TestNativeInvariantKeys(t *testing.T) {
	t.Parallel()
	found := map[string]bool{}
	for _, ti := range loadSchema().types {
		for _, c := range ti.t.Constraints {
			found[c.Key] = true
		}
		for _, e := range ti.elems {
			for _, c := range e.Constraints {
				found[c.Key] = true
			}
		}
	}
	for _, key := range []string{"ext-1", "dom-2", "dom-3", "dom-4", "dom-5", "ref-1", "txt-1", "txt-2"} {
		if !checkedNatively(key) {
			t.Errorf("checkedNatively(%s) = false", key)
		}
		if !found[key] {
			t.Errorf("the model has no invariant %s", key)
		}
	}
}
