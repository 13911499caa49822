package fhirpath

// check is the static check Strict mode runs before evaluating.
func (e *Expression) check(input Item) error { return nil }
