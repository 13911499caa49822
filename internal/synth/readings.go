package synth

import (
	"math"
	"time"
)

// Readings are functions of time and of the person's health and treatment,
// plus measurement noise: blood pressure falls once an antihypertensive
// starts, HbA1c comes down on metformin and drifts up over the years,
// cholesterol drops on a statin.

func (l *life) systolic(t time.Time) float64 {
	h := l.h
	age := float64(l.age(t))
	v := 112 + 0.5*max(0, age-20) + 4*boolF(!l.p.female) + h.sbpOffset
	if on := h.onset[condHypertension]; !on.IsZero() {
		rise := on.AddDate(-4, 0, 0)
		switch treated := l.treated[condHypertension]; {
		case t.Before(rise):
			v = min(v, 138)
		case treated.IsZero() || t.Before(treated):
			f := clamp(yearsF(t.Sub(rise))/4, 0, 1)
			v = min(v, 138)
			v += float64((h.htnPeak - v) * f)
		default:
			v = h.htnPeak - float64((h.htnPeak-h.htnTarget)*ease(t.Sub(treated), 30))
		}
	} else {
		v = min(v, 138)
	}
	return clamp(l.r.normal(v, 6), 85, 220)
}

func (l *life) diastolic(sbp float64) float64 {
	return clamp(l.r.normal(12+float64(0.5*sbp), 4), 45, 130)
}

func (l *life) bmi(t time.Time) float64 {
	return clamp(l.h.bmi+float64(l.h.bmiSlope*yearsF(t.Sub(l.from))), 15, 60)
}

func (l *life) weight(t time.Time) float64 {
	hm := l.h.heightCm / 100
	return clamp(l.r.normal(float64(l.bmi(t)*hm*hm), 0.8), 35, 220)
}

func (l *life) hba1c(t time.Time) float64 {
	h := l.h
	on := h.onset[condT2DM]
	switch {
	case !on.IsZero() && !t.Before(on):
		d := t.Sub(on)
		v := h.a1cPeak - float64((h.a1cPeak-h.a1cTarget)*ease(d, 45)) + float64(h.a1cDrift*yearsF(d))
		return clamp(l.r.normal(v, 2), 40, 110)
	case !on.IsZero() && on.Sub(t) < 2*365*24*time.Hour:
		return clamp(l.r.normal(44.5, 1.2), 42, 47) // pre-diabetes before the diagnosis
	}
	return clamp(l.r.normal(33+float64(0.06*float64(l.age(t))), 2.2), 26, 41)
}

func (l *life) lipids(t time.Time) []result {
	h := l.h
	tc := h.cholesterol + float64(0.01*float64(l.age(t)-40))
	tg := h.triglyceride
	if !l.statin.IsZero() && !t.Before(l.statin) {
		// Atorvastatin 20mg takes about a third off what is above a floor.
		tc -= float64((tc - 2.0) * 0.33 * ease(t.Sub(l.statin), 20))
		tg -= float64(tg * 0.15 * ease(t.Sub(l.statin), 20))
	}
	tc = clamp(l.r.normal(tc, 0.25), 2.2, 10)
	hdl := clamp(l.r.normal(h.hdl, 0.08), 0.5, 3)
	tg = clamp(l.r.normal(tg, 0.2), 0.4, 6)
	ldl := max(0.6, tc-hdl-tg/2.2) // Friedewald, mmol/L
	hdlLow := 1.0
	if l.p.female {
		hdlLow = 1.2
	}
	return []result{
		{codes: obsCholesterol, text: "Total cholesterol", v: tc, prec: 1, unit: "mmol/L", ucum: "mmol/L", high: 5.0},
		{codes: obsHDL, text: "HDL cholesterol", v: hdl, prec: 1, unit: "mmol/L", ucum: "mmol/L", low: hdlLow},
		{codes: obsLDL, text: "LDL cholesterol (calculated)", v: ldl, prec: 1, unit: "mmol/L", ucum: "mmol/L", high: 3.0},
		{codes: obsTriglycer, text: "Triglycerides", v: tg, prec: 1, unit: "mmol/L", ucum: "mmol/L", high: 1.7},
	}
}

// renal is a urea and electrolytes profile with eGFR.
func (l *life) renal(t time.Time, unwell bool) []result {
	age := float64(l.age(t))
	creat := l.h.creatinine + float64(0.3*max(0, age-50))
	if l.onCourse(&ramipril25) != nil || l.onCourse(&ramipril5) != nil {
		creat += 6
	}
	urea := 4.5 + float64(0.03*max(0, age-40))
	if unwell {
		creat += 15
		urea += 3
	}
	creat = clamp(l.r.normal(creat, 5), 35, 400)
	ref, lo, hi := 85.0, 59.0, 104.0
	if l.p.female {
		ref, lo, hi = 68, 45, 84
	}
	// A simple stand-in for CKD-EPI that falls with age and creatinine
	// like it does, without powers and logarithms (see rng).
	egfr := clamp(float64((150-age)*ref)/creat, 8, 140)
	rs := []result{
		{codes: obsSodium, text: "Sodium", v: clamp(l.r.normal(139.5, 2), 128, 150), unit: "mmol/L", ucum: "mmol/L", low: 133, high: 146},
		{codes: obsPotassium, text: "Potassium", v: clamp(l.r.normal(4.3, 0.3), 3.0, 6.0), prec: 1, unit: "mmol/L", ucum: "mmol/L", low: 3.5, high: 5.3},
		{codes: obsUrea, text: "Urea", v: clamp(l.r.normal(urea, 1.1), 1.5, 25), prec: 1, unit: "mmol/L", ucum: "mmol/L", low: 2.5, high: 7.8},
		{codes: obsCreatinine, text: "Creatinine", v: creat, unit: "umol/L", ucum: "umol/L", low: lo, high: hi},
		{codes: obsEGFR, text: "eGFR", v: egfr, unit: "mL/min/1.73m2", ucum: "mL/min/{1.73_m2}", low: 60},
	}
	if egfr > 90 {
		// Labs in England report eGFR above 90 as ">90".
		rs[4].v, rs[4].cmp, rs[4].low = 90, ">", 0
	}
	return rs
}

func (l *life) fbc(infection bool) []result {
	hb, lo, hi := 148.0, 130.0, 180.0
	if l.p.female {
		hb, lo, hi = 134, 115, 165
	}
	wbc, plt := l.r.normal(6.8, 1.4), l.r.normal(260, 50)
	if infection {
		wbc, plt = l.r.uniform(11.5, 19), plt+60
	}
	return []result{
		{codes: obsHaemoglobin, text: "Haemoglobin", v: clamp(l.r.normal(hb, 9), 70, 200), unit: "g/L", ucum: "g/L", low: lo, high: hi},
		{codes: obsWBC, text: "White cell count", v: clamp(wbc, 1.5, 40), prec: 1, unit: "10*9/L", ucum: "10*9/L", low: 4.0, high: 11.0},
		{codes: obsPlatelets, text: "Platelets", v: clamp(plt, 40, 900), unit: "10*9/L", ucum: "10*9/L", low: 150, high: 450},
	}
}

func (l *life) crp(infection bool) result {
	r := result{codes: obsCRP, text: "CRP", unit: "mg/L", ucum: "mg/L", high: 5}
	if infection {
		r.v = l.r.uniform(45, 260)
	} else {
		r.v, r.cmp, r.high = 5, "<", 0
	}
	return r
}

func (l *life) phq9(t time.Time) int {
	h := l.h
	on, treated := h.onset[condDepression], l.treated[condDepression]
	v := float64(h.phqPeak)
	if !treated.IsZero() && t.After(treated) {
		v -= float64(float64(h.phqPeak-h.phqSettled) * ease(t.Sub(treated), 40))
	}
	if t.Before(on) {
		v = 4
	}
	return int(clamp(math.Round(l.r.normal(v, 1.2)), 0, 27))
}
