package validate

import (
	"sharedcare/internal/fhir"
	"sharedcare/internal/outcome"
	"sharedcare/internal/terminology"
)

// Required bindings (https://hl7.org/fhir/R4/terminologies.html#required):
// a coded value must come from the bound value set. Value sets whose
// content the server does not bundle (terminology.Unknown) are not checked.

// codeBinding checks a code element's value, which carries no system.
func (w *walker) codeBinding(code, valueSet string) {
	if terminology.Contains(valueSet, "", code) == terminology.NotIn {
		w.errorf(outcome.CodeCodeInvalid, "", "%q is not in the value set %s, which the element's required binding names", clip(code), valueSet)
	}
}

// conceptBinding checks a Coding by its system and code, or a
// CodeableConcept: when it has codings, at least one must be in the set.
func (w *walker) conceptBinding(v *fhir.Value, ti *typeInfo, valueSet string) {
	if ti.role == roleCoding {
		code := v.Str("code")
		if code != "" && terminology.Contains(valueSet, v.Str("system"), code) == terminology.NotIn {
			w.errorf(outcome.CodeCodeInvalid, "", "%s|%s is not in the value set %s, which the element's required binding names", clip(v.Str("system")), clip(code), valueSet)
		}
		return
	}
	codings := v.Get("coding")
	if codings == nil || codings.Kind != fhir.Array {
		return
	}
	checked := false
	for i := range codings.Items {
		c := &codings.Items[i]
		code := c.Str("code")
		if code == "" {
			continue
		}
		switch terminology.Contains(valueSet, c.Str("system"), code) {
		case terminology.In:
			return
		case terminology.Unknown:
			return
		}
		checked = true
	}
	if checked {
		w.errorf(outcome.CodeCodeInvalid, "", "none of the codings is in the value set %s, which the element's required binding names", valueSet)
	}
}
