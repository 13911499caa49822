package web

import (
	"context"
	"net/url"
	"sort"
	"strings"

	"sharedcare/internal/fhir"
)

// summary is a patient's record as both apps show it, section by section;
// each entry says which organisation recorded it and when.
type summary struct {
	Problems, PastProblems, Medicines, Allergies, Immunisations, Results, Documents, Encounters []entry
	// Withheld counts entries hidden by the patient's opt-out from sharing
	// (clinicians outside the recording organisation only).
	Withheld int
}

// summarise reads patient's record through record, as the request's user;
// base is the URL prefix of the app's pages about this patient, for links.
func (h *Handler) summarise(ctx context.Context, patient, base string, encounters bool) (*summary, error) {
	s := &summary{}
	p := "Patient/" + patient
	type part struct {
		typ    string
		params url.Values
		add    func(r *fhir.Value)
	}
	parts := []part{
		{"Condition", url.Values{"patient": {p}, "category": {"problem-list-item"}, "_sort": {"-recorded-date"}, "_count": {"200"}}, func(r *fhir.Value) {
			e := h.entryOf(r, concept(at(r, "clinicalStatus")), r.Str("recordedDate"), r.Str("onsetDateTime"))
			if st := codeOf(at(r, "clinicalStatus")); st == "active" || st == "recurrence" || st == "relapse" {
				s.Problems = append(s.Problems, e)
			} else {
				s.PastProblems = append(s.PastProblems, e)
			}
		}},
		{"MedicationRequest", url.Values{"patient": {p}, "status": {"active"}, "_sort": {"-authoredon"}, "_count": {"200"}}, func(r *fhir.Value) {
			e := h.entryOf(r, text(r, "dosageInstruction.text"), r.Str("authoredOn"))
			e.Title = concept(at(r, "medicationCodeableConcept"))
			if e.Title == "" {
				e.Title = text(r, "medicationReference.display")
			}
			s.Medicines = append(s.Medicines, e)
		}},
		{"AllergyIntolerance", url.Values{"patient": {p}, "_count": {"100"}}, func(r *fhir.Value) {
			var reactions []string
			for _, re := range items(r, "reaction") {
				for _, m := range items(re, "manifestation") {
					reactions = append(reactions, concept(m))
				}
			}
			e := h.entryOf(r, strings.Join(reactions, ", "), r.Str("recordedDate"), r.Str("onsetDateTime"))
			if r.Str("criticality") == "high" {
				e.Tag = &tag{Text: "High risk", Colour: "red"}
			}
			s.Allergies = append(s.Allergies, e)
		}},
		{"Immunization", url.Values{"patient": {p}, "_sort": {"-date"}, "_count": {"200"}}, func(r *fhir.Value) {
			e := h.entryOf(r, "", r.Str("occurrenceDateTime"), r.Str("recorded"))
			e.Title = concept(at(r, "vaccineCode"))
			s.Immunisations = append(s.Immunisations, e)
		}},
		{"Observation", url.Values{"patient": {p}, "category": {"laboratory,vital-signs"}, "_sort": {"-date"}, "_count": {"1000"}}, func(r *fhir.Value) {
			key := codeOf(at(r, "code"))
			for _, e := range s.Results {
				if e.ID == key {
					return // the latest of each test only; its page has the history
				}
			}
			e := h.entryOf(r, valueOf(r), r.Str("effectiveDateTime"), r.Str("issued"))
			e.ID, e.Link = key, base+"/results/"+url.PathEscape(key)
			e.Tag = flag(r)
			s.Results = append(s.Results, e)
		}},
		{"DocumentReference", url.Values{"patient": {p}, "_sort": {"-date"}, "_count": {"100"}}, func(r *fhir.Value) {
			e := h.entryOf(r, r.Str("description"), r.Str("date"))
			e.Title = concept(at(r, "type"))
			e.Link = base + "/documents/" + r.Str("id")
			s.Documents = append(s.Documents, e)
		}},
	}
	if encounters {
		parts = append(parts, part{"Encounter", url.Values{"patient": {p}, "_sort": {"-date"}, "_count": {"10"}}, func(r *fhir.Value) {
			e := h.entryOf(r, concept(at(r, "reasonCode")), text(r, "period.start"))
			e.Title = concept(at(r, "type"))
			if e.Title == "" {
				e.Title = text(r, "class.display")
			}
			s.Encounters = append(s.Encounters, e)
		}})
	}
	for _, pt := range parts {
		f, err := h.search(ctx, pt.typ, pt.params)
		if err != nil {
			return nil, err
		}
		s.Withheld += f.Withheld
		for _, r := range f.Resources {
			pt.add(r)
		}
	}
	sort.SliceStable(s.Results, func(i, j int) bool { return s.Results[i].Title < s.Results[j].Title })
	var all []entry
	for _, l := range [][]entry{s.Problems, s.PastProblems, s.Medicines, s.Allergies, s.Immunisations, s.Results, s.Documents, s.Encounters} {
		all = append(all, l...)
	}
	if err := h.nameSources(ctx, all); err != nil {
		return nil, err
	}
	// nameSources worked on copies: put the names back.
	i := 0
	for _, l := range [][]entry{s.Problems, s.PastProblems, s.Medicines, s.Allergies, s.Immunisations, s.Results, s.Documents, s.Encounters} {
		for j := range l {
			l[j].By = all[i].By
			i++
		}
	}
	return s, nil
}

// entryOf is the common part of an entry: the resource's code as its
// title, detail, the first of dates that is set, and who recorded it.
func (h *Handler) entryOf(r *fhir.Value, detail string, dates ...string) entry {
	e := entry{ID: r.Str("id"), Type: r.Str("resourceType"), Title: concept(at(r, "code")), Detail: detail}
	for _, d := range dates {
		if d != "" {
			e.Date, e.when = h.formatDate(d, false), parseTime(d)
			break
		}
	}
	e.source, e.By, e.byOrg = recordedBy(r)
	e.encounter = strings.TrimPrefix(text(r, "encounter.reference"), "Encounter/")
	if !strings.HasPrefix(text(r, "encounter.reference"), "Encounter/") {
		e.encounter = ""
	}
	return e
}

// valueOf says an Observation's value: "66 mmol/mol", "150/85 mmHg".
func valueOf(r *fhir.Value) string {
	if q := r.Get("valueQuantity"); q != nil {
		return strings.TrimSpace(text(q, "value") + " " + q.Str("unit"))
	}
	if s := r.Str("valueString"); s != "" {
		return s
	}
	if c := r.Get("valueCodeableConcept"); c != nil {
		return concept(c)
	}
	var parts []string
	unit := ""
	for _, c := range items(r, "component") {
		if q := c.Get("valueQuantity"); q != nil {
			parts = append(parts, text(q, "value"))
			unit = q.Str("unit")
		}
	}
	if len(parts) > 0 {
		return strings.Join(parts, "/") + " " + unit
	}
	return ""
}

// flag tags an Observation the lab marked high or low.
func flag(r *fhir.Value) *tag {
	switch codeOf(at(r, "interpretation")) {
	case "H", "HH", "HU":
		return &tag{Text: "High", Colour: "orange"}
	case "L", "LL", "LU":
		return &tag{Text: "Low", Colour: "orange"}
	case "A", "AA":
		return &tag{Text: "Abnormal", Colour: "orange"}
	}
	return nil
}
