// Package api is the FHIR REST face of the record: routes, content
// negotiation, ETags and conditional reads, Bundles, paging and operations.
// It reaches the data only through record.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"sharedcare/internal/outcome"
	"sharedcare/internal/record"
)

// Options configure a Handler.
type Options struct {
	Record *record.Service
	// MaxBody bounds a request body in bytes; 0 means 32 MiB.
	MaxBody int64
	// BaseURL is the FHIR base used in Location headers and fullUrls, such as
	// "https://ehr.example.nhs.uk/fhir"; "" derives it from each request.
	BaseURL string
	// Software names this server in the CapabilityStatement.
	Software, Version string
	// Security is the SMART on FHIR authorisation the CapabilityStatement
	// advertises in rest.security; nil advertises none.
	Security *Security
	// Bulk runs $export and $import; nil leaves them out (404, and not in
	// the CapabilityStatement).
	Bulk Bulk
	Log  *slog.Logger
	Now  func() time.Time
}

// Handler serves the FHIR API under /fhir.
type Handler struct {
	rec     *record.Service
	maxBody int64
	base    string
	opts    Options
	log     *slog.Logger
	mux     *http.ServeMux
	now     func() time.Time
	meta    []byte // the CapabilityStatement, built once
}

// New returns the FHIR API handler.
func New(opts Options) *Handler {
	h := &Handler{rec: opts.Record, maxBody: opts.MaxBody, base: strings.TrimSuffix(opts.BaseURL, "/"), opts: opts, log: opts.Log, now: opts.Now}
	if h.maxBody <= 0 {
		h.maxBody = 32 << 20
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	h.meta = h.capabilityStatement()
	mux := http.NewServeMux()
	route := func(pattern string, fn func(http.ResponseWriter, *http.Request) error) {
		mux.Handle(pattern, h.wrap(pattern, fn))
	}
	route("GET /fhir/metadata", h.capabilities)
	route("GET /fhir/$export", h.exportSystem)
	route("POST /fhir/$export", h.exportSystem)
	route("GET /fhir/Patient/$export", h.exportPatients)
	route("POST /fhir/$import", h.importBulk)
	route("GET /fhir/$bulk-status", h.bulkStatus)
	route("DELETE /fhir/$bulk-status", h.bulkCancel)
	route("GET /fhir/$bulk-file", h.bulkFile)
	route("GET /fhir", h.searchSystem)
	route("GET /fhir/{$}", h.searchSystem)
	route("POST /fhir/_search", h.searchPost)
	route("GET /fhir/{type}", h.searchType)
	route("POST /fhir/{type}/_search", h.searchPost)
	route("GET /fhir/_history", h.historySystem)
	route("GET /fhir/{type}/_history", h.historyType)
	route("GET /fhir/{type}/{id}", h.read)
	route("GET /fhir/{type}/{id}/_history", h.historyInstance)
	route("GET /fhir/{type}/{id}/_history/{vid}", h.vread)
	route("POST /fhir/{type}", h.create)
	route("PUT /fhir/{type}/{id}", h.update)
	route("PUT /fhir/{type}", h.updateConditional)
	route("PATCH /fhir/{type}/{id}", h.patchResource)
	route("DELETE /fhir/{type}/{id}", h.delete)
	route("DELETE /fhir/{type}", h.deleteConditional)
	route("POST /fhir", h.bundle)
	route("POST /fhir/{$}", h.bundle)
	route("POST /fhir/{type}/{id}", h.operationType)
	route("POST /fhir/{type}/{id}/{op}", h.operationInstance)
	route("GET /fhir/{type}/{id}/{op}", h.operationInstance)
	route("/fhir/", h.notFound)
	h.mux = mux
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// wrap turns an error-returning handler into an http.Handler: it renders
// errors, recovers panics and logs each request by route, never by URL
// (query strings carry names and NHS numbers).
func (h *Handler) wrap(route string, fn func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				h.log.ErrorContext(r.Context(), "panic", "route", route, "req_id", RequestID(r.Context()), "err", fmt.Sprint(p), "stack", string(debug.Stack()))
				h.writeError(w, r, route, fmt.Errorf("panic: %v", p))
			}
		}()
		if err := fn(w, r); err != nil {
			h.writeError(w, r, route, err)
		}
	})
}

// writeError is the one place that logs and renders a failed request.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, route string, err error) {
	e, ok := outcome.As(err)
	var mbe *http.MaxBytesError
	switch {
	case ok:
	case errors.As(err, &mbe):
		e = outcome.Newf(http.StatusRequestEntityTooLarge, outcome.CodeTooLong, "", "the request body is larger than the limit of %d bytes", mbe.Limit)
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away; nobody is listening for an answer.
		h.log.InfoContext(r.Context(), "request cancelled", "route", route, "req_id", RequestID(r.Context()))
		return
	case errors.Is(err, context.DeadlineExceeded):
		e = outcome.Unavailable(1, "the request took too long; try again")
		h.log.WarnContext(r.Context(), "request timed out", "route", route, "req_id", RequestID(r.Context()), "err", err)
	default:
		h.log.ErrorContext(r.Context(), "request failed", "route", route, "req_id", RequestID(r.Context()), "err", err)
		e = outcome.New(http.StatusInternalServerError, outcome.CodeException, "", "internal error; quote request id "+RequestID(r.Context()))
	}
	if e.Status >= 500 && ok {
		h.log.WarnContext(r.Context(), "request refused", "route", route, "req_id", RequestID(r.Context()), "status", e.Status, "err", e)
	}
	for k, v := range e.Headers {
		w.Header().Set(k, v)
	}
	if e.Status == http.StatusGone && e.VersionID != "" {
		w.Header().Set("ETag", `W/"`+e.VersionID+`"`)
	}
	h.writeOutcome(w, r, e.Status, e.Issues)
}

func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) error {
	// The mux also lands here for a known path with another method.
	return outcome.Newf(http.StatusNotFound, outcome.CodeNotSupported, "", "%s %s is not an interaction this server supports", r.Method, r.URL.Path)
}
