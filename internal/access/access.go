// Package access decides who may see and change what: SMART scopes, the
// patient compartment, withheld entries, the patient's sharing choice
// (consent) and break-glass. It decides; record enforces and audits, for
// every interaction and every face of the server alike.
//
// It imports internal/auth, internal/store, internal/search, internal/fhir
// and internal/outcome.
package access

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"sync"
	"time"

	"sharedcare/internal/auth"
	"sharedcare/internal/outcome"
	"sharedcare/internal/search"
	"sharedcare/internal/store"
)

// Security labels and codes this server acts on.
const (
	// WithheldSystem|WithheldCode in meta.security marks an entry withheld
	// from the patient's online access (a GP's decision, e.g. to avoid harm
	// or to protect a third party): the patient does not see it.
	WithheldSystem = "https://sharedcare.nhs.uk/CodeSystem/access"
	WithheldCode   = "withheld-online"
)

var withheldMarker = []byte(`"` + WithheldCode + `"`)

// directoryTypes are shared reference data that any signed-in user may
// read: who and where care comes from, and what a form or code means.
var directoryTypes = map[string]bool{
	"Organization": true, "Practitioner": true, "PractitionerRole": true, "Location": true,
	"HealthcareService": true, "Endpoint": true, "Medication": true, "Substance": true,
	"Questionnaire": true, "ValueSet": true, "CodeSystem": true, "ConceptMap": true,
	"StructureDefinition": true, "SearchParameter": true, "OperationDefinition": true,
	"CapabilityStatement": true, "Schedule": true, "Slot": true, "PlanDefinition": true,
	"ActivityDefinition": true,
}

// patientWritable are the types a patient may create or change, in their
// own record: online consultations, their sharing choice, appointments.
var patientWritable = map[string]bool{
	"QuestionnaireResponse": true, "Task": true, "Consent": true, "Appointment": true,
	"AppointmentResponse": true, "Communication": true, "CommunicationRequest": true,
}

// Decision is whether one resource may be seen.
type Decision struct {
	Allowed bool
	// Withheld means the patient opted out of sharing and the viewer is
	// outside the recording organisation: break-glass would show it.
	Withheld bool
	// BreakGlass is the reason given when the resource is visible only
	// because the viewer broke the glass.
	BreakGlass string
	Reason     string // why not
}

// Consents answers whether a patient has opted out of sharing their
// record beyond the organisations that hold it.
type Consents interface {
	OptedOut(ctx context.Context, patientID string) (bool, error)
}

// Policy applies the rules. It is safe for concurrent use.
type Policy struct {
	consents Consents
	records  store.Records
	now      func() time.Time

	mu    sync.Mutex // guards cache
	cache map[string]cachedConsent
	ttl   time.Duration
}

type cachedConsent struct {
	optedOut bool
	until    time.Time
}

// New returns a Policy. Consent answers are cached for ttl (0: 2 s), so a
// changed sharing choice holds everywhere within that time, on every node.
func New(consents Consents, records store.Records, ttl time.Duration, now func() time.Time) *Policy {
	if ttl == 0 {
		ttl = 2 * time.Second
	}
	if now == nil {
		now = time.Now
	}
	return &Policy{consents: consents, records: records, now: now, cache: map[string]cachedConsent{}, ttl: ttl}
}

// Unauthenticated is the refusal of a request with no principal.
func Unauthenticated() error {
	e := outcome.New(http.StatusUnauthorized, outcome.CodeLogin, "", "sign in first: this needs an access token")
	e.Headers = map[string]string{"WWW-Authenticate": `Bearer realm="sharedcare"`}
	return e
}

// Forbidden is a refusal with a reason.
func Forbidden(format string, args ...any) error {
	return outcome.Newf(http.StatusForbidden, outcome.CodeForbidden, "", format, args...)
}

// Principal returns the request's principal or the 401 refusal.
func Principal(ctx context.Context) (*auth.Principal, error) {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return nil, Unauthenticated()
	}
	return p, nil
}

// contexts are the scope contexts a principal acts in.
func contexts(p *auth.Principal) []auth.Context {
	switch p.Kind {
	case auth.Patient:
		return []auth.Context{auth.PatientContext}
	case auth.Clinician, auth.Admin:
		if p.PatientID != "" {
			return []auth.Context{auth.UserContext, auth.PatientContext}
		}
		return []auth.Context{auth.UserContext}
	case auth.System:
		return []auth.Context{auth.SystemContext}
	case auth.Dev:
		return []auth.Context{auth.UserContext, auth.SystemContext, auth.PatientContext}
	}
	return nil
}

// Allowed checks the scopes for op on type typ, and returns the patient
// the access is confined to ("" for none) and any SMART v2 search
// constraints that further narrow it.
func Allowed(p *auth.Principal, typ string, op auth.Op) (patient string, where []map[string][]string, err error) {
	var constrained []map[string][]string
	for _, c := range contexts(p) {
		w, ok := p.Scopes.AllowsWhere(c, typ, op)
		if !ok {
			continue
		}
		if c == auth.PatientContext {
			if p.PatientID == "" {
				continue // patient scopes with no patient in context grant nothing
			}
			if len(w) == 0 {
				return p.PatientID, nil, nil
			}
			for _, v := range w {
				constrained = append(constrained, v)
			}
			patient = p.PatientID
			continue
		}
		if len(w) == 0 {
			return "", nil, nil // an unconstrained user or system scope
		}
		for _, v := range w {
			constrained = append(constrained, v)
		}
	}
	if len(constrained) > 0 {
		return patient, constrained, nil
	}
	return "", nil, Forbidden("the token's scopes do not allow %s of %s", opWord(op), typ)
}

func opWord(op auth.Op) string {
	switch op {
	case auth.Create:
		return "creating"
	case auth.Update:
		return "changing"
	case auth.Delete:
		return "deleting"
	case auth.Search:
		return "searching"
	}
	return "reading"
}

// inCompartment reports whether the version belongs to patient's record.
func inCompartment(v *store.Version, patient string) bool {
	if v.Type == "Patient" && v.ID == patient {
		return true
	}
	return slices.Contains(v.Patients, patient)
}

// withheld reports whether the version carries the withheld-online label.
func withheld(v *store.Version) bool {
	return bytes.Contains(v.Body, withheldMarker) && bytes.Contains(v.Body, []byte(WithheldSystem))
}

// CanSee decides whether p may see version v, whose read (op Read or
// Search) the scopes already allow, confined to patient when it is not "".
func (pol *Policy) CanSee(ctx context.Context, p *auth.Principal, patient string, v *store.Version) (Decision, error) {
	if patient != "" || p.Kind == auth.Patient {
		if patient == "" {
			patient = p.PatientID
		}
		if directoryTypes[v.Type] && len(v.Patients) == 0 {
			return Decision{Allowed: true}, nil
		}
		if !inCompartment(v, patient) {
			return Decision{Reason: "this is not part of the record of the patient in context"}, nil
		}
		if p.Kind == auth.Patient && withheld(v) {
			return Decision{Reason: "your GP practice has withheld this entry from online access"}, nil
		}
		return Decision{Allowed: true}, nil
	}
	if p.Kind != auth.Clinician {
		return Decision{Allowed: true}, nil // system, admin and dev are bound by scopes only
	}
	// Demographics are shared so that a patient can be found and
	// identified; the rest of an opted-out record is not.
	if v.Type == "Patient" || len(v.Patients) == 0 {
		return Decision{Allowed: true}, nil
	}
	if v.Source != "" && v.Source == p.Organization {
		return Decision{Allowed: true}, nil
	}
	for _, pt := range v.Patients {
		out, err := pol.optedOut(ctx, pt)
		if err != nil {
			return Decision{}, err
		}
		if !out {
			continue
		}
		reason, ok, err := pol.BreakGlassActive(ctx, p, pt)
		if err != nil {
			return Decision{}, err
		}
		if ok {
			return Decision{Allowed: true, BreakGlass: reason}, nil
		}
		return Decision{Withheld: true, Reason: "the patient has opted out of sharing their record beyond the organisations that recorded it; break the glass to see it in an emergency"}, nil
	}
	return Decision{Allowed: true}, nil
}

func (pol *Policy) optedOut(ctx context.Context, patient string) (bool, error) {
	now := pol.now()
	pol.mu.Lock()
	c, ok := pol.cache[patient]
	pol.mu.Unlock()
	if ok && now.Before(c.until) {
		return c.optedOut, nil
	}
	out, err := pol.consents.OptedOut(ctx, patient)
	if err != nil {
		return false, err
	}
	pol.mu.Lock()
	if len(pol.cache) > 100_000 {
		clear(pol.cache) // bound memory; entries are cheap to refetch
	}
	pol.cache[patient] = cachedConsent{optedOut: out, until: now.Add(pol.ttl)}
	pol.mu.Unlock()
	return out, nil
}

// Forget drops the cached sharing choice of patient, after a change.
func (pol *Policy) Forget(patient string) {
	pol.mu.Lock()
	delete(pol.cache, patient)
	pol.mu.Unlock()
}

// CanWrite decides whether p may write a resource of type typ (op Create,
// Update or Delete) whose record is that of patients; current is the
// version being replaced, or nil.
func (pol *Policy) CanWrite(p *auth.Principal, typ string, op auth.Op, patients []string, current *store.Version) error {
	patient, where, err := Allowed(p, typ, op)
	if err != nil {
		return err
	}
	if len(where) > 0 {
		return Forbidden("the token's scopes allow %s of %s only with search constraints, which writes cannot meet", opWord(op), typ)
	}
	if p.Kind == auth.Patient {
		if !patientWritable[typ] {
			return Forbidden("patients cannot write %s resources", typ)
		}
		patient = p.PatientID
	}
	if patient == "" {
		return nil
	}
	if len(patients) == 0 && op != auth.Delete {
		return Forbidden("this %s would not be part of the record of the patient in context", typ)
	}
	for _, pt := range patients {
		if pt != patient {
			return Forbidden("this %s would be part of another patient's record", typ)
		}
	}
	if current != nil && !current.Deleted && !inCompartment(current, patient) {
		return Forbidden("the %s being changed is not part of the record of the patient in context", typ)
	}
	return nil
}

// SearchScope confines a search to what p may search: the patient
// compartment for patient access, and the scopes' search constraints.
func SearchScope(p *auth.Principal, q *search.Query, typ string) (patient string, err error) {
	patient, where, err := Allowed(p, typ, auth.Search)
	if err != nil {
		return "", err
	}
	if len(where) > 1 {
		return "", Forbidden("the token's scopes allow searching %s only under several alternative constraints; this server applies one", typ)
	}
	if len(where) == 1 {
		for name, vals := range where[0] {
			for _, v := range vals {
				f, err := search.Parse(typ, map[string][]string{name: {v}}, search.Options{})
				if err != nil {
					return "", err
				}
				q.Filters = append(q.Filters, f.Filters...)
			}
		}
	}
	if p.Kind == auth.Patient {
		patient = p.PatientID
	}
	return patient, nil
}

// IsDirectory reports whether typ is shared reference data that any
// signed-in user may read (organisations, practitioners, medications ...).
func IsDirectory(typ string) bool { return directoryTypes[typ] }
