package synth

import (
	"container/heap"
	"strings"
	"time"

	"sharedcare/internal/fhir"
)

// life writes one patient's history. It plans events (consultations,
// reviews, admissions, immunisations) from the person's health, then plays
// them in time order, each writing its resources; an event may plan later
// ones (a follow-up, the end of a course of treatment).
type life struct {
	g     *Generator
	index int
	p     *person
	h     *health
	r     rng
	from  time.Time // start of the written history
	until time.Time
	pid   string
	out   []Resource
	ids   map[string]int // resources of each type so far, for their ids
	// encOrg is the organisation that provided each encounter so far.
	encOrg map[string]string
	gp     *staff // the usual GP

	condID   [numConds]string
	condAt   [numConds]int       // index in out of the Condition, or -1
	treated  [numConds]time.Time // when treatment began
	courses  []*course
	statin   time.Time
	htnStep  int // 0: one drug at starting dose, 1: titrated, 2: two drugs
	reviewed bool
	events   events
	seq      int
	// discharged are the Conditions of hospital episodes, for the GP's call
	// afterwards.
	discharged []string
	// inFrom and inUntil bound the latest hospital stay: nothing else
	// happens to an inpatient, so events then move to a week after.
	inFrom, inUntil time.Time
}

// course is a long-term medicine: authorised, re-authorised at reviews, and
// maybe stopped.
type course struct {
	d      *drug
	cond   int
	start  time.Time
	req    int       // index in out of the latest MedicationRequest, or -1
	issued time.Time // when it was last authorised
	active bool
}

// Event kinds.
const (
	evDiagnose = iota
	evFollowUp
	evReview
	evA1cCheck
	evAcute
	evHealthCheck
	evHospital
	evClinic
	evVaccine
	evStopCourse
	evPostDischarge
)

type event struct {
	t         time.Time
	seq       int
	kind, arg int
	n         int // a dose number, a follow-up step
}

type events []event

func (e events) Len() int { return len(e) }
func (e events) Less(i, j int) bool {
	if !e[i].t.Equal(e[j].t) {
		return e[i].t.Before(e[j].t)
	}
	return e[i].seq < e[j].seq
}
func (e events) Swap(i, j int) { e[i], e[j] = e[j], e[i] }
func (e *events) Push(x any)   { *e = append(*e, x.(event)) }
func (e *events) Pop() any {
	old := *e
	x := old[len(old)-1]
	*e = old[:len(old)-1]
	return x
}

func newLife(g *Generator, i int, nhsNumber string, p *person) *life {
	if p == nil {
		p = newPerson(g, i, nhsNumber)
	}
	l := &life{
		g:      g,
		index:  i,
		p:      p,
		h:      &p.health,
		r:      newRNG(g.opts.Seed, uint64(i), streamHistory),
		until:  g.until,
		ids:    make(map[string]int, 16),
		encOrg: make(map[string]string, 32),
		out:    make([]Resource, 0, 128),
	}
	l.from = g.until.AddDate(-g.opts.HistoryYears, 0, 0)
	if l.from.Before(p.birth) {
		l.from = p.birth
	}
	l.gp = p.practice.gps[l.r.intn(len(p.practice.gps))]
	for c := range l.condAt {
		l.condAt[c] = -1
	}
	return l
}

// id returns the id of the next resource of type typ.
func (l *life) id(typ string) string {
	n := l.ids[typ]
	l.ids[typ] = n + 1
	return patientResourceID(l.g.opts.Seed, l.index, typ, n)
}

// emit adds a resource, with meta.source naming the organisation that
// recorded it: the one that provided its encounter, else the patient's
// practice. Access rules decide on it when a patient opts out of sharing.
func (l *life) emit(typ, id string, body fhir.Value) int {
	org := l.p.practice.id
	if typ == "Encounter" {
		if sp := body.Get("serviceProvider"); sp != nil {
			if ref, ok := strings.CutPrefix(sp.Str("reference"), "Organization/"); ok {
				org = ref
				l.encOrg[id] = ref
			}
		}
	} else if enc := body.Get("encounter"); enc != nil {
		if eid, ok := strings.CutPrefix(enc.Str("reference"), "Encounter/"); ok && l.encOrg[eid] != "" {
			org = l.encOrg[eid]
		}
	}
	if meta := body.Get("meta"); meta != nil && meta.Kind == fhir.Object {
		meta.Set("source", fhir.StringValue("Organization/"+org))
	}
	l.out = append(l.out, Resource{Type: typ, ID: id, Body: body})
	return len(l.out) - 1
}

func (l *life) plan(t time.Time, kind, arg, n int) {
	if t.Before(l.from) || !t.Before(l.until) {
		return
	}
	l.seq++
	heap.Push(&l.events, event{t: t, seq: l.seq, kind: kind, arg: arg, n: n})
}

func (l *life) age(t time.Time) int { return years(l.p.birth, t) }

// clinicTime picks a weekday appointment time around day t: surgeries book
// 10-minute slots from 08:30 to 17:50.
func (l *life) clinicTime(t time.Time) time.Time {
	t = weekday(t)
	return at(t, 8, 30).Add(time.Duration(l.r.intn(56)) * 10 * time.Minute)
}

// randomDay returns a day in [a, b).
func (l *life) randomDay(a, b time.Time) time.Time {
	n := daysBetween(a, b)
	if n <= 0 {
		return a
	}
	return addDays(a, l.r.intn(n))
}

func (l *life) live() {
	l.pid = l.id("Patient")
	l.emit("Patient", l.pid, l.p.resource(l.pid))
	l.allergies()
	l.existing()
	l.planHistory()
	for l.events.Len() > 0 {
		e := heap.Pop(&l.events).(event)
		l.happen(e)
	}
}

func (l *life) happen(e event) {
	if !e.t.Before(l.inFrom) && e.t.Before(l.inUntil) {
		if e.kind != evHospital {
			l.plan(l.clinicTime(addDays(l.inUntil, 7)), e.kind, e.arg, e.n)
		}
		return
	}
	switch e.kind {
	case evDiagnose:
		l.diagnose(e.t, e.arg)
	case evFollowUp:
		l.followUp(e.t, e.arg, e.n)
	case evReview:
		l.review(e.t)
	case evA1cCheck:
		l.a1cCheck(e.t)
	case evAcute:
		l.acuteVisit(e.t, &acutes[e.arg])
	case evHealthCheck:
		l.healthCheck(e.t)
	case evHospital:
		l.hospitalEpisode(e.t, &hospitalReasons[e.arg])
	case evClinic:
		l.clinic(e.t, &clinics[e.arg])
	case evVaccine:
		l.vaccinate(e.t, schedule[e.arg].v, e.n)
	case evStopCourse:
		l.stopCourse(e.t, e.arg)
	case evPostDischarge:
		l.postDischarge(e.t, e.arg)
	}
}

// planHistory lays out the events that follow from who the person is.
func (l *life) planHistory() {
	h := l.h
	for c := condHypertension; c < numConds; c++ {
		if on := h.onset[c]; !on.IsZero() && !on.Before(l.from) && on.Before(l.until) {
			l.plan(l.clinicTime(on), evDiagnose, c, 0)
		}
	}
	// Annual review of long-term conditions, in the month of their birthday.
	for y := l.from.Year(); y <= l.until.Year(); y++ {
		t := l.clinicTime(time.Date(y, l.p.birth.Month(), 1+l.r.intn(28), 0, 0, 0, 0, time.UTC))
		if l.chronicBy(t.AddDate(0, -2, 0)) {
			l.plan(t, evReview, 0, 0)
			if h.has(condT2DM, t.AddDate(0, -2, 0)) {
				l.plan(l.clinicTime(t.AddDate(0, 6, 0)), evA1cCheck, 0, 0)
			}
		}
	}
	l.planAcute()
	l.planHospital()
	l.planHealthChecks()
	l.planVaccines()
}

// chronicBy reports whether any long-term condition needing review had begun by t.
func (l *life) chronicBy(t time.Time) bool {
	for c := condHypertension; c < numConds; c++ {
		if c != condDepression && l.h.has(c, t) {
			return true
		}
	}
	return false
}

// Consultations a year in general practice by age, higher for women of
// working age (NHS Digital appointment data, roughly).
func consultRate(age int, female bool) float64 {
	switch {
	case age < 5:
		return 2.5
	case age < 16:
		return 1.0
	case age < 45 && female:
		return 1.6
	case age < 45:
		return 0.8
	case age < 65:
		return 1.4
	case age < 75:
		return 1.9
	}
	return 2.4
}

func (l *life) planAcute() {
	for t := l.from; t.Before(l.until); t = t.AddDate(1, 0, 0) {
		end := earliest(t.AddDate(1, 0, 0), l.until)
		rate := consultRate(l.age(t), l.p.female) * float64(daysBetween(t, end)) / 365
		n := int(rate)
		if l.r.chance(rate - float64(n)) {
			n++
		}
		for range n {
			day := l.randomDay(t, end)
			if a := l.pickAcute(day); a >= 0 {
				l.plan(l.clinicTime(day), evAcute, a, 0)
			}
		}
	}
}

func (l *life) pickAcute(t time.Time) int {
	age := l.age(t)
	var w [16]float64
	weights := w[:len(acutes)]
	for i, a := range acutes {
		if age < a.minAge || age > a.maxAge {
			continue
		}
		f := a.female
		if f == 0 {
			f = 0.5
		}
		if !l.p.female {
			f = 1 - f
		}
		weights[i] = a.weight * f * 2
	}
	total := 0.0
	for _, x := range weights {
		total += x
	}
	if total == 0 {
		return -1
	}
	return l.r.pick(weights)
}

// Chance of a hospital episode (A&E or admission) a year by age, besides
// those that come from long-term conditions.
func hospitalRate(age int) float64 {
	switch {
	case age < 16:
		return 0.05
	case age < 45:
		return 0.06
	case age < 65:
		return 0.09
	case age < 75:
		return 0.15
	}
	return 0.28
}

func (l *life) planHospital() {
	for t := l.from; t.Before(l.until); t = t.AddDate(1, 0, 0) {
		end := earliest(t.AddDate(1, 0, 0), l.until)
		day := l.randomDay(t, end)
		age := l.age(day)
		if l.r.chance(hospitalRate(age)) {
			var w [16]float64
			weights := w[:len(hospitalReasons)]
			for i, h := range hospitalReasons {
				if h.needs == 0 && age >= h.minAge {
					weights[i] = h.weight
				}
			}
			l.plan(l.hospitalTime(day), evHospital, l.r.pick(weights), 0)
		}
		for i, h := range hospitalReasons {
			if h.needs == 0 || !l.h.has(h.needs, day) {
				continue
			}
			rate := 0.04 // asthma attacks
			if h.needs == condCOPD {
				rate = 0.3
			}
			if l.r.chance(rate) {
				l.plan(l.hospitalTime(l.randomDay(t, end)), evHospital, i, 0)
			}
		}
	}
}

// hospitalTime is any time of day: emergencies do not keep office hours.
func (l *life) hospitalTime(day time.Time) time.Time {
	return at(day, 0, 0).Add(time.Duration(l.r.intn(24*60)) * time.Minute)
}

// planHealthChecks offers the NHS Health Check every five years to people of
// 40 to 74 without a cardiovascular condition; about half take it up.
func (l *life) planHealthChecks() {
	t := l.randomDay(l.from, l.from.AddDate(5, 0, 0))
	for ; t.Before(l.until); t = t.AddDate(5, 0, 0) {
		age := l.age(t)
		if age >= 40 && age <= 74 && !l.h.has(condHypertension, t) && !l.h.has(condT2DM, t) && l.r.chance(0.5) {
			l.plan(l.clinicTime(t), evHealthCheck, 0, 0)
		}
	}
}

// existing writes what was known before the history starts: long-term
// conditions diagnosed earlier, and the medicines they were on.
func (l *life) existing() {
	for c := condHypertension; c < numConds; c++ {
		on := l.h.onset[c]
		if on.IsZero() || !on.Before(l.from) {
			continue
		}
		status, abated := "active", time.Time{}
		if c == condDepression {
			end := on.AddDate(0, 9, 0)
			if end.Before(l.from) {
				status, abated = "remission", end
			}
		}
		l.condition(l.id("Condition"), c, on, "", status, abated)
		l.treated[c] = addDays(on, 14)
		switch c {
		case condHypertension:
			l.startCourse(on, c, l.firstAntihypertensive(on), false)
		case condT2DM:
			l.startCourse(on, c, &metformin, false)
			if l.age(on) >= 40 && l.r.chance(0.75) {
				l.startStatin(on, false)
			}
		case condAsthma, condCOPD:
			l.startCourse(on, c, &salbutamol, false)
		case condDepression:
			if status == "active" {
				i := l.startCourse(on, c, &sertraline, false)
				l.plan(l.clinicTime(on.AddDate(0, 9, 0)), evStopCourse, i, 0)
			}
		}
	}
	if l.h.has(condHypertension, l.from) && l.statin.IsZero() && l.age(l.from) >= 55 && l.r.chance(0.5) {
		l.startStatin(l.from, false)
	}
}

func (l *life) firstAntihypertensive(t time.Time) *drug {
	// NICE NG136: a calcium-channel blocker first from 55 or for people of
	// Black African or African-Caribbean family origin, else an ACE inhibitor.
	if l.age(t) >= 55 || l.h.black {
		return &amlodipine5
	}
	return &ramipril25
}

// startCourse begins a long-term medicine. With issue, the first
// prescription is written now, in encounter enc; otherwise the next review
// writes it. It returns the course's index.
func (l *life) startCourse(t time.Time, cond int, d *drug, issue bool, enc ...string) int {
	c := &course{d: d, cond: cond, start: t, req: -1, active: true}
	l.courses = append(l.courses, c)
	if issue {
		e := ""
		if len(enc) > 0 {
			e = enc[0]
		}
		l.authorise(t, c, e, l.gp)
	}
	return len(l.courses) - 1
}

func (l *life) startStatin(t time.Time, issue bool, enc ...string) {
	l.statin = t
	cond := condHypertension
	if l.h.has(condT2DM, t) {
		cond = condT2DM
	}
	l.startCourse(t, cond, &atorvastatin, issue, enc...)
}

// authorise writes a MedicationRequest for a course; the one it replaces is
// completed.
func (l *life) authorise(t time.Time, c *course, enc string, by *staff) {
	if c.req >= 0 {
		l.out[c.req].Body.Set("status", str("completed"))
	}
	c.req = l.medicationRequest(t, c.d, enc, l.condID[c.cond], by, "active", "continuous", "community", 6)
	c.issued = t
}

// stopCourse ends a course, marking its last prescription stopped.
func (l *life) stopCourse(t time.Time, i int) {
	c := l.courses[i]
	if !c.active {
		return
	}
	c.active = false
	if c.req >= 0 {
		l.out[c.req].Body.Set("status", str("completed"))
	}
	if c.cond == condDepression && l.condAt[condDepression] >= 0 && t.AddDate(0, 3, 0).Before(l.until) {
		cond := &l.out[l.condAt[condDepression]].Body
		cond.Set("clinicalStatus", clinicalStatus("remission"))
		cond.SetAfter("abatementDateTime", "onsetDateTime", str(date(t)))
	}
}

// switchCourse replaces a course's medicine, as in a dose change.
func (l *life) switchCourse(t time.Time, c *course, d *drug, enc string) {
	if c.req >= 0 {
		l.out[c.req].Body.Set("status", str("stopped"))
		c.req = -1
	}
	c.d = d
	l.authorise(t, c, enc, l.gp)
}

// onCourse reports whether a course of d is active.
func (l *life) onCourse(d *drug) *course {
	for _, c := range l.courses {
		if c.active && c.d == d {
			return c
		}
	}
	return nil
}

func (l *life) activeConditions(t time.Time) []string {
	var names []string
	for c := condHypertension; c < numConds; c++ {
		if l.h.has(c, t) && l.condAt[c] >= 0 {
			names = append(names, condNames[c])
		}
	}
	return names
}

func joinOr(ss []string, none string) string {
	if len(ss) == 0 {
		return none
	}
	return strings.Join(ss, "; ")
}
