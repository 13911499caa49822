package validate

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"sharedcare/internal/fhir"
	"sharedcare/internal/outcome"
)

// Options configure a Validator. The zero value checks structure only and
// ignores an id in a created resource.
type Options struct {
	// Invariants evaluates the spec's FHIRPath invariants; nil skips them.
	// The server passes the internal/fhirpath engine.
	Invariants Invariants
	// RejectCreateID makes an id in the body of a create an error. By
	// default it is a warning, and the server ignores it
	// (https://hl7.org/fhir/R4/http.html#create: "If an id is provided, the
	// server SHALL ignore it").
	RejectCreateID bool
}

// Validator checks resources against the base R4 StructureDefinitions. It
// is immutable and safe for concurrent use.
type Validator struct {
	opts    Options
	schema  *schema
	walkers sync.Pool
}

// New returns a Validator. The first call builds the shared index of the
// model, which takes a few milliseconds.
func New(opts Options) *Validator {
	return &Validator{opts: opts, schema: loadSchema()}
}

// Interaction is the write a resource arrives with, which decides the id
// its body must carry.
type Interaction uint8

const (
	// Check validates the resource alone: any valid id, or none ($validate,
	// a Bundle entry).
	Check Interaction = iota
	// Create lets the body carry no id; one that is present is a warning,
	// or an error with Options.RejectCreateID.
	Create
	// Update needs the body's id to equal Write.ID
	// (https://hl7.org/fhir/R4/http.html#update).
	Update
)

// Write says how a resource arrives.
type Write struct {
	Interaction Interaction
	// Type is the resource type the URL names; when set, the body's
	// resourceType must equal it.
	Type string
	// ID is the id the URL names, for Update.
	ID string
}

// Resource checks res, which arrives as w says, and returns the warnings
// found when it is valid. When it is not, the error is an *outcome.Error
// holding every issue found, warnings too, with status 400, or 422 when
// the only errors are failed invariants from Options.Invariants (see the
// package doc). Any other error is ctx's, when it ended while invariants
// were being evaluated. Invariants are evaluated only for a resource with
// no structural errors: on a malformed one their results would mislead.
func (v *Validator) Resource(ctx context.Context, res *fhir.Value, w Write) ([]outcome.Issue, error) {
	wk, _ := v.walkers.Get().(*walker)
	if wk == nil {
		wk = new(walker)
	}
	defer v.walkers.Put(wk)
	wk.reset(v.schema)

	if res == nil || res.Kind != fhir.Object {
		wk.errorf(outcome.CodeStructure, "", "a resource must be a JSON object")
		return wk.result(1)
	}
	ti := wk.resourceType(res)
	if ti == nil {
		return wk.result(1)
	}
	wk.push(ti.name)
	v.checkWrite(wk, res, ti, w)
	wk.standalone(res, ti)
	structural := wk.errors
	if v.opts.Invariants != nil && structural == 0 {
		if err := wk.invariants(ctx, v.opts.Invariants, res, ti); err != nil {
			return nil, err
		}
	}
	return wk.result(structural)
}

// checkWrite holds the body's type and id to the URL's.
func (v *Validator) checkWrite(wk *walker, res *fhir.Value, ti *typeInfo, w Write) {
	if w.Type != "" && w.Type != ti.name {
		wk.errorf(outcome.CodeInvalid, "", "the body is a %s, the URL names %s", ti.name, w.Type)
	}
	id := res.Get("id")
	switch w.Interaction {
	case Create:
		if id == nil {
			return
		}
		if v.opts.RejectCreateID {
			wk.errorf(outcome.CodeInvalid, "id", "a resource to create must not have an id: the server assigns one")
		} else {
			wk.warnf(outcome.CodeInvalid, "id", "the id of a resource to create is ignored: the server assigns one")
		}
	case Update:
		switch {
		case id == nil:
			wk.errorf(outcome.CodeRequired, "id", "a resource to update must have an id, equal to the URL's (%s)", w.ID)
		case id.Kind == fhir.String && id.Text != w.ID:
			wk.errorf(outcome.CodeInvalid, "id", "the id %q differs from the URL's (%s)", clip(id.Text), w.ID)
		}
	}
}

// result hands over what Resource returns: the warnings when no issue is
// an error; else an error with every issue, status 400 when some of the
// errors are structural (the first structural ones found), else 422. The
// walker forgets the issues.
func (w *walker) result(structural int) ([]outcome.Issue, error) {
	issues := w.issues
	w.issues = nil
	if w.dropped > 0 {
		issues = append(issues, outcome.Issue{Severity: outcome.Information, Code: outcome.CodeTooCostly,
			Diagnostics: fmt.Sprintf("%d more issues were found and are not listed", w.dropped)})
	}
	if w.errors == 0 {
		return issues, nil
	}
	status := http.StatusBadRequest
	if structural == 0 {
		status = http.StatusUnprocessableEntity
	}
	return nil, &outcome.Error{Status: status, Issues: issues}
}
