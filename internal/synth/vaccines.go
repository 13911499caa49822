package synth

import "time"

// scheduled is a dose of the UK immunisation schedule (the Green Book,
// chapter 11), due days after birth; days < 0 marks the adult programmes
// planned by date rather than age.
type scheduled struct {
	v    *vaccine
	dose int
	days int
}

// Indexes of the adult programmes in schedule.
const (
	scheduleFlu = iota
	schedulePPV
	scheduleShingles
)

var schedule = []scheduled{
	scheduleFlu:      {&vaccineFlu, 1, -1},
	schedulePPV:      {&vaccinePPV, 1, -1},
	scheduleShingles: {&vaccineShingles, 1, -1},
	{&vaccineHexavalent, 1, 56}, {&vaccineRotavirus, 1, 56}, {&vaccineMenB, 1, 56},
	{&vaccineHexavalent, 2, 84}, {&vaccineRotavirus, 2, 84}, {&vaccinePCV, 1, 84},
	{&vaccineHexavalent, 3, 112}, {&vaccineMenB, 2, 112},
	{&vaccineMMR, 1, 365}, {&vaccinePCV, 2, 365}, {&vaccineMenB, 3, 365},
	{&vaccineMMR, 2, 1220}, {&vaccinePreschool, 1, 1220},
	{&vaccineHPV, 1, 12*365 + 240}, {&vaccineMenACWY, 1, 14*365 + 240},
}

func (l *life) planVaccines() {
	if l.r.chance(0.93) { // childhood uptake
		// Doses due at the same age are given at one visit.
		visit := map[int]time.Time{}
		for i, s := range schedule {
			if s.days < 0 {
				continue
			}
			t, ok := visit[s.days]
			if !ok {
				t = l.clinicTime(addDays(l.p.birth, s.days+l.r.intn(21)))
				visit[s.days] = t
			}
			l.plan(t, evVaccine, i, s.dose)
		}
	}
	// Flu every autumn from 65, or younger with asthma, COPD or diabetes.
	for y := l.from.Year(); y <= l.until.Year(); y++ {
		t := l.clinicTime(time.Date(y, time.October, 1+l.r.intn(55), 0, 0, 0, 0, time.UTC))
		age := l.age(t)
		atRisk := age >= 18 && (l.h.has(condAsthma, t) || l.h.has(condCOPD, t) || l.h.has(condT2DM, t))
		if (age >= 65 && l.h.fluUptake && l.r.chance(0.92)) || (age < 65 && atRisk && l.r.chance(0.5)) {
			l.plan(t, evVaccine, scheduleFlu, 1)
		}
	}
	if l.r.chance(0.7) {
		l.plan(l.clinicTime(addDays(l.p.birth.AddDate(65, 0, 0), l.r.intn(180))), evVaccine, schedulePPV, 1)
	}
	if l.r.chance(0.6) {
		l.plan(l.clinicTime(addDays(l.p.birth.AddDate(70, 0, 0), l.r.intn(300))), evVaccine, scheduleShingles, 1)
	}
}

func (l *life) vaccinate(t time.Time, v *vaccine, dose int) {
	l.immunization(t, v, dose, l.p.practice.nurse)
}
