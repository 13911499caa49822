package api

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"sharedcare/internal/fhir"
	"sharedcare/internal/outcome"
)

// Bulk runs the asynchronous Bulk Data operations
// (https://hl7.org/fhir/uv/bulkdata/export.html, and the $import
// proposal); internal/bulk's Service is one, wired in by server. api reads
// the requests and writes the answers; the jobs are Bulk's. Every method
// acts for the principal in ctx.
type Bulk interface {
	// Export kicks off an export at level "system", "patient" or "group"
	// (of groupID) with the kick-off parameters; request is the kick-off
	// URL. It returns the job's id.
	Export(ctx context.Context, level, groupID string, params url.Values, request string) (string, error)
	// Import kicks off an import of the manifest (JSON) and returns the
	// job's id.
	Import(ctx context.Context, manifest []byte, request string) (string, error)
	// Status reports the caller's job: while it runs, manifest is nil and
	// progress says how far it got; once finished, manifest is the
	// completion JSON, whose file URLs begin with fileBase. A failed job's
	// failure is the error.
	Status(ctx context.Context, id, fileBase string) (manifest []byte, progress string, err error)
	// Expires is when a finished job's files go; zero while it runs.
	Expires(ctx context.Context, id string) time.Time
	// Cancel stops the caller's job and deletes its files.
	Cancel(ctx context.Context, id string) error
	// File opens one file of the caller's finished job.
	File(ctx context.Context, id, name string) (*os.File, error)
}

// statusRetry is the Retry-After the status endpoint suggests while a
// job runs, in seconds: a poll reads one record, so a short wait is cheap.
const statusRetry = "2"

func (h *Handler) noBulk(r *http.Request) error {
	return outcome.Newf(http.StatusNotFound, outcome.CodeNotSupported, "", "%s %s: bulk data operations are not enabled on this server", r.Method, r.URL.Path)
}

// exportSystem is [base]/$export.
func (h *Handler) exportSystem(w http.ResponseWriter, r *http.Request) error {
	return h.export(w, r, "system", "")
}

// exportPatients is Patient/$export.
func (h *Handler) exportPatients(w http.ResponseWriter, r *http.Request) error {
	return h.export(w, r, "patient", "")
}

// export kicks off an export: GET with query parameters, or POST with a
// Parameters resource (https://hl7.org/fhir/uv/bulkdata/export.html#bulk-data-kick-off-request).
// The answer is 202 with the job's status URL in Content-Location.
func (h *Handler) export(w http.ResponseWriter, r *http.Request, level, groupID string) error {
	if h.opts.Bulk == nil {
		return h.noBulk(r)
	}
	f, err := negotiate(r)
	if err != nil {
		return err
	}
	if err := preferAsync(r); err != nil {
		return err
	}
	params := r.URL.Query()
	if r.Method == http.MethodPost {
		body, err := h.readBody(w, r)
		if err != nil {
			return err
		}
		if params, err = parametersQuery(body, params); err != nil {
			return err
		}
	}
	id, err := h.opts.Bulk.Export(r.Context(), level, groupID, params, h.requestURL(r))
	if err != nil {
		return err
	}
	h.accepted(w, r, f, id, "the export has begun; poll the URL in Content-Location for its files")
	return nil
}

// importBulk is POST [base]/$import with the import manifest.
func (h *Handler) importBulk(w http.ResponseWriter, r *http.Request) error {
	if h.opts.Bulk == nil {
		return h.noBulk(r)
	}
	f, err := negotiate(r)
	if err != nil {
		return err
	}
	if err := preferAsync(r); err != nil {
		return err
	}
	if err := checkContentType(r, "application/json", "application/fhir+json"); err != nil {
		return err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	if err != nil {
		return err
	}
	id, err := h.opts.Bulk.Import(r.Context(), body, h.requestURL(r))
	if err != nil {
		return err
	}
	h.accepted(w, r, f, id, "the import has begun; poll the URL in Content-Location for its outcome")
	return nil
}

// accepted answers a kick-off.
func (h *Handler) accepted(w http.ResponseWriter, r *http.Request, f format, id, msg string) {
	w.Header().Set("Content-Location", h.baseURL(r)+"/$bulk-status?job="+url.QueryEscape(id))
	oo := operationOutcome([]outcome.Issue{{Severity: outcome.Information, Code: outcome.CodeInformation, Diagnostics: msg}})
	writeJSON(w, f, http.StatusAccepted, fhir.Marshal(oo))
}

// preferAsync refuses a Prefer header that asks for anything but an
// asynchronous answer; its absence is tolerated, as most clients send it
// and the answer is asynchronous either way.
func preferAsync(r *http.Request) error {
	p := r.Header.Get("Prefer")
	if p == "" || strings.Contains(p, "respond-async") {
		return nil
	}
	return outcome.New(http.StatusBadRequest, outcome.CodeNotSupported, "", "bulk data operations answer asynchronously only: send Prefer: respond-async")
}

// requestURL is the full URL of a kick-off, for its manifest.
func (h *Handler) requestURL(r *http.Request) string {
	u := h.baseURL(r) + strings.TrimPrefix(r.URL.Path, "/fhir")
	if r.URL.RawQuery != "" {
		u += "?" + r.URL.RawQuery
	}
	return u
}

// parametersQuery turns a kick-off's Parameters into query parameters,
// added to those of the URL: valueString, valueCode, valueInstant and the
// like as they are, a valueReference as its reference.
func parametersQuery(body *fhir.Value, q url.Values) (url.Values, error) {
	if body.Str("resourceType") != "Parameters" {
		return nil, outcome.New(http.StatusBadRequest, outcome.CodeInvalid, "resourceType", "a POST kick-off takes a Parameters resource")
	}
	ps := body.Get("parameter")
	if ps == nil {
		return q, nil
	}
	if ps.Kind != fhir.Array {
		return nil, outcome.New(http.StatusBadRequest, outcome.CodeStructure, "Parameters.parameter", "parameter must be an array")
	}
	for i := range ps.Items {
		p := &ps.Items[i]
		name := p.Str("name")
		for j, k := range p.Keys {
			v := &p.Items[j]
			switch {
			case k == "valueReference":
				q.Add(name, v.Str("reference"))
			case strings.HasPrefix(k, "value") && v.Kind == fhir.String:
				q.Add(name, v.Text)
			}
		}
	}
	return q, nil
}

// A job's status URL is [base]/$bulk-status?job=ID, and its files are
// [base]/$bulk-file?job=ID&file=NAME: query parameters, since a path
// segment after a literal one would overlap the {type}/_history routes.

// bulkStatus is GET on a job's status URL: 202 with X-Progress while it
// runs, 200 with the completion manifest when done, the job's
// OperationOutcome if it failed.
func (h *Handler) bulkStatus(w http.ResponseWriter, r *http.Request) error {
	if h.opts.Bulk == nil {
		return h.noBulk(r)
	}
	id := r.URL.Query().Get("job")
	manifest, progress, err := h.opts.Bulk.Status(r.Context(), id, h.baseURL(r)+"/$bulk-file?job="+url.QueryEscape(id)+"&file=")
	if err != nil {
		return err
	}
	hd := w.Header()
	if manifest == nil {
		hd.Set("X-Progress", progress)
		hd.Set("Retry-After", statusRetry)
		w.WriteHeader(http.StatusAccepted)
		return nil
	}
	if exp := h.opts.Bulk.Expires(r.Context(), id); !exp.IsZero() {
		hd.Set("Expires", exp.UTC().Format(http.TimeFormat))
	}
	hd.Set("Content-Type", "application/json")
	hd.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Write(manifest)
	return nil
}

// bulkCancel is DELETE on a job's status URL.
func (h *Handler) bulkCancel(w http.ResponseWriter, r *http.Request) error {
	if h.opts.Bulk == nil {
		return h.noBulk(r)
	}
	f, _ := negotiate(r)
	if err := h.opts.Bulk.Cancel(r.Context(), r.URL.Query().Get("job")); err != nil {
		return err
	}
	oo := operationOutcome([]outcome.Issue{{Severity: outcome.Information, Code: outcome.CodeInformation, Diagnostics: "the job is cancelled and its files deleted"}})
	writeJSON(w, f, http.StatusAccepted, fhir.Marshal(oo))
	return nil
}

// bulkFile streams one output file from disk; ranges are honoured, so an
// interrupted download can go on where it stopped.
func (h *Handler) bulkFile(w http.ResponseWriter, r *http.Request) error {
	if h.opts.Bulk == nil {
		return h.noBulk(r)
	}
	q := r.URL.Query()
	f, err := h.opts.Bulk.File(r.Context(), q.Get("job"), q.Get("file"))
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/fhir+ndjson")
	w.Header().Set("Cache-Control", "no-store")
	http.ServeContent(w, r, "", fi.ModTime(), f)
	return nil
}
