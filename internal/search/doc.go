// Package search turns FHIR search URLs into a Query and resources into the
// index Entries a store writes beside each version: the values of every
// search parameter of the spec, extracted with the parameter's FHIRPath
// expression. It knows no SQL; the stores translate a Query.
//
// It imports internal/fhir, internal/fhirpath, internal/terminology and
// internal/outcome.
package search
