package api

import (
	"net/http"
	"strconv"
	"strings"

	"sharedcare/internal/outcome"
	"sharedcare/internal/record"
)

func (h *Handler) read(w http.ResponseWriter, r *http.Request) error {
	typ, id := r.PathValue("type"), r.PathValue("id")
	if strings.HasPrefix(id, "$") {
		if r.Method == http.MethodGet {
			return h.operationType(w, r)
		}
	}
	f, err := negotiate(r)
	if err != nil {
		return err
	}
	v, err := h.rec.Read(r.Context(), typ, id)
	if err != nil {
		return err
	}
	setVersionHeaders(w, v)
	if notModified(r, v) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	writeJSON(w, f, http.StatusOK, v.Body)
	return nil
}

func (h *Handler) vread(w http.ResponseWriter, r *http.Request) error {
	f, err := negotiate(r)
	if err != nil {
		return err
	}
	vid, err := strconv.ParseInt(r.PathValue("vid"), 10, 64)
	if err != nil || vid < 1 {
		return outcome.Newf(http.StatusBadRequest, outcome.CodeValue, "", "%q is not a version id", r.PathValue("vid"))
	}
	typ, id := r.PathValue("type"), r.PathValue("id")
	v, err := h.rec.VRead(r.Context(), typ, id, vid)
	if err != nil {
		return err
	}
	setVersionHeaders(w, v)
	if v.Deleted {
		return outcome.Gone(typ, id, strconv.FormatInt(vid, 10))
	}
	if notModified(r, v) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	writeJSON(w, f, http.StatusOK, v.Body)
	return nil
}

func (h *Handler) create(w http.ResponseWriter, r *http.Request) error {
	f, err := negotiate(r)
	if err != nil {
		return err
	}
	res, err := h.readBody(w, r)
	if err != nil {
		return err
	}
	if ine := r.Header.Get("If-None-Exist"); ine != "" {
		// Conditional create (https://hl7.org/fhir/R4/http.html#ccreate).
		typ := r.PathValue("type")
		if err := record.CheckType(typ); err != nil {
			return err
		}
		cr, err := h.rec.Conditional(r.Context(), record.Entry{Method: http.MethodPost, URL: typ, Resource: res, IfNoneExist: ine})
		if err != nil {
			return err
		}
		h.writeWritten(w, r, f, cr.Status, cr.Version, cr.Warnings)
		return nil
	}
	wr, err := h.rec.Create(r.Context(), r.PathValue("type"), res)
	if err != nil {
		return err
	}
	h.writeWritten(w, r, f, http.StatusCreated, wr.Version, wr.Warnings)
	return nil
}

// updateConditional is PUT /fhir/{type}?criteria
// (https://hl7.org/fhir/R4/http.html#cond-update).
func (h *Handler) updateConditional(w http.ResponseWriter, r *http.Request) error {
	f, err := negotiate(r)
	if err != nil {
		return err
	}
	typ := r.PathValue("type")
	if err := record.CheckType(typ); err != nil {
		return err
	}
	if r.URL.RawQuery == "" {
		return outcome.Newf(http.StatusBadRequest, outcome.CodeRequired, "", "PUT /fhir/%s needs an id (PUT /fhir/%s/[id]) or search criteria for a conditional update", typ, typ)
	}
	im, err := ifMatch(r)
	if err != nil {
		return err
	}
	res, err := h.readBody(w, r)
	if err != nil {
		return err
	}
	cr, err := h.rec.Conditional(r.Context(), record.Entry{Method: http.MethodPut, URL: typ + "?" + r.URL.RawQuery, Resource: res, IfMatch: im})
	if err != nil {
		return err
	}
	h.writeWritten(w, r, f, cr.Status, cr.Version, cr.Warnings)
	return nil
}

// deleteConditional is DELETE /fhir/{type}?criteria: at most one match.
func (h *Handler) deleteConditional(w http.ResponseWriter, r *http.Request) error {
	if _, err := negotiate(r); err != nil {
		return err
	}
	typ := r.PathValue("type")
	if err := record.CheckType(typ); err != nil {
		return err
	}
	if r.URL.RawQuery == "" {
		return outcome.Newf(http.StatusBadRequest, outcome.CodeRequired, "", "DELETE /fhir/%s needs an id or search criteria", typ)
	}
	cr, err := h.rec.Conditional(r.Context(), record.Entry{Method: http.MethodDelete, URL: typ + "?" + r.URL.RawQuery})
	if err != nil {
		return err
	}
	if cr.Version != nil {
		w.Header().Set("ETag", etag(cr.Version.VersionID))
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ifMatch returns the version If-Match demands, 0 when it is absent.
func ifMatch(r *http.Request) (int64, error) {
	v := r.Header.Get("If-Match")
	if v == "" {
		return 0, nil
	}
	n, ok := parseETag(v)
	if !ok {
		return 0, outcome.Newf(http.StatusBadRequest, outcome.CodeValue, "", `If-Match %q is not a version ETag such as W/"3"`, v)
	}
	return n, nil
}

func (h *Handler) update(w http.ResponseWriter, r *http.Request) error {
	f, err := negotiate(r)
	if err != nil {
		return err
	}
	im, err := ifMatch(r)
	if err != nil {
		return err
	}
	res, err := h.readBody(w, r)
	if err != nil {
		return err
	}
	wr, err := h.rec.Update(r.Context(), r.PathValue("type"), r.PathValue("id"), res, im)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if wr.Created {
		status = http.StatusCreated
	}
	h.writeWritten(w, r, f, status, wr.Version, wr.Warnings)
	return nil
}

func (h *Handler) delete(w http.ResponseWriter, r *http.Request) error {
	if _, err := negotiate(r); err != nil {
		return err
	}
	im, err := ifMatch(r)
	if err != nil {
		return err
	}
	res, err := h.rec.Delete(r.Context(), r.PathValue("type"), r.PathValue("id"), im)
	if err != nil {
		return err
	}
	if res.Version != nil {
		w.Header().Set("ETag", etag(res.Version.VersionID))
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
