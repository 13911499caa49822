package bulk

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
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
	"sharedcare/internal/search"
)

// exportSpec is what an export job exports, and how far it got.
type exportSpec struct {
	Level string `json:"level"` // system | patient | group
	Group string `json:"group,omitempty"`
	// Since is _since; zero for all.
	Since time.Time `json:"since,omitzero"`
	// TypeFilters are _typeFilter's searches, "Type?query".
	TypeFilters []string `json:"typeFilters,omitempty"`
	// Patients confines a group export (or one given patient) to these
	// patients' compartments; nil for the system and all patients.
	Patients []string `json:"patients,omitempty"`
	// Referenced adds, after the compartment's types, the resources of
	// these types outside it that the exported resources refer to
	// (practitioners, organisations, medications ...).
	Referenced []string `json:"referenced,omitempty"`
	// Resolved is set when Referenced's parts have been added to Parts.
	Resolved bool   `json:"resolved,omitempty"`
	Parts    []part `json:"parts"`
}

// part is one output file: a type's resources (or its deletions since
// Since), and the position the export reached in it.
type part struct {
	Type    string `json:"type"`
	File    string `json:"file"`
	Deleted bool   `json:"deleted,omitempty"`
	// IDs, for a part of referenced resources, are the ones to export.
	IDs []string `json:"ids,omitempty"`
	// After is the seq of the last resource written, Bytes the file's size
	// after it and Count the resources in it: where a resumed export
	// continues.
	After int64 `json:"after,omitempty"`
	Bytes int64 `json:"bytes,omitempty"`
	Count int   `json:"count,omitempty"`
	Done  bool  `json:"done,omitempty"`
}

// ndjsonFormats are the _outputFormat values that mean NDJSON
// (https://hl7.org/fhir/uv/bulkdata/export.html#query-parameters).
var ndjsonFormats = []string{"", "application/fhir+ndjson", "application/ndjson", "ndjson"}

// Export kicks off an export for the caller in ctx and returns the job's
// id. level is "system" ([base]/$export), "patient" (Patient/$export) or
// "group" (Group/{groupID}/$export); params are the kick-off parameters
// (_outputFormat, _since, _type, _typeFilter, and for Patient and Group
// level patient, as "Patient/id" references); request is the kick-off URL,
// for the manifest. The export needs system scopes that read each type
// exported; with no _type it exports the types they allow. It fails with
// a 400 naming a parameter it does not support, rather than ignore it.
func (s *Service) Export(ctx context.Context, level, groupID string, params url.Values, request string) (string, error) {
	p, err := caller(ctx)
	if err != nil {
		return "", err
	}
	spec, err := s.parseExport(ctx, p, level, groupID, params)
	if err != nil {
		return "", err
	}
	return s.create(ctx, p, &job{Kind: "export", Request: request, TransactionTime: s.now().UTC(), Export: spec})
}

func badParam(name, format string, args ...any) error {
	return outcome.Newf(http.StatusBadRequest, outcome.CodeNotSupported, name, format, args...)
}

// compartment is the set of the Patient compartment's types, the Patient
// included.
func compartment() map[string]bool {
	m := map[string]bool{"Patient": true}
	for _, t := range fhir.CompartmentTypes("Patient") {
		m[t] = true
	}
	return m
}

func (s *Service) parseExport(ctx context.Context, p *auth.Principal, level, groupID string, params url.Values) (*exportSpec, error) {
	spec := &exportSpec{Level: level, Group: groupID}
	var types []string
	var patientRefs []string
	for name, vals := range params {
		switch name {
		case "_outputFormat":
			if len(vals) != 1 || !slices.Contains(ndjsonFormats, vals[0]) {
				return nil, badParam(name, "_outputFormat %q is not supported; this server writes application/fhir+ndjson", strings.Join(vals, ","))
			}
		case "_since":
			d, err := fhir.ParseDateRange(strings.Join(vals, ""))
			if len(vals) != 1 || err != nil || d.Precision < fhir.Second || !d.HasZone {
				return nil, outcome.Newf(http.StatusBadRequest, outcome.CodeValue, name, "_since %q is not an instant (such as 2024-01-31T09:00:00Z)", strings.Join(vals, ","))
			}
			spec.Since = d.Low
		case "_type":
			for _, v := range vals {
				for _, t := range strings.Split(v, ",") {
					if t = strings.TrimSpace(t); t == "" {
						continue
					}
					if !fhir.IsResourceType(t) {
						return nil, outcome.Newf(http.StatusBadRequest, outcome.CodeValue, name, "_type: %q is not a FHIR R4 resource type", t)
					}
					if !slices.Contains(types, t) {
						types = append(types, t)
					}
				}
			}
		case "_typeFilter":
			for _, v := range vals {
				for _, f := range strings.Split(v, ",") {
					if f = strings.TrimSpace(f); f != "" {
						spec.TypeFilters = append(spec.TypeFilters, f)
					}
				}
			}
		case "patient":
			if level == "system" {
				return nil, badParam(name, "patient applies to Patient and Group level exports, not to a system export")
			}
			for _, v := range vals {
				for _, r := range strings.Split(v, ",") {
					if r = strings.TrimSpace(r); r != "" {
						patientRefs = append(patientRefs, r)
					}
				}
			}
		case "_format", "_pretty":
		default:
			// _elements, includeAssociatedData, _until, organizeOutputBy ...
			return nil, badParam(name, "the export parameter %s is not supported; send the request without it", name)
		}
	}
	if len(types) > 0 {
		for _, t := range types {
			if err := record.SystemAllows(p, t, auth.Read); err != nil {
				return nil, err
			}
		}
	}
	inComp := compartment()
	var exportTypes []string
	switch level {
	case "system":
		if types == nil {
			for _, t := range fhir.ResourceTypes() {
				if t != "AuditEvent" && record.SystemAllows(p, t, auth.Read) == nil {
					types = append(types, t)
				}
			}
		}
		exportTypes = types
	case "patient", "group":
		// The Patient compartment, and what it refers to
		// (https://hl7.org/fhir/uv/bulkdata/export.html#bulk-data-kick-off-request).
		comp := []string{"Patient"}
		for _, t := range fhir.CompartmentTypes("Patient") {
			if t != "Patient" {
				comp = append(comp, t)
			}
		}
		slices.Sort(comp[1:])
		for _, t := range comp {
			if (types == nil || slices.Contains(types, t)) && record.SystemAllows(p, t, auth.Read) == nil {
				exportTypes = append(exportTypes, t)
			}
		}
		for _, t := range fhir.ResourceTypes() {
			if !inComp[t] && t != "AuditEvent" && (types == nil || slices.Contains(types, t)) && record.SystemAllows(p, t, auth.Read) == nil {
				spec.Referenced = append(spec.Referenced, t)
			}
		}
	default:
		return nil, fmt.Errorf("bulk: export level %q", level)
	}
	for _, f := range spec.TypeFilters {
		q, err := typeFilter(f)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(exportTypes, q.Type) && !slices.Contains(spec.Referenced, q.Type) {
			return nil, outcome.Newf(http.StatusBadRequest, outcome.CodeValue, "_typeFilter", "_typeFilter %q is for a type this export does not include", f)
		}
	}
	query := url.Values{"_type": {strings.Join(exportTypes, ",")}}
	if level == "group" {
		query.Set("group", groupID)
	}
	// The kick-off itself is audited, refused or not.
	if err := s.rec.BulkKickoff(ctx, "export", append(slices.Clone(exportTypes), spec.Referenced...), query.Encode(), auth.Read); err != nil {
		return nil, err
	}
	if level == "group" {
		members, err := s.groupMembers(ctx, groupID)
		if err != nil {
			return nil, err
		}
		spec.Patients = members
	}
	if len(patientRefs) > 0 {
		var ids []string
		for _, r := range patientRefs {
			id, ok := strings.CutPrefix(r, "Patient/")
			if !ok || !validFHIRID(id) {
				return nil, outcome.Newf(http.StatusBadRequest, outcome.CodeValue, "patient", "patient %q is not a reference to a Patient (Patient/id)", r)
			}
			if level == "group" && !slices.Contains(spec.Patients, id) {
				return nil, outcome.Newf(http.StatusBadRequest, outcome.CodeValue, "patient", "Patient/%s is not a member of Group/%s", id, groupID)
			}
			if _, err := s.rec.Read(ctx, "Patient", id); err != nil {
				return nil, err
			}
			ids = append(ids, id)
		}
		spec.Patients = ids
	}
	if level == "group" && len(spec.Patients) == 0 {
		spec.Patients = []string{} // a group with no members exports nothing, not everyone
	}
	for _, t := range exportTypes {
		spec.Parts = append(spec.Parts, part{Type: t, File: t + ".ndjson"})
	}
	if level == "system" && !spec.Since.IsZero() {
		// Deletions since _since, as transaction Bundles of DELETEs
		// (https://hl7.org/fhir/uv/bulkdata/export.html#response---complete-status).
		for _, t := range exportTypes {
			spec.Parts = append(spec.Parts, part{Type: t, File: t + ".deleted.ndjson", Deleted: true})
		}
	}
	return spec, nil
}

// typeFilter parses one _typeFilter search, "Type?params".
func typeFilter(f string) (*search.Query, error) {
	typ, raw, _ := strings.Cut(f, "?")
	vals, err := url.ParseQuery(raw)
	if err != nil || !fhir.IsResourceType(typ) || len(vals) == 0 {
		return nil, outcome.Newf(http.StatusBadRequest, outcome.CodeValue, "_typeFilter", "_typeFilter %q is not a search, Type?params", f)
	}
	for k := range vals {
		switch k {
		case "_count", "_sort", "_include", "_revinclude", "_summary", "_elements", "_total", "_page":
			return nil, outcome.Newf(http.StatusBadRequest, outcome.CodeNotSupported, "_typeFilter", "_typeFilter %q: %s does not filter; use search parameters only", f, k)
		}
	}
	return search.Parse(typ, vals, search.Options{})
}

// groupMembers reads a Group and returns the ids of its active Patient
// members.
func (s *Service) groupMembers(ctx context.Context, id string) ([]string, error) {
	v, err := s.rec.Read(ctx, "Group", id)
	if err != nil {
		return nil, err
	}
	g, err := fhir.Parse(v.Body)
	if err != nil {
		return nil, err
	}
	var out []string
	if ms := g.Get("member"); ms != nil && ms.Kind == fhir.Array {
		for i := range ms.Items {
			m := &ms.Items[i]
			if in := m.Get("inactive"); in != nil && in.Kind == fhir.Bool && in.Bool {
				continue
			}
			ref := m.Get("entity").Str("reference")
			if i := strings.LastIndex(ref, "Patient/"); i >= 0 {
				if pid := ref[i+len("Patient/"):]; validFHIRID(pid) && !slices.Contains(out, pid) {
					out = append(out, pid)
				}
			}
		}
	}
	return out, nil
}

func validFHIRID(id string) bool { return record.CheckID(id) == nil }

// runExport writes the job's parts, resuming each where it stopped.
func (s *Service) runExport(ctx context.Context, j *job) error {
	e := j.Export
	dir := filepath.Join(s.opts.Dir, j.ID)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("bulk: export folder: %w", err)
	}
	for {
		for i := range e.Parts {
			if e.Parts[i].Done {
				continue
			}
			if err := s.exportPart(ctx, j, &e.Parts[i], dir); err != nil {
				return err
			}
		}
		if len(e.Referenced) == 0 || e.Resolved {
			return nil
		}
		refs, err := referenced(dir, e)
		if err != nil {
			return err
		}
		for _, t := range slices.Sorted(maps.Keys(refs)) {
			ids := slices.Sorted(maps.Keys(refs[t]))
			e.Parts = append(e.Parts, part{Type: t, File: t + ".ndjson", IDs: ids})
		}
		e.Resolved = true
		if err := s.checkpoint(ctx, j); err != nil {
			return err
		}
	}
}

// referenced reads the finished parts' files and returns the resources
// outside the Patient compartment they refer to, by type, of the types
// the export includes.
func referenced(dir string, e *exportSpec) (map[string]map[string]bool, error) {
	refs := map[string]map[string]bool{}
	for _, p := range e.Parts {
		if p.Deleted || p.IDs != nil || p.Count == 0 {
			continue
		}
		f, err := os.Open(filepath.Join(dir, p.File))
		if err != nil {
			return nil, fmt.Errorf("bulk: read back %s: %w", p.File, err)
		}
		r := newLineReader(f, 0)
		for {
			line, _, err := r.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("bulk: read back %s: %w", p.File, err)
			}
			record.References(line, func(typ, id string) {
				if !slices.Contains(e.Referenced, typ) {
					return
				}
				if refs[typ] == nil {
					refs[typ] = map[string]bool{}
				}
				refs[typ][id] = true
			})
		}
		f.Close()
	}
	return refs, nil
}

// checkpointEvery is the longest a running export goes without saving
// its position.
const checkpointEvery = 5 * time.Second

// checkEvery is how many resources an export writes between looks at
// the clock for a checkpoint.
const checkEvery = 1000

// exportPart writes (or goes on writing) one part's file.
func (s *Service) exportPart(ctx context.Context, j *job, p *part, dir string) error {
	e := j.Export
	path := filepath.Join(dir, p.File)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("bulk: export file: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || fi.Size() < p.Bytes {
		// The file lost what the checkpoint counted (a crash before the
		// disk had it): write this part again from the start.
		p.After, p.Bytes, p.Count = 0, 0, 0
	}
	if err := f.Truncate(p.Bytes); err != nil {
		return fmt.Errorf("bulk: export file: %w", err)
	}
	if _, err := f.Seek(p.Bytes, io.SeekStart); err != nil {
		return fmt.Errorf("bulk: export file: %w", err)
	}
	w := bufio.NewWriterSize(f, 256<<10)
	q := &record.ScanQuery{Type: p.Type, Since: e.Since, After: p.After, Patients: e.Patients, Deleted: p.Deleted}
	if s.opts.Duty < 1 {
		// A query's rows are read without a pause: small batches keep each
		// stretch of a paced job's work short.
		q.Batch = pacedScanBatch
	}
	var filters []*search.Query
	for _, tf := range e.TypeFilters {
		if typ, _, _ := strings.Cut(tf, "?"); typ == p.Type && !p.Deleted {
			m, err := typeFilter(tf)
			if err != nil {
				return err
			}
			filters = append(filters, m)
		}
	}
	// Match keeps what matches any of its searches; a part of referenced
	// resources with a _typeFilter must match both, so its ids are then
	// checked here.
	var idSet map[string]bool
	switch {
	case p.IDs != nil && len(filters) > 0:
		q.Patients, q.Match = nil, filters
		idSet = map[string]bool{}
		for _, id := range p.IDs {
			idSet[id] = true
		}
	case p.IDs != nil:
		q.Patients = nil // referenced resources are outside the compartment
		for c := range slices.Chunk(p.IDs, 500) {
			m, err := search.Parse(p.Type, url.Values{"_id": {strings.Join(c, ",")}}, search.Options{})
			if err != nil {
				return err
			}
			q.Match = append(q.Match, m)
		}
	default:
		q.Match = filters
	}
	pace := s.pacer()
	last := time.Now()
	n := 0
	err = s.rec.Export(ctx, q, func(v *record.Version) error {
		if e.Level == "patient" && !p.Deleted && p.IDs == nil && len(v.Patients) == 0 {
			return nil // of this type, but in no patient's compartment
		}
		if idSet != nil && !idSet[v.ID] {
			return nil
		}
		var line []byte
		if p.Deleted {
			line = deletedBundle(v)
		} else {
			line = v.Body
		}
		w.Write(line)
		if err := w.WriteByte('\n'); err != nil {
			return fmt.Errorf("bulk: export file: %w", err)
		}
		p.After, p.Bytes, p.Count = v.Seq, p.Bytes+int64(len(line))+1, p.Count+1
		if err := pace.step(ctx); err != nil {
			return err
		}
		if n++; n%checkEvery == 0 {
			if time.Since(last) >= checkpointEvery {
				last = time.Now()
				if err := w.Flush(); err != nil {
					return fmt.Errorf("bulk: export file: %w", err)
				}
				return s.checkpoint(ctx, j)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("bulk: export file: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("bulk: export file: %w", err)
	}
	p.Done = true
	return s.checkpoint(ctx, j)
}

// deletedBundle is one line of a deleted file: a transaction Bundle with
// a DELETE of the resource.
func deletedBundle(v *record.Version) []byte {
	b := fhir.ObjectValue(
		"resourceType", fhir.StringValue("Bundle"),
		"meta", fhir.ObjectValue("lastUpdated", fhir.StringValue(v.LastUpdated.Format(record.InstantFormat))),
		"type", fhir.StringValue("transaction"),
		"entry", fhir.Value{Kind: fhir.Array, Items: []fhir.Value{fhir.ObjectValue(
			"request", fhir.ObjectValue("method", fhir.StringValue("DELETE"), "url", fhir.StringValue(v.Type+"/"+v.ID)),
		)}},
	)
	return fhir.Marshal(b)
}

func (e *exportSpec) progress() string {
	n, done := 0, 0
	current := ""
	for _, p := range e.Parts {
		n += p.Count
		if p.Done {
			done++
		} else if current == "" {
			current = p.Type
		}
	}
	s := "exported " + strconv.Itoa(n) + " resources; " + strconv.Itoa(done) + " of " + strconv.Itoa(len(e.Parts)) + " files done"
	if current != "" {
		s += ", now " + current
	}
	return s
}

// fileItem is one file in a completion manifest.
type fileItem struct {
	Type  string `json:"type"`
	URL   string `json:"url"`
	Count int    `json:"count"`
}

// manifest is the export's completion JSON
// (https://hl7.org/fhir/uv/bulkdata/export.html#response---complete-status).
func (e *exportSpec) manifest(j *job, fileBase string) []byte {
	m := struct {
		TransactionTime     string     `json:"transactionTime"`
		Request             string     `json:"request"`
		RequiresAccessToken bool       `json:"requiresAccessToken"`
		Output              []fileItem `json:"output"`
		Deleted             []fileItem `json:"deleted,omitempty"`
		Error               []fileItem `json:"error"`
	}{TransactionTime: j.TransactionTime.Format(record.InstantFormat), Request: j.Request, RequiresAccessToken: true,
		Output: []fileItem{}, Error: []fileItem{}}
	for _, p := range e.Parts {
		if p.Count == 0 {
			continue // no file for a type with no data
		}
		if p.Deleted {
			m.Deleted = append(m.Deleted, fileItem{Type: "Bundle", URL: fileBase + p.File, Count: p.Count})
			continue
		}
		m.Output = append(m.Output, fileItem{Type: p.Type, URL: fileBase + p.File, Count: p.Count})
	}
	b, _ := json.Marshal(m)
	return b
}
