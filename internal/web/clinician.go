package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"sharedcare/internal/auth"
	"sharedcare/internal/fhir"
	"sharedcare/internal/nhs"
	"sharedcare/internal/outcome"
)

// The clinician app: a clinician sees what record lets their token see —
// the whole shared record, less what a patient's opt-out withholds from
// organisations that did not record it, which break-glass opens.

type homeData struct {
	Today        []appointment
	Date         string
	Requests     int
	NewResults   int
	FindRequired bool
}

func (h *Handler) clinicianHome(w http.ResponseWriter, r *http.Request, s *session) error {
	appts, day, err := h.dayList(r, s, "")
	if err != nil {
		return err
	}
	reqs, err := h.search(r.Context(), "Task", url.Values{"status": {"requested"}, "owner": {s.principal.Organization}, "_count": {"100"}, "_elements": {"status"}})
	if err != nil {
		return err
	}
	h.render(w, r, http.StatusOK, "clinician-home", &view{Title: "Today", s: s, D: homeData{Today: appts, Date: day, Requests: len(reqs.Resources)}})
	return nil
}

// dayList is the signed-in clinician's appointments on day (YYYY-MM-DD,
// "" for today), in time order.
func (h *Handler) dayList(r *http.Request, s *session, day string) ([]appointment, string, error) {
	if _, err := time.Parse("2006-01-02", day); err != nil {
		day = h.now().In(h.london).Format("2006-01-02")
	}
	f, err := h.search(r.Context(), "Appointment", url.Values{"actor": {s.principal.FHIRUser}, "date": {day}, "_sort": {"date"}, "_count": {"100"},
		"_include": {"Appointment:patient"}})
	if err != nil {
		return nil, "", err
	}
	nhsNumbers := map[string]string{}
	for _, p := range f.Included {
		if p.Str("resourceType") == "Patient" {
			nhsNumbers[p.Str("id")] = h.banner(p).NHSNumber
		}
	}
	var out []appointment
	for _, a := range f.Resources {
		ap := h.appointmentOf(a)
		ap.NHSNumber = nhsNumbers[ap.PatientID]
		out = append(out, ap)
	}
	return out, day, nil
}

func (h *Handler) clinicianAppointments(w http.ResponseWriter, r *http.Request, s *session) error {
	appts, day, err := h.dayList(r, s, r.URL.Query().Get("date"))
	if err != nil {
		return err
	}
	t, _ := time.Parse("2006-01-02", day)
	h.render(w, r, http.StatusOK, "clinician-appointments", &view{Title: "Appointments", s: s, D: struct {
		Appointments            []appointment
		Day, Prev, Next, DayISO string
	}{appts, t.Format("Monday 2 January 2006"), t.AddDate(0, 0, -1).Format("2006-01-02"), t.AddDate(0, 0, 1).Format("2006-01-02"), day}})
	return nil
}

// findForm is the patient search.
type findForm struct {
	NHSNumber, Name, BirthDate, Postcode string
	Searched                             bool
	Patients                             []patientBanner
}

func (h *Handler) clinicianFind(w http.ResponseWriter, r *http.Request, s *session) error {
	q := r.URL.Query()
	f := &findForm{NHSNumber: strings.TrimSpace(q.Get("nhs")), Name: strings.TrimSpace(q.Get("name")),
		BirthDate: strings.TrimSpace(q.Get("birthdate")), Postcode: strings.TrimSpace(q.Get("postcode"))}
	v := &view{Title: "Find a patient", s: s, D: f}
	if f.NHSNumber == "" && f.Name == "" && f.BirthDate == "" && f.Postcode == "" {
		if q.Has("nhs") {
			v.Errors = append(v.Errors, fieldError{"nhs", "Enter an NHS number, or a name, date of birth or postcode"})
		}
		h.render(w, r, http.StatusOK, "clinician-find", v)
		return nil
	}
	params := url.Values{"_count": {"25"}, "_sort": {"family"}}
	if f.NHSNumber != "" {
		n, err := nhs.ParseNumber(f.NHSNumber)
		if err != nil {
			v.Errors = append(v.Errors, fieldError{"nhs", "Enter a valid 10-digit NHS number"})
		}
		params.Set("identifier", nhs.NHSNumberSystem+"|"+n)
	}
	if f.Name != "" {
		params.Set("name", f.Name)
	}
	if f.BirthDate != "" {
		d, err := parseUKDate(f.BirthDate)
		if err != nil {
			v.Errors = append(v.Errors, fieldError{"birthdate", "Enter a date of birth as day/month/year, for example 5/1/1948"})
		}
		params.Set("birthdate", d)
	}
	if f.Postcode != "" {
		pc, err := nhs.ParsePostcode(f.Postcode)
		if err != nil {
			v.Errors = append(v.Errors, fieldError{"postcode", "Enter a full UK postcode, for example LS11 2JD"})
		}
		params.Set("address-postalcode", pc)
	}
	if len(v.Errors) > 0 {
		h.render(w, r, http.StatusBadRequest, "clinician-find", v)
		return nil
	}
	found, err := h.search(r.Context(), "Patient", params)
	if err != nil {
		return err
	}
	f.Searched = true
	for _, p := range found.Resources {
		f.Patients = append(f.Patients, h.banner(p))
	}
	h.render(w, r, http.StatusOK, "clinician-find", v)
	return nil
}

// parseUKDate reads day/month/year (or an ISO date) as YYYY-MM-DD.
func parseUKDate(s string) (string, error) {
	s = strings.NewReplacer(" ", "/", "-", "/", ".", "/").Replace(strings.TrimSpace(s))
	for _, layout := range []string{"2/1/2006", "02/01/2006", "2006/01/02", "2006/1/2"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.Format("2006-01-02"), nil
		}
	}
	return "", outcome.Invalid("", "not a date")
}

// patientRecord is the clinician's view of one patient.
type patientRecord struct {
	Patient patientBanner
	*summary
	Base       string
	BreakGlass string // the reason, when the glass is broken
}

func (h *Handler) clinicianPatient(r *http.Request) (*fhir.Value, patientBanner, error) {
	p, _, err := h.read(r.Context(), "Patient", r.PathValue("id"))
	if err != nil {
		return nil, patientBanner{}, err
	}
	return p, h.banner(p), nil
}

func (h *Handler) clinicianRecord(w http.ResponseWriter, r *http.Request, s *session) error {
	_, b, err := h.clinicianPatient(r)
	if err != nil {
		return err
	}
	base := "/clinician/patients/" + b.ID
	sum, err := h.summarise(r.Context(), b.ID, base, true)
	if err != nil {
		return err
	}
	v := &view{Title: b.Name, s: s, D: patientRecord{Patient: b, summary: sum, Base: base}}
	switch r.URL.Query().Get("saved") {
	case "consultation":
		v.Notice = "The consultation has been saved to the shared record."
	case "glass":
		v.Notice = "Emergency access is on for 4 hours. It has been recorded, and the patient can see it."
	}
	h.render(w, r, http.StatusOK, "clinician-record", v)
	return nil
}

func (h *Handler) clinicianBreakGlass(w http.ResponseWriter, r *http.Request, s *session) error {
	id := r.PathValue("id")
	if _, err := h.rec.BreakGlass(r.Context(), id, r.PostFormValue("reason")); err != nil {
		e, ok := outcome.As(err)
		if !ok || e.Status != http.StatusBadRequest {
			return err
		}
		_, b, rerr := h.clinicianPatient(r)
		if rerr != nil {
			return rerr
		}
		base := "/clinician/patients/" + b.ID
		sum, serr := h.summarise(r.Context(), b.ID, base, true)
		if serr != nil {
			return serr
		}
		h.render(w, r, http.StatusBadRequest, "clinician-record", &view{Title: b.Name, s: s, D: patientRecord{Patient: b, summary: sum, Base: base},
			Errors: []fieldError{{"reason", "Enter why you need emergency access, in at least 10 characters"}}})
		return nil
	}
	http.Redirect(w, r, "/clinician/patients/"+id+"?saved=glass", http.StatusSeeOther)
	return nil
}

func (h *Handler) clinicianResult(w http.ResponseWriter, r *http.Request, s *session) error {
	_, b, err := h.clinicianPatient(r)
	if err != nil {
		return err
	}
	hs, err := h.resultHistory(r.Context(), b.ID, r.PathValue("code"))
	if err != nil {
		return err
	}
	h.render(w, r, http.StatusOK, "result", &view{Title: hs.Title, s: s, Back: &link{Href: "/clinician/patients/" + b.ID, Text: b.Name}, D: hs})
	return nil
}

func (h *Handler) clinicianDocument(w http.ResponseWriter, r *http.Request, s *session) error {
	_, b, err := h.clinicianPatient(r)
	if err != nil {
		return err
	}
	d, err := h.document(r, r.PathValue("doc"))
	if err != nil {
		return err
	}
	h.render(w, r, http.StatusOK, "document", &view{Title: d.Title, s: s, Back: &link{Href: "/clinician/patients/" + b.ID, Text: b.Name}, D: d})
	return nil
}

// inboxItem is a result report waiting to be seen.
type inboxItem struct {
	entry
	PatientID, Patient, NHSNumber string
}

func (h *Handler) clinicianInbox(w http.ResponseWriter, r *http.Request, s *session) error {
	since := h.now().AddDate(0, 0, -90).Format("2006-01-02")
	f, err := h.search(r.Context(), "DiagnosticReport", url.Values{"date": {"ge" + since}, "_sort": {"-date"}, "_count": {"50"},
		"_include": {"DiagnosticReport:subject"}})
	if err != nil {
		return err
	}
	patients := map[string]patientBanner{}
	for _, p := range f.Included {
		if p.Str("resourceType") == "Patient" {
			patients["Patient/"+p.Str("id")] = h.banner(p)
		}
	}
	var es []entry
	var out []inboxItem
	for _, dr := range f.Resources {
		e := h.entryOf(dr, dr.Str("conclusion"), dr.Str("effectiveDateTime"), dr.Str("issued"))
		pb := patients[text(dr, "subject.reference")]
		code := codeOf(at(dr, "code"))
		e.Link = "/clinician/patients/" + pb.ID + "/results/" + url.PathEscape(code)
		es = append(es, e)
		out = append(out, inboxItem{PatientID: pb.ID, Patient: pb.Name, NHSNumber: pb.NHSNumber})
	}
	if err := h.nameSources(r.Context(), es); err != nil {
		return err
	}
	for i := range out {
		out[i].entry = es[i]
	}
	h.render(w, r, http.StatusOK, "clinician-inbox", &view{Title: "Results inbox", s: s, D: struct {
		Items    []inboxItem
		Withheld int
	}{out, f.Withheld}})
	return nil
}

// request is an online consultation request as the triage pages show it.
type request struct {
	ID, When, Status, Want, PatientID, Patient, NHSNumber, Note string
	Answers                                                     []answer
	Version                                                     int64
}

type answer struct{ Question, Answer string }

func (h *Handler) clinicianRequests(w http.ResponseWriter, r *http.Request, s *session) error {
	status := r.URL.Query().Get("status")
	if status != "accepted" && status != "completed" {
		status = "requested"
	}
	f, err := h.search(r.Context(), "Task", url.Values{"owner": {s.principal.Organization}, "status": {status},
		"_sort": {"-authored-on"}, "_count": {"50"}, "_include": {"Task:patient"}})
	if err != nil {
		return err
	}
	patients := map[string]patientBanner{}
	for _, p := range f.Included {
		if p.Str("resourceType") == "Patient" {
			patients["Patient/"+p.Str("id")] = h.banner(p)
		}
	}
	var out []request
	for _, t := range f.Resources {
		if text(t, "code.text") != onlineRequest {
			continue
		}
		pb := patients[text(t, "for.reference")]
		out = append(out, request{ID: t.Str("id"), When: h.formatDate(t.Str("authoredOn"), true), Status: t.Str("status"),
			Want: t.Str("description"), PatientID: pb.ID, Patient: pb.Name, NHSNumber: pb.NHSNumber})
	}
	h.render(w, r, http.StatusOK, "clinician-requests", &view{Title: "Online consultation requests", s: s, D: struct {
		Requests []request
		Status   string
	}{out, status}})
	return nil
}

func (h *Handler) requestOf(r *http.Request) (*request, *fhir.Value, error) {
	ctx := r.Context()
	t, v, err := h.read(ctx, "Task", r.PathValue("id"))
	if err != nil {
		return nil, nil, err
	}
	if text(t, "owner.reference") != principalOrg(ctx) || text(t, "code.text") != onlineRequest {
		return nil, nil, errNotFoundPage
	}
	rq := &request{ID: t.Str("id"), When: h.formatDate(t.Str("authoredOn"), true), Status: t.Str("status"), Want: t.Str("description"),
		Note: text(t, "note.text"), Version: v.VersionID}
	if pid, ok := strings.CutPrefix(text(t, "for.reference"), "Patient/"); ok {
		p, _, err := h.read(ctx, "Patient", pid)
		if err != nil {
			return nil, nil, err
		}
		b := h.banner(p)
		rq.PatientID, rq.Patient, rq.NHSNumber = b.ID, b.Name, b.NHSNumber
	}
	if qid, ok := strings.CutPrefix(text(t, "focus.reference"), "QuestionnaireResponse/"); ok {
		qr, _, err := h.read(ctx, "QuestionnaireResponse", qid)
		if err != nil {
			return nil, nil, err
		}
		for _, it := range items(qr, "item") {
			rq.Answers = append(rq.Answers, answer{Question: it.Str("text"), Answer: text(it, "answer.valueString")})
		}
	}
	return rq, t, nil
}

func (h *Handler) clinicianRequest(w http.ResponseWriter, r *http.Request, s *session) error {
	rq, _, err := h.requestOf(r)
	if err != nil {
		return err
	}
	v := &view{Title: "Request from " + rq.Patient, s: s, Back: &link{Href: "/clinician/requests", Text: "Online requests"}, D: rq}
	if r.URL.Query().Get("saved") == "1" {
		v.Notice = "Your decision has been saved."
	}
	h.render(w, r, http.StatusOK, "clinician-request", v)
	return nil
}

var triageOutcomes = map[string]string{"accepted": "accepted", "completed": "completed", "rejected": "rejected"}

func (h *Handler) clinicianRequestPost(w http.ResponseWriter, r *http.Request, s *session) error {
	rq, t, err := h.requestOf(r)
	if err != nil {
		return err
	}
	status := triageOutcomes[r.PostFormValue("decision")]
	note := strings.TrimSpace(r.PostFormValue("note"))
	if status == "" {
		h.render(w, r, http.StatusBadRequest, "clinician-request", &view{Title: "Request from " + rq.Patient, s: s,
			Back: &link{Href: "/clinician/requests", Text: "Online requests"}, D: rq,
			Errors: []fieldError{{"decision-accepted", "Select what happens next"}}})
		return nil
	}
	t.Set("status", fhir.StringValue(status))
	t.Set("lastModified", fhir.StringValue(h.now().UTC().Format(time.RFC3339)))
	if note != "" {
		t.Set("note", arr(fhir.ObjectValue("authorReference", ref(s.principal.FHIRUser, s.Name), "time",
			fhir.StringValue(h.now().UTC().Format(time.RFC3339)), "text", fhir.StringValue(note))))
	}
	if _, err := h.rec.Update(r.Context(), "Task", rq.ID, t, rq.Version); err != nil {
		return err
	}
	http.Redirect(w, r, "/clinician/requests/"+rq.ID+"?saved=1", http.StatusSeeOther)
	return nil
}

// onlineRequest is the code text of online consultation Tasks.
const onlineRequest = "Online consultation request"

// principalOrg is the signed-in clinician's organisation.
func principalOrg(ctx context.Context) string {
	if p, ok := auth.FromContext(ctx); ok {
		return p.Organization
	}
	return ""
}
