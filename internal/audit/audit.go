// Package audit turns each access to the record into a FHIR AuditEvent on
// the store's hash-chained trail, and verifies the chain. Every access,
// allowed or refused, is recorded: a write's event is durable before its
// response goes out; a read's is handed to the trail's writer, which
// commits it with others within milliseconds (Queue). Patients read the
// events about them ("who looked at my record").
//
// It imports internal/store, internal/fhir and internal/outcome.
package audit

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
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

// IsRead reports whether an interaction is a plain read of the record: a
// read, vread, search or history. Break-glass, operations and everything
// that writes are not.
func IsRead(interaction string) bool {
	switch interaction {
	case "read", "vread", "search-type", "search-system", "history-instance", "history-type", "history-system":
		return true
	}
	return false
}

// Resource renders an event as an AuditEvent
// (https://hl7.org/fhir/R4/auditevent.html) with the given id.
func Resource(e *Event, id string) []byte {
	w := jsonWriter{b: make([]byte, 0, 1024)}
	w.raw(`{"resourceType":"AuditEvent","id":`)
	w.str(id)
	w.raw(`,"type":{"system":"http://terminology.hl7.org/CodeSystem/audit-event-type","code":"rest","display":"RESTful Operation"}`)
	w.raw(`,"subtype":[{"system":"http://hl7.org/fhir/restful-interaction","code":`)
	w.str(e.Interaction)
	w.raw(`}],"action":`)
	w.str(action(e.Interaction))
	w.raw(`,"recorded":`)
	w.b = append(w.b, '"')
	w.b = e.When.UTC().AppendFormat(w.b, store.InstantFormat)
	w.b = append(w.b, '"')
	w.raw(`,"outcome":`)
	w.str(string(e.Outcome))
	if e.Detail != "" {
		w.raw(`,"outcomeDesc":`)
		w.str(e.Detail)
	}
	if e.Purpose != "" {
		w.raw(`,"purposeOfEvent":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":`)
		w.str(e.Purpose)
		w.raw(`}]`)
		if e.Reason != "" {
			w.raw(`,"text":`)
			w.str(e.Reason)
		}
		w.raw(`}]`)
	}
	role := `{"system":"http://terminology.hl7.org/CodeSystem/extra-security-role-type","code":"humanuser","display":"human user"}`
	if e.Actor.Kind == "system" {
		role = `{"system":"http://terminology.hl7.org/CodeSystem/extra-security-role-type","code":"dataprocessor","display":"data processor"}`
	}
	w.raw(`,"agent":[{"type":{"coding":[` + role + `]},"who":{`)
	if e.Actor.Reference != "" {
		w.raw(`"reference":`)
		w.str(e.Actor.Reference)
		w.raw(`,`)
	}
	w.raw(`"display":`)
	switch {
	case e.Actor.Name != "":
		w.str(e.Actor.Name)
	case e.Actor.Subject != "":
		w.str(e.Actor.Subject)
	default:
		w.str("anonymous")
	}
	w.raw(`}`)
	if e.Actor.Subject != "" {
		w.raw(`,"altId":`)
		w.str(e.Actor.Subject)
	}
	w.raw(`,"requestor":true`)
	if e.Actor.Address != "" {
		w.raw(`,"network":{"address":`)
		w.str(e.Actor.Address)
		w.raw(`,"type":"2"}`)
	}
	w.raw(`}`)
	if e.Actor.Organization != "" {
		w.raw(`,{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-RoleClass","code":"PROV","display":"healthcare provider"}]},"who":{"reference":`)
		w.str(e.Actor.Organization)
		if e.Actor.ODSCode != "" {
			w.raw(`,"identifier":{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":`)
			w.str(e.Actor.ODSCode)
			w.raw(`}`)
		}
		w.raw(`},"requestor":false}`)
	}
	if e.Actor.ClientID != "" {
		w.raw(`,{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/extra-security-role-type","code":"dataprocessor","display":"application"}]},"who":{"identifier":{"system":"urn:ietf:rfc:6749:client_id","value":`)
		w.str(e.Actor.ClientID)
		w.raw(`}},"requestor":false}`)
	}
	w.raw(`],"source":{`)
	if e.RequestID != "" {
		w.raw(`"site":`)
		w.str(e.RequestID)
		w.raw(`,`)
	}
	w.raw(`"observer":{"display":"sharedcare"}}`)
	sep := `,"entity":[`
	entity := func() {
		w.raw(sep)
		sep = ","
	}
	for _, p := range e.Patients {
		entity()
		w.raw(`{"what":{"reference":`)
		w.str("Patient/" + p)
		w.raw(`},"type":{"system":"http://terminology.hl7.org/CodeSystem/audit-entity-type","code":"1","display":"Person"},"role":{"system":"http://terminology.hl7.org/CodeSystem/object-role","code":"1","display":"Patient"}}`)
	}
	for _, r := range e.Resources {
		entity()
		w.raw(`{"what":{"reference":`)
		w.str(r)
		w.raw(`},"type":{"system":"http://terminology.hl7.org/CodeSystem/audit-entity-type","code":"2","display":"System Object"}}`)
	}
	if e.Query != "" {
		entity()
		w.raw(`{"type":{"system":"http://terminology.hl7.org/CodeSystem/audit-entity-type","code":"2","display":"System Object"},"role":{"system":"http://terminology.hl7.org/CodeSystem/object-role","code":"24","display":"Query"},"query":`)
		w.str(base64.StdEncoding.EncodeToString([]byte(e.Query)))
		w.raw(`}`)
	}
	if sep == "," {
		w.raw(`]`)
	}
	w.raw(`}`)
	return w.b
}

// newID returns an id that sorts by time: 16 hex digits of the time in
// nanoseconds, then 16 random ones. Ids that grow keep the trail's id
// index appending to its last page, instead of writing a random page of
// it for every event.
func newID(t time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(t.UnixNano()))
	rand.Read(b[8:])
	return hex.EncodeToString(b[:])
}

// jsonWriter appends JSON.
type jsonWriter struct{ b []byte }

func (w *jsonWriter) raw(s string) { w.b = append(w.b, s...) }
func (w *jsonWriter) str(s string) { w.b = fhir.AppendQuoted(w.b, s) }

// list writes key and ss as a JSON array, nothing if ss is empty.
func (w *jsonWriter) list(key string, ss []string) {
	if len(ss) == 0 {
		return
	}
	w.raw(key)
	for i, s := range ss {
		if i == 0 {
			w.raw("[")
		} else {
			w.raw(",")
		}
		w.str(s)
	}
	w.raw("]")
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
	// The audit must be written even when the client has gone: the access
	// happened.
	if err := t.log.AppendAudit(context.WithoutCancel(ctx), t.records(events)); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// Queue hands events to the trail's writer, which makes them durable
// within milliseconds, and returns at once; it fails only while the trail
// cannot be written. A process crash can lose the events of those last
// milliseconds; a clean shutdown writes them all.
func (t *Trail) Queue(ctx context.Context, events ...*Event) error {
	if err := t.log.QueueAudit(context.WithoutCancel(ctx), t.records(events)); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

func (t *Trail) records(events []*Event) []*store.AuditRecord {
	recs := make([]*store.AuditRecord, 0, len(events))
	for _, e := range events {
		if e.When.IsZero() {
			e.When = t.now()
		}
		patients := dedupe(e.Patients)
		e.Patients = patients
		recs = append(recs, &store.AuditRecord{ID: newID(e.When), Recorded: e.When, Patients: patients, Body: encode(e)})
	}
	return recs
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
