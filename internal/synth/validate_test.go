package synth_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"sharedcare/internal/fhir"
	"sharedcare/internal/outcome"
	"sharedcare/internal/synth"
	"sharedcare/internal/validate"
)

// TestValidateGenerated runs every resource of a 50-patient population, and
// the transaction Bundles that carry them and the demo population, through
// internal/validate with the spec's invariants, and expects no error. (This is a test import of
// validate: synth itself stays on layers 1-2.)
func TestValidateGenerated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	v := validate.New(validate.Options{Invariants: validate.NewFHIRPathInvariants()})
	g, err := synth.New(synth.Options{Seed: 50, Practices: 5})
	if err != nil {
		t.Fatal(err)
	}
	warnings := map[string]int{}
	check := func(what string, res fhir.Value, w validate.Write) {
		t.Helper()
		issues, err := v.Resource(ctx, &res, w)
		if err != nil {
			e, ok := outcome.As(err)
			if !ok {
				t.Fatalf("%s: validate: %v", what, err)
			}
			issues = e.Issues
		}
		for _, is := range issues {
			switch is.Severity {
			case outcome.Err, outcome.Fatal:
				t.Errorf("%s: %s %s at %s: %s", what, is.Severity, is.Code, is.Expression, is.Diagnostics)
			default:
				warnings[is.Code+" "+is.Diagnostics]++
			}
		}
	}
	update := func(r synth.Resource) validate.Write {
		return validate.Write{Interaction: validate.Update, Type: r.Type, ID: r.ID}
	}
	for _, r := range g.Shared() {
		check("shared "+r.Type+"/"+r.ID, r.Body, update(r))
	}
	check("shared bundle", g.SharedBundle(), validate.Write{Interaction: validate.Check, Type: "Bundle"})
	for i := range 50 {
		rec, err := g.Patient(i)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rec.Resources {
			check(r.Type+"/"+r.ID, r.Body, update(r))
		}
		check("bundle of patient", rec.Bundle(), validate.Write{Interaction: validate.Check, Type: "Bundle"})
		if t.Failed() {
			return
		}
	}
	demo, err := synth.Demo(time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range demo.Bundles {
		check(fmt.Sprintf("demo bundle %d", i), b, validate.Write{Interaction: validate.Check, Type: "Bundle"})
	}
	for w, n := range warnings {
		t.Logf("warning ×%d: %s", n, w)
	}
}
