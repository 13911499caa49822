// Package validate checks a resource against the base FHIR R4 (4.0.1)
// StructureDefinitions before the server stores it, and reports every issue
// it finds in one pass, each located by a FHIRPath expression such as
// "Patient.contact[0].telecom[1].value".
//
// It checks the JSON form (known elements, JSON kinds, arrays, nulls, empty
// values), cardinality, choice elements, the formats of primitives,
// required bindings against the value sets bundled in internal/terminology,
// references, contained resources (dom-2 to dom-5, ref-1), extensions
// (ext-1) and narrative XHTML (txt-1, txt-2), recursing into contained
// resources and the resources of Bundle entries and Parameters. The spec's
// other FHIRPath invariants are evaluated through the Invariants hook that
// the server wires to internal/fhirpath.
//
// A rejected resource yields an *outcome.Error with status 400 ("failed basic
// FHIR validation rules", https://hl7.org/fhir/R4/http.html#2.21.0.13) for
// everything checked natively, and 422 ("violated applicable FHIR profiles
// or server business rules") when the only errors are invariants evaluated
// through the hook.
//
// It imports internal/fhir, internal/terminology and internal/outcome, and
// internal/fhirpath only through the Invariants interface it declares; it
// does no I/O.
package validate
