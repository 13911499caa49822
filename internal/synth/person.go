package synth

import (
	"strconv"
	"strings"
	"time"

	"sharedcare/internal/fhir"
	"sharedcare/internal/nhs"
)

// personName is a full name, and the naming tradition it comes from.
type personName struct {
	given    []string
	family   string
	heritage int // index in heritages
}

// randomName draws a name of some heritage for a person born in birthYear.
func randomName(r *rng, female bool, birthYear int) personName {
	hi := r.pick(heritageWeights)
	h := &heritages[hi]
	n := personName{heritage: hi}
	firsts := h.male
	if female {
		firsts = h.female
	}
	if h.byCohort {
		cohort := 0
		switch {
		case birthYear >= 1990:
			cohort = 2
		case birthYear >= 1960:
			cohort = 1
		}
		firsts = britishMale[cohort]
		if female {
			firsts = britishFemale[cohort]
		}
	}
	n.given = append(n.given, one(r, firsts))
	if r.chance(0.35) {
		if second := one(r, firsts); second != n.given[0] {
			n.given = append(n.given, second)
		}
	}
	j := r.intn(len(h.family))
	n.family = h.family[j]
	if female {
		if h.familyFemale != nil {
			n.family = h.familyFemale[j]
		}
		if s := h.femaleSuffix; s[0] != "" && strings.HasSuffix(n.family, s[0]) {
			n.family = strings.TrimSuffix(n.family, s[0]) + s[1]
		}
	}
	return n
}

// Age bands of five years, 0-4 to 90+, weighted by England's 2021
// population (ONS mid-year estimates, millions), and the share of each band
// that is female.
var (
	ageBandWeights = []float64{3.2, 3.5, 3.6, 3.3, 3.5, 3.8, 4.0, 3.9, 3.7, 3.7, 4.0, 4.0, 3.5, 3.0, 3.0, 2.2, 1.5, 0.9, 0.5}
	ageBandFemale  = []float64{0.49, 0.49, 0.49, 0.49, 0.50, 0.50, 0.50, 0.50, 0.50, 0.51, 0.51, 0.51, 0.51, 0.52, 0.53, 0.54, 0.57, 0.62, 0.69}
)

// person is who a patient is, drawn from the person stream so that it does
// not change with the length of history.
type person struct {
	nhsNumber string
	female    bool
	birth     time.Time
	name      personName
	prefix    string
	practice  *practice
	hospital  *hospital
	line      string
	postcode  string
	mobile    string
	email     string
	// health is drawn with the person too: conditions are a matter of who
	// someone is, not of how much of their history we write down.
	health health
}

func newPerson(g *Generator, i int, nhsNumber string) *person {
	r := newRNG(g.opts.Seed, uint64(i), streamPerson)
	band := r.pick(ageBandWeights)
	p := &person{nhsNumber: nhsNumber, female: r.chance(ageBandFemale[band])}
	ageDays := band*5*365 + r.intn(5*365)
	if band == len(ageBandWeights)-1 {
		ageDays = 90*365 + r.intn(12*365) // 90 to 101
	}
	p.birth = addDays(g.until, -ageDays-1)
	p.name = randomName(&r, p.female, p.birth.Year())
	age := years(p.birth, g.until)
	switch {
	case age < 16:
	case !p.female:
		p.prefix = "Mr"
	case age > 25 && r.chance(0.6):
		p.prefix = "Mrs"
	case r.chance(0.5):
		p.prefix = "Miss"
	default:
		p.prefix = "Ms"
	}
	p.practice = g.practices[r.intn(len(g.practices))]
	p.hospital = g.byTown[p.practice.town]
	p.line = strconv.Itoa(r.between(1, 180)) + " " + one(&r, streets)
	if r.chance(0.15) {
		p.line = "Flat " + strconv.Itoa(r.between(1, 24)) + ", " + p.line
	}
	p.postcode = postcode(&r, p.practice.town)
	if age >= 12 {
		p.mobile = "07700 900" + pad3(r.intn(1000))
	}
	if age >= 16 && r.chance(0.7) {
		p.email = emailLocal(p.name) + strconv.Itoa(r.intn(100)) + "@example.com"
	}
	p.health = drawHealth(&r, p, age)
	return p
}

func pad3(n int) string {
	s := strconv.Itoa(n)
	return strings.Repeat("0", 3-len(s)) + s
}

// emailLocal makes the part of an address before the number: given.family
// in lower-case ASCII.
func emailLocal(n personName) string {
	var b strings.Builder
	for _, part := range []string{n.given[0], ".", n.family} {
		for _, c := range part {
			if f, ok := asciiFold[c]; ok {
				b.WriteString(strings.ToLower(f))
				continue
			}
			switch {
			case c >= 'A' && c <= 'Z':
				b.WriteRune(c - 'A' + 'a')
			case c >= 'a' && c <= 'z', c == '.':
				b.WriteRune(c)
			}
		}
	}
	return b.String()
}

func (p *person) gender() string {
	if p.female {
		return "female"
	}
	return "male"
}

// displayName is the name as a list shows it: John Smith.
func (p *person) displayName() string { return p.name.given[0] + " " + p.name.family }

func (p *person) resource(id string) fhir.Value {
	nhsID := obj(
		m("extension", arr(obj(
			m("url", str(nhs.NHSNumberVerificationStatusURL)),
			m("valueCodeableConcept", concept("", code{nhs.NHSNumberVerificationStatusSystem, "01", "Number present and verified"})),
		))),
		m("system", str(nhs.NHSNumberSystem)),
		m("value", str(p.nhsNumber)),
	)
	var telecom []fhir.Value
	if p.mobile != "" {
		telecom = append(telecom, obj(m("system", str("phone")), m("value", str(p.mobile)), m("use", str("mobile"))))
	}
	if p.email != "" {
		telecom = append(telecom, obj(m("system", str("email")), m("value", str(p.email)), m("use", str("home"))))
	}
	var prefix fhir.Value
	if p.prefix != "" {
		prefix = strs(p.prefix)
	}
	return obj(
		m("resourceType", str("Patient")),
		m("id", str(id)),
		m("meta", syntheticMeta()),
		m("identifier", arr(nhsID)),
		m("active", boolean(true)),
		m("name", arr(obj(m("use", str("official")), m("family", str(p.name.family)), m("given", strs(p.name.given...)), m("prefix", prefix)))),
		m("telecom", arr(telecom...)),
		m("gender", str(p.gender())),
		m("birthDate", str(date(p.birth))),
		m("address", arr(obj(
			m("use", str("home")),
			m("type", str("both")),
			m("line", strs(p.line)),
			m("city", str(p.practice.town.name)),
			m("district", str(p.practice.town.county)),
			m("postalCode", str(p.postcode)),
			m("country", str("GB")),
		))),
		m("generalPractitioner", arr(ref("Organization", p.practice.id, p.practice.name))),
		m("managingOrganization", ref("Organization", p.practice.id, p.practice.name)),
	)
}
