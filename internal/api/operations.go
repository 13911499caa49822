package api

import (
	"net/http"
	"strings"

	"sharedcare/internal/fhir"
	"sharedcare/internal/outcome"
	"sharedcare/internal/record"
)

// operationType dispatches POST /fhir/{type}/$op (the mux gives the $op as {id}).
func (h *Handler) operationType(w http.ResponseWriter, r *http.Request) error {
	op := r.PathValue("id")
	switch op {
	case "$validate":
		if r.Method != http.MethodPost {
			break
		}
		return h.validate(w, r, r.PathValue("type"), "")
	case "$export":
		if r.PathValue("type") == "Patient" {
			return h.export(w, r, "patient", "")
		}
	}
	return unknownOperation(r, op)
}

// breakGlass is POST /fhir/Patient/{id}/$break-glass with Parameters
// holding a "reason": time-limited access to the record of a patient who
// opted out of sharing, recorded and kept for review.
func (h *Handler) breakGlass(w http.ResponseWriter, r *http.Request, id string) error {
	f, err := negotiate(r)
	if err != nil {
		return err
	}
	body, err := h.readBody(w, r)
	if err != nil {
		return err
	}
	reason := ""
	if ps := body.Get("parameter"); ps != nil && ps.Kind == fhir.Array {
		for i := range ps.Items {
			if ps.Items[i].Str("name") == "reason" {
				reason = ps.Items[i].Str("valueString")
			}
		}
	}
	g, err := h.rec.BreakGlass(r.Context(), id, reason)
	if err != nil {
		return err
	}
	out := fhir.ObjectValue("resourceType", fhir.StringValue("Parameters"), "parameter", fhir.Value{Kind: fhir.Array, Items: []fhir.Value{
		fhir.ObjectValue("name", fhir.StringValue("until"), "valueInstant", fhir.StringValue(g.Until.Format(record.InstantFormat))),
		fhir.ObjectValue("name", fhir.StringValue("reason"), "valueString", fhir.StringValue(g.Reason)),
	}})
	writeJSON(w, f, http.StatusOK, fhir.Marshal(out))
	return nil
}

// operationInstance dispatches /fhir/{type}/{id}/$op, and GET
// /fhir/{compartment}/{id}/{type}, a compartment search.
func (h *Handler) operationInstance(w http.ResponseWriter, r *http.Request) error {
	op := r.PathValue("op")
	if r.Method == http.MethodGet && (fhir.IsResourceType(op) || op == "*") {
		return h.searchCompartment(w, r, r.PathValue("type"), r.PathValue("id"), op)
	}
	switch op {
	case "$validate":
		if r.Method != http.MethodPost {
			break
		}
		return h.validate(w, r, r.PathValue("type"), r.PathValue("id"))
	case "$break-glass":
		if r.Method == http.MethodPost && r.PathValue("type") == "Patient" {
			return h.breakGlass(w, r, r.PathValue("id"))
		}
	case "$everything":
		if r.PathValue("type") == "Patient" {
			return h.everything(w, r, r.PathValue("id"))
		}
	case "$export":
		if r.PathValue("type") == "Group" {
			return h.export(w, r, "group", r.PathValue("id"))
		}
	}
	return unknownOperation(r, op)
}

func unknownOperation(r *http.Request, op string) error {
	if !strings.HasPrefix(op, "$") {
		return outcome.Newf(http.StatusNotFound, outcome.CodeNotSupported, "", "%s %s is not an interaction this server supports", r.Method, r.URL.Path)
	}
	return outcome.Newf(http.StatusNotFound, outcome.CodeNotSupported, "", "operation %s is not supported here with %s", op, r.Method)
}

// validate is $validate: the outcome a create (or, with an id, an update)
// of the body would get, without storing anything. The body is the
// resource itself or a Parameters with it in "resource"
// (https://hl7.org/fhir/R4/resource-operation-validate.html).
func (h *Handler) validate(w http.ResponseWriter, r *http.Request, typ, id string) error {
	f, err := negotiate(r)
	if err != nil {
		return err
	}
	body, err := h.readBody(w, r)
	if err != nil {
		return err
	}
	res := body
	if body.Str("resourceType") == "Parameters" && typ != "Parameters" {
		res = nil
		if ps := body.Get("parameter"); ps != nil && ps.Kind == fhir.Array {
			for i := range ps.Items {
				p := &ps.Items[i]
				if p.Str("name") == "resource" {
					res = p.Get("resource")
				}
			}
		}
		if res == nil {
			return outcome.New(http.StatusBadRequest, outcome.CodeRequired, "Parameters.parameter", "$validate takes the resource, or Parameters with a parameter named resource")
		}
	}
	issues, err := h.rec.Validate(r.Context(), typ, id, res)
	if err != nil {
		e, ok := outcome.As(err)
		if !ok || e.Status >= 500 || e.Status == http.StatusNotFound {
			return err
		}
		// A validation failure is the answer, not an error of $validate
		// itself; the spec allows 200 or 400/422 here, and clients can tell
		// from the outcome. Answer with the status a write would get.
		h.writeOutcome(w, r, e.Status, e.Issues)
		return nil
	}
	writeJSON(w, f, http.StatusOK, fhir.Marshal(operationOutcome(issues)))
	return nil
}
