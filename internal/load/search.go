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
		{op: "Patient?family&given", path: "Patient?family=" + q(p.family) + "&given=" + q(p.given)},
		{op: "Patient?birthdate", path: "Patient?birthdate=" + q(p.birthDate)},
		{op: "Patient?name&birthdate", path: "Patient?name=" + q(p.family) + "&birthdate=" + q(p.birthDate)},
		{op: "Patient?address-postalcode", path: "Patient?address-postalcode=" + q(p.postcode)},
		{op: "Patient?identifier=NHS number", path: "Patient?identifier=" + q(nhs.NHSNumberSystem+"|"+p.nhsNumber)},
		{op: "Observation?patient&code&_sort=-date", path: "Observation?patient=" + q(p.id) + "&code=" + q(p.code) + "&_sort=-date"},
		{op: "Observation?subject:Patient.identifier&code (chain)", path: "Observation?subject:Patient.identifier=" + q(nhs.NHSNumberSystem+"|"+p.nhsNumber) + "&code=" + q(p.code)},
		{op: "Patient?general-practitioner.identifier&family (chain)", path: "Patient?general-practitioner.identifier=" + q(nhs.ODSSystem+"|"+p.practiceODS) + "&family=" + q(p.family)},
	}
}

// readRequests are reads by id of p's Patient and Observations.
func readRequests(p *patient) []request {
	rs := []request{{op: "Patient/{id}", path: "Patient/" + url.PathEscape(p.id)}}
	for _, id := range p.observations {
		rs = append(rs, request{op: "Observation/{id}", path: "Observation/" + url.PathEscape(id)})
	}
	return rs
}
