package web

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"sharedcare/internal/fhir"
	"sharedcare/internal/outcome"
	"sharedcare/internal/record"
)

var errNotFoundPage = outcome.New(http.StatusNotFound, outcome.CodeNotFound, "", "not found")

// The patient app: every page is about the signed-in patient, whose id
// comes from their token, never from the URL; what they can see is what
// record lets a patient see.

func (h *Handler) patientSummary(w http.ResponseWriter, r *http.Request, s *session) error {
	sum, err := h.summarise(r.Context(), s.principal.PatientID, "/patient", false)
	if err != nil {
		return err
	}
	h.render(w, r, http.StatusOK, "patient-summary", &view{Title: "Your record", s: s, D: sum})
	return nil
}

func (h *Handler) patientResult(w http.ResponseWriter, r *http.Request, s *session) error {
	hs, err := h.resultHistory(r.Context(), s.principal.PatientID, r.PathValue("code"))
	if err != nil {
		return err
	}
	h.render(w, r, http.StatusOK, "result", &view{Title: hs.Title, s: s, Back: &link{Href: "/patient/", Text: "Your record"}, D: hs})
	return nil
}

// document is a letter or report to read.
type document struct {
	Title, Date, By, Text string
	Download              bool // a format the page cannot show as text
}

func (h *Handler) patientDocument(w http.ResponseWriter, r *http.Request, s *session) error {
	d, err := h.document(r, r.PathValue("id"))
	if err != nil {
		return err
	}
	h.render(w, r, http.StatusOK, "document", &view{Title: d.Title, s: s, Back: &link{Href: "/patient/", Text: "Your record"}, D: d})
	return nil
}

// document reads a DocumentReference and its text, if it carries it inline.
func (h *Handler) document(r *http.Request, id string) (*document, error) {
	res, _, err := h.read(r.Context(), "DocumentReference", id)
	if err != nil {
		return nil, err
	}
	e := h.entryOf(res, "", res.Str("date"))
	if err := h.nameSources(r.Context(), []entry{e}); err != nil {
		return nil, err
	}
	d := &document{Title: concept(at(res, "type")), Date: h.formatDate(res.Str("date"), true), By: e.By}
	if d.Title == "" {
		d.Title = res.Str("description")
	}
	a := at(res, "content.attachment")
	ct := a.Str("contentType")
	if data := a.Str("data"); data != "" && (strings.HasPrefix(ct, "text/plain") || ct == "") {
		b, err := base64.StdEncoding.DecodeString(data)
		if err == nil && utf8.Valid(b) {
			d.Text = string(b)
		}
	}
	d.Download = d.Text == ""
	return d, nil
}

// access is one line of "who looked at my record".
type access struct {
	When, Who, Organisation, What, Why string
}

func (h *Handler) patientAudit(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := r.Context()
	self := "Patient/" + s.principal.PatientID
	f, err := h.search(ctx, "AuditEvent", url.Values{"patient": {self}, "_count": {"500"}})
	if err != nil {
		return err
	}
	var out []access
	var es []entry
	for _, ev := range f.Resources {
		var a access
		var org string
		for _, ag := range items(ev, "agent") {
			ref := text(ag, "who.reference")
			switch codeOf(at(ag, "type")) {
			case "humanuser":
				a.Who = text(ag, "who.display")
				if ref == self {
					a.Who = ""
				}
			case "PROV":
				org = ref
			}
		}
		if a.Who == "" || text(ev, "outcome") != "0" {
			continue // the patient's own use, and refusals, are not "who looked"
		}
		a.When = h.formatDate(ev.Str("recorded"), true)
		a.What = map[string]string{"read": "Viewed", "vread": "Viewed", "search-type": "Viewed", "search-system": "Viewed",
			"history-instance": "Viewed", "create": "Added to", "update": "Changed", "patch": "Changed", "delete": "Removed from",
			"transaction": "Added to", "break-glass": "Emergency access to"}[text(ev, "subtype.code")]
		if a.What == "" {
			a.What = "Used"
		}
		if codeOf(at(ev, "purposeOfEvent")) == "ETREAT" {
			a.Why = "Emergency access: " + concept(at(ev, "purposeOfEvent"))
			if a.Why == "Emergency access: ETREAT" {
				a.Why = "Emergency access"
			}
		}
		// One look at a page is several searches, each audited: show it once.
		if n := len(out); n > 0 && out[n-1].When == a.When && out[n-1].Who == a.Who && out[n-1].What == a.What &&
			es[n-1].source == org && out[n-1].Why == a.Why {
			continue
		}
		out = append(out, a)
		es = append(es, entry{source: org})
		if len(out) == 100 {
			break
		}
	}
	if err := h.nameSources(ctx, es); err != nil {
		return err
	}
	for i := range out {
		out[i].Organisation = es[i].By
	}
	h.render(w, r, http.StatusOK, "patient-audit", &view{Title: "Who has looked at your record", s: s, D: out})
	return nil
}

// Sharing choices are Consents with scope patient-privacy
// (record/consent.go): the newest active one decides.
const (
	consentScopeSystem = "http://terminology.hl7.org/CodeSystem/consentscope"
	consentScope       = consentScopeSystem + "|patient-privacy"
)

type sharing struct {
	OptedOut bool
	Since    string
}

func (h *Handler) sharingChoice(r *http.Request, patient string) (*sharing, error) {
	f, err := h.search(r.Context(), "Consent", url.Values{"patient": {"Patient/" + patient}, "status": {"active"}, "scope": {consentScope},
		"_sort": {"-_lastUpdated"}, "_count": {"1"}})
	if err != nil {
		return nil, err
	}
	sh := &sharing{}
	if len(f.Resources) > 0 {
		c := f.Resources[0]
		sh.OptedOut = text(c, "provision.type") == "deny"
		sh.Since = h.formatDate(c.Str("dateTime"), false)
	}
	return sh, nil
}

func (h *Handler) patientSharing(w http.ResponseWriter, r *http.Request, s *session) error {
	sh, err := h.sharingChoice(r, s.principal.PatientID)
	if err != nil {
		return err
	}
	v := &view{Title: "Sharing your record", s: s, D: sh}
	if r.URL.Query().Get("saved") == "1" {
		v.Notice = "Your choice has been saved. It applies straight away."
	}
	h.render(w, r, http.StatusOK, "patient-sharing", v)
	return nil
}

func (h *Handler) patientSharingPost(w http.ResponseWriter, r *http.Request, s *session) error {
	choice := r.PostFormValue("share")
	if choice != "yes" && choice != "no" {
		sh, err := h.sharingChoice(r, s.principal.PatientID)
		if err != nil {
			return err
		}
		h.render(w, r, http.StatusBadRequest, "patient-sharing", &view{Title: "Sharing your record", s: s, D: sh,
			Errors: []fieldError{{Field: "share-yes", Message: "Select whether to share your record"}}})
		return nil
	}
	provision, rule := "permit", "OPTIN"
	if choice == "no" {
		provision, rule = "deny", "OPTOUT"
	}
	c := fhir.ObjectValue(
		"resourceType", fhir.StringValue("Consent"),
		"status", fhir.StringValue("active"),
		"scope", fhir.ObjectValue("coding", arr(coding(consentScopeSystem, "patient-privacy", "Privacy Consent"))),
		"category", arr(fhir.ObjectValue("coding", arr(coding("http://loinc.org", "59284-0", "Patient Consent")))),
		"patient", ref("Patient/"+s.principal.PatientID, ""),
		"dateTime", fhir.StringValue(h.now().UTC().Format(time.RFC3339)),
		"policyRule", fhir.ObjectValue("coding", arr(coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", rule, ""))),
		"provision", fhir.ObjectValue("type", fhir.StringValue(provision)),
	)
	if _, err := h.rec.Create(r.Context(), "Consent", &c); err != nil {
		return err
	}
	http.Redirect(w, r, "/patient/sharing?saved=1", http.StatusSeeOther)
	return nil
}

// appointment is one line of an appointment list.
type appointment struct {
	ID, When, Time, Who, With, What, Status, PatientID, NHSNumber string
}

func (h *Handler) patientAppointments(w http.ResponseWriter, r *http.Request, s *session) error {
	today := h.now().In(h.london).Format("2006-01-02")
	f, err := h.search(r.Context(), "Appointment", url.Values{"patient": {"Patient/" + s.principal.PatientID}, "date": {"ge" + today},
		"_sort": {"date"}, "_count": {"50"}})
	if err != nil {
		return err
	}
	var out []appointment
	for _, a := range f.Resources {
		out = append(out, h.appointmentOf(a))
	}
	h.render(w, r, http.StatusOK, "patient-appointments", &view{Title: "Your appointments", s: s, D: out})
	return nil
}

func (h *Handler) appointmentOf(a *fhir.Value) appointment {
	ap := appointment{ID: a.Str("id"), When: h.formatDate(a.Str("start"), true), What: a.Str("description"), Status: a.Str("status")}
	if t := parseTime(a.Str("start")); !t.IsZero() {
		ap.Time = t.In(h.london).Format("15:04")
	}
	if ap.What == "" {
		ap.What = concept(at(a, "appointmentType"))
	}
	for _, p := range items(a, "participant") {
		ref := text(p, "actor.reference")
		switch {
		case strings.HasPrefix(ref, "Practitioner/"):
			ap.With = text(p, "actor.display")
		case strings.HasPrefix(ref, "Patient/"):
			ap.Who, ap.PatientID = text(p, "actor.display"), strings.TrimPrefix(ref, "Patient/")
		}
	}
	return ap
}

// helpForm is the online consultation form.
type helpForm struct {
	Problem, Duration, Want string
	Sent                    []sentRequest
}

type sentRequest struct{ When, What string }

const maxProblem = 1500

func (h *Handler) patientHelp(w http.ResponseWriter, r *http.Request, s *session) error {
	f, err := h.helpForm(r, s)
	if err != nil {
		return err
	}
	v := &view{Title: "Ask your GP practice for help", s: s, D: f}
	if r.URL.Query().Get("sent") == "1" {
		v.Notice = "Your request has been sent to your GP practice. They will contact you by the end of the next working day."
	}
	h.render(w, r, http.StatusOK, "patient-help", v)
	return nil
}

func (h *Handler) helpForm(r *http.Request, s *session) (*helpForm, error) {
	f, err := h.search(r.Context(), "QuestionnaireResponse", url.Values{"subject": {"Patient/" + s.principal.PatientID},
		"_sort": {"-authored"}, "_count": {"10"}})
	if err != nil {
		return nil, err
	}
	hf := &helpForm{}
	for _, qr := range f.Resources {
		what := ""
		for _, it := range items(qr, "item") {
			if it.Str("linkId") == "problem" {
				what = text(it, "answer.valueString")
			}
		}
		if len(what) > 120 {
			what = what[:strings.LastIndexByte(what[:120], ' ')+1] + "…"
		}
		hf.Sent = append(hf.Sent, sentRequest{When: h.formatDate(qr.Str("authored"), true), What: what})
	}
	return hf, nil
}

var durations = map[string]string{"days": "A few days", "weeks": "A few weeks", "months": "Months or longer"}
var wants = map[string]string{"appointment": "An appointment", "call": "A phone call", "message": "Advice by message"}

func (h *Handler) patientHelpPost(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := r.Context()
	hf := &helpForm{Problem: strings.TrimSpace(r.PostFormValue("problem")), Duration: r.PostFormValue("duration"), Want: r.PostFormValue("want")}
	var errs []fieldError
	switch {
	case hf.Problem == "":
		errs = append(errs, fieldError{"problem", "Enter what you need help with"})
	case utf8.RuneCountInString(hf.Problem) > maxProblem:
		errs = append(errs, fieldError{"problem", fmt.Sprintf("What you need help with must be %d characters or fewer", maxProblem)})
	}
	if durations[hf.Duration] == "" {
		errs = append(errs, fieldError{"duration-days", "Select how long you have had this"})
	}
	if wants[hf.Want] == "" {
		errs = append(errs, fieldError{"want-appointment", "Select what you would like from your practice"})
	}
	if len(errs) > 0 {
		prev, err := h.helpForm(r, s)
		if err != nil {
			return err
		}
		hf.Sent = prev.Sent
		h.render(w, r, http.StatusBadRequest, "patient-help", &view{Title: "Ask your GP practice for help", s: s, D: hf, Errors: errs})
		return nil
	}
	self := "Patient/" + s.principal.PatientID
	pt, _, err := h.read(ctx, "Patient", s.principal.PatientID)
	if err != nil {
		return err
	}
	practice := h.banner(pt).GPRef
	if practice == "" {
		return outcome.New(http.StatusConflict, outcome.CodeProcessing, "", "Your record does not name a GP practice to send this to. Contact your practice by phone.")
	}
	now := h.now().UTC().Format(time.RFC3339)
	answer := func(id, q, a string) fhir.Value {
		return fhir.ObjectValue("linkId", fhir.StringValue(id), "text", fhir.StringValue(q), "answer", arr(fhir.ObjectValue("valueString", fhir.StringValue(a))))
	}
	// Both carry the practice as their source: they are sent to it, so it
	// sees them even if the patient has opted out of wider sharing.
	meta := fhir.ObjectValue("source", fhir.StringValue(practice))
	qr := fhir.ObjectValue(
		"resourceType", fhir.StringValue("QuestionnaireResponse"),
		"meta", meta,
		"questionnaire", fhir.StringValue("https://sharedcare.nhs.uk/Questionnaire/online-consultation"),
		"status", fhir.StringValue("completed"),
		"subject", ref(self, s.Name),
		"authored", fhir.StringValue(now),
		"author", ref(self, s.Name),
		"item", arr(answer("problem", "What do you need help with?", hf.Problem),
			answer("duration", "How long have you had this?", durations[hf.Duration]),
			answer("want", "What would you like from your practice?", wants[hf.Want])),
	)
	qrURL := "urn:uuid:" + record.NewUUID()
	task := fhir.ObjectValue(
		"resourceType", fhir.StringValue("Task"),
		"meta", meta.Clone(),
		"status", fhir.StringValue("requested"),
		"intent", fhir.StringValue("order"),
		"priority", fhir.StringValue("routine"),
		"code", fhir.ObjectValue("text", fhir.StringValue(onlineRequest)),
		"description", fhir.StringValue(wants[hf.Want]),
		"focus", fhir.ObjectValue("reference", fhir.StringValue(qrURL)),
		"for", ref(self, s.Name),
		"authoredOn", fhir.StringValue(now),
		"requester", ref(self, s.Name),
		"owner", ref(practice, ""),
	)
	if _, err := h.rec.SubmitRequest(ctx, &qr, qrURL, &task); err != nil {
		return err
	}
	http.Redirect(w, r, "/patient/help?sent=1", http.StatusSeeOther)
	return nil
}

func arr(vs ...fhir.Value) fhir.Value { return fhir.Value{Kind: fhir.Array, Items: vs} }

func coding(system, code, display string) fhir.Value {
	c := fhir.ObjectValue("system", fhir.StringValue(system), "code", fhir.StringValue(code))
	if display != "" {
		c.Set("display", fhir.StringValue(display))
	}
	return c
}

func ref(reference, display string) fhir.Value {
	r := fhir.ObjectValue("reference", fhir.StringValue(reference))
	if display != "" {
		r.Set("display", fhir.StringValue(display))
	}
	return r
}
