package record

import (
	"context"
	"net/http"
	"strings"

	"sharedcare/internal/access"
	"sharedcare/internal/auth"
	"sharedcare/internal/fhir"
	"sharedcare/internal/outcome"
)

// SubmitRequest stores a patient's online consultation request in one
// transaction: their answers (qr, a QuestionnaireResponse, whose fullUrl
// is qrURL, a urn:uuid) and the Task that asks their practice to act on
// them.
//
// R4 leaves Task out of the Patient compartment, so the general write rule
// cannot place a patient's Task in their record and refuses it; this call
// is that one exception, with its own checks: the caller is a signed-in
// patient, the response is about them, and the Task is a request for
// them, focused on that response and owned by an organisation. It is
// audited as the patient's transaction like any other write.
func (s *Service) SubmitRequest(ctx context.Context, qr *fhir.Value, qrURL string, task *fhir.Value) ([]EntryResult, error) {
	c, err := s.begin(ctx, "transaction")
	if err != nil {
		return nil, err
	}
	c.ev.Query = "online consultation request"
	if c.p.Kind != auth.Patient || c.p.PatientID == "" {
		return nil, c.end(ctx, access.Forbidden("online consultation requests are sent by patients, for themselves"))
	}
	self := "Patient/" + c.p.PatientID
	bad := func(where, msg string) error {
		return c.end(ctx, outcome.New(http.StatusBadRequest, outcome.CodeInvalid, where, msg))
	}
	switch {
	case qr == nil || qr.Str("resourceType") != "QuestionnaireResponse":
		return nil, bad("QuestionnaireResponse", "the request needs the patient's answers as a QuestionnaireResponse")
	case qr.Get("subject").Str("reference") != self:
		return nil, bad("QuestionnaireResponse.subject", "the answers must be about the patient who sends them")
	case !strings.HasPrefix(qrURL, "urn:uuid:"):
		return nil, bad("Bundle.entry[0].fullUrl", "the answers need a urn:uuid fullUrl for the Task to point at")
	case task == nil || task.Str("resourceType") != "Task":
		return nil, bad("Task", "the request needs a Task for the practice")
	case task.Get("for").Str("reference") != self:
		return nil, bad("Task.for", "the Task must be for the patient who sends it")
	case task.Get("focus").Str("reference") != qrURL:
		return nil, bad("Task.focus", "the Task must point at the patient's answers")
	case task.Str("status") != "requested" || task.Str("intent") != "order":
		return nil, bad("Task.status", "a new request has status requested and intent order")
	case !strings.HasPrefix(task.Get("owner").Str("reference"), "Organization/"):
		return nil, bad("Task.owner", "the Task must be owned by the practice that is asked")
	}
	// The checks above stand in for the compartment rule; the write itself
	// then runs with only these two creates allowed.
	scopes, _ := auth.ParseScopes("system/QuestionnaireResponse.c system/Task.c")
	writer := *c.p
	writer.Kind, writer.Scopes = auth.System, scopes
	c.p = &writer
	res, err := c.transact(ctx, []Entry{
		{Method: http.MethodPost, URL: "QuestionnaireResponse", FullURL: qrURL, Resource: qr, Location: "Bundle.entry[0]"},
		{Method: http.MethodPost, URL: "Task", Resource: task, Location: "Bundle.entry[1]"},
	})
	return res, c.end(ctx, err)
}
