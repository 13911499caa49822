package audit_test

import (
	"context"
	"sharedcare/internal/audit"
	"sharedcare/internal/fhir"
	"sharedcare/internal/validate"
	"testing"
)

func TestAuditEventValid(t *testing.T) {
	body := audit.Resource(&audit.Event{Actor: audit.Actor{Reference: "Practitioner/1", Name: "Dr X", Subject: "u", Organization: "Organization/o", ODSCode: "A1", ClientID: "c", Address: "1.2.3.4"}, Interaction: "read", Outcome: audit.Success, Detail: "d", Purpose: "ETREAT", Reason: "r", Patients: []string{"p"}, Resources: []string{"Observation/1"}, Query: "q", RequestID: "x"}, "ev1")
	v, err := fhir.Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := validate.New(validate.Options{Invariants: validate.NewFHIRPathInvariants()}).Resource(context.Background(), &v, validate.Write{Interaction: validate.Check}); err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
}
