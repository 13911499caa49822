// Package synth generates synthetic, realistic patients of English general
// practice as FHIR R4 resources: NHS numbers from the test range, names,
// addresses with real-format postcodes, a registered GP practice and local
// hospital trust, and a life history of consultations, long-term conditions
// with treatment and monitoring, acute illnesses, hospital episodes with lab
// reports and discharge letters, allergies and immunisations.
//
// Output is deterministic: patient i depends only on the seed, i and the
// Options, never on other patients, so a population can be generated in
// shards (start, count), in parallel, and resumed, byte for byte the same.
// It streams: memory stays flat however many patients are generated.
//
// Every resource carries the security label HTEST (test health data).
//
// synth is a client package: it may import internal/fhir, internal/nhs and
// internal/outcome only (layers 1 and 2), and it does no I/O of its own;
// cmd/sharedcare writes its output.
package synth
