package search

import "strings"

// unions are parameters whose matches are exactly those of two others
// together: Observation's combo-* parameters are its own code or value
// and its components'. Their index rows would repeat the others' (a
// seventh of all rows in a GP record), so none are written, and a search
// on one looks up the rows of both others instead.
var unions = map[[2]string][2]string{
	{"Observation", "combo-code"}:                {"code", "component-code"},
	{"Observation", "combo-code-value-concept"}:  {"code-value-concept", "component-code-value-concept"},
	{"Observation", "combo-code-value-quantity"}: {"code-value-quantity", "component-code-value-quantity"},
	{"Observation", "combo-data-absent-reason"}:  {"data-absent-reason", "component-data-absent-reason"},
	{"Observation", "combo-value-concept"}:       {"value-concept", "component-value-concept"},
	{"Observation", "combo-value-quantity"}:      {"value-quantity", "component-value-quantity"},
}

// StoredAs returns the index codes whose rows answer a search on code (a
// parameter's code, or a derived one such as "combo-code:text") for
// resources of type typ: code itself, or the two parameters it unites.
func StoredAs(typ, code string) []string {
	name, suffix, _ := strings.Cut(code, ":")
	u, ok := unions[[2]string{typ, name}]
	if !ok {
		return []string{code}
	}
	if suffix != "" {
		return []string{u[0] + ":" + suffix, u[1] + ":" + suffix}
	}
	return u[:]
}

// unitedElsewhere reports whether typ's parameter code is a union whose
// rows the index does not keep.
func unitedElsewhere(typ, code string) bool {
	_, ok := unions[[2]string{typ, code}]
	return ok
}
