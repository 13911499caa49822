package search

// canonicalUnit converts value in UCUM unit code to the unit's canonical
// form, so that quantities in different units of one kind compare.
// TODO(#3): use internal/fhirpath's UCUM once it exports conversion.
func canonicalUnit(code string, value float64) (string, float64, bool) {
	return "", 0, false
}
