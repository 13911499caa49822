// Package audit turns each access to the record into a FHIR AuditEvent on
// the store's hash-chained trail, and verifies the chain. Every access,
// allowed or refused, is recorded before its response goes out; patients
// read the events about them ("who looked at my record").
//
// It imports internal/store, internal/fhir and internal/outcome.
package audit

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"time"

	"sharedcare/internal/fhir"
	"sharedcare/internal/store"
)

// Outcome of an access, as AuditEvent.outcome codes it.
type Outcome string

const (
	Success Outcome = "0"
	Refused Outcome = "4" // minor failure: the access was not allowed
	Failed  Outcome = "8" // serious failure: the server could not do it
)

// Actor is who accessed the record, and for whom.
type Actor struct {
	Reference    string // "Practitioner/123", "Patient/456"; "" for a system
	Name         string
	Subject      string // the user or client id
	ClientID     string // the app
	Organization string // "Organization/789": on whose behalf
	ODSCode      string
	Address      string // network address the request came from
	Kind         string // patient, clinician, admin, system, dev
}

// Event is one access.
type Event struct {
	Actor       Actor
	Interaction string // read, vread, search-type, search-system, history-instance, create, update, patch, delete, transaction, operation, export ...
	Outcome     Outcome
	Detail      string   // why it was refused or failed
	Resources   []string // Type/id of the resources touched
	Patients    []string // ids of the patients whose records were touched
	Query       string   // the search or operation, as sent
	Purpose     string   // v3 ActReason: TREAT, HOPERAT, PATRQT, ETREAT (break-glass) ...
	Reason      string   // the words given for break-glass
	RequestID   string
	When        time.Time
}

// action maps an interaction to AuditEvent.action.
func action(interaction string) string {
	switch interaction {
	case "create":
		return "C"
	case "update", "patch":
		return "U"
	case "delete":
		return "D"
	case "transaction", "operation", "batch", "export", "import":
		return "E"
	}
	return "R"
}

// Resource renders an event as an AuditEvent
// (https://hl7.org/fhir/R4/auditevent.html), with a new id.
func Resource(e *Event) (id string, body []byte) {
	var b [16]byte
	rand.Read(b[:])
	id = hex.EncodeToString(b[:])
	str := fhir.StringValue
	arr := func(items ...fhir.Value) fhir.Value { return fhir.Value{Kind: fhir.Array, Items: items} }
	coding := func(system, code, display string) fhir.Value {
		c := fhir.ObjectValue("system", str(system), "code", str(code))
		if display != "" {
			c.Set("display", str(display))
		}
		return c
	}
	ev := fhir.ObjectValue(
		"resourceType", str("AuditEvent"),
		"id", str(id),
		"type", coding("http://terminology.hl7.org/CodeSystem/audit-event-type", "rest", "RESTful Operation"),
		"subtype", arr(coding("http://hl7.org/fhir/restful-interaction", e.Interaction, "")),
		"action", str(action(e.Interaction)),
		"recorded", str(e.When.UTC().Format(store.InstantFormat)),
		"outcome", str(string(e.Outcome)),
	)
	if e.Detail != "" {
		ev.Set("outcomeDesc", str(e.Detail))
	}
	if e.Purpose != "" {
		pc := fhir.ObjectValue("coding", arr(coding("http://terminology.hl7.org/CodeSystem/v3-ActReason", e.Purpose, "")))
		if e.Reason != "" {
			pc.Set("text", str(e.Reason))
		}
		ev.Set("purposeOfEvent", arr(pc))
	}
	who := fhir.Value{Kind: fhir.Object}
	if e.Actor.Reference != "" {
		who.Set("reference", str(e.Actor.Reference))
	}
	if e.Actor.Name != "" {
		who.Set("display", str(e.Actor.Name))
	} else if e.Actor.Subject != "" {
		who.Set("display", str(e.Actor.Subject))
	} else {
		who.Set("display", str("anonymous"))
	}
	agent := fhir.ObjectValue(
		"type", fhir.ObjectValue("coding", arr(coding("http://terminology.hl7.org/CodeSystem/extra-security-role-type", "humanuser", "human user"))),
		"who", who,
		"requestor", fhir.BoolValue(true),
	)
	if e.Actor.Kind == "system" {
		agent.Set("type", fhir.ObjectValue("coding", arr(coding("http://terminology.hl7.org/CodeSystem/extra-security-role-type", "dataprocessor", "data processor"))))
	}
	if e.Actor.Subject != "" {
		agent.Set("altId", str(e.Actor.Subject))
	}
	if e.Actor.Address != "" {
		agent.Set("network", fhir.ObjectValue("address", str(e.Actor.Address), "type", str("2")))
	}
	agents := []fhir.Value{agent}
	if e.Actor.Organization != "" {
		org := fhir.ObjectValue("reference", str(e.Actor.Organization))
		if e.Actor.ODSCode != "" {
			org.Set("identifier", fhir.ObjectValue("system", str("https://fhir.nhs.uk/Id/ods-organization-code"), "value", str(e.Actor.ODSCode)))
		}
		agents = append(agents, fhir.ObjectValue(
			"type", fhir.ObjectValue("coding", arr(coding("http://terminology.hl7.org/CodeSystem/v3-RoleClass", "PROV", "healthcare provider"))),
			"who", org, "requestor", fhir.BoolValue(false)))
	}
	if e.Actor.ClientID != "" {
		agents = append(agents, fhir.ObjectValue(
			"type", fhir.ObjectValue("coding", arr(coding("http://terminology.hl7.org/CodeSystem/extra-security-role-type", "dataprocessor", "application"))),
			"who", fhir.ObjectValue("identifier", fhir.ObjectValue("system", str("urn:ietf:rfc:6749:client_id"), "value", str(e.Actor.ClientID))),
			"requestor", fhir.BoolValue(false)))
	}
	ev.Set("agent", arr(agents...))
	src := fhir.ObjectValue("observer", fhir.ObjectValue("display", str("sharedcare")))
	if e.RequestID != "" {
		src.Set("site", str(e.RequestID))
	}
	ev.Set("source", src)
	var entities []fhir.Value
	for _, p := range e.Patients {
		entities = append(entities, fhir.ObjectValue(
			"what", fhir.ObjectValue("reference", str("Patient/"+p)),
			"type", coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "1", "Person"),
			"role", coding("http://terminology.hl7.org/CodeSystem/object-role", "1", "Patient")))
	}
	for _, r := range e.Resources {
		entities = append(entities, fhir.ObjectValue(
			"what", fhir.ObjectValue("reference", str(r)),
			"type", coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "2", "System Object")))
	}
	if e.Query != "" {
		entities = append(entities, fhir.ObjectValue(
			"type", coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "2", "System Object"),
			"role", coding("http://terminology.hl7.org/CodeSystem/object-role", "24", "Query"),
			"query", str(base64.StdEncoding.EncodeToString([]byte(e.Query)))))
	}
	if len(entities) > 0 {
		ev.Set("entity", arr(entities...))
	}
	return id, fhir.Marshal(ev)
}

// Trail writes events to the store's audit trail.
type Trail struct {
	log store.Audit
	now func() time.Time
}

// New returns a Trail over the store's audit log; now may be nil.
func New(log store.Audit, now func() time.Time) *Trail {
	if now == nil {
		now = time.Now
	}
	return &Trail{log: log, now: now}
}

// Record writes events and returns when they are durable.
func (t *Trail) Record(ctx context.Context, events ...*Event) error {
	recs := make([]*store.AuditRecord, 0, len(events))
	for _, e := range events {
		if e.When.IsZero() {
			e.When = t.now()
		}
		patients := dedupe(e.Patients)
		e.Patients = patients
		id, body := Resource(e)
		recs = append(recs, &store.AuditRecord{ID: id, Recorded: e.When, Patients: patients, Body: body})
	}
	// The audit must be written even when the client has gone: the access
	// happened.
	if err := t.log.AppendAudit(context.WithoutCancel(ctx), recs); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

func dedupe(ids []string) []string {
	if len(ids) < 2 {
		return ids
	}
	s := append([]string(nil), ids...)
	sort.Strings(s)
	out := s[:1]
	for _, x := range s[1:] {
		if x != out[len(out)-1] {
			out = append(out, x)
		}
	}
	return out
}

// ErrBroken reports where the chain fails to verify.
var ErrBroken = errors.New("audit chain broken")

// Verify walks the whole chain and checks every link: each event's prev is
// the hash of the one before, and its hash is SHA-256(prev || body). It
// returns how many events it checked, and ErrBroken (wrapped with the
// first bad event) if any link fails.
func Verify(ctx context.Context, log store.Audit) (int, error) {
	var prev []byte
	var lastSeq int64
	n := 0
	err := log.ScanAudit(ctx, func(e *store.AuditRecord) error {
		n++
		switch {
		case lastSeq != 0 && e.Seq != lastSeq+1:
			return fmt.Errorf("%w: event %d (%s) follows %d: an event is missing", ErrBroken, e.Seq, e.ID, lastSeq)
		case !bytes.Equal(e.Prev, prev):
			return fmt.Errorf("%w: event %d (%s) does not link to the event before it", ErrBroken, e.Seq, e.ID)
		case !bytes.Equal(e.Hash, store.AuditHash(e.Prev, e.Body)):
			return fmt.Errorf("%w: event %d (%s) was changed after it was written", ErrBroken, e.Seq, e.ID)
		}
		prev, lastSeq = e.Hash, e.Seq
		return nil
	})
	return n, err
}
