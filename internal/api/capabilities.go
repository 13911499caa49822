package api

import (
	"net/http"
	"strings"

	"sharedcare/internal/fhir"
)

// Security is the server's SMART on FHIR authorisation, advertised in the
// CapabilityStatement's rest.security with the oauth-uris extension
// (https://hl7.org/fhir/smart-app-launch/conformance.html). URLs that
// start with "/" are relative to each request's host.
type Security struct {
	Authorize, Token, Introspect, Revoke string
}

// capabilityStatement describes what this server does, and nothing more:
// each interaction listed here has a route and tests.
func (h *Handler) capabilityStatement() []byte { return h.capabilityStatementAt("") }

// relativeSecurity reports whether the security URLs depend on the host.
func (h *Handler) relativeSecurity() bool {
	return h.opts.Security != nil && strings.HasPrefix(h.opts.Security.Authorize, "/")
}

// security is rest.security with the OAuth URLs prefixed by origin.
func (h *Handler) security(origin string) fhir.Value {
	str := fhir.StringValue
	sec := h.opts.Security
	uri := func(name, u string) fhir.Value {
		return fhir.ObjectValue("url", str(name), "valueUri", str(origin+u))
	}
	ext := []fhir.Value{uri("authorize", sec.Authorize), uri("token", sec.Token)}
	if sec.Introspect != "" {
		ext = append(ext, uri("introspect", sec.Introspect))
	}
	if sec.Revoke != "" {
		ext = append(ext, uri("revoke", sec.Revoke))
	}
	coding := fhir.ObjectValue("system", str("http://terminology.hl7.org/CodeSystem/restful-security-service"), "code", str("SMART-on-FHIR"), "display", str("SMART-on-FHIR"))
	return fhir.ObjectValue(
		"extension", fhir.Value{Kind: fhir.Array, Items: []fhir.Value{fhir.ObjectValue(
			"url", str("http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"),
			"extension", fhir.Value{Kind: fhir.Array, Items: ext},
		)}},
		"service", fhir.Value{Kind: fhir.Array, Items: []fhir.Value{fhir.ObjectValue(
			"coding", fhir.Value{Kind: fhir.Array, Items: []fhir.Value{coding}},
			"text", str("OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)"),
		)}},
		"description", str("Every request but GET /fhir/metadata needs a bearer token; discovery at /.well-known/smart-configuration."),
	)
}

// capabilityStatementAt is the CapabilityStatement with relative security
// URLs made absolute with origin ("https://host").
func (h *Handler) capabilityStatementAt(origin string) []byte {
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
	op := func(name, definition string) fhir.Value {
		return fhir.ObjectValue("name", str(name), "definition", str(definition))
	}
	var resources []fhir.Value
	for _, typ := range fhir.ResourceTypes() {
		ops := []fhir.Value{op("validate", "http://hl7.org/fhir/OperationDefinition/Resource-validate")}
		switch {
		case typ == "Patient":
			ops = append(ops, op("everything", "http://hl7.org/fhir/OperationDefinition/Patient-everything"))
			if h.opts.Bulk != nil {
				ops = append(ops, op("export", "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export"))
			}
		case typ == "Group" && h.opts.Bulk != nil:
			ops = append(ops, op("export", "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export"))
		}
		resources = append(resources, fhir.ObjectValue(
			"type", str(typ),
			"profile", str("http://hl7.org/fhir/StructureDefinition/"+typ),
			"interaction", arr(code("read"), code("vread"), code("update"), code("delete"), code("history-instance"), code("history-type"), code("create")),
			"versioning", str("versioned-update"),
			"readHistory", fhir.BoolValue(true),
			"updateCreate", fhir.BoolValue(true),
			"conditionalRead", str("full-support"),
			"operation", arr(ops...),
		))
	}
	rest := fhir.ObjectValue("mode", str("server"))
	if h.opts.Security != nil {
		rest.Set("security", h.security(origin))
	}
	rest.Set("resource", arr(resources...))
	rest.Set("interaction", arr(code("history-system")))
	if h.opts.Bulk != nil {
		// Bulk Data export (https://hl7.org/fhir/uv/bulkdata/) and the
		// $import proposal (https://github.com/smart-on-fhir/bulk-import),
		// which has no published OperationDefinition of its own.
		rest.Set("operation", arr(
			op("export", "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"),
			op("import", "https://github.com/smart-on-fhir/bulk-import/blob/master/import.md"),
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
		"rest", arr(rest),
	)
	if h.opts.Bulk != nil {
		cs.SetAfter("instantiates", "kind", arr(str("http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data")))
	}
	return fhir.Marshal(cs)
}

func (h *Handler) capabilities(w http.ResponseWriter, r *http.Request) error {
	f, err := negotiate(r)
	if err != nil {
		return err
	}
	if h.relativeSecurity() {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		writeJSON(w, f, http.StatusOK, h.capabilityStatementAt(scheme+"://"+r.Host))
		return nil
	}
	writeJSON(w, f, http.StatusOK, h.meta)
	return nil
}
