package synth

import (
	"slices"
	"strings"
	"testing"
	"time"

	"sharedcare/internal/fhir"
	"sharedcare/internal/nhs"
)

func TestDemo(t *testing.T) {
	t.Parallel()
	d, err := Demo(time.Time{})
	if err != nil {
		t.Fatalf("Demo: %v", err)
	}
	if len(d.Patients) != 20 || len(d.Bundles) != 21 {
		t.Fatalf("Demo: %d patients, %d bundles; want 20 and 21", len(d.Patients), len(d.Bundles))
	}
	if d.Clinician.Name != "Dr Sarah Hughes" || d.Practice.ODSCode != "B86999" || !nhs.IsGPPracticeCode(d.Practice.ODSCode) {
		t.Errorf("Demo clinician %q at %q, want Dr Sarah Hughes at B86999", d.Clinician.Name, d.Practice.ODSCode)
	}
	shared := map[string]bool{}
	for _, e := range d.Bundles[0].Get("entry").Items {
		r := e.Get("resource")
		shared[r.Str("resourceType")+"/"+r.Str("id")] = true
	}
	for _, want := range []string{"Practitioner/" + d.Clinician.PractitionerID, "PractitionerRole/" + d.Clinician.PractitionerRoleID, "Organization/" + d.Practice.ID} {
		if !shared[want] {
			t.Errorf("shared bundle lacks %s", want)
		}
	}
	seen := map[string]bool{}
	for k, p := range d.Patients {
		if want, _ := nhs.NumberIn(900, k); p.NHSNumber != want || !nhs.ValidNumber(p.NHSNumber) {
			t.Errorf("demo patient %d NHS number %s, want %s", k, p.NHSNumber, want)
		}
		if seen[p.NHSNumber] {
			t.Errorf("NHS number %s twice", p.NHSNumber)
		}
		seen[p.NHSNumber] = true
		entries := d.Bundles[k+1].Get("entry").Items
		pat := entries[0].Get("resource")
		if pat.Str("id") != p.ID || pat.Get("identifier").Items[0].Str("value") != p.NHSNumber || pat.Str("birthDate") != p.BirthDate {
			t.Errorf("demo patient %d: bundle's Patient %s does not match %+v", k, fhir.Marshal(*pat), p)
		}
		gp := pat.Get("generalPractitioner").Items[0].Str("reference")
		if gp != "Organization/"+d.Practice.ID {
			t.Errorf("%s registered with %s, want the demo practice", p.Name, gp)
		}
		for _, e := range entries {
			r := e.Get("resource")
			for _, err := range checkResource(*r) {
				t.Errorf("%s: %s", p.Name, err)
			}
			forEachReference(*r, func(ref string) {
				if strings.HasPrefix(ref, "Practitioner/") && !shared[ref] {
					t.Errorf("%s: %s/%s refers to %s, not a demo practitioner", p.Name, r.Str("resourceType"), r.Str("id"), ref)
				}
			})
		}
	}
	if d.Patients[0].NHSNumber != "9000000009" || d.Patients[0].Name != "Margaret Thompson" ||
		!slices.Equal(d.Patients[0].Conditions, []string{"Hypertension", "Type 2 diabetes mellitus"}) {
		t.Errorf("first demo patient = %+v", d.Patients[0])
	}
	again, _ := Demo(time.Time{})
	for i := range d.Bundles {
		if string(fhir.Marshal(d.Bundles[i])) != string(fhir.Marshal(again.Bundles[i])) {
			t.Fatalf("Demo bundle %d differs between calls", i)
		}
	}
	t.Logf("demo clinician %s (Practitioner/%s, SDS %s)", d.Clinician.Name, d.Clinician.PractitionerID, d.Clinician.SDSUserID)
	for _, p := range d.Patients {
		t.Logf("%-20s %s %s %-6s %v", p.Name, p.NHSNumber, p.BirthDate, p.Gender, p.Conditions)
	}
}
