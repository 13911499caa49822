package load

import (
	"net/url"

	"sharedcare/internal/nhs"
)

// searchRequests is the search mix for p: the ways a clinician or a
// receptionist finds a patient, and the searches an app makes within one
// record. The search scenario sends them in turn, each for a random
// patient.
func searchRequests(p *patient) []request {
	q := url.QueryEscape
	return []request{
		{"Patient?family&given", "Patient?family=" + q(p.family) + "&given=" + q(p.given)},
		{"Patient?birthdate", "Patient?birthdate=" + q(p.birthDate)},
		{"Patient?address-postalcode", "Patient?address-postalcode=" + q(p.postcode)},
		{"Patient?identifier=NHS number", "Patient?identifier=" + q(nhs.NHSNumberSystem+"|"+p.nhsNumber)},
		{"Observation?patient&code&_sort=-date", "Observation?patient=" + q(p.id) + "&code=" + q(p.code) + "&_sort=-date"},
		{"Observation?subject:Patient.identifier&code (chain)", "Observation?subject:Patient.identifier=" + q(nhs.NHSNumberSystem+"|"+p.nhsNumber) + "&code=" + q(p.code)},
		{"Patient?general-practitioner.identifier&family (chain)", "Patient?general-practitioner.identifier=" + q(nhs.ODSSystem+"|"+p.practiceODS) + "&family=" + q(p.family)},
	}
}

// readRequests are reads by id of p's Patient and Observations.
func readRequests(p *patient) []request {
	rs := []request{{"Patient/{id}", "Patient/" + url.PathEscape(p.id)}}
	for _, id := range p.observations {
		rs = append(rs, request{"Observation/{id}", "Observation/" + url.PathEscape(id)})
	}
	return rs
}
