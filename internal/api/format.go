package api

import (
	"bytes"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"sharedcare/internal/fhir"
	"sharedcare/internal/outcome"
)

const fhirJSON = "application/fhir+json; charset=utf-8"

// format is how a response is to be written.
type format struct {
	pretty bool
}

// negotiate picks the response format from _format and Accept. This server
// speaks JSON only; a request for XML (or anything else it cannot give) gets
// 406 with an OperationOutcome saying so.
func negotiate(r *http.Request) (format, error) {
	var f format
	var v string
	if r.URL.RawQuery != "" {
		q := r.URL.Query()
		f.pretty = q.Get("_pretty") == "true"
		v = q.Get("_format")
	}
	if v != "" {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "json", "application/json", "application/fhir+json", "application/json+fhir":
			return f, nil
		case "xml", "text/xml", "application/xml", "application/fhir+xml", "application/xml+fhir":
			return f, outcome.New(http.StatusNotAcceptable, outcome.CodeNotSupported, "_format", "this server speaks FHIR JSON only; XML is not supported")
		default:
			return f, outcome.Newf(http.StatusNotAcceptable, outcome.CodeNotSupported, "_format", "_format %q is not supported; use json", v)
		}
	}
	accept := r.Header.Get("Accept")
	switch accept {
	case "", "*/*", "application/fhir+json", "application/json":
		return f, nil
	}
	xml := false
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if qv, ok := params["q"]; ok {
			if w, err := strconv.ParseFloat(qv, 64); err == nil && w == 0 {
				continue
			}
		}
		switch mt {
		case "application/fhir+json", "application/json", "application/json+fhir", "*/*", "application/*", "text/*", "text/html", "text/plain":
			return f, nil
		case "application/fhir+xml", "application/xml", "text/xml", "application/xml+fhir":
			xml = true
		}
	}
	if xml {
		return f, outcome.New(http.StatusNotAcceptable, outcome.CodeNotSupported, "", "this server speaks FHIR JSON only; XML is not supported (Accept: application/fhir+json)")
	}
	return f, outcome.Newf(http.StatusNotAcceptable, outcome.CodeNotSupported, "", "none of the media types in Accept can be served; this server gives application/fhir+json")
}

// readBody reads and parses a JSON request body after checking its
// Content-Type: 415 for XML or other types, 413 past the size limit, 400
// for malformed JSON with the line and column of the fault.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) (*fhir.Value, error) {
	if err := checkContentType(r, "application/fhir+json", "application/json", "application/json+fhir"); err != nil {
		return nil, err
	}
	// The parsed value copies what it keeps, so the body's buffer goes
	// back to a pool: bundles of 100 KB and more would otherwise cost a
	// buffer grown by doubling per request.
	buf := bodyBufs.Get().(*bytes.Buffer)
	defer func() { // buffers go back empty, so a new Get needs no Reset
		if buf.Cap() <= 8<<20 {
			buf.Reset()
			bodyBufs.Put(buf)
		}
	}()
	if n := r.ContentLength; n > 0 && n <= h.maxBody {
		buf.Grow(int(n) + 1) // +1: ReadFrom wants room to see the end
	}
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, h.maxBody)); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	if len(b) == 0 {
		return nil, outcome.New(http.StatusBadRequest, outcome.CodeRequired, "", "the request has no body; send a FHIR JSON resource")
	}
	v, err := fhir.Parse(b)
	if err != nil {
		return nil, outcome.Newf(http.StatusBadRequest, outcome.CodeStructure, "", "the body is not valid JSON: %v", err)
	}
	return &v, nil
}

var bodyBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// checkContentType returns a 415 unless the request's media type is one of want.
func checkContentType(r *http.Request, want ...string) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return outcome.Newf(http.StatusUnsupportedMediaType, outcome.CodeNotSupported, "", "the request has no Content-Type; use %s", want[0])
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return outcome.Newf(http.StatusUnsupportedMediaType, outcome.CodeNotSupported, "", "Content-Type %q cannot be parsed", ct)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return outcome.Newf(http.StatusUnsupportedMediaType, outcome.CodeNotSupported, "", "charset %q is not supported; FHIR JSON is UTF-8", cs)
	}
	for _, w := range want {
		if mt == w {
			return nil
		}
	}
	if strings.Contains(mt, "xml") {
		return outcome.New(http.StatusUnsupportedMediaType, outcome.CodeNotSupported, "", "this server speaks FHIR JSON only; XML is not supported (Content-Type: application/fhir+json)")
	}
	return outcome.Newf(http.StatusUnsupportedMediaType, outcome.CodeNotSupported, "", "Content-Type %q is not supported; use %s", mt, want[0])
}
