package synth

import "sharedcare/internal/fhir"

// TransactionBundle wraps resources in a FHIR transaction Bundle. Each entry
// is a PUT of Type/id, so loading a bundle twice leaves one copy; fullUrl is
// urn:uuid:<id>, and the resources refer to each other as Type/id, which a
// server resolves to the ids the PUTs create
// (https://hl7.org/fhir/R4/http.html#trules).
func TransactionBundle(rs []Resource) fhir.Value {
	entries := make([]fhir.Value, len(rs))
	for i, r := range rs {
		entries[i] = obj(
			m("fullUrl", str("urn:uuid:"+r.ID)),
			m("resource", r.Body),
			m("request", obj(m("method", str("PUT")), m("url", str(r.Type+"/"+r.ID)))),
		)
	}
	return obj(
		m("resourceType", str("Bundle")),
		m("meta", syntheticMeta()),
		m("type", str("transaction")),
		m("entry", arr(entries...)),
	)
}

// SharedBundle returns the shared resources as one transaction, to load
// before any patient.
func (g *Generator) SharedBundle() fhir.Value { return TransactionBundle(g.shared) }

// Bundle returns the patient's resources as one transaction.
func (r *Record) Bundle() fhir.Value { return TransactionBundle(r.Resources) }
