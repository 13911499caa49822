package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"sharedcare/internal/fhir"
	"sharedcare/internal/outcome"
	"sharedcare/internal/record"
	"sharedcare/internal/requestid"
)

// writeJSON writes a FHIR JSON body, indented when the client asked for
// _pretty. Bodies from the store are already compact JSON, so the common
// case copies bytes.
func writeJSON(w http.ResponseWriter, f format, status int, body []byte) {
	if f.pretty {
		if v, err := fhir.Parse(body); err == nil {
			body = fhir.MarshalIndent(v)
		}
	}
	hd := w.Header()
	hd["Content-Type"] = []string{fhirJSON}
	hd["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	w.Write(body)
}

// setVersionHeaders sets ETag and Last-Modified for v
// (https://hl7.org/fhir/R4/http.html#versioning).
func setVersionHeaders(w http.ResponseWriter, v *record.Version) {
	hd := w.Header()
	hd["Etag"] = []string{etag(v.VersionID)}
	hd["Last-Modified"] = []string{v.LastUpdated.UTC().Format(http.TimeFormat)}
}

func etag(vid int64) string { return `W/"` + strconv.FormatInt(vid, 10) + `"` }

// parseETag reads a version from an ETag, weak or strong, quoted or not:
// W/"3", "3" and 3 all give 3.
func parseETag(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "W/")
	s = strings.Trim(s, `"`)
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n > 0
}

// notModified reports whether a conditional read may answer 304.
func notModified(r *http.Request, v *record.Version) bool {
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		for _, t := range strings.Split(inm, ",") {
			if t = strings.TrimSpace(t); t == "*" {
				return true
			}
			if n, ok := parseETag(t); ok && n == v.VersionID {
				return true
			}
		}
		return false // If-None-Match wins over If-Modified-Since (RFC 9110 13.1.3)
	}
	if ims := r.Header.Get("If-Modified-Since"); ims != "" {
		if t, err := http.ParseTime(ims); err == nil && !v.LastUpdated.Truncate(time.Second).After(t) {
			return true
		}
	}
	return false
}

// WriteOutcome renders issues as an OperationOutcome, for the middleware
// that answers before a request reaches the API (load shedding, auth).
func WriteOutcome(w http.ResponseWriter, r *http.Request, status int, issues []outcome.Issue) {
	f, _ := negotiate(r)
	writeJSON(w, f, status, fhir.Marshal(operationOutcome(issues)))
}

// writeOutcome renders issues as an OperationOutcome.
func (h *Handler) writeOutcome(w http.ResponseWriter, r *http.Request, status int, issues []outcome.Issue) {
	f, _ := negotiate(r) // an error here was already the reason for the outcome
	writeJSON(w, f, status, fhir.Marshal(operationOutcome(issues)))
}

func operationOutcome(issues []outcome.Issue) fhir.Value {
	oo := fhir.ObjectValue("resourceType", fhir.StringValue("OperationOutcome"))
	list := fhir.Value{Kind: fhir.Array}
	for _, is := range issues {
		item := fhir.ObjectValue("severity", fhir.StringValue(is.Severity), "code", fhir.StringValue(is.Code))
		if is.Diagnostics != "" {
			item.Set("diagnostics", fhir.StringValue(is.Diagnostics))
		}
		if is.Expression != "" {
			item.Set("expression", fhir.Value{Kind: fhir.Array, Items: []fhir.Value{fhir.StringValue(is.Expression)}})
		}
		list.Items = append(list.Items, item)
	}
	if len(list.Items) == 0 {
		list.Items = append(list.Items, fhir.ObjectValue("severity", fhir.StringValue(outcome.Information), "code", fhir.StringValue(outcome.CodeInformation), "diagnostics", fhir.StringValue("All OK")))
	}
	oo.Set("issue", list)
	return oo
}

// baseURL is the FHIR base for Location and fullUrl.
func (h *Handler) baseURL(r *http.Request) string {
	if h.base != "" {
		return h.base
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/fhir"
}

// prefer is the return preference of the Prefer header
// (https://hl7.org/fhir/R4/http.html#ops).
func prefer(r *http.Request) string {
	for _, p := range strings.Split(r.Header.Get("Prefer"), ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(p), "return="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return "representation"
}

// writeWritten answers a create or update per the Prefer header.
func (h *Handler) writeWritten(w http.ResponseWriter, r *http.Request, f format, status int, v *record.Version, warnings []outcome.Issue) {
	setVersionHeaders(w, v)
	w.Header().Set("Location", h.baseURL(r)+"/"+v.Type+"/"+v.ID+"/_history/"+strconv.FormatInt(v.VersionID, 10))
	switch prefer(r) {
	case "minimal":
		w.WriteHeader(status)
	case "OperationOutcome":
		issues := append([]outcome.Issue{{Severity: outcome.Information, Code: outcome.CodeInformation, Diagnostics: "stored " + v.Type + "/" + v.ID + " version " + strconv.FormatInt(v.VersionID, 10)}}, warnings...)
		writeJSON(w, f, status, fhir.Marshal(operationOutcome(issues)))
	default:
		writeJSON(w, f, status, v.Body)
	}
}

// RequestID returns the request's id, set by WithRequestID.
func RequestID(ctx context.Context) string { return requestid.FromContext(ctx) }

var reqCounter atomic.Uint64

// WithRequestID gives each request an id, echoed in X-Request-ID: the
// client's own when it sent a sane one, else a new one.
func WithRequestID(prefix string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-ID")
		if id == "" || len(id) > 64 || strings.ContainsFunc(id, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
			id = prefix + strconv.FormatUint(reqCounter.Add(1), 36)
		}
		w.Header()["X-Request-Id"] = []string{id}
		next.ServeHTTP(w, r.WithContext(requestid.NewContext(r.Context(), id)))
	})
}
