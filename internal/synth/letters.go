package synth

import (
	"strings"
	"time"

	"sharedcare/internal/nhs"
)

// Letters are plain text, as a hospital's document system would send them
// to the GP.

func (l *life) letterHead(b *strings.Builder, title string, hsp *hospital) {
	b.WriteString(strings.ToUpper(title))
	b.WriteString("\n")
	b.WriteString(hsp.trust.name)
	b.WriteString(", ")
	b.WriteString(hsp.trust.hospital)
	b.WriteString("\n\n")
	p := l.p
	b.WriteString("Patient: ")
	b.WriteString(strings.ToUpper(p.name.family))
	b.WriteString(", ")
	b.WriteString(strings.Join(p.name.given, " "))
	if p.prefix != "" {
		b.WriteString(" (" + p.prefix + ")")
	}
	b.WriteString("\nNHS number: ")
	b.WriteString(nhs.FormatNumber(p.nhsNumber))
	b.WriteString("    Date of birth: ")
	b.WriteString(ukDate(p.birth))
	b.WriteString("\nAddress: ")
	b.WriteString(p.line + ", " + p.practice.town.name + " " + p.postcode)
	b.WriteString("\nGP: ")
	b.WriteString(l.gp.short() + ", " + p.practice.name + " (" + p.practice.ods + ")\n\n")
}

func (l *life) medicineList(b *strings.Builder, extra *drug) {
	b.WriteString("Medicines on discharge:\n")
	n := 0
	if extra != nil {
		d := extra
		if d == &amoxicillin && l.h.penicillin {
			d = &clarithromycin
		}
		b.WriteString("- " + d.name + ": " + d.dose + " (new)\n")
		n++
	}
	for _, c := range l.courses {
		if c.active {
			b.WriteString("- " + c.d.name + ": " + c.d.dose + " (continue)\n")
			n++
		}
	}
	if n == 0 {
		b.WriteString("- None\n")
	}
}

func (l *life) allergyLine(b *strings.Builder) {
	var as []string
	if l.h.penicillin {
		as = append(as, "penicillin")
	}
	if l.h.peanut {
		as = append(as, "peanuts")
	}
	b.WriteString("Allergies: ")
	if len(as) == 0 {
		b.WriteString("no known allergies\n")
	} else {
		b.WriteString(strings.Join(as, ", ") + "\n")
	}
}

func (l *life) dischargeLetter(r *hospitalReason, start, end time.Time, doc *staff, admitted bool) string {
	var b strings.Builder
	b.Grow(1200)
	hsp := l.p.hospital
	if admitted {
		l.letterHead(&b, "Discharge summary", hsp)
		b.WriteString("Admitted: " + ukDateTime(start) + " via the emergency department\n")
		b.WriteString("Discharged: " + ukDateTime(end) + " to usual residence\n")
	} else {
		l.letterHead(&b, "Emergency department discharge letter", hsp)
		b.WriteString("Arrived: " + ukDateTime(start) + "    Left: " + ukDateTime(end) + "\n")
	}
	b.WriteString("Responsible clinician: " + doc.short() + ", " + strings.ToLower(r.specialty.display[:1]) + r.specialty.display[1:] + "\n\n")
	b.WriteString("Diagnosis: " + r.text + "\n")
	b.WriteString("Comorbidities: " + joinOr(l.activeConditions(start), "none recorded") + "\n")
	l.allergyLine(&b)
	b.WriteString("\nClinical summary:\n" + r.plan + "\n\n")
	extra := r.drug
	if l.age(start) < 12 {
		extra = nil
	}
	l.medicineList(&b, extra)
	b.WriteString("\nActions for GP:\n")
	if admitted {
		b.WriteString("- Please review the patient within two weeks of discharge.\n")
	} else {
		b.WriteString("- No routine action needed; the patient was advised to see their GP if symptoms persist.\n")
	}
	b.WriteString("\n" + doc.display() + "\n")
	return b.String()
}

func (l *life) clinicLetter(r *hospitalReason, t time.Time, doc *staff) string {
	var b strings.Builder
	b.Grow(1000)
	l.letterHead(&b, "Outpatient clinic letter", l.p.hospital)
	b.WriteString("Clinic: " + r.text + ", " + ukDate(t) + "\n")
	b.WriteString("Seen by: " + doc.short() + "\n\n")
	b.WriteString("Dear " + l.gp.short() + ",\n\n")
	b.WriteString("Thank you for referring this patient, whom I saw in clinic today. ")
	b.WriteString(r.plan + "\n\n")
	b.WriteString("Problems: " + joinOr(l.activeConditions(t), "none recorded") + "\n")
	l.allergyLine(&b)
	b.WriteString("\nYours sincerely,\n\n" + doc.display() + "\nConsultant, " + r.specialty.display + "\n")
	return b.String()
}
