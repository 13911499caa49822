package synth

import (
	"crypto/sha1"
	"encoding/base64"
	"strconv"
	"time"

	"sharedcare/internal/fhir"
	"sharedcare/internal/nhs"
)

// The builders below write one resource each and return its id. Member
// order follows the spec's element order, as its examples do.

func (l *life) subject() fhir.Value { return ref("Patient", l.pid, "") }

func practitionerRef(s *staff) fhir.Value { return ref("Practitioner", s.id, s.display()) }

// Encounter classes (v3 ActCode).
var (
	classAmbulatory = code{systemActCode, "AMB", "ambulatory"}
	classVirtual    = code{systemActCode, "VR", "virtual"}
	classEmergency  = code{systemActCode, "EMER", "emergency"}
	classInpatient  = code{systemActCode, "IMP", "inpatient encounter"}
)

type encounterSpec struct {
	class      code
	typ        code
	text       string
	start, end time.Time
	who        *staff
	orgID, org string
	diagnoses  []string // Condition ids
	admitted   bool     // from A&E, discharged home
}

func (l *life) encounter(e encounterSpec) string {
	id := l.id("Encounter")
	var diags []fhir.Value
	for i, c := range e.diagnoses {
		diags = append(diags, obj(m("condition", ref("Condition", c, "")), m("rank", integer(i+1))))
	}
	var hosp fhir.Value
	if e.admitted {
		hosp = obj(
			m("admitSource", concept("", code{systemAdmitSource, "emd", "From accident/emergency department"})),
			m("dischargeDisposition", concept("", code{systemDischargeDisp, "home", "Home"})),
		)
	}
	l.emit("Encounter", id, obj(
		m("resourceType", str("Encounter")),
		m("id", str(id)),
		m("meta", syntheticMeta()),
		m("status", str("finished")),
		m("class", e.class.coding()),
		m("type", arr(concept(e.text, e.typ))),
		m("subject", l.subject()),
		m("participant", arr(obj(
			m("type", arr(concept("", code{systemParticipationType, "PPRF", "primary performer"}))),
			m("individual", practitionerRef(e.who)),
		))),
		m("period", period(dateTime(e.start), dateTime(e.end))),
		m("diagnosis", arr(diags...)),
		m("hospitalization", hosp),
		m("serviceProvider", ref("Organization", e.orgID, e.org)),
	))
	return id
}

// gpEncounter is a consultation at the practice, 10 minutes long.
func (l *life) gpEncounter(t time.Time, typ code, text string, who *staff, diagnoses ...string) string {
	class := classAmbulatory
	if typ == encTelephone {
		class = classVirtual
	}
	return l.encounter(encounterSpec{class: class, typ: typ, text: text, start: t, end: t.Add(10 * time.Minute),
		who: who, orgID: l.p.practice.id, org: l.p.practice.name, diagnoses: diagnoses})
}

func clinicalStatus(s string) fhir.Value {
	var display string
	switch s {
	case "active":
		display = "Active"
	case "resolved":
		display = "Resolved"
	case "remission":
		display = "Remission"
	}
	return concept("", code{systemConditionClinical, s, display})
}

// condition writes long-term condition c on the problem list with the given id.
func (l *life) condition(id string, c int, onset time.Time, enc, status string, abated time.Time) string {
	l.condID[c] = id
	l.condAt[c] = l.emit("Condition", id, l.conditionBody(id, condCodes[c], condNames[c], "problem-list-item", enc, onset, status, abated, l.gp))
	return id
}

func (l *life) conditionBody(id string, c code, text, category, enc string, onset time.Time, status string, abated time.Time, who *staff) fhir.Value {
	categoryDisplay := "Problem List Item"
	if category == "encounter-diagnosis" {
		categoryDisplay = "Encounter Diagnosis"
	}
	var encRef, abatement fhir.Value
	if enc != "" {
		encRef = ref("Encounter", enc, "")
	}
	if !abated.IsZero() {
		abatement = str(date(abated))
	}
	return obj(
		m("resourceType", str("Condition")),
		m("id", str(id)),
		m("meta", syntheticMeta()),
		m("clinicalStatus", clinicalStatus(status)),
		m("verificationStatus", concept("", code{systemConditionVer, "confirmed", "Confirmed"})),
		m("category", arr(concept("", code{systemConditionCategory, category, categoryDisplay}))),
		m("code", concept(text, c)),
		m("subject", l.subject()),
		m("encounter", encRef),
		m("onsetDateTime", str(date(onset))),
		m("abatementDateTime", abatement),
		m("recordedDate", str(date(onset))),
		m("recorder", practitionerRef(who)),
	)
}

// episode writes an acute problem diagnosed in an encounter, resolved
// after days unless that is after the end of the history.
func (l *life) episode(id string, c code, text, enc string, t time.Time, days int, who *staff) {
	status, abated := "resolved", addDays(t, days)
	if !abated.Before(l.until) {
		status, abated = "active", time.Time{}
	}
	l.emit("Condition", id, l.conditionBody(id, c, text, "encounter-diagnosis", enc, t, status, abated, who))
}

func observationCategory(c string) fhir.Value {
	var display string
	switch c {
	case "vital-signs":
		display = "Vital Signs"
	case "laboratory":
		display = "Laboratory"
	case "social-history":
		display = "Social History"
	case "survey":
		display = "Survey"
	}
	return arr(concept("", code{systemObservationCategory, c, display}))
}

// observation writes one Observation; value is its value[x] member.
func (l *life) observation(enc string, t time.Time, category string, codes []code, text string, performer fhir.Value, value member, more ...member) string {
	id := l.id("Observation")
	var encRef fhir.Value
	if enc != "" {
		encRef = ref("Encounter", enc, "")
	}
	ms := []member{
		m("resourceType", str("Observation")),
		m("id", str(id)),
		m("meta", syntheticMeta()),
		m("status", str("final")),
		m("category", observationCategory(category)),
		m("code", concept(text, codes...)),
		m("subject", l.subject()),
		m("encounter", encRef),
		m("effectiveDateTime", str(dateTime(t))),
	}
	// issued, performer, value, interpretation, referenceRange, component
	// come from more in that order; value goes after performer.
	issued, rest := splitIssued(more)
	ms = append(ms, issued, m("performer", arr(performer)), value)
	ms = append(ms, rest...)
	l.emit("Observation", id, obj(ms...))
	return id
}

func splitIssued(more []member) (member, []member) {
	if len(more) > 0 && more[0].k == "issued" {
		return more[0], more[1:]
	}
	return member{}, more
}

func (l *life) vital(enc string, t time.Time, who *staff, codes []code, text string, v fhir.Value, unit, ucum string) string {
	return l.observation(enc, t, "vital-signs", codes, text, practitionerRef(who), m("valueQuantity", quantity(v, unit, ucum)))
}

// bloodPressure writes a blood pressure panel and returns the systolic.
func (l *life) bloodPressure(enc string, t time.Time, who *staff) float64 {
	sbp := l.systolic(t)
	dbp := l.diastolic(sbp)
	component := func(codes []code, text string, v float64) fhir.Value {
		return obj(m("code", concept(text, codes...)), m("valueQuantity", quantity(decimal(v, 0), "mmHg", "mm[Hg]")))
	}
	l.observation(enc, t, "vital-signs", obsBP, "Blood pressure", practitionerRef(who), member{},
		m("component", arr(component(obsSystolic, "Systolic blood pressure", sbp), component(obsDiastolic, "Diastolic blood pressure", dbp))))
	return sbp
}

// bodyMeasures writes weight and BMI, and height the first time.
func (l *life) bodyMeasures(enc string, t time.Time, who *staff, height bool) {
	if l.age(t) < 18 {
		return
	}
	if height {
		l.vital(enc, t, who, obsHeight, "Height", decimal(l.h.heightCm, 0), "cm", "cm")
	}
	w := l.weight(t)
	hm := l.h.heightCm / 100
	l.vital(enc, t, who, obsWeight, "Weight", decimal(w, 1), "kg", "kg")
	l.vital(enc, t, who, obsBMI, "Body mass index", decimal(w/(hm*hm), 1), "kg/m2", "kg/m2")
}

func (l *life) smokingStatus(enc string, t time.Time, who *staff) {
	v := [...]code{smokingNever, smokingEx, smokingCurrent}[l.h.smoking]
	l.observation(enc, t, "social-history", obsSmoking, "Smoking status", practitionerRef(who),
		m("valueCodeableConcept", concept("", v)))
}

// result is one laboratory result with its reference range.
type result struct {
	codes     []code
	text      string
	v         float64
	prec      int
	unit      string
	ucum      string
	low, high float64 // reference range; 0 for none
	cmp       string  // comparator: "<5" or ">90"
}

var (
	interpretationHigh = code{systemInterpretation, "H", "High"}
	interpretationLow  = code{systemInterpretation, "L", "Low"}
)

// labReport writes the results and the DiagnosticReport that lists them:
// sampled at t, reported some hours later by the trust's laboratory.
func (l *life) labReport(enc string, t time.Time, panel, section code, text string, results []result, conclusion string) string {
	lab := ref("Organization", l.p.hospital.id, l.p.hospital.trust.name)
	issued := t.Add(time.Duration(3+l.r.intn(20)) * time.Hour)
	if issued.After(l.until) {
		issued = t.Add(time.Hour)
	}
	ids := make([]fhir.Value, 0, len(results))
	for _, res := range results {
		q := obj(m("value", decimal(res.v, res.prec)), m("comparator", str(res.cmp)), m("unit", str(res.unit)),
			m("system", str(nhs.UCUMSystem)), m("code", str(res.ucum)))
		var interp, rng fhir.Value
		switch {
		case res.cmp != "":
		case res.high > 0 && res.v > res.high:
			interp = arr(concept("", interpretationHigh))
		case res.low > 0 && res.v < res.low:
			interp = arr(concept("", interpretationLow))
		}
		if res.low > 0 || res.high > 0 {
			var lo, hi fhir.Value
			if res.low > 0 {
				lo = quantity(decimal(res.low, res.prec), res.unit, res.ucum)
			}
			if res.high > 0 {
				hi = quantity(decimal(res.high, res.prec), res.unit, res.ucum)
			}
			rng = arr(obj(m("low", lo), m("high", hi)))
		}
		id := l.observation(enc, t, "laboratory", res.codes, res.text, lab, m("valueQuantity", q),
			m("issued", str(dateTime(issued))), m("interpretation", interp), m("referenceRange", rng))
		ids = append(ids, ref("Observation", id, ""))
	}
	id := l.id("DiagnosticReport")
	var encRef fhir.Value
	if enc != "" {
		encRef = ref("Encounter", enc, "")
	}
	l.emit("DiagnosticReport", id, obj(
		m("resourceType", str("DiagnosticReport")),
		m("id", str(id)),
		m("meta", syntheticMeta()),
		m("status", str("final")),
		m("category", arr(concept("", section))),
		m("code", concept(text, panel)),
		m("subject", l.subject()),
		m("encounter", encRef),
		m("effectiveDateTime", str(dateTime(t))),
		m("issued", str(dateTime(issued))),
		m("performer", arr(lab)),
		m("result", arr(ids...)),
		m("conclusion", str(conclusion)),
	))
	return id
}

// medicationRequest writes a prescription and returns its index in out.
func (l *life) medicationRequest(t time.Time, d *drug, enc, reason string, by *staff, status, course, category string, repeats int) int {
	if d == &amoxicillin && l.h.penicillin {
		d = &clarithromycin
	}
	id := l.id("MedicationRequest")
	var med fhir.Value
	if d.dmd != "" {
		med = concept(d.name, code{nhs.DMDSystem, d.dmd, d.name})
	} else {
		med = concept(d.name)
	}
	var encRef, reasonRef, timing, repeatsV fhir.Value
	if enc != "" {
		encRef = ref("Encounter", enc, "")
	}
	if reason != "" {
		reasonRef = arr(ref("Condition", reason, ""))
	}
	if d.perDay > 0 {
		timing = obj(m("repeat", obj(m("frequency", integer(int(d.perDay))), m("period", integer(1)), m("periodUnit", str("d")))))
	}
	if course == "continuous" {
		repeatsV = integer(repeats)
	}
	courseDisplay := "Short course (acute) therapy"
	if course == "continuous" {
		courseDisplay = "Continuous long term therapy"
	}
	categoryDisplay := "Community"
	if category == "discharge" {
		categoryDisplay = "Discharge"
	}
	return l.emit("MedicationRequest", id, obj(
		m("resourceType", str("MedicationRequest")),
		m("id", str(id)),
		m("meta", syntheticMeta()),
		m("status", str(status)),
		m("intent", str("order")),
		m("category", arr(concept("", code{systemMedReqCategory, category, categoryDisplay}))),
		m("medicationCodeableConcept", med),
		m("subject", l.subject()),
		m("encounter", encRef),
		m("authoredOn", str(dateTime(t))),
		m("requester", practitionerRef(by)),
		m("reasonReference", reasonRef),
		m("courseOfTherapyType", concept("", code{systemCourseOfTherapy, course, courseDisplay})),
		m("dosageInstruction", arr(obj(
			m("text", str(d.dose)),
			m("timing", timing),
			m("asNeededBoolean", boolean(d.perDay == 0)),
			m("route", concept("", d.route)),
			m("doseAndRate", arr(obj(m("doseQuantity", obj(m("value", integer(d.dose1)), m("unit", str(d.unit))))))),
		))),
		m("dispenseRequest", obj(
			m("numberOfRepeatsAllowed", repeatsV),
			m("quantity", obj(m("value", integer(d.pack)), m("unit", str(d.unit)))),
			m("expectedSupplyDuration", quantity(integer(d.days), "days", "d")),
		)),
	))
}

// acuteMedicine prescribes a short course; it is completed once its days
// have passed.
func (l *life) acuteMedicine(t time.Time, d *drug, enc, reason string, by *staff, category string) {
	status := "completed"
	if !addDays(t, d.days).Before(l.until) {
		status = "active"
	}
	l.medicationRequest(t, d, enc, reason, by, status, "acute", category, 0)
}

func (l *life) allergy(t time.Time, c code, text, category, criticality string, reaction code, severity string) {
	id := l.id("AllergyIntolerance")
	var cat, reactions fhir.Value
	typ := ""
	if category != "" {
		cat, typ = strs(category), "allergy"
	}
	if reaction.code != "" {
		reactions = arr(obj(m("manifestation", arr(concept("", reaction))), m("severity", str(severity))))
	}
	l.emit("AllergyIntolerance", id, obj(
		m("resourceType", str("AllergyIntolerance")),
		m("id", str(id)),
		m("meta", syntheticMeta()),
		m("clinicalStatus", concept("", code{systemAllergyClinical, "active", "Active"})),
		m("verificationStatus", concept("", code{systemAllergyVer, "confirmed", "Confirmed"})),
		m("type", str(typ)),
		m("category", cat),
		m("criticality", str(criticality)),
		m("code", concept(text, c)),
		m("patient", l.subject()),
		m("recordedDate", str(dateTime(t))),
		m("recorder", practitionerRef(l.gp)),
		m("reaction", reactions),
	))
}

func (l *life) immunization(t time.Time, v *vaccine, dose int, who *staff) {
	id := l.id("Immunization")
	codes := []code{v.cvx}
	if v.sct.code != "" {
		codes = []code{v.sct, v.cvx}
	}
	var site fhir.Value
	if v.route == routeIM && l.age(t) >= 3 {
		site = concept("", [...]code{siteLeftArm, siteRightArm}[l.r.intn(2)])
	}
	lot := string([]byte{'A' + byte(l.r.intn(26)), 'B' + byte(l.r.intn(24))}) + strconv.Itoa(1000+l.r.intn(9000))
	l.emit("Immunization", id, obj(
		m("resourceType", str("Immunization")),
		m("id", str(id)),
		m("meta", syntheticMeta()),
		m("status", str("completed")),
		m("vaccineCode", concept(v.text, codes...)),
		m("patient", l.subject()),
		m("occurrenceDateTime", str(dateTime(t))),
		m("recorded", str(dateTime(t))),
		m("primarySource", boolean(true)),
		m("lotNumber", str(lot)),
		m("site", site),
		m("route", concept("", v.route)),
		m("doseQuantity", quantity(fhir.NumberValue(v.dose), "mL", "mL")),
		m("performer", arr(obj(m("actor", practitionerRef(who))))),
		m("protocolApplied", arr(obj(m("doseNumberPositiveInt", integer(dose))))),
	))
}

// document writes a letter as a DocumentReference with the text inline.
func (l *life) document(t time.Time, typ code, title, text, enc string, start, end time.Time, author *staff, orgID, org string) {
	id := l.id("DocumentReference")
	data := []byte(text)
	sum := sha1.Sum(data)
	var encRef fhir.Value
	if enc != "" {
		encRef = arr(ref("Encounter", enc, ""))
	}
	l.emit("DocumentReference", id, obj(
		m("resourceType", str("DocumentReference")),
		m("id", str(id)),
		m("meta", syntheticMeta()),
		m("status", str("current")),
		m("docStatus", str("final")),
		m("type", concept(title, typ)),
		m("subject", l.subject()),
		m("date", str(dateTime(t))),
		m("author", arr(practitionerRef(author), ref("Organization", orgID, org))),
		m("custodian", ref("Organization", orgID, org)),
		m("description", str(title)),
		m("content", arr(obj(m("attachment", obj(
			m("contentType", str("text/plain; charset=utf-8")),
			m("language", str("en-GB")),
			m("data", str(base64.StdEncoding.EncodeToString(data))),
			m("size", integer(len(data))),
			m("hash", str(base64.StdEncoding.EncodeToString(sum[:]))),
			m("title", str(title)),
			m("creation", str(dateTime(t))),
		))))),
		m("context", obj(m("encounter", encRef), m("period", period(dateTime(start), dateTime(end))))),
	))
}
