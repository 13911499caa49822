package api

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"sharedcare/internal/fhir"
	"sharedcare/internal/outcome"
	"sharedcare/internal/record"
)

// maxBundleEntries bounds a transaction or batch.
const maxBundleEntries = 10_000

// bundle answers POST /fhir with a transaction or batch Bundle
// (https://hl7.org/fhir/R4/http.html#transaction).
func (h *Handler) bundle(w http.ResponseWriter, r *http.Request) error {
	f, err := negotiate(r)
	if err != nil {
		return err
	}
	b, err := h.readBody(w, r)
	if err != nil {
		return err
	}
	if b.Str("resourceType") != "Bundle" {
		return outcome.New(http.StatusBadRequest, outcome.CodeInvalid, "resourceType", "POST to the base takes a transaction or batch Bundle")
	}
	entries := b.Get("entry")
	if entries != nil && entries.Kind != fhir.Array {
		return outcome.New(http.StatusBadRequest, outcome.CodeStructure, "Bundle.entry", "entry must be an array")
	}
	n := 0
	if entries != nil {
		n = len(entries.Items)
	}
	if n > maxBundleEntries {
		return outcome.Newf(http.StatusRequestEntityTooLarge, outcome.CodeTooCostly, "Bundle.entry", "a Bundle may hold at most %d entries, not %d", maxBundleEntries, n)
	}
	switch typ := b.Str("type"); typ {
	case "transaction":
		return h.transaction(w, r, f, entries)
	case "batch":
		return h.batch(w, r, f, entries)
	default:
		return outcome.Newf(http.StatusBadRequest, outcome.CodeInvalid, "Bundle.type", "Bundle.type %q: POST to the base takes transaction or batch", typ)
	}
}

// entryRequest reads an entry's request element.
type entryRequest struct {
	method, url, ifMatch, ifNoneMatch, ifNoneExist, ifModifiedSince string
}

func readEntryRequest(e *fhir.Value, loc string) (entryRequest, error) {
	req := e.Get("request")
	if req == nil || req.Kind != fhir.Object {
		return entryRequest{}, outcome.New(http.StatusBadRequest, outcome.CodeRequired, loc+".request", "every entry of a transaction or batch needs a request")
	}
	er := entryRequest{method: req.Str("method"), url: req.Str("url"), ifMatch: req.Str("ifMatch"),
		ifNoneMatch: req.Str("ifNoneMatch"), ifNoneExist: req.Str("ifNoneExist"), ifModifiedSince: req.Str("ifModifiedSince")}
	switch er.method {
	case "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH":
	default:
		return er, outcome.Newf(http.StatusBadRequest, outcome.CodeValue, loc+".request.method", "request.method %q is not GET, HEAD, POST, PUT, PATCH or DELETE", er.method)
	}
	if er.url == "" {
		return er, outcome.New(http.StatusBadRequest, outcome.CodeRequired, loc+".request.url", "request.url is missing")
	}
	return er, nil
}

func (h *Handler) transaction(w http.ResponseWriter, r *http.Request, f format, entries *fhir.Value) error {
	var writes []record.Entry
	var writeIdx []int // entry index of each write
	var gets []int
	var reqs []entryRequest
	n := 0
	if entries != nil {
		n = len(entries.Items)
	}
	for i := 0; i < n; i++ {
		e := &entries.Items[i]
		loc := "Bundle.entry[" + strconv.Itoa(i) + "]"
		er, err := readEntryRequest(e, loc)
		if err != nil {
			return err
		}
		reqs = append(reqs, er)
		url := strings.TrimPrefix(er.url, h.baseURL(r)+"/")
		switch er.method {
		case "GET", "HEAD":
			gets = append(gets, i)
			continue
		}
		im := int64(0)
		if er.ifMatch != "" {
			v, ok := parseETag(er.ifMatch)
			if !ok {
				return outcome.Newf(http.StatusBadRequest, outcome.CodeValue, loc+".request.ifMatch", "%q is not a version ETag", er.ifMatch)
			}
			im = v
		}
		entry := record.Entry{Method: er.method, URL: url, FullURL: e.Str("fullUrl"), IfMatch: im, IfNoneExist: er.ifNoneExist, Location: loc}
		if res := e.Get("resource"); res != nil {
			entry.Resource = res
		}
		if er.method == "PATCH" {
			if entry.Resource == nil {
				return outcome.New(http.StatusBadRequest, outcome.CodeRequired, loc+".resource", "a PATCH entry needs its patch as the resource")
			}
			p, err := entryPatch(entry.Resource, loc)
			if err != nil {
				return err
			}
			entry.Patch, entry.Resource = p, nil
		}
		writes = append(writes, entry)
		writeIdx = append(writeIdx, i)
	}
	results, err := h.rec.Transact(r.Context(), writes)
	if err != nil {
		return err
	}
	out := make([]fhir.Value, n)
	base := h.baseURL(r)
	withResource := prefer(r) == "representation" && r.Header.Get("Prefer") != ""
	for k, res := range results {
		out[writeIdx[k]] = writeResultEntry(base, res, withResource)
	}
	for _, i := range gets {
		out[i] = h.dispatchEntry(r, reqs[i], nil)
	}
	writeJSON(w, f, http.StatusOK, fhir.Marshal(responseBundle("transaction-response", out)))
	return nil
}

func writeResultEntry(base string, res record.EntryResult, withResource bool) fhir.Value {
	resp := fhir.ObjectValue("status", fhir.StringValue(strconv.Itoa(res.Status)+" "+http.StatusText(res.Status)))
	e := fhir.Value{Kind: fhir.Object}
	if v := res.Version; v != nil {
		e.Set("fullUrl", fhir.StringValue(base+"/"+v.Type+"/"+v.ID))
		if withResource && !v.Deleted {
			if body, err := fhir.Parse(v.Body); err == nil {
				e.Set("resource", body)
			}
		}
		if res.Status != http.StatusNoContent {
			resp.Set("location", fhir.StringValue(v.Type+"/"+v.ID+"/_history/"+strconv.FormatInt(v.VersionID, 10)))
		}
		resp.Set("etag", fhir.StringValue(etag(v.VersionID)))
		resp.Set("lastModified", fhir.StringValue(v.LastUpdated.Format(record.InstantFormat)))
	}
	if len(res.Warnings) > 0 {
		resp.Set("outcome", operationOutcome(res.Warnings))
	}
	e.Set("response", resp)
	return e
}

func responseBundle(typ string, entries []fhir.Value) fhir.Value {
	b := fhir.ObjectValue("resourceType", fhir.StringValue("Bundle"), "id", fhir.StringValue(record.NewUUID()), "type", fhir.StringValue(typ))
	if len(entries) > 0 {
		b.Set("entry", fhir.Value{Kind: fhir.Array, Items: entries})
	}
	return b
}

// batch runs each entry on its own, as the single interaction it names,
// through this handler's routes: a failure is that entry's outcome and
// does not stop the others. Entries run a few at a time, so that their
// writes share commits.
func (h *Handler) batch(w http.ResponseWriter, r *http.Request, f format, entries *fhir.Value) error {
	n := 0
	if entries != nil {
		n = len(entries.Items)
	}
	out := make([]fhir.Value, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := 0; i < n; i++ {
		e := &entries.Items[i]
		loc := "Bundle.entry[" + strconv.Itoa(i) + "]"
		er, err := readEntryRequest(e, loc)
		if err != nil {
			eo, _ := outcome.As(err)
			out[i] = failedEntry(eo.Status, eo.Issues)
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			out[i] = h.dispatchEntry(r, er, e.Get("resource"))
		})
	}
	wg.Wait()
	writeJSON(w, f, http.StatusOK, fhir.Marshal(responseBundle("batch-response", out)))
	return nil
}

func failedEntry(status int, issues []outcome.Issue) fhir.Value {
	return fhir.ObjectValue("response", fhir.ObjectValue(
		"status", fhir.StringValue(strconv.Itoa(status)+" "+http.StatusText(status)),
		"outcome", operationOutcome(issues)))
}

// dispatchEntry runs one entry as an HTTP request against this handler,
// with the outer request's context (and so its caller's identity), and
// turns the response into a response entry.
func (h *Handler) dispatchEntry(outer *http.Request, er entryRequest, res *fhir.Value) fhir.Value {
	target := strings.TrimPrefix(er.url, h.baseURL(outer)+"/")
	var body io.Reader
	if res != nil {
		body = bytes.NewReader(fhir.Marshal(*res))
	}
	req, err := http.NewRequestWithContext(outer.Context(), er.method, "/fhir/"+strings.TrimPrefix(target, "/"), body)
	if err != nil {
		return failedEntry(http.StatusBadRequest, []outcome.Issue{{Severity: outcome.Err, Code: outcome.CodeInvalid, Diagnostics: "request.url cannot be read: " + err.Error()}})
	}
	req.Host = outer.Host
	req.TLS = outer.TLS
	if res != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	for k, v := range map[string]string{"If-Match": er.ifMatch, "If-None-Match": er.ifNoneMatch, "If-None-Exist": er.ifNoneExist, "If-Modified-Since": er.ifModifiedSince} {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	if p := outer.Header.Get("Prefer"); p != "" {
		req.Header.Set("Prefer", p)
	}
	rec := &recorder{header: http.Header{}, Code: http.StatusOK}
	h.mux.ServeHTTP(rec, req)
	resp := fhir.ObjectValue("status", fhir.StringValue(strconv.Itoa(rec.Code)+" "+http.StatusText(rec.Code)))
	if loc := rec.Header().Get("Location"); loc != "" {
		resp.Set("location", fhir.StringValue(strings.TrimPrefix(loc, h.baseURL(outer)+"/")))
	}
	if et := rec.Header().Get("ETag"); et != "" {
		resp.Set("etag", fhir.StringValue(et))
	}
	if lm := rec.Header().Get("Last-Modified"); lm != "" {
		if t, err := http.ParseTime(lm); err == nil {
			resp.Set("lastModified", fhir.StringValue(t.UTC().Format(record.InstantFormat)))
		}
	}
	e := fhir.Value{Kind: fhir.Object}
	if rec.Body.Len() > 0 {
		if v, err := fhir.Parse(rec.Body.Bytes()); err == nil {
			if rec.Code >= 400 {
				resp.Set("outcome", v)
			} else {
				e.Set("resource", v)
			}
		}
	}
	e.Set("response", resp)
	return e
}

// recorder captures a response that an entry's dispatch writes.
type recorder struct {
	header      http.Header
	Code        int
	Body        bytes.Buffer
	wroteHeader bool
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if !r.wroteHeader {
		r.Code, r.wroteHeader = code, true
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.Body.Write(b)
}

func decodeBase64(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }
