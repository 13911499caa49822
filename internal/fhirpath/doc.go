// Package fhirpath compiles and evaluates FHIRPath expressions (the normative
// release, http://hl7.org/fhirpath/N1/, as FHIR R4 uses it) over resources
// held as fhir.Value trees.
//
// Parse compiles an expression once; the resulting *Expression is immutable
// and may be evaluated concurrently. Evaluation walks the JSON tree directly:
// every item knows its FHIR type from the R4 model (the resource type from
// resourceType, an element's type from its definition, a choice type from the
// JSON member name), so is, as and ofType work on FHIR types as well as on the
// System types, and FHIR primitives convert to System values as the spec's
// mapping says (https://hl7.org/fhir/R4/fhirpath.html#types).
//
// Decimals are exact (0.1 + 0.2 = 0.3) and keep the precision they were
// written with; dates and times keep their partial precision; quantities
// convert between the common UCUM units and the calendar durations.
//
// The package's one job is FHIRPath. It imports internal/fhir and the standard
// library only; terminology, profiles and reference resolution reach it
// through the hooks in Env.
package fhirpath
