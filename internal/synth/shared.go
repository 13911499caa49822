package synth

import (
	"fmt"
	"strconv"

	"sharedcare/internal/fhir"
	"sharedcare/internal/nhs"
)

// staff is a clinician with a role at one organisation.
type staff struct {
	id, roleID            string
	prefix, given, family string
	gender                string
	sdsID                 string
	role, specialty       code
	orgID, orgName        string
}

func (s *staff) display() string { return s.prefix + " " + s.given + " " + s.family }

// short is the name as a letter is signed: Dr A Khan.
func (s *staff) short() string {
	return s.prefix + " " + s.given[:1] + " " + s.family
}

// practice is a GP practice: an Organization and its clinicians.
type practice struct {
	ods, name             string
	town                  *town
	line, postcode, phone string
	id                    string
	gps                   []*staff // the first is the senior partner
	nurse                 *staff
}

func newPractice(k int) *practice {
	r := newRNG(0, uint64(k), streamShared)
	t := &towns[k%len(towns)]
	// Three digits after the regional prefix; starting at 600 keeps most
	// codes away from the low numbers of long-established practices.
	ods := fmt.Sprintf("%s%03d", t.practice, 600+k/len(towns))
	p := &practice{
		ods:  ods,
		name: one(&r, practiceStems) + " " + one(&r, practiceKinds),
		town: t,
	}
	p.line = strconv.Itoa(r.between(1, 120)) + " " + one(&r, streets)
	p.postcode = postcode(&r, t)
	p.phone = t.phone + fmt.Sprintf("%03d", r.intn(1000))
	p.id = sharedID("Organization", ods)
	for j := range 3 + r.intn(3) {
		p.gps = append(p.gps, newStaff(&r, ods, j, "Dr", roleGP, specGeneralPractice, p.id, p.name))
	}
	p.nurse = newStaff(&r, ods, 9, "", roleNurse, specGeneralPractice, p.id, p.name)
	return p
}

// hospital is a trust's main hospital and its consultants, one per
// specialty this package admits or refers to.
type hospital struct {
	trust                 *trust
	town                  *town
	line, postcode, phone string
	id                    string
	consultants           []*staff
}

var hospitalSpecialties = []code{specGeneralMedicine, specCardiology, specRespiratory, specEndocrinology, specOrthopaedics, specEmergency}

func newHospital(t *town) *hospital {
	var key uint64
	for _, c := range []byte(t.trust.code) {
		key = key*131 + uint64(c)
	}
	r := newRNG(1, key, streamShared)
	h := &hospital{trust: &t.trust, town: t}
	h.line = t.trust.hospital
	h.postcode = postcode(&r, t)
	h.phone = t.phone + fmt.Sprintf("%03d", r.intn(1000))
	h.id = sharedID("Organization", t.trust.code)
	for j, spec := range hospitalSpecialties {
		h.consultants = append(h.consultants, newStaff(&r, t.trust.code, j, "Dr", roleDoctor, spec, h.id, t.trust.name))
	}
	return h
}

func (h *hospital) consultant(spec code) *staff {
	for i, s := range hospitalSpecialties {
		if s == spec {
			return h.consultants[i]
		}
	}
	return h.consultants[0]
}

func newStaff(r *rng, org string, j int, prefix string, role, spec code, orgID, orgName string) *staff {
	female := r.chance(0.55)
	n := randomName(r, female, 1960+r.intn(35))
	key := org + "/" + strconv.Itoa(j)
	s := &staff{
		id:        sharedID("Practitioner", key),
		roleID:    sharedID("PractitionerRole", key),
		prefix:    prefix,
		given:     n.given[0],
		family:    n.family,
		gender:    "male",
		role:      role,
		specialty: spec,
		orgID:     orgID,
		orgName:   orgName,
	}
	if female {
		s.gender = "female"
	}
	if s.prefix == "" {
		s.prefix = "Mr"
		if female {
			s.prefix = "Ms"
		}
	}
	// SDS user ids are 12 digits; these start 5550 so they are easy to tell
	// apart in a list.
	s.sdsID = fmt.Sprintf("5550%08d", r.intn(100_000_000))
	return s
}

func postcode(r *rng, t *town) string {
	return one(r, t.districts) + " " + strconv.Itoa(r.intn(10)) +
		string(inwardLetters[r.intn(len(inwardLetters))]) + string(inwardLetters[r.intn(len(inwardLetters))])
}

func address(line, city, county, postcode string) fhir.Value {
	return obj(
		m("use", str("work")),
		m("type", str("both")),
		m("line", strs(line)),
		m("city", str(city)),
		m("district", str(county)),
		m("postalCode", str(postcode)),
		m("country", str("GB")),
	)
}

func organization(id, ods, name, phone string, addr fhir.Value) fhir.Value {
	return obj(
		m("resourceType", str("Organization")),
		m("id", str(id)),
		m("meta", syntheticMeta()),
		m("identifier", arr(obj(m("system", str(nhs.ODSSystem)), m("value", str(ods))))),
		m("active", boolean(true)),
		m("type", arr(concept("", orgProvider))),
		m("name", str(name)),
		m("telecom", arr(obj(m("system", str("phone")), m("value", str(phone)), m("use", str("work"))))),
		m("address", arr(addr)),
	)
}

func (p *practice) resources() []Resource {
	org := organization(p.id, p.ods, p.name, p.phone, address(p.line, p.town.name, p.town.county, p.postcode))
	rs := []Resource{{"Organization", p.id, org}}
	for _, s := range append(p.gps[:len(p.gps):len(p.gps)], p.nurse) {
		rs = append(rs, s.resources(p.phone)...)
	}
	return rs
}

func (h *hospital) resources() []Resource {
	org := organization(h.id, h.trust.code, h.trust.name, h.phone, address(h.line, h.town.name, h.town.county, h.postcode))
	rs := []Resource{{"Organization", h.id, org}}
	for _, s := range h.consultants {
		rs = append(rs, s.resources(h.phone)...)
	}
	return rs
}

func (s *staff) resources(phone string) []Resource {
	pr := obj(
		m("resourceType", str("Practitioner")),
		m("id", str(s.id)),
		m("meta", syntheticMeta()),
		m("identifier", arr(obj(m("system", str(nhs.SDSUserIDSystem)), m("value", str(s.sdsID))))),
		m("active", boolean(true)),
		m("name", arr(obj(m("use", str("official")), m("family", str(s.family)), m("given", strs(s.given)), m("prefix", strs(s.prefix))))),
		m("gender", str(s.gender)),
	)
	role := obj(
		m("resourceType", str("PractitionerRole")),
		m("id", str(s.roleID)),
		m("meta", syntheticMeta()),
		m("active", boolean(true)),
		m("practitioner", ref("Practitioner", s.id, s.display())),
		m("organization", ref("Organization", s.orgID, s.orgName)),
		m("code", arr(concept("", s.role))),
		m("specialty", arr(concept("", s.specialty))),
		m("telecom", arr(obj(m("system", str("phone")), m("value", str(phone)), m("use", str("work"))))),
	)
	return []Resource{{"Practitioner", s.id, pr}, {"PractitionerRole", s.roleID, role}}
}
