package audit

import (
	"encoding/json"
	"fmt"
	"strconv"
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

// encode writes the compact form by hand, as json.Marshal of compact
// would, without reflection: every access encodes one.
func encode(e *Event) []byte {
	w := jsonWriter{b: make([]byte, 0, 256)}
	w.raw(`{"w":`)
	w.b = strconv.AppendInt(w.b, e.When.UnixMicro(), 10)
	w.raw(`,"i":`)
	w.str(e.Interaction)
	w.raw(`,"o":`)
	w.str(string(e.Outcome))
	for _, f := range [...]struct{ key, v string }{
		{`,"d":`, e.Detail}, {`,"p":`, e.Purpose}, {`,"r":`, e.Reason}, {`,"ar":`, e.Actor.Reference},
		{`,"an":`, e.Actor.Name}, {`,"as":`, e.Actor.Subject}, {`,"ac":`, e.Actor.ClientID}, {`,"ao":`, e.Actor.Organization},
		{`,"aods":`, e.Actor.ODSCode}, {`,"aa":`, e.Actor.Address}, {`,"ak":`, e.Actor.Kind},
	} {
		if f.v != "" {
			w.raw(f.key)
			w.str(f.v)
		}
	}
	w.list(`,"pt":`, e.Patients)
	w.list(`,"rs":`, e.Resources)
	if e.Query != "" {
		w.raw(`,"q":`)
		w.str(e.Query)
	}
	if e.RequestID != "" {
		w.raw(`,"rq":`)
		w.str(e.RequestID)
	}
	w.raw(`}`)
	return w.b
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
