package api

import (
	"io"
	"mime"
	"net/http"

	"sharedcare/internal/fhir"
	"sharedcare/internal/outcome"
	"sharedcare/internal/patch"
	"sharedcare/internal/record"
)

// patchResource is PATCH /fhir/{type}/{id} with a JSON Patch
// (application/json-patch+json) or a FHIRPath Patch (a Parameters
// resource as application/fhir+json).
func (h *Handler) patchResource(w http.ResponseWriter, r *http.Request) error {
	f, err := negotiate(r)
	if err != nil {
		return err
	}
	im, err := ifMatch(r)
	if err != nil {
		return err
	}
	p, err := h.readPatch(w, r)
	if err != nil {
		return err
	}
	wr, err := h.rec.Patch(r.Context(), r.PathValue("type"), r.PathValue("id"), p, im)
	if err != nil {
		return err
	}
	h.writeWritten(w, r, f, http.StatusOK, wr.Version, wr.Warnings)
	return nil
}

func (h *Handler) readPatch(w http.ResponseWriter, r *http.Request) (record.Patcher, error) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/json-patch+json":
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
		if err != nil {
			return nil, err
		}
		return patch.ParseJSON(b)
	case "application/fhir+json", "application/json":
		body, err := h.readBody(w, r)
		if err != nil {
			return nil, err
		}
		if body.Str("resourceType") != "Parameters" {
			return nil, outcome.New(http.StatusBadRequest, outcome.CodeInvalid, "resourceType", "a FHIRPath Patch is a Parameters resource")
		}
		return patch.ParseFHIRPath(body)
	}
	return nil, outcome.Newf(http.StatusUnsupportedMediaType, outcome.CodeNotSupported, "",
		"PATCH takes application/json-patch+json (JSON Patch) or application/fhir+json (FHIRPath Patch Parameters), not %q", mt)
}

// entryPatch reads a transaction entry's patch: a Parameters resource
// (FHIRPath Patch) or a Binary holding a JSON Patch.
func entryPatch(res *fhir.Value, loc string) (record.Patcher, error) {
	switch res.Str("resourceType") {
	case "Parameters":
		return patch.ParseFHIRPath(res)
	case "Binary":
		if ct := res.Str("contentType"); ct != "application/json-patch+json" {
			return nil, outcome.Newf(http.StatusBadRequest, outcome.CodeNotSupported, loc+".resource.contentType", "a Binary patch must be application/json-patch+json, not %q", ct)
		}
		data, err := decodeBase64(res.Str("data"))
		if err != nil {
			return nil, outcome.New(http.StatusBadRequest, outcome.CodeValue, loc+".resource.data", "the Binary's data is not base64")
		}
		return patch.ParseJSON(data)
	}
	return nil, outcome.New(http.StatusBadRequest, outcome.CodeInvalid, loc+".resource", "a PATCH entry holds a Parameters (FHIRPath Patch) or a Binary (JSON Patch)")
}
