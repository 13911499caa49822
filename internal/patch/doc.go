// Package patch applies the two patch formats of the FHIR patch interaction
// (https://hl7.org/fhir/R4/http.html#patch) to a resource held as a
// fhir.Value: JSON Patch (RFC 6902, application/json-patch+json) and FHIRPath
// Patch (a Parameters resource, https://hl7.org/fhir/R4/fhirpatch.html).
//
// A patch document is parsed and checked once (ParseJSON, ParseFHIRPath) and
// may then be applied to any number of resources, concurrently: Apply never
// changes the patch, nor the resource it is given. It works on a copy and
// returns it only when every operation applied, so a patch applies whole or
// not at all.
//
// Errors are *outcome.Error:
//
//   - 400 Bad Request, issue code invalid: the patch document is malformed,
//     whatever resource it would be applied to (bad JSON, an unknown
//     operation, a missing member or part, a path that does not parse).
//     Parsing reports every such fault in one error.
//   - 422 Unprocessable Entity, issue code processing: the document is well
//     formed but does not apply to this resource (a path that finds nothing
//     or too much, a failed test, a value of the wrong type for its place),
//     or applying it would change the resource's resourceType or id, which a
//     patch may not do: the URL names the resource, and a different one is
//     a different resource, not a new version of this one. Apply stops at
//     the first operation that fails. JSON Patch copies that would grow the
//     resource by more than 65536 JSON values are a 422 too-costly.
//
// Each issue's Expression locates the fault in the patch document, never in
// the resource, so that it names no patient data and is safe to log:
//
//   - JSON Patch: operation[i] for the i-th (0-based) operation of the
//     array, with .op, .path or .from when that member is at fault:
//     "operation[2].path".
//   - FHIRPath Patch: a FHIRPath into the Parameters resource the client
//     sent: "Parameters.parameter[2]" for the third operation, with
//     ".part[1]" (and further ".part[k]" inside a value built from parts)
//     when one part is at fault.
//
// What the client wrote (paths, values) appears only in Diagnostics.
//
// Whether the patched resource is valid is not this package's question: the
// caller validates the result as it would the body of an update, and stores
// it honouring If-Match.
//
// The package imports internal/fhir, internal/fhirpath and internal/outcome
// and nothing above them.
package patch
