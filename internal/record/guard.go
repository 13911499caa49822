package record

import (
	"context"
	"errors"
	"net/http"

	"sharedcare/internal/access"
	"sharedcare/internal/audit"
	"sharedcare/internal/auth"
	"sharedcare/internal/fhir"
	"sharedcare/internal/outcome"
	"sharedcare/internal/requestid"
	"sharedcare/internal/search"
	"sharedcare/internal/store"
)

// call is one interaction in progress: who asks, and the AuditEvent that
// will say what happened. Every public method of Service begins one and
// ends it, so that every access, allowed or refused, is audited.
type call struct {
	s  *Service
	p  *auth.Principal
	ev *audit.Event
}

// begin starts an interaction; err is the refusal of a request with no
// principal, already audited.
func (s *Service) begin(ctx context.Context, interaction string) (*call, error) {
	c := &call{s: s, ev: &audit.Event{Interaction: interaction, RequestID: requestid.FromContext(ctx)}}
	p, ok := auth.FromContext(ctx)
	if !ok {
		return c, c.end(ctx, access.Unauthenticated())
	}
	c.p = p
	c.ev.Actor = audit.Actor{Reference: p.FHIRUser, Name: p.Name, Subject: p.Subject, ClientID: p.ClientID,
		Organization: p.Organization, ODSCode: p.ODSCode, Address: p.Address, Kind: p.Kind.String()}
	return c, nil
}

// saw notes a version the interaction returned or wrote.
func (c *call) saw(v *store.Version) {
	if v == nil {
		return
	}
	if len(c.ev.Resources) < 100 {
		c.ev.Resources = append(c.ev.Resources, v.Type+"/"+v.ID)
	}
	if v.Type == "Patient" {
		c.ev.Patients = append(c.ev.Patients, v.ID)
	}
	c.ev.Patients = append(c.ev.Patients, v.Patients...)
}

// end records the interaction's AuditEvent with err's outcome and returns
// err; if the event cannot be written, the interaction fails instead: no
// access goes unrecorded.
func (c *call) end(ctx context.Context, err error) error {
	switch e, ok := outcome.As(err); {
	case err == nil:
		c.ev.Outcome = audit.Success
	case ok && e.Status < 500:
		c.ev.Outcome = audit.Refused
		if len(e.Issues) > 0 && c.ev.Detail == "" {
			c.ev.Detail = e.Issues[0].Diagnostics
		}
	default:
		c.ev.Outcome = audit.Failed
	}
	record := c.s.trail.Record
	if c.s.queueReads && audit.IsRead(c.ev.Interaction) {
		record = c.s.trail.Queue
	}
	if aerr := record(ctx, c.ev); aerr != nil {
		c.s.log.ErrorContext(ctx, "audit trail unavailable", "err", aerr)
		return outcome.Unavailable(5, "the audit trail cannot be written, so nothing can be shown or changed; try again shortly")
	}
	return err
}

// see checks one version the interaction is about to return. The error is
// a refusal (403, or 404 where even existence must not be shown).
func (c *call) see(ctx context.Context, patient string, v *store.Version) error {
	d, err := c.s.policy.CanSee(ctx, c.p, patient, v)
	if err != nil {
		return err
	}
	if d.BreakGlass != "" {
		c.ev.Purpose, c.ev.Reason = "ETREAT", d.BreakGlass
	}
	if !d.Allowed {
		c.ev.Detail = d.Reason
		if d.Withheld {
			return access.Forbidden("%s", d.Reason)
		}
		// Outside the viewer's reach: as if it did not exist.
		return notFound(v.Type, v.ID)
	}
	return nil
}

// readable checks the scopes for reading typ.
func (c *call) readable(typ string, op auth.Op) (patient string, err error) {
	patient, where, err := access.Allowed(c.p, typ, op)
	if err != nil {
		return "", err
	}
	if len(where) > 0 && op == auth.Read {
		// A read under constrained scopes is checked by searching for the
		// resource with the constraints: see readConstrained.
		return patient, errConstrained
	}
	return patient, nil
}

var errConstrained = errors.New("scope constraints apply")

// readConstrained allows a read only if the resource matches one of the
// scopes' search constraints.
func (c *call) readConstrained(ctx context.Context, v *store.Version) error {
	_, where, err := access.Allowed(c.p, v.Type, auth.Read)
	if err != nil {
		return err
	}
	for _, w := range where {
		params := map[string][]string{"_id": {v.ID}}
		for k, vs := range w {
			params[k] = vs
		}
		q, err := search.Parse(v.Type, params, search.Options{})
		if err != nil {
			return err
		}
		q.Count, q.Total = 1, "none"
		res, err := c.s.store.Search(ctx, q)
		if err != nil {
			return err
		}
		if len(res.Matches) == 1 {
			return nil
		}
	}
	return access.Forbidden("the token's scopes allow only %s resources that match their constraints", v.Type)
}

// patientsOf works out whose records a resource is part of: the patients
// its Patient-compartment references point at, and a Patient itself.
func patientsOf(typ, id string, e *search.Entries) []string {
	var out []string
	if typ == "Patient" && id != "" {
		out = append(out, id)
	}
	params := fhir.CompartmentParams("Patient", typ)
	if len(params) == 0 || e == nil {
		return out
	}
	for _, r := range e.References {
		if r.TargetType != "Patient" || r.TargetID == "" {
			continue
		}
		for _, p := range params {
			if r.Param == p {
				out = append(out, r.TargetID)
				break
			}
		}
	}
	return dedupe(out)
}

func dedupe(ids []string) []string {
	if len(ids) < 2 {
		return ids
	}
	seen := make(map[string]bool, len(ids))
	out := ids[:0]
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// stampSource records which organisation wrote res: a clinician's
// organisation, in meta.source; other writers (systems migrating records,
// which carry the original source) keep theirs.
func stampSource(p *auth.Principal, res *fhir.Value) string {
	meta := res.Get("meta")
	if p.Kind == auth.Clinician && p.Organization != "" {
		if meta == nil || meta.Kind != fhir.Object {
			res.SetAfter("meta", "id", fhir.Value{Kind: fhir.Object})
			meta = res.Get("meta")
		}
		meta.Set("source", fhir.StringValue(p.Organization))
		return p.Organization
	}
	return meta.Str("source")
}

// BreakGlass lets the signed-in clinician see patientID's record despite
// their opt-out, for a limited time, because of reason; it is audited with
// purpose ETREAT and kept for review.
func (s *Service) BreakGlass(ctx context.Context, patientID, reason string) (*access.Grant, error) {
	c, err := s.begin(ctx, "break-glass")
	if err != nil {
		return nil, err
	}
	c.ev.Patients = []string{patientID}
	c.ev.Purpose, c.ev.Reason = "ETREAT", reason
	if err := CheckID(patientID); err != nil {
		return nil, c.end(ctx, err)
	}
	if _, err := s.store.Read(ctx, "Patient", patientID); err != nil {
		return nil, c.end(ctx, err)
	}
	g, err := s.policy.BreakGlass(ctx, c.p, patientID, reason, 0)
	if err != nil {
		return nil, c.end(ctx, err)
	}
	return g, c.end(ctx, nil)
}

// notFound hides whether a resource exists from someone who may not see
// it: a patient asking for another patient's Observation gets the same
// 404 as for one that does not exist.
func notFound(typ, id string) error {
	return outcome.Newf(http.StatusNotFound, outcome.CodeNotFound, "", "%s/%s is not known", typ, id)
}
