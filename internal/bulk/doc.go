// Package bulk runs the FHIR Bulk Data operations as jobs: $export
// (https://hl7.org/fhir/uv/bulkdata/export.html) at system, Patient and
// Group level into NDJSON files, and $import of NDJSON
// (https://github.com/smart-on-fhir/bulk-import/blob/master/import.md).
//
// A kick-off records a job in the store's records (through record) and
// returns; workers that the server's lifecycle owns (Service.Run) claim
// jobs, run them on the worker's context under the principal that asked,
// and checkpoint their progress in the job, so that a job survives a
// restart and resumes where it stopped: an export from the last position
// it wrote (a seq per type and the bytes of its file), an import from the
// last line it committed. Every node sees every job; export files live
// in Options.Dir, which several nodes must share. With Options.Worker an
// export runs in a worker process of its own, which relays its writes to
// the server through record (worker.go).
//
// bulk is a face: it reads and writes the data only through record (whose
// Export and Import check access and audit), and imports record, search,
// fhir, outcome, auth and traffic; never store, access, audit or another
// face.
package bulk
