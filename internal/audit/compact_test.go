package audit

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// marshalCompact is the reference encoding: encoding/json of compact.
func marshalCompact(e *Event) []byte {
	b, _ := json.Marshal(compact{
		When: e.When.UnixMicro(), Interaction: e.Interaction, Outcome: e.Outcome, Detail: e.Detail,
		Purpose: e.Purpose, Reason: e.Reason, Ref: e.Actor.Reference, Name: e.Actor.Name, Subject: e.Actor.Subject,
		Client: e.Actor.ClientID, Org: e.Actor.Organization, ODS: e.Actor.ODSCode, Address: e.Actor.Address,
		Kind: e.Actor.Kind, Patients: e.Patients, Resources: e.Resources, Query: e.Query, RequestID: e.RequestID,
	})
	return b
}

func TestEncodeMatchesJSON(t *testing.T) {
	when := time.Date(2026, 12, 5, 10, 0, 0, 123456000, time.UTC)
	for _, e := range []*Event{
		{When: when, Interaction: "read", Outcome: Success},
		{When: when, Interaction: "search-type", Outcome: Refused, Detail: `not "yours" <b>&</b>`, Purpose: "ETREAT", Reason: "café ☕",
			Actor: Actor{Reference: "Practitioner/1", Name: "Dr Ann O'Neil", Subject: "u1", ClientID: "app", Organization: "Organization/o",
				ODSCode: "A81001", Address: "10.0.0.1", Kind: "clinician"},
			Patients: []string{"p1", "p2"}, Resources: []string{"Observation/1"}, Query: "Observation?patient=p1&code=x|y", RequestID: "r-1"},
		{When: when, Interaction: "read", Outcome: Failed, Detail: "tab\there\nnewline \x01 \u2028"},
	} {
		got, want := encode(e), marshalCompact(e)
		if string(got) != string(want) {
			t.Errorf("encode =\n%s\nwant\n%s", got, want)
		}
		back, err := Decode(got)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, e) {
			t.Errorf("Decode(encode(e)) = %+v, want %+v", back, e)
		}
	}
}

// FuzzEncode checks that any event encodes to JSON that decodes to it.
func FuzzEncode(f *testing.F) {
	f.Add("read", "Dr X", "p1", "Observation?code=a|b", "<&>")
	f.Fuzz(func(t *testing.T, interaction, name, patient, query, detail string) {
		e := &Event{When: time.UnixMicro(1795300000000000).UTC(), Interaction: interaction, Outcome: Success, Detail: detail,
			Actor: Actor{Name: name}, Patients: []string{patient}, Query: query}
		b := encode(e)
		if !json.Valid(b) {
			t.Fatalf("invalid JSON %q", b)
		}
		var ref, got compact
		if err := json.Unmarshal(marshalCompact(e), &ref); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(ref, got) {
			t.Fatalf("encode decodes to %+v, json.Marshal's to %+v", got, ref)
		}
	})
}
