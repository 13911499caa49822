// Package load drives a sharedcare server over HTTP the way its users do,
// and reports what they would feel: throughput, latency percentiles, errors
// by status, load the server shed, and the server's memory and database
// size while it ran. Its scenarios are an ingest of synthetic patients
// (internal/synth), reads by id, a search mix, the patient summary a
// clinician app loads to open a patient (summary.go, the one definition),
// and "Monday morning": a full house of clinicians signing in within a
// minute and opening patients.
//
// It only ever targets the server it is given, on loopback unless told
// otherwise, with bounded requests and duration, and it never retries on
// its own: a 503 or 429 with Retry-After is counted as shed load, and the
// virtual user that met it may wait as told.
//
// load is a client package: it speaks HTTP like any supplier and may import
// internal/fhir, internal/nhs, internal/outcome and internal/synth only.
package load
