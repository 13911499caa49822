package web

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"sharedcare/internal/fhir"
	"sharedcare/internal/nhs"
	"sharedcare/internal/outcome"
	"sharedcare/internal/record"
)

// consultForm is the "add a consultation" form: an Encounter, and
// optionally a problem (Condition), blood pressure and one other
// measurement (Observations) and a prescription (MedicationRequest),
// written as one transaction.
type consultForm struct {
	Patient                                patientBanner
	Date, Reason                           string
	Problem, ProblemCode, ProblemList      string
	Systolic, Diastolic, ObsCode, ObsValue string
	MedName, MedDose, MedQuantity, MedUnit string
	Measurements                           []measurement
}

// measurement is a choice of the form's "other measurement".
type measurement struct {
	Code, Name, Unit, UCUM, Category string
}

var measurements = []measurement{
	{"8867-4", "Heart rate", "beats/minute", "/min", "vital-signs"},
	{"29463-7", "Weight", "kg", "kg", "vital-signs"},
	{"8310-5", "Temperature", "degrees C", "Cel", "vital-signs"},
	{"59408-5", "Oxygen saturation", "%", "%", "vital-signs"},
	{"59261-8", "HbA1c", "mmol/mol", "mmol/mol", "laboratory"},
}

func measurementOf(code string) (measurement, bool) {
	for _, m := range measurements {
		if m.Code == code {
			return m, true
		}
	}
	return measurement{}, false
}

func (h *Handler) consultation(w http.ResponseWriter, r *http.Request, s *session) error {
	_, b, err := h.clinicianPatient(r)
	if err != nil {
		return err
	}
	f := &consultForm{Patient: b, Date: h.now().In(h.london).Format("2/1/2006"), ProblemList: "yes", MedUnit: "tablet", Measurements: measurements}
	h.render(w, r, http.StatusOK, "consultation", h.consultView(s, f, nil))
	return nil
}

func (h *Handler) consultView(s *session, f *consultForm, errs []fieldError) *view {
	return &view{Title: "Add a consultation", s: s, Back: &link{Href: "/clinician/patients/" + f.Patient.ID, Text: f.Patient.Name}, D: f, Errors: errs}
}

// target says which form field an entry's elements came from, so that a
// validation issue at a FHIRPath location lands next to that field.
type target struct {
	typ    string
	fields []fieldPath
}

type fieldPath struct {
	prefix, field, message string
}

func (h *Handler) consultationPost(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := r.Context()
	_, b, err := h.clinicianPatient(r)
	if err != nil {
		return err
	}
	v := r.PostFormValue
	f := &consultForm{Patient: b, Date: strings.TrimSpace(v("date")), Reason: strings.TrimSpace(v("reason")),
		Problem: strings.TrimSpace(v("problem")), ProblemCode: strings.TrimSpace(v("problem-code")), ProblemList: v("problem-list"),
		Systolic: strings.TrimSpace(v("bp-systolic")), Diastolic: strings.TrimSpace(v("bp-diastolic")),
		ObsCode: v("obs-code"), ObsValue: strings.TrimSpace(v("obs-value")),
		MedName: strings.TrimSpace(v("med-name")), MedDose: strings.TrimSpace(v("med-dose")),
		MedQuantity: strings.TrimSpace(v("med-quantity")), MedUnit: strings.TrimSpace(v("med-unit")), Measurements: measurements}
	var errs []fieldError
	if f.Reason == "" {
		errs = append(errs, fieldError{"reason", "Enter the reason for the consultation"})
	}
	if f.ProblemCode != "" && !nhs.ValidSCTID(f.ProblemCode) {
		errs = append(errs, fieldError{"problem-code", "Enter a SNOMED CT concept id of 6 to 18 digits, or leave it blank"})
	}
	if f.ProblemCode != "" && f.Problem == "" {
		errs = append(errs, fieldError{"problem", "Enter the problem in words as well as its code"})
	}
	if (f.Systolic == "") != (f.Diastolic == "") {
		errs = append(errs, fieldError{"bp-systolic", "Enter both the systolic and the diastolic blood pressure, or neither"})
	}
	m, known := measurementOf(f.ObsCode)
	switch {
	case f.ObsCode != "" && !known:
		errs = append(errs, fieldError{"obs-code", "Select a measurement from the list"})
	case f.ObsCode != "" && f.ObsValue == "":
		errs = append(errs, fieldError{"obs-value", "Enter the " + strings.ToLower(m.Name)})
	case f.ObsCode == "" && f.ObsValue != "":
		errs = append(errs, fieldError{"obs-code", "Select what the measurement is"})
	}
	if f.MedName != "" && f.MedDose == "" {
		errs = append(errs, fieldError{"med-dose", "Enter how to take the medicine"})
	}
	if f.MedName == "" && (f.MedDose != "" || f.MedQuantity != "") {
		errs = append(errs, fieldError{"med-name", "Enter the medicine's name and strength"})
	}
	if len(errs) > 0 {
		h.render(w, r, http.StatusBadRequest, "consultation", h.consultView(s, f, errs))
		return nil
	}

	p := s.principal
	patient := ref("Patient/"+b.ID, b.Name)
	me := ref(p.FHIRUser, s.Name)
	// A date that does not parse goes to record as typed, so that the
	// validator's issue names it and it is shown next to the field.
	date := f.Date
	if d, err := parseUKDate(f.Date); err == nil {
		date = d
	}
	encURL := "urn:uuid:" + record.NewUUID()
	enc := fhir.ObjectValue(
		"resourceType", fhir.StringValue("Encounter"),
		"status", fhir.StringValue("finished"),
		"class", coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", "AMB", "ambulatory"),
		"type", arr(fhir.ObjectValue("coding", arr(coding(nhs.SNOMEDSystem, "185349003", "Encounter for check up")), "text", fhir.StringValue("GP consultation"))),
		"subject", patient,
		"participant", arr(fhir.ObjectValue("individual", me)),
		"period", fhir.ObjectValue("start", fhir.StringValue(date)),
		"reasonCode", arr(fhir.ObjectValue("text", fhir.StringValue(f.Reason))),
	)
	if p.Organization != "" {
		enc.Set("serviceProvider", ref(p.Organization, ""))
	}
	entries := []record.Entry{{Method: http.MethodPost, URL: "Encounter", FullURL: encURL, Resource: &enc}}
	targets := []target{{"Encounter", []fieldPath{{"period", "date", "Enter a real date, for example 22/11/2026"}, {"reasonCode", "reason", ""}}}}
	encounter := fhir.ObjectValue("reference", fhir.StringValue(encURL))

	if f.Problem != "" {
		code := fhir.ObjectValue("text", fhir.StringValue(f.Problem))
		if f.ProblemCode != "" {
			code = fhir.ObjectValue("coding", arr(coding(nhs.SNOMEDSystem, f.ProblemCode, f.Problem)), "text", fhir.StringValue(f.Problem))
		}
		category := "encounter-diagnosis"
		if f.ProblemList == "yes" {
			category = "problem-list-item"
		}
		c := fhir.ObjectValue(
			"resourceType", fhir.StringValue("Condition"),
			"clinicalStatus", fhir.ObjectValue("coding", arr(coding("http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active"))),
			"verificationStatus", fhir.ObjectValue("coding", arr(coding("http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed", "Confirmed"))),
			"category", arr(fhir.ObjectValue("coding", arr(coding("http://terminology.hl7.org/CodeSystem/condition-category", category, "")))),
			"code", code,
			"subject", patient,
			"encounter", encounter.Clone(),
			"onsetDateTime", fhir.StringValue(date),
			"recordedDate", fhir.StringValue(date),
			"recorder", me.Clone(),
		)
		entries = append(entries, record.Entry{Method: http.MethodPost, URL: "Condition", Resource: &c})
		targets = append(targets, target{"Condition", []fieldPath{{"code", "problem", ""}, {"onsetDateTime", "date", "Enter a real date, for example 22/11/2026"},
			{"recordedDate", "date", "Enter a real date, for example 22/11/2026"}}})
	}
	observation := func(cat string, code fhir.Value) fhir.Value {
		return fhir.ObjectValue(
			"resourceType", fhir.StringValue("Observation"),
			"status", fhir.StringValue("final"),
			"category", arr(fhir.ObjectValue("coding", arr(coding("http://terminology.hl7.org/CodeSystem/observation-category", cat, "")))),
			"code", code,
			"subject", patient,
			"encounter", encounter.Clone(),
			"effectiveDateTime", fhir.StringValue(date),
			"performer", arr(me.Clone()),
		)
	}
	if f.Systolic != "" {
		o := observation("vital-signs", fhir.ObjectValue("coding", arr(coding("http://loinc.org", "85354-9", "Blood pressure panel with all children optional")), "text", fhir.StringValue("Blood pressure")))
		o.Set("component", arr(
			fhir.ObjectValue("code", fhir.ObjectValue("coding", arr(coding("http://loinc.org", "8480-6", "Systolic blood pressure")), "text", fhir.StringValue("Systolic blood pressure")),
				"valueQuantity", quantity(f.Systolic, "mmHg", "mm[Hg]")),
			fhir.ObjectValue("code", fhir.ObjectValue("coding", arr(coding("http://loinc.org", "8462-4", "Diastolic blood pressure")), "text", fhir.StringValue("Diastolic blood pressure")),
				"valueQuantity", quantity(f.Diastolic, "mmHg", "mm[Hg]"))))
		entries = append(entries, record.Entry{Method: http.MethodPost, URL: "Observation", Resource: &o})
		targets = append(targets, target{"Observation", []fieldPath{{"component[0]", "bp-systolic", "Enter the systolic blood pressure as a number, for example 120"},
			{"component[1]", "bp-diastolic", "Enter the diastolic blood pressure as a number, for example 80"}, {"effective", "date", "Enter a real date, for example 22/11/2026"}}})
	}
	if f.ObsCode != "" {
		o := observation(m.Category, fhir.ObjectValue("coding", arr(coding("http://loinc.org", m.Code, m.Name)), "text", fhir.StringValue(m.Name)))
		o.Set("valueQuantity", quantity(f.ObsValue, m.Unit, m.UCUM))
		entries = append(entries, record.Entry{Method: http.MethodPost, URL: "Observation", Resource: &o})
		targets = append(targets, target{"Observation", []fieldPath{{"value", "obs-value", "Enter the " + strings.ToLower(m.Name) + " as a number"},
			{"effective", "date", "Enter a real date, for example 22/11/2026"}}})
	}
	if f.MedName != "" {
		mr := fhir.ObjectValue(
			"resourceType", fhir.StringValue("MedicationRequest"),
			"status", fhir.StringValue("active"),
			"intent", fhir.StringValue("order"),
			"category", arr(fhir.ObjectValue("coding", arr(coding("http://terminology.hl7.org/CodeSystem/medicationrequest-category", "community", "Community")))),
			"medicationCodeableConcept", fhir.ObjectValue("text", fhir.StringValue(f.MedName)),
			"subject", patient,
			"encounter", encounter.Clone(),
			"authoredOn", fhir.StringValue(date),
			"requester", me.Clone(),
			"dosageInstruction", arr(fhir.ObjectValue("text", fhir.StringValue(f.MedDose))),
		)
		if f.MedQuantity != "" {
			unit := f.MedUnit
			if unit == "" {
				unit = "tablet"
			}
			mr.Set("dispenseRequest", fhir.ObjectValue("quantity", quantity(f.MedQuantity, unit, "")))
		}
		entries = append(entries, record.Entry{Method: http.MethodPost, URL: "MedicationRequest", Resource: &mr})
		targets = append(targets, target{"MedicationRequest", []fieldPath{{"medication", "med-name", ""}, {"dosageInstruction", "med-dose", ""},
			{"dispenseRequest.quantity", "med-quantity", "Enter the quantity as a number, for example 28"}, {"authoredOn", "date", "Enter a real date, for example 22/11/2026"}}})
	}
	for i := range entries {
		entries[i].Location = "Bundle.entry[" + strconv.Itoa(i) + "]"
	}
	if _, err := h.rec.Transact(ctx, entries); err != nil {
		e, ok := outcome.As(err)
		if !ok || (e.Status != http.StatusBadRequest && e.Status != http.StatusUnprocessableEntity) {
			return err
		}
		// A transaction stops at its first invalid entry; check each one,
		// so that every problem is shown at once.
		issues := e.Issues
		for i, en := range entries {
			res := en.Resource.Clone()
			if res.Get("encounter") != nil { // the urn:uuid resolves only inside the transaction
				res.Set("encounter", ref("Encounter/in-this-consultation", ""))
			}
			more, verr := h.rec.Validate(ctx, en.URL, "", &res)
			if ve, ok := outcome.As(verr); ok {
				more = ve.Issues
			} else if verr != nil {
				return verr
			}
			for _, is := range more {
				if is.Expression != "" {
					is.Expression = entries[i].Location + ".resource." + is.Expression
				}
				issues = append(issues, is)
			}
		}
		h.render(w, r, e.Status, "consultation", h.consultView(s, f, issuesToFields(issues, targets)))
		return nil
	}
	http.Redirect(w, r, "/clinician/patients/"+b.ID+"?saved=consultation", http.StatusSeeOther)
	return nil
}

// quantity is a Quantity whose value is n as a JSON number when it is one,
// and otherwise the text as typed, which the validator then refuses at
// its location.
func quantity(n, unit, ucum string) fhir.Value {
	val := fhir.StringValue(n)
	if _, err := strconv.ParseFloat(n, 64); err == nil && decimalRe.MatchString(n) {
		val = fhir.NumberValue(n)
	}
	q := fhir.ObjectValue("value", val, "unit", fhir.StringValue(unit))
	if ucum != "" {
		q.Set("system", fhir.StringValue("http://unitsofmeasure.org"))
		q.Set("code", fhir.StringValue(ucum))
	}
	return q
}

var decimalRe = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?$`)

var entryRe = regexp.MustCompile(`^Bundle\.entry\[(\d+)\](?:\.resource)?\.?`)

// issuesToFields puts each validation issue next to the form field its
// FHIRPath location came from; issues it cannot place go to the top.
func issuesToFields(issues []outcome.Issue, targets []target) []fieldError {
	var out []fieldError
	seen := map[string]bool{}
	for _, is := range issues {
		if is.Severity != outcome.Err && is.Severity != outcome.Fatal {
			continue
		}
		field, msg := "", is.Diagnostics
		for _, expr := range exprsOf(is) {
			var t *target
			path := expr
			if m := entryRe.FindStringSubmatch(expr); m != nil {
				if i, err := strconv.Atoi(m[1]); err == nil && i < len(targets) {
					t = &targets[i]
					path = expr[len(m[0]):]
				}
			}
			if t == nil {
				continue
			}
			path = strings.TrimPrefix(path, t.typ+".")
			for _, fp := range t.fields {
				if strings.HasPrefix(path, fp.prefix) {
					field = fp.field
					if fp.message != "" {
						msg = fp.message
					}
					break
				}
			}
			if field != "" {
				break
			}
		}
		if msg == "" {
			msg = "Check this entry"
		}
		if seen[field+msg] {
			continue
		}
		seen[field+msg] = true
		out = append(out, fieldError{Field: field, Message: msg})
	}
	return out
}

func exprsOf(is outcome.Issue) []string {
	if is.Expression == "" {
		return nil
	}
	return []string{is.Expression}
}
