package audit

import (
	"encoding/json"
	"fmt"
	"time"
)

// The trail keeps each event in a compact form of its own, a few hundred
// bytes where the AuditEvent is a kilobyte, because every access writes
// one; Render turns it into the AuditEvent when someone reads the trail.
// The chain's hashes cover the compact form, which is what is stored.
type compact struct {
	When        int64    `json:"w"` // Unix microseconds
	Interaction string   `json:"i"`
	Outcome     Outcome  `json:"o"`
	Detail      string   `json:"d,omitempty"`
	Purpose     string   `json:"p,omitempty"`
	Reason      string   `json:"r,omitempty"`
	Ref         string   `json:"ar,omitempty"`
	Name        string   `json:"an,omitempty"`
	Subject     string   `json:"as,omitempty"`
	Client      string   `json:"ac,omitempty"`
	Org         string   `json:"ao,omitempty"`
	ODS         string   `json:"aods,omitempty"`
	Address     string   `json:"aa,omitempty"`
	Kind        string   `json:"ak,omitempty"`
	Patients    []string `json:"pt,omitempty"`
	Resources   []string `json:"rs,omitempty"`
	Query       string   `json:"q,omitempty"`
	RequestID   string   `json:"rq,omitempty"`
}

func encode(e *Event) []byte {
	b, _ := json.Marshal(compact{
		When: e.When.UnixMicro(), Interaction: e.Interaction, Outcome: e.Outcome, Detail: e.Detail,
		Purpose: e.Purpose, Reason: e.Reason, Ref: e.Actor.Reference, Name: e.Actor.Name, Subject: e.Actor.Subject,
		Client: e.Actor.ClientID, Org: e.Actor.Organization, ODS: e.Actor.ODSCode, Address: e.Actor.Address,
		Kind: e.Actor.Kind, Patients: e.Patients, Resources: e.Resources, Query: e.Query, RequestID: e.RequestID,
	})
	return b
}

// Decode reads an event as the trail stores it.
func Decode(body []byte) (*Event, error) {
	var c compact
	if err := json.Unmarshal(body, &c); err != nil {
		return nil, fmt.Errorf("audit: stored event: %w", err)
	}
	return &Event{
		Actor: Actor{Reference: c.Ref, Name: c.Name, Subject: c.Subject, ClientID: c.Client, Organization: c.Org,
			ODSCode: c.ODS, Address: c.Address, Kind: c.Kind},
		Interaction: c.Interaction, Outcome: c.Outcome, Detail: c.Detail, Resources: c.Resources, Patients: c.Patients,
		Query: c.Query, Purpose: c.Purpose, Reason: c.Reason, RequestID: c.RequestID, When: time.UnixMicro(c.When).UTC(),
	}, nil
}

// Render turns an event as the trail stores it into its AuditEvent.
func Render(id string, body []byte) ([]byte, error) {
	e, err := Decode(body)
	if err != nil {
		return nil, err
	}
	return Resource(e, id), nil
}
