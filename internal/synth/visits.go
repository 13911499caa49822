package synth

import (
	"strings"
	"time"
)

// The handlers of planned events: each writes the resources of one visit.

func (l *life) nurseOrGP(pNurse float64) *staff {
	if l.r.chance(pNurse) {
		return l.p.practice.nurse
	}
	return l.gp
}

// presenting is what brings someone with each condition to the GP.
var presenting = [numConds]string{condHypertension: "Raised blood pressure", condT2DM: "Raised HbA1c",
	condAsthma: "Wheeze and breathlessness", condCOPD: "Breathlessness and productive cough", condDepression: "Low mood"}

func (l *life) diagnose(t time.Time, c int) {
	cid := l.id("Condition")
	gp := l.gp
	enc := l.gpEncounter(t, encConsultation, presenting[c], gp, cid)
	l.treated[c] = t
	switch c {
	case condHypertension:
		l.bloodPressure(enc, t, gp)
		l.bodyMeasures(enc, t, gp, !l.reviewed)
		l.condition(cid, c, t, enc, "active", time.Time{})
		l.labReport(enc, t.Add(5*time.Minute), panelRenal, sectionChemistry, "Urea and electrolytes", l.renal(t, false), "")
		l.startCourse(t, c, l.firstAntihypertensive(t), true, enc)
		if l.statin.IsZero() && l.age(t) >= 55 && l.r.chance(0.5) {
			l.labReport(enc, t.Add(5*time.Minute), panelLipids, sectionChemistry, "Lipid profile", l.lipids(t), "")
			l.startStatin(t, true, enc)
		}
		l.plan(l.clinicTime(addDays(t, 28)), evFollowUp, c, 1)
		l.plan(l.clinicTime(addDays(t, 91)), evFollowUp, c, 2)
	case condT2DM:
		l.labReport(enc, t.Add(5*time.Minute), panelHbA1c, sectionChemistry, "HbA1c", []result{l.a1cResult(t)}, "")
		l.bodyMeasures(enc, t, gp, !l.reviewed)
		l.condition(cid, c, t, enc, "active", time.Time{})
		l.labReport(enc, t.Add(5*time.Minute), panelRenal, sectionChemistry, "Urea and electrolytes", l.renal(t, false), "")
		l.labReport(enc, t.Add(5*time.Minute), panelLipids, sectionChemistry, "Lipid profile", l.lipids(t), "")
		l.startCourse(t, c, &metformin, true, enc)
		if l.statin.IsZero() && l.age(t) >= 40 && l.r.chance(0.75) {
			l.startStatin(t, true, enc)
		}
		l.plan(l.clinicTime(addDays(t, 91)), evFollowUp, c, 1)
	case condAsthma:
		l.condition(cid, c, t, enc, "active", time.Time{})
		l.startCourse(t, c, &salbutamol, true, enc)
	case condCOPD:
		l.smokingStatus(enc, t, gp)
		l.condition(cid, c, t, enc, "active", time.Time{})
		l.startCourse(t, c, &salbutamol, true, enc)
		l.plan(l.clinicTime(addDays(t, 42)), evClinic, clinicCOPD, 0)
	case condDepression:
		l.phq(enc, t, gp)
		l.condition(cid, c, t, enc, "active", time.Time{})
		if l.r.chance(0.75) {
			i := l.startCourse(t, c, &sertraline, true, enc)
			l.plan(l.clinicTime(addDays(t, 180+l.r.intn(180))), evStopCourse, i, 0)
		}
		l.plan(l.clinicTime(addDays(t, 21)), evFollowUp, c, 1)
		l.plan(l.clinicTime(addDays(t, 91)), evFollowUp, c, 2)
	}
}

func (l *life) followUp(t time.Time, c, n int) {
	switch c {
	case condHypertension:
		who := l.nurseOrGP(0.7)
		if n == 2 {
			who = l.gp
		}
		enc := l.gpEncounter(t, encFollowUp, "Blood pressure review", who, l.condID[c])
		sbp := l.bloodPressure(enc, t, who)
		if n == 1 && (l.onCourse(&ramipril25) != nil || l.onCourse(&ramipril5) != nil) {
			l.labReport(enc, t.Add(5*time.Minute), panelRenal, sectionChemistry, "Urea and electrolytes", l.renal(t, false), "Renal function stable on ACE inhibitor.")
		}
		if n == 2 && sbp >= 140 {
			l.stepUpBloodPressure(t, enc)
		}
	case condT2DM:
		who := l.p.practice.nurse
		enc := l.gpEncounter(t, encFollowUp, "Diabetes review", who, l.condID[c])
		l.labReport(enc, t.Add(5*time.Minute), panelHbA1c, sectionChemistry, "HbA1c", []result{l.a1cResult(t)}, "")
		l.bodyMeasures(enc, t, who, false)
	case condDepression:
		enc := l.gpEncounter(t, encTelephone, "Depression review", l.gp, l.condID[c])
		l.phq(enc, t, l.gp)
	}
}

// stepUpBloodPressure follows NICE NG136: raise the dose, then add the
// other class.
func (l *life) stepUpBloodPressure(t time.Time, enc string) {
	switch l.htnStep {
	case 0:
		if c := l.onCourse(&amlodipine5); c != nil {
			l.switchCourse(t, c, &amlodipine10, enc)
		} else if c := l.onCourse(&ramipril25); c != nil {
			l.switchCourse(t, c, &ramipril5, enc)
		}
	case 1:
		if l.onCourse(&amlodipine10) != nil {
			l.startCourse(t, condHypertension, &ramipril25, true, enc)
		} else {
			l.startCourse(t, condHypertension, &amlodipine5, true, enc)
		}
	default:
		return
	}
	l.htnStep++
	l.h.htnTarget = max(118, l.h.htnTarget-6)
}

func (l *life) a1cResult(t time.Time) result {
	return result{codes: obsHbA1c, text: "HbA1c", v: l.hba1c(t), unit: "mmol/mol", ucum: "mmol/mol", high: 41}
}

func (l *life) phq(enc string, t time.Time, who *staff) {
	l.observation(enc, t, "survey", obsPHQ9, "PHQ-9 score", practitionerRef(who),
		m("valueQuantity", quantity(integer(l.phq9(t)), "score", "{score}")))
}

// review is the yearly review of long-term conditions.
func (l *life) review(t time.Time) {
	who := l.nurseOrGP(0.6)
	var names, diags []string
	for c := condHypertension; c < numConds; c++ {
		if c != condDepression && l.h.has(c, t) && l.condAt[c] >= 0 {
			names = append(names, strings.ToLower(condNames[c][:1])+condNames[c][1:])
			diags = append(diags, l.condID[c])
		}
	}
	if len(names) == 0 {
		return
	}
	enc := l.gpEncounter(t, encFollowUp, "Annual review: "+strings.Join(names, ", "), who, diags...)
	htn, dm := l.h.has(condHypertension, t), l.h.has(condT2DM, t)
	sbp := 0.0
	if l.age(t) >= 18 {
		sbp = l.bloodPressure(enc, t, who)
		l.bodyMeasures(enc, t, who, !l.reviewed)
		l.smokingStatus(enc, t, who)
	}
	lab := t.Add(5 * time.Minute)
	switch {
	case dm:
		l.labReport(enc, lab, panelHbA1c, sectionChemistry, "HbA1c", []result{l.a1cResult(t)}, "")
		l.labReport(enc, lab, panelRenal, sectionChemistry, "Urea and electrolytes", l.renal(t, false), "")
		l.labReport(enc, lab, panelLipids, sectionChemistry, "Lipid profile", l.lipids(t), "")
	case htn:
		l.labReport(enc, lab, panelRenal, sectionChemistry, "Urea and electrolytes", l.renal(t, false), "")
		if l.r.chance(0.5) {
			l.labReport(enc, lab, panelLipids, sectionChemistry, "Lipid profile", l.lipids(t), "")
		}
	}
	if htn && sbp >= 150 {
		l.stepUpBloodPressure(t, enc)
	}
	if l.statin.IsZero() && ((dm && l.age(t) >= 40) || (htn && l.age(t) >= 55)) && l.r.chance(0.3) {
		l.startStatin(t, true, enc)
	}
	// Re-authorise repeat medicines for another year.
	for _, c := range l.courses {
		if c.active && !c.issued.Equal(t) && c.cond != condDepression {
			l.authorise(t, c, enc, l.gp)
		}
	}
	l.reviewed = true
}

func (l *life) a1cCheck(t time.Time) {
	who := l.p.practice.nurse
	enc := l.gpEncounter(t, encFollowUp, "Diabetes blood test", who, l.condID[condT2DM])
	l.labReport(enc, t.Add(5*time.Minute), panelHbA1c, sectionChemistry, "HbA1c", []result{l.a1cResult(t)}, "")
}

func (l *life) acuteVisit(t time.Time, a *acute) {
	who := l.gp
	if l.r.chance(0.3) {
		who = one(&l.r, l.p.practice.gps)
	}
	typ := encConsultation
	if l.r.chance(0.35) {
		typ = encTelephone
	}
	cid := l.id("Condition")
	enc := l.gpEncounter(t, typ, a.text, who, cid)
	l.episode(cid, a.code, a.text, enc, t, a.days, who)
	if typ == encConsultation && l.age(t) >= 16 && (a.bp || l.r.chance(0.2)) {
		l.bloodPressure(enc, t, who)
	}
	// Children's medicines are liquids we have no dm+d codes for; their
	// consultations end with advice here.
	if a.drug != nil && l.age(t) >= 12 && l.r.chance(a.drugRate) {
		l.acuteMedicine(t, a.drug, enc, cid, who, "community")
	}
}

// healthCheck is the NHS Health Check of adults from 40 to 74.
func (l *life) healthCheck(t time.Time) {
	who := l.p.practice.nurse
	enc := l.gpEncounter(t, encCheckUp, "NHS Health Check", who)
	l.bloodPressure(enc, t, who)
	l.bodyMeasures(enc, t, who, true)
	l.smokingStatus(enc, t, who)
	lab := t.Add(5 * time.Minute)
	l.labReport(enc, lab, panelLipids, sectionChemistry, "Lipid profile", l.lipids(t), "")
	if l.bmi(t) >= 30 || l.p.name.heritage == 3 || l.p.name.heritage == 4 {
		l.labReport(enc, lab, panelHbA1c, sectionChemistry, "HbA1c", []result{l.a1cResult(t)}, "")
	}
}

// hospitalVitals are the observations taken on arrival at hospital.
func (l *life) hospitalVitals(enc string, t time.Time, who *staff, r *hospitalReason) {
	respiratory := r.specialty == specRespiratory
	// Children's hearts and breathing are faster (APLS normal ranges).
	hr0, rr0 := 76.0, 15.0
	switch age := l.age(t); {
	case age < 1:
		hr0, rr0 = 135, 40
	case age < 6:
		hr0, rr0 = 110, 28
	case age < 12:
		hr0, rr0 = 90, 22
	}
	hr, temp, rr, spo2 := l.r.normal(hr0, 8), l.r.normal(36.8, 0.2), l.r.normal(rr0, 1.2), l.r.normal(97.5, 0.8)
	if r.infection {
		hr, temp, rr = hr+18, l.r.uniform(37.8, 39.4), rr+6
	}
	if respiratory {
		rr, spo2 = rr+4, l.r.uniform(87, 94)
	}
	if l.age(t) >= 5 {
		l.bloodPressure(enc, t, who)
	}
	l.vital(enc, t, who, obsHeartRate, "Heart rate", decimal(clamp(hr, 40, 190), 0), "beats/minute", "/min")
	l.vital(enc, t, who, obsRespRate, "Respiratory rate", decimal(clamp(rr, 8, 60), 0), "breaths/minute", "/min")
	l.vital(enc, t, who, obsTemperature, "Temperature", decimal(clamp(temp, 35, 41), 1), "degrees C", "Cel")
	l.vital(enc, t, who, obsSpO2, "Oxygen saturation", decimal(clamp(spo2, 80, 100), 0), "%", "%")
}

func (l *life) hospitalBloods(enc string, t time.Time, infection bool) {
	l.labReport(enc, t, panelFBC, sectionHaematology, "Full blood count", l.fbc(infection), "")
	l.labReport(enc, t, panelBiochemistry, sectionChemistry, "Biochemistry", append(l.renal(t, infection), l.crp(infection)), "")
}

func (l *life) hospitalEpisode(t time.Time, r *hospitalReason) {
	hsp := l.p.hospital
	ed := hsp.consultant(specEmergency)
	cid := l.id("Condition")
	if !r.admit {
		end := t.Add(time.Duration(120+l.r.intn(240)) * time.Minute)
		if !end.Before(l.until) {
			return
		}
		enc := l.encounter(encounterSpec{class: classEmergency, typ: encEmergency, text: "A&E attendance: " + r.text,
			start: t, end: end, who: ed, orgID: hsp.id, org: hsp.trust.name, diagnoses: []string{cid}})
		l.episode(cid, r.code, r.text, enc, t, 14, ed)
		l.hospitalVitals(enc, t.Add(15*time.Minute), ed, r)
		if r.infection || r.specialty == specCardiology {
			l.hospitalBloods(enc, t.Add(40*time.Minute), r.infection)
		}
		if r.drug != nil && l.age(t) >= 12 {
			l.acuteMedicine(end, r.drug, enc, cid, ed, "discharge")
		}
		l.document(end, documentTypes.discharge, "Emergency department discharge letter",
			l.dischargeLetter(r, t, end, ed, false), enc, t, end, ed, hsp.id, hsp.trust.name)
		if r.specialty == specCardiology {
			l.plan(l.clinicTime(addDays(t, 14+l.r.intn(14))), evClinic, clinicChestPain, 0)
		}
		return
	}
	stay := l.r.between(r.stayDays[0], r.stayDays[1])
	end := at(addDays(t, stay), 10+l.r.intn(7), l.r.intn(4)*15)
	if !end.Before(l.until) {
		return
	}
	l.inFrom, l.inUntil = t, end
	doc := hsp.consultant(r.specialty)
	enc := l.encounter(encounterSpec{class: classInpatient, typ: encAdmission, text: "Emergency admission: " + r.text,
		start: t, end: end, who: doc, orgID: hsp.id, org: hsp.trust.name, diagnoses: []string{cid}, admitted: true})
	l.episode(cid, r.code, r.text, enc, t, stay+21, doc)
	l.hospitalVitals(enc, t.Add(20*time.Minute), ed, r)
	l.hospitalBloods(enc, t.Add(45*time.Minute), r.infection)
	if stay >= 4 {
		l.hospitalBloods(enc, at(addDays(t, 2), 7, 30), false)
	}
	if r.drug != nil {
		l.acuteMedicine(end, r.drug, enc, cid, doc, "discharge")
	}
	l.document(end, documentTypes.discharge, "Discharge summary", l.dischargeLetter(r, t, end, doc, true),
		enc, t, end, doc, hsp.id, hsp.trust.name)
	l.discharged = append(l.discharged, cid)
	l.plan(l.clinicTime(addDays(end, 7+l.r.intn(14))), evPostDischarge, len(l.discharged)-1, 0)
}

// postDischarge is the GP's call after a hospital stay.
func (l *life) postDischarge(t time.Time, i int) {
	l.gpEncounter(t, encTelephone, "Post-discharge review", l.gp, l.discharged[i])
}

// Outpatient clinics a visit can lead to.
const (
	clinicChestPain = iota
	clinicCOPD
)

var clinics = []hospitalReason{
	clinicChestPain: {code: sct("29857009", "Chest pain"), text: "Rapid access chest pain clinic", specialty: specCardiology,
		plan: "Exercise tolerance test negative for inducible ischaemia at a good workload. Symptoms are musculoskeletal in nature. Discharged back to GP care; no cardiology follow-up needed."},
	clinicCOPD: {code: codeCOPD, text: "Respiratory clinic", specialty: specRespiratory,
		plan: "Post-bronchodilator spirometry confirms airflow obstruction (FEV1/FVC 0.62, FEV1 68% predicted), in keeping with COPD. Smoking cessation advice given and referral to pulmonary rehabilitation made. Please continue salbutamol as required and consider a long-acting bronchodilator if symptoms persist."},
}

func (l *life) clinic(t time.Time, r *hospitalReason) {
	hsp := l.p.hospital
	doc := hsp.consultant(r.specialty)
	end := t.Add(20 * time.Minute)
	enc := l.encounter(encounterSpec{class: classAmbulatory, typ: encConsultation, text: r.text,
		start: t, end: end, who: doc, orgID: hsp.id, org: hsp.trust.name})
	l.bloodPressure(enc, t, doc)
	l.document(end, documentTypes.clinic, "Outpatient clinic letter", l.clinicLetter(r, t, doc), enc, t, end, doc, hsp.id, hsp.trust.name)
}

func (l *life) allergies() {
	end := earliest(l.from.AddDate(0, 3, 0), l.until)
	t := func() time.Time {
		tt := l.clinicTime(l.randomDay(l.from, end))
		if !tt.Before(l.until) {
			tt = l.from
		}
		return tt
	}
	if l.h.penicillin {
		reaction, severity := reactionRash, "moderate"
		switch {
		case l.r.chance(0.05):
			reaction, severity = reactionAnaphylax, "severe"
		case l.r.chance(0.4):
			reaction, severity = reactionUrticaria, "moderate"
		}
		l.allergy(t(), allergyPenicillin, "Penicillin allergy", "medication", "high", reaction, severity)
	}
	if l.h.peanut {
		reaction, severity := reactionUrticaria, "moderate"
		if l.r.chance(0.2) {
			reaction, severity = reactionAnaphylax, "severe"
		}
		l.allergy(t(), allergyPeanut, "Peanut allergy", "food", "high", reaction, severity)
	}
	if l.h.nkda {
		l.allergy(t(), allergyNKDA, "No known drug allergies", "", "", code{}, "")
	}
}
