package record_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sharedcare/internal/audit"
	"sharedcare/internal/auth"
	"sharedcare/internal/fhir"
	"sharedcare/internal/outcome"
	"sharedcare/internal/record"
	"sharedcare/internal/search"
	"sharedcare/internal/store"
	"sharedcare/internal/store/sqlite"
)

type world struct {
	rec *record.Service
	db  *sqlite.DB
}

func principal(t *testing.T, kind auth.Kind, scopes string, patient, org string) *auth.Principal {
	t.Helper()
	s, err := auth.ParseScopes(scopes)
	if err != nil {
		t.Fatal(err)
	}
	p := &auth.Principal{Kind: kind, Subject: kind.String() + patient + org, Scopes: s, PatientID: patient, Organization: org, Address: "192.0.2.1"}
	switch kind {
	case auth.Patient:
		p.FHIRUser = "Patient/" + patient
	case auth.Clinician:
		p.FHIRUser = "Practitioner/dr-" + strings.TrimPrefix(org, "Organization/")
	}
	return p
}

func as(p *auth.Principal) context.Context { return auth.NewContext(context.Background(), p) }

func parse(t *testing.T, s string) *fhir.Value {
	t.Helper()
	v, err := fhir.Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return &v
}

func status(err error) int {
	if err == nil {
		return 200
	}
	if e, ok := outcome.As(err); ok {
		return e.Status
	}
	return 500
}

// newWorld stores two practices, two patients of the first, and their
// observations: pB has opted out of sharing; one of pA's entries is
// withheld from online access.
func newWorld(t *testing.T) *world {
	t.Helper()
	db, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "w.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	w := &world{rec: record.New(record.Options{Store: db}), db: db}
	gp1 := principal(t, auth.Clinician, "user/*.cruds", "", "Organization/gp1")
	gp2 := principal(t, auth.Clinician, "user/*.cruds", "", "Organization/gp2")
	put := func(p *auth.Principal, typ, id, body string) {
		t.Helper()
		if _, err := w.rec.Update(as(p), typ, id, parse(t, body), 0); err != nil {
			t.Fatalf("seed %s/%s: %v", typ, id, err)
		}
	}
	put(gp1, "Organization", "gp1", `{"resourceType":"Organization","id":"gp1","name":"Leeds Road Surgery"}`)
	put(gp1, "Organization", "gp2", `{"resourceType":"Organization","id":"gp2","name":"York Hospital"}`)
	put(gp1, "Practitioner", "dr-gp1", `{"resourceType":"Practitioner","id":"dr-gp1","name":[{"family":"Hughes"}]}`)
	put(gp1, "Patient", "pA", `{"resourceType":"Patient","id":"pA","name":[{"family":"Able"}],"generalPractitioner":[{"reference":"Organization/gp1"}]}`)
	put(gp1, "Patient", "pB", `{"resourceType":"Patient","id":"pB","name":[{"family":"Baker"}],"generalPractitioner":[{"reference":"Organization/gp1"}]}`)
	obs := func(id, patient, code string) string {
		return `{"resourceType":"Observation","id":"` + id + `","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"` + code + `"}]},"subject":{"reference":"Patient/` + patient + `"},"performer":[{"reference":"Practitioner/dr-gp1"}]}`
	}
	put(gp1, "Observation", "oA1", obs("oA1", "pA", "8480-6"))
	put(gp2, "Observation", "oA2", obs("oA2", "pA", "4548-4"))
	put(gp1, "Observation", "oB1", obs("oB1", "pB", "8480-6"))
	put(gp1, "Observation", "oAw", `{"resourceType":"Observation","id":"oAw","meta":{"security":[{"system":"https://sharedcare.nhs.uk/CodeSystem/access","code":"withheld-online"}]},"status":"final","code":{"text":"sensitive"},"subject":{"reference":"Patient/pA"}}`)
	put(gp1, "Consent", "cB", `{"resourceType":"Consent","id":"cB","status":"active","scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},
		"category":[{"coding":[{"system":"http://loinc.org","code":"59284-0"}]}],"patient":{"reference":"Patient/pB"},"policyRule":{"text":"opt out of sharing"},"provision":{"type":"deny"}}`)
	return w
}

func ids(vs []*store.Version) string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Type+"/"+v.ID)
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

func (w *world) search(t *testing.T, p *auth.Principal, typ, query string) (*record.SearchResult, error) {
	t.Helper()
	params, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	q, err := search.Parse(typ, params, search.Options{})
	if err != nil {
		t.Fatalf("parse %s?%s: %v", typ, query, err)
	}
	return w.rec.Search(as(p), q)
}

func TestAccessMatrix(t *testing.T) {
	w := newWorld(t)
	patientA := principal(t, auth.Patient, "patient/*.cruds", "pA", "")
	gp1 := principal(t, auth.Clinician, "user/*.cruds", "", "Organization/gp1")
	hosp := principal(t, auth.Clinician, "user/*.cruds", "", "Organization/gp2")
	narrow := principal(t, auth.Clinician, "user/Patient.rs", "", "Organization/gp1")
	system := principal(t, auth.System, "system/*.rs", "", "")

	reads := []struct {
		who     string
		p       *auth.Principal
		typ, id string
		want    int
	}{
		{"patient own observation", patientA, "Observation", "oA1", 200},
		{"patient own, other org", patientA, "Observation", "oA2", 200},
		{"patient another's observation", patientA, "Observation", "oB1", 404},
		{"patient withheld entry", patientA, "Observation", "oAw", 404},
		{"patient self", patientA, "Patient", "pA", 200},
		{"patient another patient", patientA, "Patient", "pB", 404},
		{"patient directory", patientA, "Practitioner", "dr-gp1", 200},
		{"patient another's consent", patientA, "Consent", "cB", 404},
		{"clinician opted-out, same org", gp1, "Observation", "oB1", 200},
		{"clinician opted-out, other org", hosp, "Observation", "oB1", 403},
		{"clinician opted-out demographics", hosp, "Patient", "pB", 200},
		{"clinician not opted out, other org", hosp, "Observation", "oA1", 200},
		{"clinician withheld-online is visible", hosp, "Observation", "oAw", 200},
		{"scope too narrow", narrow, "Observation", "oA1", 403},
		{"scope allows", narrow, "Patient", "pA", 200},
		{"system", system, "Observation", "oB1", 200},
	}
	for _, tt := range reads {
		_, err := w.rec.Read(as(tt.p), tt.typ, tt.id)
		if status(err) != tt.want {
			t.Errorf("%s: read %s/%s = %d (%v), want %d", tt.who, tt.typ, tt.id, status(err), err, tt.want)
		}
	}
	if _, err := w.rec.Read(context.Background(), "Patient", "pA"); status(err) != 401 {
		t.Errorf("read with no principal = %d, want 401", status(err))
	}

	searches := []struct {
		who, typ, query string
		p               *auth.Principal
		want            string
		withheld        int
	}{
		{"patient all observations", "Observation", "", patientA, "Observation/oA1 Observation/oA2", 0},
		{"patient asks for another's", "Observation", "subject=Patient/pB", patientA, "", 0},
		{"patient by code", "Observation", "code=8480-6", patientA, "Observation/oA1", 0},
		{"patient patients", "Patient", "", patientA, "Patient/pA", 0},
		{"patient chain to another", "Observation", "subject:Patient.name=baker", patientA, "", 0},
		{"patient _has", "Patient", "_has:Observation:subject:code=8480-6", patientA, "Patient/pA", 0},
		{"patient revinclude", "Patient", "_revinclude=Observation:subject", patientA, "Observation/oA1 Observation/oA2 Patient/pA", 0},
		{"patient include", "Observation", "_include=Observation:subject&_id=oA1", patientA, "Observation/oA1 Patient/pA", 0},
		{"patient include of another's", "Observation", "_include=Observation:subject&_id=oB1", patientA, "", 0},
		{"patient directory search", "Practitioner", "", patientA, "Practitioner/dr-gp1", 0},
		{"hospital sees opted-out withheld", "Observation", "code=8480-6", hosp, "Observation/oA1", 1},
		{"practice sees its own", "Observation", "code=8480-6", gp1, "Observation/oA1 Observation/oB1", 0},
	}
	for _, tt := range searches {
		res, err := w.search(t, tt.p, tt.typ, tt.query)
		if err != nil {
			t.Errorf("%s: search %s?%s: %v", tt.who, tt.typ, tt.query, err)
			continue
		}
		all := append(append([]*store.Version{}, res.Matches...), res.Included...)
		if got := ids(all); got != tt.want || res.Withheld != tt.withheld {
			t.Errorf("%s: search %s?%s = %q withheld %d, want %q withheld %d", tt.who, tt.typ, tt.query, got, res.Withheld, tt.want, tt.withheld)
		}
	}
	// A patient cannot reach into another compartment.
	if _, err := w.search(t, patientA, "", "_type=Observation"); err == nil {
		res, _ := w.search(t, patientA, "", "_type=Observation")
		for _, v := range res.Matches {
			if !slices.Contains(v.Patients, "pA") {
				t.Errorf("system-level search gave a patient %s/%s", v.Type, v.ID)
			}
		}
	}
	q, _ := search.Parse("Observation", nil, search.Options{})
	q.Compartment = &search.Compartment{Type: "Patient", ID: "pB"}
	if _, err := w.rec.Search(as(patientA), q); status(err) != 404 {
		t.Errorf("patient searching another's compartment = %d, want 404", status(err))
	}

	// History.
	if _, err := w.rec.History(as(patientA), &record.HistoryQuery{Type: "Observation", ID: "oB1", Count: 10}); status(err) != 404 {
		t.Errorf("patient history of another's resource = %d, want 404", status(err))
	}
	if vs, err := w.rec.History(as(patientA), &record.HistoryQuery{Type: "Observation", Count: 50}); err != nil || ids(vs) != "Observation/oA1 Observation/oA2" {
		t.Errorf("patient type history = %s, %v", ids(vs), err)
	}
	if _, err := w.rec.History(as(patientA), &record.HistoryQuery{Count: 50}); status(err) != 403 {
		t.Errorf("patient system history = %d, want 403", status(err))
	}

	// Writes.
	writes := []struct {
		who  string
		p    *auth.Principal
		typ  string
		body string
		want int
	}{
		{"patient asks for help", patientA, "QuestionnaireResponse", `{"resourceType":"QuestionnaireResponse","status":"completed","subject":{"reference":"Patient/pA"}}`, 201},
		{"patient writes clinical data", patientA, "Observation", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/pA"}}`, 403},
		{"patient writes into another record", patientA, "QuestionnaireResponse", `{"resourceType":"QuestionnaireResponse","status":"completed","subject":{"reference":"Patient/pB"}}`, 403},
		{"patient writes outside any record", patientA, "Task", `{"resourceType":"Task","status":"requested","intent":"order"}`, 403},
		{"system read-only", system, "Observation", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/pA"}}`, 403},
		{"clinician", hosp, "Observation", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/pB"}}`, 201},
	}
	for _, tt := range writes {
		_, err := w.rec.Create(as(tt.p), tt.typ, parse(t, tt.body))
		got := status(err)
		if got == 200 {
			got = 201
		}
		if got != tt.want {
			t.Errorf("%s: create %s = %d (%v), want %d", tt.who, tt.typ, got, err, tt.want)
		}
	}
	if _, err := w.rec.Update(as(patientA), "QuestionnaireResponse", "qB", parse(t, `{"resourceType":"QuestionnaireResponse","id":"qB","status":"completed","subject":{"reference":"Patient/pB"}}`), 0); status(err) != 403 {
		t.Errorf("patient PUT into another record = %d, want 403", status(err))
	}
	if _, err := w.rec.Delete(as(patientA), "Observation", "oB1", 0); status(err) != 403 {
		t.Errorf("patient delete of another's = %d, want 403", status(err))
	}
	if _, err := w.rec.Transact(as(patientA), []record.Entry{{Method: "POST", URL: "Task", Location: "Bundle.entry[0]",
		Resource: parse(t, `{"resourceType":"Task","status":"requested","intent":"order","for":{"reference":"Patient/pB"}}`)}}); status(err) != 403 {
		t.Errorf("patient transaction into another record = %d, want 403", status(err))
	}
	// The meta.source of a clinician's write is their organisation.
	wr, err := w.rec.Create(as(hosp), "Observation", parse(t, `{"resourceType":"Observation","meta":{"source":"Organization/forged"},"status":"final","code":{"text":"y"},"subject":{"reference":"Patient/pA"}}`))
	if err != nil || wr.Version.Source != "Organization/gp2" || !strings.Contains(string(wr.Version.Body), `"source":"Organization/gp2"`) {
		t.Errorf("clinician create: source %q, %v; want Organization/gp2", wr.Version.Source, err)
	}
}

func TestBreakGlass(t *testing.T) {
	w := newWorld(t)
	hosp := principal(t, auth.Clinician, "user/*.cruds", "", "Organization/gp2")
	if _, err := w.rec.Read(as(hosp), "Observation", "oB1"); status(err) != 403 {
		t.Fatalf("before break-glass: %d, want 403", status(err))
	}
	if _, err := w.rec.BreakGlass(as(hosp), "pB", "short"); status(err) != 400 {
		t.Errorf("break-glass with a too short reason = %d, want 400", status(err))
	}
	patient := principal(t, auth.Patient, "patient/*.cruds", "pA", "")
	if _, err := w.rec.BreakGlass(as(patient), "pB", "I would like to see it please"); status(err) != 403 {
		t.Errorf("patient break-glass = %d, want 403", status(err))
	}
	g, err := w.rec.BreakGlass(as(hosp), "pB", "unconscious in the emergency department")
	if err != nil || !g.Until.After(g.Since) {
		t.Fatalf("BreakGlass = %+v, %v", g, err)
	}
	if _, err := w.rec.Read(as(hosp), "Observation", "oB1"); err != nil {
		t.Errorf("after break-glass: %v", err)
	}
	// Recorded with its purpose and reason, where the patient can see it.
	pB := principal(t, auth.Patient, "patient/*.rs", "pB", "")
	res, err := w.search(t, pB, "AuditEvent", "")
	if err != nil {
		t.Fatal(err)
	}
	var sawBreak, sawRead bool
	for _, v := range res.Matches {
		b := string(v.Body)
		sawBreak = sawBreak || strings.Contains(b, `"code":"break-glass"`) && strings.Contains(b, "unconscious")
		sawRead = sawRead || strings.Contains(b, `"code":"read"`) && strings.Contains(b, `"code":"ETREAT"`)
	}
	if !sawBreak || !sawRead {
		t.Errorf("patient's audit view lacks the break-glass (%v) or the read under it (%v)", sawBreak, sawRead)
	}
}

func TestAuditEveryAccess(t *testing.T) {
	w := newWorld(t)
	patientA := principal(t, auth.Patient, "patient/*.rs", "pA", "")
	hosp := principal(t, auth.Clinician, "user/*.cruds", "", "Organization/gp2")
	ctx := context.Background()
	before, _ := w.db.SearchAudit(ctx, &store.AuditQuery{Count: 1000})
	w.rec.Read(as(hosp), "Observation", "oA1")        // allowed
	w.rec.Read(as(hosp), "Observation", "oB1")        // refused: opted out
	w.rec.Read(as(patientA), "Observation", "oB1")    // refused: not theirs
	w.rec.Read(context.Background(), "Patient", "pA") // refused: anonymous
	after, _ := w.db.SearchAudit(ctx, &store.AuditQuery{Count: 1000})
	if n := len(after) - len(before); n != 4 {
		t.Fatalf("%d AuditEvents for 4 accesses", n)
	}
	outcomes := ""
	for _, e := range after[:4] {
		ev, err := audit.Decode(e.Body)
		if err != nil {
			t.Fatal(err)
		}
		outcomes = string(ev.Outcome) + outcomes
	}
	if outcomes != "0444" {
		t.Errorf("outcomes oldest first = %s, want 0444", outcomes)
	}
	// Patient A sees who looked at their record, and nothing about B.
	res, err := w.search(t, patientA, "AuditEvent", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range res.Matches {
		if !slices.Contains(v.Patients, "pA") {
			t.Errorf("patient A sees an AuditEvent about %v", v.Patients)
		}
	}
	if _, err := w.search(t, patientA, "AuditEvent", "patient=Patient/pB"); status(err) != 403 {
		t.Errorf("patient A asking for B's audit = %d, want 403", status(err))
	}
	// Read by id: their own events, not another's.
	mine, theirs := "", ""
	for _, e := range after {
		ev, _ := audit.Decode(e.Body)
		switch {
		case slices.Contains(ev.Patients, "pA") && mine == "":
			mine = e.ID
		case slices.Contains(ev.Patients, "pB") && !slices.Contains(ev.Patients, "pA") && theirs == "":
			theirs = e.ID
		}
	}
	if _, err := w.rec.Read(as(patientA), "AuditEvent", mine); err != nil {
		t.Errorf("patient A reading an AuditEvent about them: %v", err)
	}
	if _, err := w.rec.Read(as(patientA), "AuditEvent", theirs); status(err) != 404 {
		t.Errorf("patient A reading an AuditEvent about B = %d, want 404", status(err))
	}
	if !errors.Is(nil, nil) {
		t.Fatal()
	}
	_ = http.StatusOK
}
