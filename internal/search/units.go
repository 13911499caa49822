package search

import "sharedcare/internal/fhirpath"

// canonicalUnit converts value in UCUM unit code to the unit's canonical
// form, so that quantities in different units of one kind compare:
// 5.4 mmol/L and 5400 umol/L index to the same canonical value.
func canonicalUnit(code string, value float64) (string, float64, bool) {
	return fhirpath.CanonicalUnit(code, value)
}
