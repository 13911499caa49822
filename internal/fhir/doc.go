// Package fhir is the FHIR R4 (4.0.1) model, generated from the spec's own
// StructureDefinitions and SearchParameters, and the JSON form resources
// travel and are stored in. It does no I/O and imports only outcome.
package fhir

//go:generate go run ./gen -out .
