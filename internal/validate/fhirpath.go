package validate

import (
	"context"
	"sync"

	"sharedcare/internal/fhir"
	"sharedcare/internal/fhirpath"
)

// FHIRPathInvariants evaluates invariants with internal/fhirpath,
// compiling each constraint's expression once. It is safe for concurrent
// use.
type FHIRPathInvariants struct {
	mu       sync.RWMutex // guards compiled
	compiled map[*fhir.Constraint]*fhirpath.Expression
}

// NewFHIRPathInvariants returns an empty expression cache.
func NewFHIRPathInvariants() *FHIRPathInvariants {
	return &FHIRPathInvariants{compiled: map[*fhir.Constraint]*fhirpath.Expression{}}
}

func (f *FHIRPathInvariants) expr(c *fhir.Constraint) (*fhirpath.Expression, error) {
	f.mu.RLock()
	e := f.compiled[c]
	f.mu.RUnlock()
	if e != nil {
		return e, nil
	}
	e, err := fhirpath.Parse(c.Expression)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.compiled[c] = e
	f.mu.Unlock()
	return e, nil
}

// Holds evaluates c at the focus. An empty result counts as holding: the
// invariant has nothing to say about absent elements.
func (f *FHIRPathInvariants) Holds(ctx context.Context, c *fhir.Constraint, at Focus) (bool, error) {
	e, err := f.expr(c)
	if err != nil {
		return false, err
	}
	var focus fhirpath.Item
	if t := fhir.LookupType(at.Type); t != nil && t.Kind == fhir.PrimitiveType {
		focus = fhirpath.Primitive(at.Node, at.Extensions, at.Type)
	} else {
		focus = fhirpath.Node(at.Node, at.Type)
	}
	env := &fhirpath.Env{}
	if at.Resource != nil {
		env.Resource = fhirpath.Resource(at.Resource)
	}
	if at.RootResource != nil {
		env.RootResource = fhirpath.Resource(at.RootResource)
	}
	v, ok, err := e.EvaluateBool(ctx, focus, env)
	if err != nil {
		return false, err
	}
	return !ok || v, nil
}
