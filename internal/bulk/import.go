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
	"sync"
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
			if !s.opts.AllowFiles && !s.allowed.allowsURL(u) {
				errs.Add(outcome.CodeForbidden, "input["+strconv.Itoa(i)+"].url", "input url %q is on a loopback or private network, which this server does not fetch from unless its operator allows it (-import-from)", in.URL)
			}
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

// pending is one line of an input: read, then parsed, then written or
// rejected (rejections are reported with their batch, so that the error
// file keeps the input's order).
type pending struct {
	line      int
	raw       []byte
	res       *fhir.Value
	id        string
	err       error
	unchanged bool
}

func (s *Service) importInput(ctx context.Context, j *job, i int, dir string) error {
	in := &j.Import.Inputs[i]
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
	save := func() error {
		if err := errw.Flush(); err != nil {
			return fmt.Errorf("bulk: import error file: %w", err)
		}
		in.ErrBytes, _ = ef.Seek(0, io.SeekCurrent)
		return s.checkpoint(ctx, j)
	}

	// Three stages, so that reading, validating and writing overlap: this
	// goroutine's reader cuts the input into batches; importWorkers
	// batches are parsed and written through record at once (validation
	// uses every core, the store's writer commits one while the next is
	// checked); and the batches' outcomes are taken in input order, so
	// that the position saved is always one before which every line is
	// written (or reported). A crash after a batch is written but before
	// its position is saved reads it again, which then changes nothing.
	src, err := s.open(ctx, in.URL, in.Offset)
	if err != nil {
		return err
	}
	pctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer src.Close() // before the wait: it ends a read the reader is blocked in
	defer stop()
	work := make(chan *lineBatch)
	order := make(chan *lineBatch, importWorkers)
	wg.Go(func() {
		defer close(order)
		defer close(work)
		readBatches(pctx, src, in, i, work, order)
	})
	for range importWorkers {
		wg.Go(func() {
			for b := range work {
				s.importBatch(pctx, b, in.Type)
			}
		})
	}
	pace := s.pacer()
	// The position is saved at least every second while lines are
	// written, and when the input stalls, so that an interruption costs
	// little to redo.
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	dirty := false
	tock := func() error {
		if !dirty {
			return nil
		}
		dirty = false
		return save()
	}
	next := func() (*lineBatch, error) {
		for {
			select {
			case b := <-order:
				return b, nil // nil when the input is done
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-tick.C:
				if err := tock(); err != nil {
					return nil, err
				}
			}
		}
	}
	wait := func(b *lineBatch) error {
		for {
			select {
			case <-b.done:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			case <-tick.C:
				if err := tock(); err != nil {
					return err
				}
			}
		}
	}
	for {
		b, err := next()
		if err != nil {
			return err
		}
		if b == nil {
			break
		}
		if err := wait(b); err != nil {
			return err
		}
		if b.err != nil {
			return b.err
		}
		for _, p := range b.items {
			switch {
			case p.err != nil:
				reject(p.line, p.err, p.id)
			case p.unchanged:
				in.Unchanged++
			default:
				in.Written++
			}
		}
		in.Offset, in.Line = b.end, b.line
		dirty = true
		if b.readErr != nil {
			// Keep what was read before the input broke off.
			if err := save(); err != nil {
				return err
			}
			return b.readErr
		}
		if err := pace.pause(ctx); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	in.Done = true
	return save()
}

// importWorkers is how many batches are validated and written at once.
const importWorkers = 2

// lineBatch is a run of an input's lines on their way to the store.
type lineBatch struct {
	items []pending
	// end is the offset after the batch's last line, line its number.
	end  int64
	line int
	// readErr, on the last batch, is why the input could not be read on.
	readErr error
	err     error         // the store failed: the import stops
	done    chan struct{} // closed when items hold their outcomes
}

// readBatches cuts an input into batches of importBatch lines and sends
// each to work, and to order in input order.
func readBatches(ctx context.Context, src io.Reader, in *input, i int, work, order chan<- *lineBatch) {
	lr := newLineReader(src, in.Offset)
	line := in.Line
	b := &lineBatch{done: make(chan struct{})}
	send := func() bool {
		b.end, b.line = lr.offset(), line
		select {
		case order <- b:
		case <-ctx.Done():
			return false
		}
		select {
		case work <- b:
		case <-ctx.Done():
			return false
		}
		b = &lineBatch{done: make(chan struct{})}
		return true
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
			line--
			b.readErr = outcome.Newf(http.StatusBadGateway, outcome.CodeTransient, "", "input %d (%s) could not be read to the end: %v; the import can be resumed", i+1, in.Type, err)
			send()
			return
		default:
			p.raw = append([]byte(nil), raw...)
		}
		b.items = append(b.items, p)
		if len(b.items) == importBatch && !send() {
			return
		}
	}
	if len(b.items) > 0 {
		send()
	}
}

// importBatch parses a batch's lines and writes the resources through
// record, noting each line's outcome.
func (s *Service) importBatch(ctx context.Context, b *lineBatch, typ string) {
	defer close(b.done)
	var res []*fhir.Value
	var at []int
	for k := range b.items {
		p := &b.items[k]
		if p.err != nil || p.raw == nil {
			continue
		}
		if p.err = parseLine(p.raw, typ, p); p.err == nil {
			res = append(res, p.res)
			at = append(at, k)
		}
		p.raw = nil
	}
	if len(res) == 0 {
		return
	}
	out, err := s.rec.Import(ctx, res)
	if err != nil {
		b.err = err
		return
	}
	for n, r := range out {
		p := &b.items[at[n]]
		p.res = nil
		p.err, p.unchanged = r.Err, r.Unchanged
		if r.Err != nil {
			p.id = r.ID
		}
	}
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
