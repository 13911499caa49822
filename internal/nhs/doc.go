// Package nhs knows the identifiers of the NHS in England: the NHS number
// and its Modulus 11 check digit, Organisation Data Service (ODS) codes, UK
// postcodes, SNOMED CT identifiers, and the identifier and code system URIs
// that UK Core uses for them. It does no I/O and imports nothing of the
// project (layer 1).
package nhs
