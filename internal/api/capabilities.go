package api

import (
	"net/http"

	"sharedcare/internal/fhir"
)

// capabilityStatement describes what this server does, and nothing more:
// each interaction listed here has a route and tests.
func (h *Handler) capabilityStatement() []byte {
	str := fhir.StringValue
	arr := func(items ...fhir.Value) fhir.Value { return fhir.Value{Kind: fhir.Array, Items: items} }
	code := func(c string) fhir.Value { return fhir.ObjectValue("code", str(c)) }
	software := h.opts.Software
	if software == "" {
		software = "sharedcare"
	}
	version := h.opts.Version
	if version == "" {
		version = "dev"
	}
	var resources []fhir.Value
	for _, typ := range fhir.ResourceTypes() {
		resources = append(resources, fhir.ObjectValue(
			"type", str(typ),
			"profile", str("http://hl7.org/fhir/StructureDefinition/"+typ),
			"interaction", arr(code("read"), code("vread"), code("update"), code("delete"), code("history-instance"), code("history-type"), code("create")),
			"versioning", str("versioned-update"),
			"readHistory", fhir.BoolValue(true),
			"updateCreate", fhir.BoolValue(true),
			"conditionalRead", str("full-support"),
			"operation", arr(fhir.ObjectValue("name", str("validate"), "definition", str("http://hl7.org/fhir/OperationDefinition/Resource-validate"))),
		))
	}
	cs := fhir.ObjectValue(
		"resourceType", str("CapabilityStatement"),
		"status", str("active"),
		"date", str(h.now().UTC().Format("2006-01-02")),
		"publisher", str("sharedcare"),
		"kind", str("instance"),
		"software", fhir.ObjectValue("name", str(software), "version", str(version)),
		"implementation", fhir.ObjectValue("description", str("sharedcare: a shared electronic patient record")),
		"fhirVersion", str("4.0.1"),
		"format", arr(str("application/fhir+json"), str("json")),
		"rest", arr(fhir.ObjectValue(
			"mode", str("server"),
			"resource", arr(resources...),
			"interaction", arr(code("history-system")),
		)),
	)
	return fhir.Marshal(cs)
}

func (h *Handler) capabilities(w http.ResponseWriter, r *http.Request) error {
	f, err := negotiate(r)
	if err != nil {
		return err
	}
	writeJSON(w, f, http.StatusOK, h.meta)
	return nil
}
