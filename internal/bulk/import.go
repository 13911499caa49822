package bulk

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"sharedcare/internal/auth"
	"sharedcare/internal/fhir"
	"sharedcare/internal/outcome"
	"sharedcare/internal/record"
)

// importSpec is what an import job reads, and how far it got.
type importSpec struct {
	InputSource string  `json:"inputSource,omitempty"`
	Inputs      []input `json:"inputs"`
	// Local marks an import run by the command line in its own process:
	// its inputs are local files, so no server's worker takes it over.
	Local bool `json:"local,omitempty"`
}

// input is one file and the position the import committed in it.
type input struct {
	Input
	// Offset is the byte after the last line committed, Line its number
	// (from 1): a resumed import reads on from there.
	Offset int64 `json:"offset,omitempty"`
	Line   int   `json:"line,omitempty"`
	// Written counts resources stored, Unchanged those already there
	// (a repeated import), Errors those rejected, each reported as an
	// OperationOutcome line in ErrFile (of ErrBytes so far).
	Written   int    `json:"written,omitempty"`
	Unchanged int    `json:"unchanged,omitempty"`
	Errors    int    `json:"errors,omitempty"`
	ErrFile   string `json:"errFile"`
	ErrBytes  int64  `json:"errBytes,omitempty"`
	Done      bool   `json:"done,omitempty"`
}

// importBatch is how many resources are written in one transaction.
const importBatch = 500

// Import kicks off an import of the manifest (see ParseManifest) for the
// caller in ctx, and returns the job's id; request is the kick-off URL,
// for the completion manifest. The inputs must be http or https URLs the
// server can fetch. The caller needs system scopes that create and update
// each input's type.
func (s *Service) Import(ctx context.Context, manifest []byte, request string) (string, error) {
	p, err := caller(ctx)
	if err != nil {
		return "", err
	}
	req, err := ParseManifest(manifest)
	if err != nil {
		return "", err
	}
	spec, err := s.importSpec(ctx, req, false)
	if err != nil {
		return "", err
	}
	return s.create(ctx, p, &job{Kind: "import", Request: request, TransactionTime: s.now().UTC(), Import: spec})
}

// importSpec checks an import's inputs and the caller's right to write
// their types (audited), and plans the job.
func (s *Service) importSpec(ctx context.Context, req *ImportRequest, local bool) (*importSpec, error) {
	var errs outcome.List
	var types []string
	spec := &importSpec{InputSource: req.InputSource, Local: local}
	for i, in := range req.Inputs {
		u, err := url.Parse(in.URL)
		switch {
		case err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "":
		case s.opts.AllowFiles && (err == nil && u.Scheme == "file" || !strings.Contains(in.URL, "://")):
		default:
			errs.Add(outcome.CodeNotSupported, "input["+strconv.Itoa(i)+"].url", "input url %q is not an http or https URL this server can fetch", in.URL)
		}
		if !slices.Contains(types, in.Type) {
			types = append(types, in.Type)
		}
		spec.Inputs = append(spec.Inputs, input{Input: in, ErrFile: "errors-" + strconv.Itoa(i+1) + ".ndjson"})
	}
	if err := errs.Err(http.StatusBadRequest); err != nil {
		return nil, err
	}
	q := url.Values{"_type": {strings.Join(types, ",")}}
	if req.InputSource != "" {
		q.Set("inputSource", req.InputSource)
	}
	if err := s.rec.BulkKickoff(ctx, "import", types, q.Encode(), auth.Create, auth.Update); err != nil {
		return nil, err
	}
	return spec, nil
}

// runImport reads each input on from where it stopped.
func (s *Service) runImport(ctx context.Context, j *job) error {
	dir := filepath.Join(s.opts.Dir, j.ID)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("bulk: import folder: %w", err)
	}
	for i := range j.Import.Inputs {
		for attempt := 1; !j.Import.Inputs[i].Done; attempt++ {
			err := s.importInput(ctx, j, i, dir)
			e, ok := outcome.As(err)
			switch {
			case err == nil:
			case ok && e.Status == http.StatusBadGateway && attempt < maxAttempts && ctx.Err() == nil:
				// The input could not be fetched or broke off: try again
				// after a while, from the last line committed.
				s.log.WarnContext(ctx, "import input failed; trying again", "job", j.ID, "input", i+1, "attempt", attempt, "err", err)
				t := time.NewTimer(time.Duration(attempt) * time.Second)
				select {
				case <-ctx.Done():
					t.Stop()
					return ctx.Err()
				case <-t.C:
				}
			default:
				return err
			}
		}
	}
	return nil
}

// maxAttempts bounds how often an import reads an input that keeps
// breaking off.
const maxAttempts = 4

// pending is a line read, waiting for its batch: parsed, or already
// rejected (reported with the batch, so that the error file keeps the
// input's order).
type pending struct {
	line int
	res  *fhir.Value
	id   string
	err  error
}

func (s *Service) importInput(ctx context.Context, j *job, i int, dir string) error {
	in := &j.Import.Inputs[i]
	src, err := s.open(ctx, in.URL, in.Offset)
	if err != nil {
		return err
	}
	defer src.Close()
	ef, err := os.OpenFile(filepath.Join(dir, in.ErrFile), os.O_CREATE|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("bulk: import error file: %w", err)
	}
	defer ef.Close()
	if fi, err := ef.Stat(); err != nil || fi.Size() < in.ErrBytes {
		return fmt.Errorf("bulk: import error file %s is shorter than its checkpoint", in.ErrFile)
	}
	if err := ef.Truncate(in.ErrBytes); err != nil {
		return fmt.Errorf("bulk: import error file: %w", err)
	}
	if _, err := ef.Seek(in.ErrBytes, io.SeekStart); err != nil {
		return fmt.Errorf("bulk: import error file: %w", err)
	}
	errw := bufio.NewWriterSize(ef, 64<<10)
	reject := func(line int, err error, id string) {
		errw.Write(rejection(i, line, in.Type, id, err))
		errw.WriteByte('\n')
		in.Errors++
	}
	lr := newLineReader(src, in.Offset)
	line := in.Line
	batch := make([]pending, 0, importBatch)
	pace := s.pacer()
	// commit writes the batch, then records how far the input has been
	// read: a crash in between re-reads the batch, which then changes
	// nothing.
	commit := func(end int64) error {
		var res []*fhir.Value
		for _, b := range batch {
			if b.err == nil {
				res = append(res, b.res)
			}
		}
		if len(res) > 0 {
			out, err := s.rec.Import(ctx, res)
			if err != nil {
				return err
			}
			k := 0
			for i := range batch {
				if batch[i].err != nil {
					continue
				}
				r := out[k]
				k++
				switch {
				case r.Err != nil:
					batch[i].err, batch[i].id = r.Err, r.ID
				case r.Unchanged:
					in.Unchanged++
				default:
					in.Written++
				}
			}
		}
		for _, b := range batch {
			if b.err != nil {
				reject(b.line, b.err, b.id)
			}
		}
		batch = batch[:0]
		if err := errw.Flush(); err != nil {
			return fmt.Errorf("bulk: import error file: %w", err)
		}
		in.ErrBytes, _ = ef.Seek(0, io.SeekCurrent)
		in.Offset, in.Line = end, line
		if err := s.checkpoint(ctx, j); err != nil {
			return err
		}
		return pace.pause(ctx)
	}
	for {
		raw, _, err := lr.next()
		if err == io.EOF {
			break
		}
		line++
		p := pending{line: line}
		switch {
		case errors.Is(err, errLineTooLong):
			p.err = outcome.Newf(http.StatusRequestEntityTooLarge, outcome.CodeTooLong, "", "the line is longer than %d bytes", maxLine)
		case err != nil:
			return outcome.Newf(http.StatusBadGateway, outcome.CodeTransient, "", "input %d (%s) could not be read to the end: %v; the import can be resumed", i+1, in.Type, err)
		default:
			p.err = parseLine(raw, in.Type, &p)
		}
		batch = append(batch, p)
		if len(batch) == importBatch {
			if err := commit(lr.offset()); err != nil {
				return err
			}
		}
	}
	if err := commit(lr.offset()); err != nil {
		return err
	}
	in.Done = true
	return s.checkpoint(ctx, j)
}

// parseLine reads one NDJSON line as a resource of type typ into p; the
// error rejects it.
func parseLine(raw []byte, typ string, p *pending) error {
	v, err := fhir.Parse(raw)
	switch {
	case err != nil:
		return outcome.Newf(http.StatusBadRequest, outcome.CodeStructure, "", "the line is not valid JSON: %v", err)
	case v.Kind == fhir.Object && v.Str("resourceType") != typ:
		p.id = v.Str("id")
		return outcome.Newf(http.StatusBadRequest, outcome.CodeInvalid, "resourceType", "a %s in the %s input", v.Str("resourceType"), typ)
	}
	p.res = &v
	return nil
}

// rejection is the OperationOutcome line reporting a rejected resource:
// which input and line, which resource, and every issue.
func rejection(input, line int, typ, id string, err error) []byte {
	where := "input " + strconv.Itoa(input+1) + " (" + typ + ") line " + strconv.Itoa(line)
	if id != "" {
		where += ", " + typ + "/" + id
	}
	e, ok := outcome.As(err)
	if !ok {
		e = outcome.New(http.StatusInternalServerError, outcome.CodeException, "", "the server could not store it")
	}
	issues := fhir.Value{Kind: fhir.Array}
	for _, is := range e.Issues {
		item := fhir.ObjectValue("severity", fhir.StringValue(is.Severity), "code", fhir.StringValue(is.Code),
			"diagnostics", fhir.StringValue(where+": "+is.Diagnostics))
		if is.Expression != "" {
			item.Set("expression", fhir.Value{Kind: fhir.Array, Items: []fhir.Value{fhir.StringValue(is.Expression)}})
		}
		issues.Items = append(issues.Items, item)
	}
	return fhir.Marshal(fhir.ObjectValue("resourceType", fhir.StringValue("OperationOutcome"), "issue", issues))
}

// open returns an input's bytes from offset on: an HTTP range request
// where the server honours it, else the bytes before offset are skipped.
// Transparent compression is turned off, so that offsets count the bytes
// of the file itself.
func (s *Service) open(ctx context.Context, raw string, offset int64) (io.ReadCloser, error) {
	u, err := url.Parse(raw)
	if err == nil && (u.Scheme == "http" || u.Scheme == "https") {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/fhir+ndjson, application/ndjson, */*")
		req.Header.Set("Accept-Encoding", "identity")
		if offset > 0 {
			req.Header.Set("Range", "bytes="+strconv.FormatInt(offset, 10)+"-")
		}
		resp, err := s.opts.Client.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, outcome.Newf(http.StatusBadGateway, outcome.CodeTransient, "", "input %s could not be fetched: %v", redact(u), err)
		}
		switch {
		case resp.StatusCode == http.StatusPartialContent && offset > 0:
			return resp.Body, nil
		case resp.StatusCode == http.StatusOK:
			if _, err := io.CopyN(io.Discard, resp.Body, offset); err != nil {
				resp.Body.Close()
				return nil, outcome.Newf(http.StatusBadGateway, outcome.CodeTransient, "", "input %s is shorter than the import had read", redact(u))
			}
			return resp.Body, nil
		}
		resp.Body.Close()
		return nil, outcome.Newf(http.StatusBadGateway, outcome.CodeTransient, "", "input %s answered %s", redact(u), resp.Status)
	}
	if !s.opts.AllowFiles {
		return nil, outcome.Newf(http.StatusBadRequest, outcome.CodeNotSupported, "", "input %q is not an http or https URL", raw)
	}
	path := raw
	if err == nil && u.Scheme == "file" {
		path = u.Path
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("bulk: input: %w", err)
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("bulk: input: %w", err)
	}
	return f, nil
}

// redact drops a URL's query, which may carry a signature.
func redact(u *url.URL) string {
	c := *u
	c.RawQuery, c.User = "", nil
	return c.String()
}

func (sp *importSpec) progress() string {
	w, u, e, done := 0, 0, 0, 0
	for _, in := range sp.Inputs {
		w, u, e = w+in.Written, u+in.Unchanged, e+in.Errors
		if in.Done {
			done++
		}
	}
	return fmt.Sprintf("imported %d resources (%d already there), %d rejected; %d of %d files done", w+u, u, e, done, len(sp.Inputs))
}

// manifest is the import's completion JSON.
func (sp *importSpec) manifest(j *job, fileBase string) []byte {
	type item struct {
		Type      string         `json:"type"`
		InputURL  string         `json:"inputUrl"`
		Count     int            `json:"count"`
		URL       string         `json:"url,omitempty"`
		Extension map[string]int `json:"extension,omitempty"`
	}
	m := struct {
		TransactionTime     string `json:"transactionTime"`
		Request             string `json:"request"`
		RequiresAccessToken bool   `json:"requiresAccessToken"`
		Output              []item `json:"output"`
		Error               []item `json:"error"`
	}{TransactionTime: j.TransactionTime.Format(record.InstantFormat), Request: j.Request, RequiresAccessToken: true, Output: []item{}, Error: []item{}}
	for _, in := range sp.Inputs {
		m.Output = append(m.Output, item{Type: "OperationOutcome", InputURL: in.URL, Count: in.Written + in.Unchanged,
			Extension: map[string]int{"written": in.Written, "unchanged": in.Unchanged}})
		if in.Errors > 0 {
			m.Error = append(m.Error, item{Type: "OperationOutcome", InputURL: in.URL, Count: in.Errors, URL: fileBase + in.ErrFile})
		}
	}
	b, _ := json.Marshal(m)
	return b
}

// ImportSummary is what an import did.
type ImportSummary struct {
	Job                        string
	Resumed                    bool // it went on from an earlier, interrupted run
	Written, Unchanged, Errors int
	// ErrorFiles are the OperationOutcome NDJSON files of the inputs with
	// rejected resources.
	ErrorFiles []string
}

// ImportLocal imports inputs in the calling goroutine, as the caller in
// ctx, for the command line: the job is recorded like any other, under an
// id derived from key (the same inputs give the same key), so that running
// the same import again after an interruption resumes it, and after it
// finished imports again (changing nothing). Rejected resources go to
// OperationOutcome files in Options.Dir.
func (s *Service) ImportLocal(ctx context.Context, key string, req *ImportRequest) (*ImportSummary, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(key))
	id := "local-" + hex.EncodeToString(sum[:12])
	j, err := s.load(ctx, id)
	resumed := err == nil && j.State == running && j.Import != nil && j.Owner == owner(p)
	if err != nil {
		if _, ok := outcome.As(err); !ok {
			return nil, err
		}
	}
	if !resumed {
		spec, err := s.importSpec(ctx, req, true)
		if err != nil {
			return nil, err
		}
		j = &job{ID: id, Kind: "import", Owner: owner(p), As: principalOf(p), Request: "sharedcare import", Created: s.now().UTC(),
			TransactionTime: s.now().UTC(), Import: spec}
		os.RemoveAll(filepath.Join(s.opts.Dir, id))
	}
	j.State, j.Node, j.Lease, j.Finished, j.Failure = running, s.node, s.now().Add(s.opts.Lease), time.Time{}, nil
	if err := s.save(ctx, j); err != nil {
		return nil, err
	}
	if err := s.runImport(ctx, j); err != nil {
		return nil, err
	}
	j.State, j.Finished = complete, s.now().UTC()
	if err := s.save(ctx, j); err != nil {
		return nil, err
	}
	out := &ImportSummary{Job: id, Resumed: resumed}
	for _, in := range j.Import.Inputs {
		out.Written += in.Written
		out.Unchanged += in.Unchanged
		out.Errors += in.Errors
		if in.Errors > 0 {
			out.ErrorFiles = append(out.ErrorFiles, filepath.Join(s.opts.Dir, id, in.ErrFile))
		}
	}
	return out, nil
}
