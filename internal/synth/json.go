package synth

import (
	"strconv"

	"sharedcare/internal/fhir"
	"sharedcare/internal/nhs"
)

// Resources are built as fhir.Value trees, which keep member order and a
// decimal's literal text, so output is stable byte for byte. These helpers
// keep the builders short; a zero fhir.Value (JSON null, which FHIR never
// uses in a resource) stands for "absent" and is dropped by obj and arr.

// member is one name and value of an object.
type member struct {
	k string
	v fhir.Value
}

func m(k string, v fhir.Value) member { return member{k, v} }

func obj(ms ...member) fhir.Value {
	n := 0
	for i := range ms {
		if ms[i].v.Kind != fhir.Null {
			n++
		}
	}
	v := fhir.Value{Kind: fhir.Object, Keys: make([]string, 0, n), Items: make([]fhir.Value, 0, n)}
	for i := range ms {
		if ms[i].v.Kind != fhir.Null {
			v.Keys = append(v.Keys, ms[i].k)
			v.Items = append(v.Items, ms[i].v)
		}
	}
	return v
}

// arr makes an array of the present values, or absent when there are none.
func arr(vs ...fhir.Value) fhir.Value {
	n := 0
	for i := range vs {
		if vs[i].Kind != fhir.Null {
			n++
		}
	}
	if n == 0 {
		return fhir.Value{}
	}
	items := make([]fhir.Value, 0, n)
	for i := range vs {
		if vs[i].Kind != fhir.Null {
			items = append(items, vs[i])
		}
	}
	return fhir.Value{Kind: fhir.Array, Items: items}
}

// str makes a string, or absent for "": FHIR forbids empty strings.
func str(s string) fhir.Value {
	if s == "" {
		return fhir.Value{}
	}
	return fhir.StringValue(s)
}

func strs(ss ...string) fhir.Value {
	vs := make([]fhir.Value, len(ss))
	for i, s := range ss {
		vs[i] = str(s)
	}
	return arr(vs...)
}

func boolean(b bool) fhir.Value { return fhir.BoolValue(b) }

func integer(n int) fhir.Value { return fhir.NumberValue(strconv.Itoa(n)) }

// decimal writes x with exactly prec digits after the point, which is the
// precision the value was measured to (https://hl7.org/fhir/R4/datatypes.html#decimal).
func decimal(x float64, prec int) fhir.Value {
	if x == 0 {
		x = 0 // no "-0.0"
	}
	return fhir.NumberValue(strconv.FormatFloat(x, 'f', prec, 64))
}

// code is a coding of some code system.
type code struct {
	system, code, display string
}

func sct(c, display string) code   { return code{nhs.SNOMEDSystem, c, display} }
func loinc(c, display string) code { return code{nhs.LOINCSystem, c, display} }

func (c code) coding() fhir.Value {
	if c.code == "" {
		return fhir.Value{}
	}
	return obj(m("system", str(c.system)), m("code", str(c.code)), m("display", str(c.display)))
}

// concept makes a CodeableConcept of the codings and the text.
func concept(text string, cs ...code) fhir.Value {
	codings := make([]fhir.Value, len(cs))
	for i, c := range cs {
		codings[i] = c.coding()
	}
	cc := obj(m("coding", arr(codings...)), m("text", str(text)))
	if len(cc.Keys) == 0 {
		return fhir.Value{}
	}
	return cc
}

// ref makes a Reference to Type/id.
func ref(typ, id, display string) fhir.Value {
	return obj(m("reference", str(typ+"/"+id)), m("display", str(display)))
}

// quantity makes a Quantity in UCUM units.
func quantity(v fhir.Value, unit, ucum string) fhir.Value {
	return obj(m("value", v), m("unit", str(unit)), m("system", str(nhs.UCUMSystem)), m("code", str(ucum)))
}

func period(start, end string) fhir.Value {
	return obj(m("start", str(start)), m("end", str(end)))
}

// Code systems of the FHIR spec's own terminology.
const (
	systemConditionClinical   = "http://terminology.hl7.org/CodeSystem/condition-clinical"
	systemConditionVer        = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
	systemConditionCategory   = "http://terminology.hl7.org/CodeSystem/condition-category"
	systemObservationCategory = "http://terminology.hl7.org/CodeSystem/observation-category"
	systemInterpretation      = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
	systemActCode             = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
	systemParticipationType   = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
	systemActReason           = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
	systemAllergyClinical     = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
	systemAllergyVer          = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
	systemMedReqCategory      = "http://terminology.hl7.org/CodeSystem/medicationrequest-category"
	systemCourseOfTherapy     = "http://terminology.hl7.org/CodeSystem/medicationrequest-course-of-therapy"
	systemDiagnosticService   = "http://terminology.hl7.org/CodeSystem/v2-0074"
	systemOrganizationType    = "http://terminology.hl7.org/CodeSystem/organization-type"
	systemAdmitSource         = "http://terminology.hl7.org/CodeSystem/admit-source"
	systemDischargeDisp       = "http://terminology.hl7.org/CodeSystem/discharge-disposition"
	systemCVX                 = "http://hl7.org/fhir/sid/cvx"
)

// syntheticMeta marks a generated resource as test data with the security
// label HTEST ("test health data",
// https://terminology.hl7.org/CodeSystem-v3-ActReason.html), so a shared
// record can always tell it from a real patient's. Each resource gets its
// own copy: a caller may change one resource's meta without touching others.
func syntheticMeta() fhir.Value {
	return obj(m("security", arr(code{systemActReason, "HTEST", "test health data"}.coding())))
}
