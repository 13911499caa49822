package synth

import (
	"time"
)

// Long-term conditions, indexes of health.onset.
const (
	condHypertension = iota + 1
	condT2DM
	condAsthma
	condCOPD
	condDepression
	numConds
)

var condCodes = [numConds]code{0: {}, condHypertension: codeHypertension, condT2DM: codeT2DM, condAsthma: codeAsthma, condCOPD: codeCOPD, condDepression: codeDepression}

var condNames = [numConds]string{condHypertension: "Hypertension", condT2DM: "Type 2 diabetes mellitus", condAsthma: "Asthma", condCOPD: "Chronic obstructive pulmonary disease", condDepression: "Depression"}

// Smoking status.
const (
	neverSmoked = iota
	exSmoker
	smoker
)

// health is the physiology and the long-term conditions of a person: who
// they are, drawn once, from which every reading in their history follows
// as a function of time.
type health struct {
	onset [numConds]time.Time // zero: never has it

	smoking                                    int
	heightCm                                   float64
	bmi                                        float64 // at the start of the history
	bmiSlope                                   float64 // per year
	sbpOffset                                  float64 // their blood pressure relative to their age's
	htnPeak                                    float64 // systolic when hypertension is diagnosed
	htnTarget                                  float64 // systolic it settles to on treatment
	a1cPeak                                    float64 // HbA1c at diabetes diagnosis, mmol/mol
	a1cTarget                                  float64 // where metformin brings it
	a1cDrift                                   float64 // rise per year after
	phqPeak                                    int     // PHQ-9 at a depression diagnosis
	phqSettled                                 int     // after treatment
	cholesterol, hdl, triglyceride, creatinine float64

	penicillin, peanut, nkda bool
	black                    bool // NICE chooses a calcium-channel blocker first
	fluUptake                bool
}

// prevalence returns the chance of a condition by age; rows are the lower
// bounds of age bands.
func prevalence(age int, table [][2]float64) float64 {
	p := 0.0
	for _, row := range table {
		if float64(age) >= row[0] {
			p = row[1]
		}
	}
	return p
}

// Prevalence by age, roughly QOF registers and the Health Survey for England.
var (
	prevHypertension = [][2]float64{{18, 0.005}, {30, 0.02}, {40, 0.07}, {50, 0.16}, {60, 0.28}, {70, 0.38}, {80, 0.45}}
	prevT2DM         = [][2]float64{{18, 0.003}, {30, 0.015}, {40, 0.04}, {50, 0.08}, {60, 0.13}, {70, 0.16}, {80, 0.15}}
	prevCOPDSmoker   = [][2]float64{{40, 0.03}, {60, 0.12}}
	prevCOPDNever    = [][2]float64{{60, 0.005}}
)

func drawHealth(r *rng, p *person, age int) health {
	var h health
	h.black = p.name.heritage == 5 || p.name.heritage == 6
	switch {
	case age < 16:
	case r.chance(0.13):
		h.smoking = smoker
	case r.chance(min(0.45, 0.1+float64(age)/200)):
		h.smoking = exSmoker
	}
	if p.female {
		h.heightCm = clamp(r.normal(163, 6.5), 145, 185)
		h.hdl = clamp(r.normal(1.55, 0.35), 0.7, 2.6)
		h.creatinine = clamp(r.normal(68, 10), 45, 100)
	} else {
		h.heightCm = clamp(r.normal(176, 7), 155, 200)
		h.hdl = clamp(r.normal(1.25, 0.3), 0.6, 2.2)
		h.creatinine = clamp(r.normal(85, 12), 55, 125)
	}
	h.bmi = clamp(r.normal(27.3, 4.5), 17, 48)
	h.bmiSlope = r.normal(0.05, 0.15)
	h.sbpOffset = r.normal(0, 7)
	h.cholesterol = clamp(r.normal(5.2, 0.9), 3.2, 8.5)
	// How each condition would present and respond, drawn for everyone so
	// that a condition can be given to someone (the demo does) and so the
	// draws after these do not depend on who has what.
	h.htnPeak = clamp(r.normal(160, 9), 145, 190)
	h.htnTarget = clamp(r.normal(134, 6), 120, 148)
	h.a1cPeak = clamp(r.normal(66, 9), 50, 100)
	h.a1cTarget = r.uniform(48, 58)
	h.a1cDrift = r.uniform(0, 2.5)
	h.phqPeak = r.between(15, 23)
	h.phqSettled = r.between(3, 9)
	h.triglyceride = clamp(r.normal(1.5, 0.5)-float64(0.6*(h.hdl-1.35)), 0.5, 4.5)

	// Onsets are drawn so that the condition is present by the end of the
	// history at the prevalence of the person's age then; when it began
	// goes back up to a couple of decades.
	onset := func(fromAge, back int) time.Time {
		lo := max(fromAge, age-back)
		if lo > age {
			lo = age
		}
		days := r.intn((age-lo)*365 + 1)
		return addDays(p.birth, lo*365+days)
	}
	if age >= 18 && r.chance(prevalence(age, prevHypertension)*(1+0.3*boolF(h.black))) {
		h.onset[condHypertension] = onset(25, 25)
	}
	if age >= 18 && r.chance(prevalence(age, prevT2DM)*clamp((h.bmi-18)/9.3, 0.3, 2.5)) {
		h.onset[condT2DM] = onset(30, 20)
		h.triglyceride = clamp(h.triglyceride+0.4, 0.5, 5)
	}
	if age >= 3 && r.chance(0.10) {
		if r.chance(0.6) {
			h.onset[condAsthma] = onset(3, min(age, 12)) // mostly childhood onset
			if age > 15 {
				h.onset[condAsthma] = addDays(p.birth, r.between(3, 15)*365+r.intn(365))
			}
		} else {
			h.onset[condAsthma] = onset(16, 30)
		}
	}
	if age >= 40 {
		table := prevCOPDNever
		if h.smoking != neverSmoked {
			table = prevCOPDSmoker
		}
		if r.chance(prevalence(age, table)) {
			h.onset[condCOPD] = onset(45, 15)
		}
	}
	depression := 0.07
	if p.female {
		depression = 0.13
	}
	if age >= 16 && r.chance(depression) {
		h.onset[condDepression] = onset(16, 12)
	}

	h.penicillin = r.chance(0.06)
	born := p.birth.Year()
	h.peanut = r.chance(0.008 + 0.017*boolF(born >= 1975))
	h.nkda = !h.penicillin && age >= 16 && r.chance(0.45)
	h.fluUptake = r.chance(0.75)
	return h
}

func boolF(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// has reports whether the condition has begun by t.
func (h *health) has(c int, t time.Time) bool {
	return !h.onset[c].IsZero() && !h.onset[c].After(t)
}

// ease is a smooth step from 0 toward 1 with half its effect after half
// days: treatment effects are fast at first, then level off.
func ease(since time.Duration, half float64) float64 {
	d := since.Hours() / 24
	if d <= 0 {
		return 0
	}
	return d / (d + half)
}

func yearsF(d time.Duration) float64 { return d.Hours() / (24 * 365.25) }
