// Package migrate moves a practice from one FHIR server to another, as a
// supplier switch needs: an Organization and the patients registered with
// it (Patient.generalPractitioner), or the members of a Group, each with
// their whole record and the resources it refers to. It uses Bulk Data
// $export at the source and $import at the target where their
// CapabilityStatements offer them, and paged search and batch writes where
// they do not; then it reads the same scope back from the target and
// compares, type by type, the count and a content hash of every resource
// (see ContentHash), and reports.
//
// A migration keeps its state and files in a folder: run again with the
// same folder after an interruption, it goes on from where it stopped.
//
// migrate is a client: it speaks HTTP to both servers like any supplier
// would, and imports only internal/fhir and internal/outcome.
package migrate

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"sharedcare/internal/fhir"
)

// Options configure a migration.
type Options struct {
	From, To Endpoint
	// Organization moves this Organization (its id) and the patients
	// registered with it; Group moves the members of this Group. Give one.
	Organization, Group string
	// StateDir holds the migration's state and the files it moves; the
	// same StateDir resumes an interrupted migration. Required.
	StateDir string
	// Serve is the address files are served on for the target's $import
	// to fetch ("" means 127.0.0.1:0, any free port on loopback), and
	// ServeURL the URL the target reaches it by ("" means http://Serve).
	Serve, ServeURL string
	// Search reads with paged search and writes with batch Bundles even
	// where the servers offer $export and $import.
	Search bool
	// HTTPClient sends the requests; nil means one with timeouts.
	HTTPClient *http.Client
	Log        *slog.Logger
	// Phase, when set, is told as each phase begins: "extract", "load",
	// "verify".
	Phase func(string)
}

// Run migrates the scope from opts.From to opts.To and verifies it. The
// report says what was found on each side; err is for a migration that
// could not be carried through (run it again to resume). A report whose OK
// is false means the target does not hold what the source does.
func Run(ctx context.Context, opts Options) (*Report, error) {
	if (opts.Organization == "") == (opts.Group == "") {
		return nil, errors.New("migrate: give an Organization or a Group to move")
	}
	if opts.StateDir == "" {
		return nil, errors.New("migrate: no state folder")
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment,
			ResponseHeaderTimeout: 2 * time.Minute, IdleConnTimeout: time.Minute, MaxIdleConnsPerHost: 8}}
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Phase == nil {
		opts.Phase = func(string) {}
	}
	m := &migration{opts: opts, log: opts.Log.With("component", "migrate"),
		from: newClient(opts.From, opts.HTTPClient), to: newClient(opts.To, opts.HTTPClient)}
	return m.run(ctx)
}

type migration struct {
	opts     Options
	log      *slog.Logger
	from, to *client
	st       *state
}

// state is what a migration has done, saved in StateDir/state.json after
// every step worth keeping.
type state struct {
	From, To string
	Scope    string // Organization/ID or Group/ID
	Started  time.Time
	Phase    string // extract, load, verify, done
	Patients []string
	Source   extraction
	Load     loading
	Target   extraction
	Report   *Report `json:",omitempty"`
}

// extraction is the scope read from one server into a folder of NDJSON
// files, one type per file.
type extraction struct {
	Method string // "bulk $export" or "paged search"
	Status string `json:",omitempty"` // the bulk export's status URL
	Files  []file
	Next   int  // paged search: patients done
	Refs   bool // paged search: the referenced resources are done
	Done   bool
}

type file struct {
	Name  string
	Type  string
	URL   string `json:",omitempty"` // where a bulk export's file is
	Count int    // resources, as the manifest says (bulk) or as written (search)
	Size  int64  // bytes on disk at the last save
	Done  bool
}

type loading struct {
	Method string // "bulk $import" or "batch PUT"
	Status string `json:",omitempty"` // the bulk import's status URL
	Lines  map[string]int
	Errors int
	Issues []string `json:",omitempty"` // the first rejections' diagnostics
	Done   bool
}

func (m *migration) path(parts ...string) string {
	return filepath.Join(append([]string{m.opts.StateDir}, parts...)...)
}

func (m *migration) save() error {
	b, err := json.MarshalIndent(m.st, "", "  ")
	if err != nil {
		return err
	}
	tmp := m.path("state.json.tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, m.path("state.json"))
}

func (m *migration) run(ctx context.Context) (*Report, error) {
	if err := os.MkdirAll(m.opts.StateDir, 0o750); err != nil {
		return nil, err
	}
	scope := "Organization/" + m.opts.Organization
	if m.opts.Group != "" {
		scope = "Group/" + m.opts.Group
	}
	m.st = &state{From: m.from.ep.Base, To: m.to.ep.Base, Scope: scope, Started: time.Now().UTC(), Phase: "extract"}
	if b, err := os.ReadFile(m.path("state.json")); err == nil {
		var prev state
		if err := json.Unmarshal(b, &prev); err != nil {
			return nil, fmt.Errorf("migrate: %s: %w", m.path("state.json"), err)
		}
		if prev.From != m.st.From || prev.To != m.st.To || prev.Scope != m.st.Scope {
			return nil, fmt.Errorf("migrate: %s holds the migration of %s from %s to %s; use another folder", m.opts.StateDir, prev.Scope, prev.From, prev.To)
		}
		m.st = &prev
		m.log.InfoContext(ctx, "resuming", "phase", prev.Phase)
	}
	fromCaps, err := capabilities(ctx, m.from)
	if err != nil {
		return nil, err
	}
	toCaps, err := capabilities(ctx, m.to)
	if err != nil {
		return nil, err
	}
	if m.st.Phase == "extract" {
		m.opts.Phase("extract")
		if m.st.Patients == nil {
			if m.st.Patients, err = m.patients(ctx, m.from); err != nil {
				return nil, err
			}
			if err := m.save(); err != nil {
				return nil, err
			}
		}
		if err := m.extract(ctx, m.from, fromCaps, "source", &m.st.Source); err != nil {
			return nil, fmt.Errorf("migrate: reading %s from the source: %w", scope, err)
		}
		m.st.Phase = "load"
		if err := m.save(); err != nil {
			return nil, err
		}
	}
	if m.st.Phase == "load" {
		m.opts.Phase("load")
		if err := m.load(ctx, toCaps); err != nil {
			return nil, fmt.Errorf("migrate: writing to the target: %w", err)
		}
		m.st.Phase = "verify"
		if err := m.save(); err != nil {
			return nil, err
		}
	}
	if m.st.Phase == "verify" {
		m.opts.Phase("verify")
		if err := m.extract(ctx, m.to, toCaps, "target", &m.st.Target); err != nil {
			return nil, fmt.Errorf("migrate: reading %s back from the target: %w", scope, err)
		}
		r, err := m.verify()
		if err != nil {
			return nil, err
		}
		m.st.Report, m.st.Phase = r, "done"
		if err := m.save(); err != nil {
			return nil, err
		}
	}
	return m.st.Report, nil
}

// caps is what a server's CapabilityStatement offers.
type caps struct {
	patientExport, groupExport, everything, importOp bool
}

func capabilities(ctx context.Context, c *client) (caps, error) {
	var cs struct {
		ResourceType string
		FHIRVersion  string `json:"fhirVersion"`
		Rest         []struct {
			Operation []struct{ Name, Definition string }
			Resource  []struct {
				Type      string
				Operation []struct{ Name, Definition string }
			}
		}
	}
	if err := c.getJSON(ctx, "metadata", &cs); err != nil {
		return caps{}, fmt.Errorf("migrate: CapabilityStatement of %s: %w", c.ep.Base, err)
	}
	if cs.ResourceType != "CapabilityStatement" || !strings.HasPrefix(cs.FHIRVersion, "4.0") {
		return caps{}, fmt.Errorf("migrate: %s is not a FHIR R4 server", c.ep.Base)
	}
	var out caps
	for _, r := range cs.Rest {
		for _, o := range r.Operation {
			if o.Name == "import" {
				out.importOp = true
			}
		}
		for _, res := range r.Resource {
			for _, o := range res.Operation {
				switch {
				case res.Type == "Patient" && (o.Name == "export" || o.Name == "patient-export"):
					out.patientExport = true
				case res.Type == "Group" && (o.Name == "export" || o.Name == "group-export"):
					out.groupExport = true
				case res.Type == "Patient" && o.Name == "everything":
					out.everything = true
				}
			}
		}
	}
	return out, nil
}

// patients lists the ids of the scope's patients at the source.
func (m *migration) patients(ctx context.Context, c *client) ([]string, error) {
	var ids []string
	if m.opts.Group != "" {
		var g struct {
			Member []struct {
				Entity   struct{ Reference string }
				Inactive bool
			}
		}
		if err := c.getJSON(ctx, "Group/"+url.PathEscape(m.opts.Group), &g); err != nil {
			return nil, err
		}
		for _, mb := range g.Member {
			if i := strings.LastIndex(mb.Entity.Reference, "Patient/"); i >= 0 && !mb.Inactive {
				ids = append(ids, mb.Entity.Reference[i+len("Patient/"):])
			}
		}
	} else {
		q := url.Values{"general-practitioner": {"Organization/" + m.opts.Organization}, "_count": {"1000"}, "_elements": {"id"}}
		err := eachResource(ctx, c, "Patient?"+q.Encode(), func(raw []byte) error {
			var p struct{ ID string }
			if err := json.Unmarshal(raw, &p); err != nil {
				return err
			}
			ids = append(ids, p.ID)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if ids == nil {
		ids = []string{}
	}
	m.log.InfoContext(ctx, "scope", "scope", m.st.Scope, "patients", len(ids))
	return ids, nil
}

// eachResource pages through a search (following its next links) and
// passes each entry's resource, as raw JSON, to fn.
func eachResource(ctx context.Context, c *client, u string, fn func(raw []byte) error) error {
	for u != "" {
		var b struct {
			Link []struct {
				Relation, URL string
			}
			Entry []struct {
				Resource json.RawMessage
			}
		}
		if err := c.getJSON(ctx, u, &b); err != nil {
			return err
		}
		u = ""
		for _, l := range b.Link {
			if l.Relation == "next" {
				u = l.URL
			}
		}
		for _, e := range b.Entry {
			if len(e.Resource) > 0 {
				if err := fn(e.Resource); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// extract reads the scope from c into dir, by bulk export where c offers
// it, else by paged search.
func (m *migration) extract(ctx context.Context, c *client, cp caps, dir string, x *extraction) error {
	if x.Done {
		return nil
	}
	if err := os.MkdirAll(m.path(dir), 0o750); err != nil {
		return err
	}
	if x.Method == "" {
		x.Method = "paged search"
		if !m.opts.Search && (m.opts.Group != "" && cp.groupExport || m.opts.Group == "" && cp.patientExport) {
			x.Method = "bulk $export"
		}
	}
	var err error
	if x.Method == "bulk $export" {
		err = m.exportBulk(ctx, c, dir, x)
	} else {
		err = m.exportSearch(ctx, c, cp, dir, x)
	}
	if err != nil {
		return err
	}
	// The scope's own resource, which a patient-level export need not hold.
	scopeFile := "scope-" + strings.Split(m.st.Scope, "/")[0] + ".ndjson"
	if !slices.ContainsFunc(x.Files, func(f file) bool { return f.Name == scopeFile }) {
		resp, err := c.do(ctx, http.MethodGet, m.st.Scope, nil, nil)
		if err != nil {
			return err
		}
		if err := check(resp, http.StatusOK); err != nil {
			return err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		line, err := compactLine(b)
		if err != nil {
			return err
		}
		if err := os.WriteFile(m.path(dir, scopeFile), line, 0o640); err != nil {
			return err
		}
		x.Files = append(x.Files, file{Name: scopeFile, Type: strings.Split(m.st.Scope, "/")[0], Count: 1, Size: int64(len(line)), Done: true})
	}
	x.Done = true
	return m.save()
}

// compactLine is a resource's JSON as one NDJSON line.
func compactLine(raw []byte) ([]byte, error) {
	var b bytes.Buffer
	b.Grow(len(raw) + 1)
	if err := json.Compact(&b, raw); err != nil {
		return nil, err
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// exportBulk runs a bulk export at c and downloads its files.
func (m *migration) exportBulk(ctx context.Context, c *client, dir string, x *extraction) error {
	for x.Files == nil {
		if x.Status == "" {
			var resp *http.Response
			var err error
			h := http.Header{"Prefer": {"respond-async"}}
			if m.opts.Group != "" {
				resp, err = c.do(ctx, http.MethodGet, "Group/"+url.PathEscape(m.opts.Group)+"/$export", nil, h)
			} else {
				params := []map[string]any{}
				for _, id := range m.st.Patients {
					params = append(params, map[string]any{"name": "patient", "valueReference": map[string]string{"reference": "Patient/" + id}})
				}
				body, _ := json.Marshal(map[string]any{"resourceType": "Parameters", "parameter": params})
				h.Set("Content-Type", "application/fhir+json")
				resp, err = c.do(ctx, http.MethodPost, "Patient/$export", body, h)
			}
			if err != nil {
				return err
			}
			if err := check(resp, http.StatusAccepted); err != nil {
				return err
			}
			resp.Body.Close()
			if x.Status = resp.Header.Get("Content-Location"); x.Status == "" {
				return errors.New("the export kick-off gave no Content-Location")
			}
			if err := m.save(); err != nil {
				return err
			}
		}
		manifest, err := m.await(ctx, c, x.Status)
		var es *errStatus
		if errors.As(err, &es) && es.Status == http.StatusNotFound {
			x.Status = "" // gone (expired, or deleted): export again
			continue
		}
		if err != nil {
			return err
		}
		var mf struct {
			Output []struct {
				Type, URL string
				Count     int
			}
		}
		if err := json.Unmarshal(manifest, &mf); err != nil {
			return fmt.Errorf("the export manifest: %w", err)
		}
		x.Files = []file{}
		for i, o := range mf.Output {
			x.Files = append(x.Files, file{Name: fmt.Sprintf("%03d-%s.ndjson", i+1, o.Type), Type: o.Type, URL: o.URL, Count: o.Count})
		}
		if err := m.save(); err != nil {
			return err
		}
	}
	for i := range x.Files {
		f := &x.Files[i]
		if f.Done || f.URL == "" {
			continue
		}
		if err := download(ctx, c, f.URL, m.path(dir, f.Name)); err != nil {
			return err
		}
		n, size, err := countLines(m.path(dir, f.Name))
		if err != nil {
			return err
		}
		if n != f.Count && f.Count != 0 {
			return fmt.Errorf("%s has %d resources, the manifest says %d", f.Name, n, f.Count)
		}
		f.Count, f.Size, f.Done = n, size, true
		if err := m.save(); err != nil {
			return err
		}
	}
	// The files are ours now: let the server delete its copies.
	if resp, err := c.do(ctx, http.MethodDelete, x.Status, nil, nil); err == nil {
		resp.Body.Close()
	}
	return nil
}

// await polls a bulk status URL until the job is done, and returns the
// completion manifest.
func (m *migration) await(ctx context.Context, c *client, status string) ([]byte, error) {
	last := ""
	for {
		resp, err := c.do(ctx, http.MethodGet, status, nil, http.Header{"Accept": {"application/json"}})
		if err != nil {
			return nil, err
		}
		if resp.StatusCode == http.StatusAccepted {
			resp.Body.Close()
			if p := resp.Header.Get("X-Progress"); p != last {
				m.log.InfoContext(ctx, "waiting", "progress", p)
				last = p
			}
			if err := sleep(ctx, min(retryAfter(resp.Header.Get("Retry-After"), time.Second), 5*time.Second)); err != nil {
				return nil, err
			}
			continue
		}
		if err := check(resp, http.StatusOK); err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		return io.ReadAll(resp.Body)
	}
}

// download fetches u into path, going on from what path already holds.
func download(ctx context.Context, c *client, u, path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o640)
	if err != nil {
		return err
	}
	defer f.Close()
	have, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	h := http.Header{"Accept": {"application/fhir+ndjson"}}
	if have > 0 {
		h.Set("Range", "bytes="+strconv.FormatInt(have, 10)+"-")
	}
	resp, err := c.do(ctx, http.MethodGet, u, nil, h)
	if err != nil {
		return err
	}
	if resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && have > 0 {
		resp.Body.Close()
		return nil // it was all there
	}
	if err := check(resp, http.StatusOK, http.StatusPartialContent); err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK && have > 0 {
		if err := f.Truncate(0); err != nil {
			return err
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		return err
	}
	return f.Sync()
}

// countLines counts a file's non-blank lines and returns its size.
func countLines(path string) (n int, size int64, err error) {
	err = eachLine(path, func(line []byte) error { n++; return nil })
	if fi, serr := os.Stat(path); serr == nil {
		size = fi.Size()
	}
	return n, size, err
}

// eachLine calls fn with each non-blank line of an NDJSON file.
func eachLine(path string, fn func(line []byte) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	for {
		line, err := r.ReadBytes('\n')
		if t := strings.TrimSpace(string(line)); t != "" {
			if ferr := fn([]byte(t)); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// searchSave is how many patients a paged-search extraction reads between
// saves of its state.
const searchSave = 20

// exportSearch reads the scope by paged search: each patient's record
// ($everything where offered, else a search per compartment type), then
// the resources outside the compartment they refer to.
func (m *migration) exportSearch(ctx context.Context, c *client, cp caps, dir string, x *extraction) error {
	w := &typeFiles{dir: m.path(dir), x: x, seen: map[string]bool{}}
	if err := w.open(); err != nil {
		return err
	}
	defer w.close()
	for x.Next < len(m.st.Patients) {
		id := m.st.Patients[x.Next]
		if err := m.patientRecord(ctx, c, cp, id, w.add); err != nil {
			return fmt.Errorf("Patient/%s: %w", id, err)
		}
		x.Next++
		if x.Next%searchSave == 0 || x.Next == len(m.st.Patients) {
			if err := w.sync(); err != nil {
				return err
			}
			if err := m.save(); err != nil {
				return err
			}
		}
	}
	if !x.Refs {
		refs := map[string][]string{}
		inComp := compartment()
		for _, f := range x.Files {
			err := eachLine(filepath.Join(w.dir, f.Name), func(line []byte) error {
				references(line, func(typ, id string) {
					if !inComp[typ] && !w.seen[typ+"/"+id] && !slices.Contains(refs[typ], id) {
						refs[typ] = append(refs[typ], id)
					}
				})
				return nil
			})
			if err != nil {
				return err
			}
		}
		for _, typ := range slices.Sorted(maps.Keys(refs)) {
			for chunk := range slices.Chunk(refs[typ], 100) {
				q := url.Values{"_id": {strings.Join(chunk, ",")}, "_count": {"100"}}
				if err := eachResource(ctx, c, typ+"?"+q.Encode(), w.add); err != nil {
					return err
				}
			}
		}
		if err := w.sync(); err != nil {
			return err
		}
		x.Refs = true
		if err := m.save(); err != nil {
			return err
		}
	}
	return nil
}

// patientRecord reads one patient's record and passes each resource to add.
func (m *migration) patientRecord(ctx context.Context, c *client, cp caps, id string, add func([]byte) error) error {
	if cp.everything {
		return eachResource(ctx, c, "Patient/"+url.PathEscape(id)+"/$everything?_count=1000", add)
	}
	resp, err := c.do(ctx, http.MethodGet, "Patient/"+url.PathEscape(id), nil, nil)
	if err != nil {
		return err
	}
	if err := check(resp, http.StatusOK); err != nil {
		return err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if err := add(b); err != nil {
		return err
	}
	for _, typ := range slices.Sorted(maps.Keys(compartment())) {
		for _, param := range fhir.CompartmentParams("Patient", typ) {
			if typ == "Patient" || param == "{def}" {
				continue
			}
			q := url.Values{param: {"Patient/" + id}, "_count": {"1000"}}
			if err := eachResource(ctx, c, typ+"?"+q.Encode(), add); err != nil {
				var es *errStatus
				if errors.As(err, &es) && es.Status == http.StatusBadRequest {
					continue // a parameter this server does not search by
				}
				return err
			}
		}
	}
	return nil
}

func compartment() map[string]bool {
	m := map[string]bool{"Patient": true}
	for _, t := range fhir.CompartmentTypes("Patient") {
		m[t] = true
	}
	return m
}

// typeFiles appends resources to one NDJSON file per type, once each.
type typeFiles struct {
	dir   string
	x     *extraction
	seen  map[string]bool // Type/id written
	files map[string]*os.File
	bufs  map[string]*bufio.Writer
}

// open truncates the files to their saved sizes (dropping what a crash
// left after the last save) and reads back what they hold.
func (w *typeFiles) open() error {
	w.files, w.bufs = map[string]*os.File{}, map[string]*bufio.Writer{}
	for i := range w.x.Files {
		f := &w.x.Files[i]
		path := filepath.Join(w.dir, f.Name)
		if err := os.Truncate(path, f.Size); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		n := 0
		err := eachLine(path, func(line []byte) error {
			var r struct{ ResourceType, ID string }
			if json.Unmarshal(line, &r) == nil {
				w.seen[r.ResourceType+"/"+r.ID] = true
			}
			n++
			return nil
		})
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		f.Count = n
	}
	return nil
}

// add writes a resource (raw JSON) to its type's file, unless written.
func (w *typeFiles) add(raw []byte) error {
	var r struct{ ResourceType, ID string }
	if err := json.Unmarshal(raw, &r); err != nil || r.ResourceType == "" || r.ID == "" {
		return fmt.Errorf("a search gave something that is not a resource with an id")
	}
	k := r.ResourceType + "/" + r.ID
	if w.seen[k] || r.ResourceType == "OperationOutcome" {
		return nil
	}
	w.seen[k] = true
	bw := w.bufs[r.ResourceType]
	if bw == nil {
		name := "search-" + r.ResourceType + ".ndjson"
		if !slices.ContainsFunc(w.x.Files, func(f file) bool { return f.Name == name }) {
			w.x.Files = append(w.x.Files, file{Name: name, Type: r.ResourceType, Done: true})
		}
		f, err := os.OpenFile(filepath.Join(w.dir, name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
		if err != nil {
			return err
		}
		w.files[r.ResourceType], bw = f, bufio.NewWriterSize(f, 64<<10)
		w.bufs[r.ResourceType] = bw
	}
	line, err := compactLine(raw)
	if err != nil {
		return err
	}
	if _, err := bw.Write(line); err != nil {
		return err
	}
	for i := range w.x.Files {
		if w.x.Files[i].Type == r.ResourceType && strings.HasPrefix(w.x.Files[i].Name, "search-") {
			w.x.Files[i].Count++
		}
	}
	return nil
}

// sync makes the files durable and records their sizes.
func (w *typeFiles) sync() error {
	for typ, bw := range w.bufs {
		if err := bw.Flush(); err != nil {
			return err
		}
		if err := w.files[typ].Sync(); err != nil {
			return err
		}
	}
	for i := range w.x.Files {
		if fi, err := os.Stat(filepath.Join(w.dir, w.x.Files[i].Name)); err == nil {
			w.x.Files[i].Size = fi.Size()
		}
	}
	return nil
}

func (w *typeFiles) close() {
	for typ, bw := range w.bufs {
		bw.Flush()
		w.files[typ].Close()
	}
}

var referenceKey = []byte(`"reference":"`)

// references calls fn with the type and id of each relative reference in
// a resource's compact JSON.
func references(body []byte, fn func(typ, id string)) {
	for {
		i := bytes.Index(body, referenceKey)
		if i < 0 {
			return
		}
		body = body[i+len(referenceKey):]
		j := bytes.IndexByte(body, '"')
		if j < 0 {
			return
		}
		ref := string(body[:j])
		body = body[j:]
		typ, rest, ok := strings.Cut(ref, "/")
		if !ok || !fhir.IsResourceType(typ) {
			continue
		}
		if id, _, _ := strings.Cut(rest, "/"); id != "" {
			fn(typ, id)
		}
	}
}

// load writes the source's files to the target: by $import where it is
// offered, else by batch Bundles of PUTs.
func (m *migration) load(ctx context.Context, cp caps) error {
	l := &m.st.Load
	if l.Done {
		return nil
	}
	if l.Method == "" {
		l.Method = "batch PUT"
		if cp.importOp && !m.opts.Search {
			l.Method = "bulk $import"
		}
	}
	var err error
	if l.Method == "bulk $import" {
		err = m.importBulk(ctx)
		if errors.Is(err, errImportRefused) {
			// The target does not fetch from where this tool serves the
			// files (its operator has not allowed that network): write
			// them with batch Bundles instead.
			m.log.WarnContext(ctx, "the target refused to fetch the files from this tool; writing them with batch Bundles instead (start the target with -import-from to allow it)", "err", err)
			l.Method, l.Status = "batch PUT", ""
			if err = m.save(); err == nil {
				err = m.putBatches(ctx)
			}
		}
	} else {
		err = m.putBatches(ctx)
	}
	if err != nil {
		return err
	}
	l.Done = true
	return m.save()
}

// errImportRefused is a target's refusal to fetch the files from where
// this tool serves them.
var errImportRefused = errors.New("the target's $import refused the file URLs")

// importBulk serves the files to the target's $import and waits for it.
func (m *migration) importBulk(ctx context.Context) error {
	l := &m.st.Load
	addr := m.opts.Serve
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("serving files to the target on %s: %w", addr, err)
	}
	tok := make([]byte, 16)
	rand.Read(tok)
	prefix := "/" + hex.EncodeToString(tok) + "/"
	files := map[string]bool{}
	for _, f := range m.st.Source.Files {
		files[f.Name] = true
	}
	dir := m.path("source")
	hs := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The random prefix makes the URLs capabilities: only the target,
		// told them in the manifest, can fetch the files.
		name, ok := strings.CutPrefix(r.URL.Path, prefix)
		if !ok || !files[name] {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/fhir+ndjson")
		http.ServeFile(w, r, filepath.Join(dir, name))
	})}
	var wg sync.WaitGroup
	wg.Go(func() { hs.Serve(ln) })
	defer func() {
		hs.Close()
		wg.Wait()
	}()
	base := m.opts.ServeURL
	if base == "" {
		base = "http://" + ln.Addr().String()
	}
	base = strings.TrimSuffix(base, "/") + prefix
	type input struct {
		Type string `json:"type"`
		URL  string `json:"url"`
	}
	var inputs []input
	for _, f := range m.st.Source.Files {
		if f.Count > 0 {
			inputs = append(inputs, input{Type: f.Type, URL: base + f.Name})
		}
	}
	// The served URLs change with each run, so a resumed migration imports
	// again (which changes nothing already there) rather than waiting on a
	// job whose inputs are gone.
	body, _ := json.Marshal(map[string]any{"inputFormat": "application/fhir+ndjson", "inputSource": m.from.ep.Base,
		"storageDetail": map[string]string{"type": "https"}, "input": inputs})
	resp, err := m.to.do(ctx, http.MethodPost, "$import", body, http.Header{"Prefer": {"respond-async"}, "Content-Type": {"application/json"}})
	if err != nil {
		return err
	}
	if resp.StatusCode == http.StatusBadRequest {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		var oo struct {
			Issue []struct{ Code, Diagnostics string }
		}
		if json.Unmarshal(b, &oo) == nil && len(oo.Issue) > 0 && oo.Issue[0].Code == "forbidden" {
			return fmt.Errorf("%w: %s", errImportRefused, oo.Issue[0].Diagnostics)
		}
		return &errStatus{Method: http.MethodPost, URL: redact(resp.Request.URL), Status: resp.StatusCode, Body: diagnostics(b)}
	}
	if err := check(resp, http.StatusAccepted); err != nil {
		return err
	}
	resp.Body.Close()
	l.Status = resp.Header.Get("Content-Location")
	if err := m.save(); err != nil {
		return err
	}
	manifest, err := m.await(ctx, m.to, l.Status)
	if err != nil {
		return err
	}
	var mf struct {
		Error []struct {
			URL   string
			Count int
		}
	}
	if err := json.Unmarshal(manifest, &mf); err != nil {
		return fmt.Errorf("the import's outcome: %w", err)
	}
	l.Errors, l.Issues = 0, nil
	for _, e := range mf.Error {
		l.Errors += e.Count
		if e.URL == "" || len(l.Issues) >= 20 {
			continue
		}
		path := m.path("import-errors.ndjson")
		os.Remove(path)
		if err := download(ctx, m.to, e.URL, path); err != nil {
			return err
		}
		eachLine(path, func(line []byte) error {
			if len(l.Issues) < 20 {
				l.Issues = append(l.Issues, diagnostics(line))
			}
			return nil
		})
	}
	if resp, err := m.to.do(ctx, http.MethodDelete, l.Status, nil, nil); err == nil {
		resp.Body.Close()
	}
	return nil
}

// putBatch is how many resources one batch Bundle carries.
const putBatch = 100

// putBatches writes the files as batch Bundles of PUTs, keeping ids; the
// target numbers the versions.
func (m *migration) putBatches(ctx context.Context) error {
	l := &m.st.Load
	if l.Lines == nil {
		l.Lines = map[string]int{}
	}
	for _, f := range m.st.Source.Files {
		var entries []map[string]any
		n := 0
		flush := func() error {
			if len(entries) == 0 {
				return nil
			}
			body, _ := json.Marshal(map[string]any{"resourceType": "Bundle", "type": "batch", "entry": entries})
			resp, err := m.to.do(ctx, http.MethodPost, "", body, http.Header{"Content-Type": {"application/fhir+json"}})
			if err != nil {
				return err
			}
			if err := check(resp, http.StatusOK); err != nil {
				return err
			}
			var out struct {
				Entry []struct {
					Response struct {
						Status  string
						Outcome json.RawMessage
					}
				}
			}
			err = json.NewDecoder(resp.Body).Decode(&out)
			resp.Body.Close()
			if err != nil {
				return err
			}
			for _, e := range out.Entry {
				if !strings.HasPrefix(e.Response.Status, "2") {
					l.Errors++
					if len(l.Issues) < 20 {
						l.Issues = append(l.Issues, e.Response.Status+" "+diagnostics(e.Response.Outcome))
					}
				}
			}
			l.Lines[f.Name] = n
			entries = entries[:0]
			return m.save()
		}
		err := eachLine(m.path("source", f.Name), func(line []byte) error {
			n++
			if n <= l.Lines[f.Name] {
				return nil // written before an interruption
			}
			var r struct{ ResourceType, ID string }
			if err := json.Unmarshal(line, &r); err != nil {
				return err
			}
			entries = append(entries, map[string]any{"resource": json.RawMessage(line),
				"request": map[string]string{"method": "PUT", "url": r.ResourceType + "/" + r.ID}})
			if len(entries) == putBatch {
				return flush()
			}
			return nil
		})
		if err != nil {
			return err
		}
		if err := flush(); err != nil {
			return err
		}
	}
	return nil
}
