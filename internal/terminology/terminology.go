// Package terminology answers "is this code in that value set?" for the
// value sets bundled with the server: the expansions of those that the R4
// model's required bindings name, generated from the spec by
// internal/fhir/gen. It imports nothing of the project.
package terminology

import "sort"

// Concept is one code of a value set.
type Concept struct {
	System  string
	Code    string
	Display string
}

// Result of a membership check.
type Result uint8

const (
	Unknown Result = iota // the value set's content is not bundled
	In
	NotIn
)

// Known reports whether the value set's content is bundled.
func Known(valueSet string) bool {
	_, ok := valueSets[valueSet]
	return ok
}

// Contains checks system|code against the value set. An empty system
// matches a code of any system, as a FHIR code element carries none.
func Contains(valueSet, system, code string) Result {
	cs, ok := valueSets[valueSet]
	if !ok {
		return Unknown
	}
	i := sort.Search(len(cs), func(i int) bool { return cs[i].Code >= code })
	for ; i < len(cs) && cs[i].Code == code; i++ {
		if system == "" || cs[i].System == system {
			return In
		}
	}
	return NotIn
}

// Expansion returns the bundled codes of the value set, sorted by code, or
// nil when it is not bundled. The slice must not be modified.
func Expansion(valueSet string) []Concept { return valueSets[valueSet] }

// Display returns the display of system|code in the value set, or "".
func Display(valueSet, system, code string) string {
	cs := valueSets[valueSet]
	i := sort.Search(len(cs), func(i int) bool { return cs[i].Code >= code })
	for ; i < len(cs) && cs[i].Code == code; i++ {
		if system == "" || cs[i].System == system {
			return cs[i].Display
		}
	}
	return ""
}
