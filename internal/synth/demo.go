package synth

import (
	"time"

	"sharedcare/internal/fhir"
	"sharedcare/internal/nhs"
)

// DemoPopulation is a small, fixed population for demonstrations and
// manual testing: twenty patients of one practice in Leeds, all under one
// named GP, with a spread of ages and conditions. The server loads it with
// `sharedcare serve --demo`.
type DemoPopulation struct {
	// Practice is the demo GP practice.
	Practice DemoOrganization
	// Clinician is the demo GP: every demo patient's usual GP, someone to
	// sign in as.
	Clinician DemoClinician
	// Patients are the demo patients, in the order of Bundles[1:].
	Patients []DemoPatient
	// Bundles are transaction Bundles to load in order: the shared
	// resources (the practice, its staff, the local trust and its
	// consultants) first, then one per patient. Each is a set of PUTs, so
	// loading twice changes nothing.
	Bundles []fhir.Value
}

// DemoOrganization names an Organization of the demo.
type DemoOrganization struct {
	ID, ODSCode, Name string
}

// DemoClinician is the demo GP.
type DemoClinician struct {
	PractitionerID     string
	PractitionerRoleID string
	Name               string // "Dr Sarah Hughes"
	SDSUserID          string // the Practitioner's https://fhir.nhs.uk/Id/sds-user-id
	OrganizationID     string // the practice
}

// DemoPatient is one demo patient, for sign-in and for finding them.
type DemoPatient struct {
	ID         string // Patient id
	NHSNumber  string // 10 digits, from the 900 range: 9000000009, 9000000017 ...
	Name       string // "Margaret Thompson"
	BirthDate  string // YYYY-MM-DD
	Gender     string // male | female
	Conditions []string
}

// demoSeed keeps demo ids apart from any population a user generates: a
// user would have to choose this seed to collide with it.
const demoSeed = 1<<64 - 1

// demoSpec fixes who a demo patient is; the rest (their measurements, the
// details of their history) is generated.
type demoSpec struct {
	given      []string
	family     string
	female     bool
	age        int // years at the end of the history; 0 with months for a baby
	months     int
	conditions map[int]float64 // onset, years before the end of the history
	penicillin bool
	peanut     bool
	smoking    int
	black      bool
}

var demoSpecs = []demoSpec{
	{given: []string{"Margaret", "Jean"}, family: "Thompson", female: true, age: 78, conditions: map[int]float64{condHypertension: 12, condT2DM: 6}, penicillin: true, smoking: exSmoker},
	{given: []string{"David"}, family: "Brown", age: 64, conditions: map[int]float64{condHypertension: 3, condCOPD: 2}, smoking: smoker},
	{given: []string{"Shabana"}, family: "Begum", female: true, age: 52, conditions: map[int]float64{condT2DM: 4, condDepression: 1}},
	{given: []string{"Oliver"}, family: "Smith", age: 9, conditions: map[int]float64{condAsthma: 4}, peanut: true},
	{given: []string{"Priya"}, family: "Patel", female: true, age: 34, conditions: map[int]float64{condDepression: 0.5}},
	{given: []string{"Tomasz"}, family: "Nowak", age: 41},
	{given: []string{"Grace"}, family: "Okafor", female: true, age: 29, conditions: map[int]float64{condAsthma: 20}, black: true},
	{given: []string{"John", "William"}, family: "Davies", age: 85, conditions: map[int]float64{condHypertension: 20, condCOPD: 8}, smoking: exSmoker},
	{given: []string{"Emily"}, family: "Clarke", female: true, age: 3},
	{given: []string{"Mohammed"}, family: "Khan", age: 58, conditions: map[int]float64{condT2DM: 8, condHypertension: 5}},
	{given: []string{"Sarah", "Louise"}, family: "Wilson", female: true, age: 46},
	{given: []string{"Winston"}, family: "Campbell", age: 71, conditions: map[int]float64{condHypertension: 10}, black: true},
	{given: []string{"Siobhan"}, family: "Murphy", female: true, age: 67, conditions: map[int]float64{condAsthma: 30, condDepression: 7}},
	{given: []string{"Wei"}, family: "Chen", age: 38},
	{given: []string{"Harry"}, family: "Jones", age: 19, penicillin: true},
	{given: []string{"Dorothy"}, family: "Evans", female: true, age: 92, conditions: map[int]float64{condHypertension: 25, condT2DM: 15}},
	{given: []string{"Rajesh"}, family: "Sharma", age: 49, conditions: map[int]float64{condHypertension: 1}},
	{given: []string{"Amelia"}, family: "Taylor", female: true, months: 8},
	{given: []string{"Kwame"}, family: "Mensah", age: 55, conditions: map[int]float64{condT2DM: 2}, black: true},
	{given: []string{"Linda"}, family: "Roberts", female: true, age: 61, conditions: map[int]float64{condDepression: 3, condHypertension: 6}, smoking: exSmoker},
}

// demoPractice is Riverside Medical Practice in Leeds, whose one GP is the
// demo clinician.
func demoPractice() *practice {
	p := newPractice(0) // Leeds
	p.ods = "B86999"
	p.name = "Riverside Medical Practice"
	p.line = "12 Kirkgate"
	p.postcode = "LS2 7DJ"
	p.id = sharedID("Organization", p.ods)
	gp := &staff{
		id:        sharedID("Practitioner", "demo/gp"),
		roleID:    sharedID("PractitionerRole", "demo/gp"),
		prefix:    "Dr",
		given:     "Sarah",
		family:    "Hughes",
		gender:    "female",
		sdsID:     "555000000001",
		role:      roleGP,
		specialty: specGeneralPractice,
		orgID:     p.id,
		orgName:   p.name,
	}
	nurse := &staff{
		id:        sharedID("Practitioner", "demo/nurse"),
		roleID:    sharedID("PractitionerRole", "demo/nurse"),
		prefix:    "Mr",
		given:     "James",
		family:    "Okoro",
		gender:    "male",
		sdsID:     "555000000002",
		role:      roleNurse,
		specialty: specGeneralPractice,
		orgID:     p.id,
		orgName:   p.name,
	}
	p.gps = []*staff{gp}
	p.nurse = nurse
	return p
}

// Demo returns the demo population with histories ending at until (zero:
// DefaultUntil). The server may pass the day it starts, so the demo looks
// current; the same until gives the same population.
func Demo(until time.Time) (*DemoPopulation, error) {
	g, err := New(Options{Seed: demoSeed, Practices: 1, Until: until, Workers: 1})
	if err != nil {
		return nil, err
	}
	pr := demoPractice()
	g.practices = []*practice{pr}
	g.byTown = map[*town]*hospital{}
	g.finishShared()
	g.number = func(i int) (string, error) { return nhs.NumberIn(900, i) }

	gp := pr.gps[0]
	d := &DemoPopulation{
		Practice: DemoOrganization{ID: pr.id, ODSCode: pr.ods, Name: pr.name},
		Clinician: DemoClinician{PractitionerID: gp.id, PractitionerRoleID: gp.roleID, Name: gp.display(),
			SDSUserID: gp.sdsID, OrganizationID: pr.id},
		Bundles: []fhir.Value{g.SharedBundle()},
	}
	for k, spec := range demoSpecs {
		number, err := g.number(k)
		if err != nil {
			return nil, err
		}
		p := newPerson(g, k, number)
		spec.apply(p, g.until)
		l := newLife(g, k, number, p)
		l.live()
		var conds []string
		for c := condHypertension; c < numConds; c++ {
			if !p.health.onset[c].IsZero() {
				conds = append(conds, condNames[c])
			}
		}
		d.Patients = append(d.Patients, DemoPatient{ID: l.pid, NHSNumber: number, Name: p.displayName(),
			BirthDate: date(p.birth), Gender: p.gender(), Conditions: conds})
		d.Bundles = append(d.Bundles, TransactionBundle(l.out))
	}
	return d, nil
}

func (s *demoSpec) apply(p *person, until time.Time) {
	p.name = personName{given: s.given, family: s.family}
	p.female = s.female
	// The birthday falls somewhere in the year (or month) before the one
	// that makes them s.age (s.months) at until; where is left to chance.
	spread := p.birth.YearDay()
	if s.age > 0 {
		p.birth = addDays(until.AddDate(-s.age-1, 0, 0), 30+spread%300)
	} else {
		p.birth = addDays(until.AddDate(0, -s.months, 0), -1-spread%27)
	}
	age := years(p.birth, until)
	switch {
	case age < 16:
		p.prefix = ""
	case !s.female:
		p.prefix = "Mr"
	case age > 25:
		p.prefix = "Mrs"
	default:
		p.prefix = "Ms"
	}
	if age < 12 {
		p.mobile = ""
	}
	if age < 16 {
		p.email = ""
	} else {
		p.email = emailLocal(p.name) + "@example.com"
	}
	h := &p.health
	h.onset = [numConds]time.Time{}
	for c, yearsAgo := range s.conditions {
		h.onset[c] = addDays(until, -int(yearsAgo*365.25)-10)
	}
	h.penicillin, h.peanut = s.penicillin, s.peanut
	h.nkda = !s.penicillin && age >= 16
	h.smoking = s.smoking
	h.black = s.black
	if s.conditions[condT2DM] > 0 {
		h.bmi = max(h.bmi, 29)
	}
}
