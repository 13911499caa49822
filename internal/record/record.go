// Package record is the one door to the data: read, create, update, delete,
// history, validate (and, as they land, search, transaction and patch) as Go
// calls, each validated before anything is written. Every face of the
// server (the FHIR API, the web apps, exports and feeds) goes through it, so
// a rule enforced here holds everywhere.
package record

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"sharedcare/internal/access"
	"sharedcare/internal/audit"
	"sharedcare/internal/auth"
	"sharedcare/internal/fhir"
	"sharedcare/internal/outcome"
	"sharedcare/internal/search"
	"sharedcare/internal/store"
	"sharedcare/internal/validate"
)

// Validator checks a resource before it is stored: the warnings found, or
// an *outcome.Error when it must be refused. *validate.Validator is one.
type Validator interface {
	Resource(ctx context.Context, res *fhir.Value, w validate.Write) ([]outcome.Issue, error)
}

// Options configure a Service.
type Options struct {
	Store store.Store
	// Validator checks every write; nil means validate.New with no options.
	Validator Validator
	// Indexer extracts search index values; nil means a new search.Indexer.
	Indexer *search.Indexer
	// NewID returns a fresh server-assigned id; nil means a random UUID.
	NewID func() string
	// Now is the clock of the audit trail and access rules; nil: time.Now.
	Now func() time.Time
	// DurableReadAudit makes a read wait until its AuditEvent is on the
	// trail before answering, as writes always do. By default a read's
	// event is queued, and committed with others within milliseconds: a
	// read then costs a share of a commit rather than a wait for one, and
	// only a process crash in those milliseconds can lose events.
	DurableReadAudit bool
	Log              *slog.Logger
}

// Service is the record. It is safe for concurrent use.
type Service struct {
	store    store.Store
	validate Validator
	indexer  *search.Indexer
	newID    func() string
	log      *slog.Logger
	policy   *access.Policy
	trail    *audit.Trail
	// queueReads: reads' AuditEvents are queued, not waited for.
	queueReads bool
}

// New returns a Service over opts.Store.
func New(opts Options) *Service {
	s := &Service{store: opts.Store, validate: opts.Validator, indexer: opts.Indexer, newID: opts.NewID, log: opts.Log,
		queueReads: !opts.DurableReadAudit}
	if s.indexer == nil {
		s.indexer = search.NewIndexer()
	}
	if s.validate == nil {
		s.validate = validate.New(validate.Options{})
	}
	if s.newID == nil {
		s.newID = NewTimeUUID
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.trail = audit.New(opts.Store, opts.Now)
	s.policy = access.New(consents{s}, opts.Store, 0, opts.Now)
	return s
}

// NewUUID returns a random (version 4) UUID.
func NewUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return formatUUID(b)
}

// formatUUID writes b in the 8-4-4-4-12 hexadecimal form.
func formatUUID(b [16]byte) string {
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}

// NewTimeUUID returns a version 7 UUID (RFC 9562): 48 bits of Unix
// milliseconds, then 74 random bits. Ids made in one stretch of time sort
// together, so that a resource's row and the index entries that point at
// it are appended near the end of each B-tree instead of landing on a
// random page: random (v4) ids made every commit rewrite pages all over
// the resources table and the reference indexes. The time an id shows is
// about that of the resource's first version, which its history shows
// anyway.
func NewTimeUUID() string {
	var b [16]byte
	rand.Read(b[6:])
	ms := uint64(time.Now().UnixMilli())
	b[0], b[1], b[2], b[3], b[4], b[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	b[6] = b[6]&0x0f | 0x70
	b[8] = b[8]&0x3f | 0x80
	return formatUUID(b)
}

// validID reports whether id matches [A-Za-z0-9\-\.]{1,64}
// (https://hl7.org/fhir/R4/datatypes.html#id); a loop, as it runs on every
// request.
func validID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// CheckType returns a 404 *outcome.Error unless typ is a concrete resource type.
func CheckType(typ string) error {
	if !fhir.IsResourceType(typ) {
		return outcome.Newf(http.StatusNotFound, outcome.CodeNotSupported, "", "%q is not a resource type this server knows (FHIR R4)", typ)
	}
	return nil
}

// CheckID returns a 400 *outcome.Error unless id is a valid FHIR id.
func CheckID(id string) error {
	if !validID(id) {
		return outcome.Newf(http.StatusBadRequest, outcome.CodeValue, "", "%q is not a valid resource id (1 to 64 of A-Z a-z 0-9 - .)", id)
	}
	return nil
}

func checkTarget(typ, id string) error {
	if err := CheckType(typ); err != nil {
		return err
	}
	if id != "" {
		return CheckID(id)
	}
	return nil
}

// Read returns the current version of typ/id: 404 if unknown (or not the
// caller's to see), 410 if deleted. It is access-checked and audited.
func (s *Service) Read(ctx context.Context, typ, id string) (*store.Version, error) {
	c, err := s.begin(ctx, "read")
	if err != nil {
		return nil, err
	}
	v, err := c.read(ctx, typ, id, 0)
	return v, c.end(ctx, err)
}

// VRead returns version vid of typ/id; a deletion has Deleted set.
func (s *Service) VRead(ctx context.Context, typ, id string, vid int64) (*store.Version, error) {
	c, err := s.begin(ctx, "vread")
	if err != nil {
		return nil, err
	}
	v, err := c.read(ctx, typ, id, vid)
	return v, c.end(ctx, err)
}

func (c *call) read(ctx context.Context, typ, id string, vid int64) (*store.Version, error) {
	if err := checkTarget(typ, id); err != nil {
		return nil, err
	}
	c.ev.Resources = append(c.ev.Resources, typ+"/"+id)
	patient, err := c.readable(typ, auth.Read)
	constrained := errors.Is(err, errConstrained)
	if err != nil && !constrained {
		return nil, err
	}
	var v *store.Version
	switch {
	case typ == "AuditEvent":
		v, err = c.readAudit(ctx, id, vid)
	case vid == 0:
		v, err = c.s.store.Read(ctx, typ, id)
	default:
		v, err = c.s.store.VRead(ctx, typ, id, vid)
	}
	if err != nil {
		return nil, err
	}
	c.ev.Resources = c.ev.Resources[:len(c.ev.Resources)-1]
	c.saw(v)
	if err := c.see(ctx, patient, v); err != nil {
		return nil, err
	}
	if constrained {
		if err := c.readConstrained(ctx, v); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// checkBody makes sure res is a resource of type typ.
func checkBody(res *fhir.Value, typ string) error {
	if res.Kind != fhir.Object {
		return outcome.Invalid("", "the body must be a JSON object holding a %s resource", typ)
	}
	rt := res.Get("resourceType")
	if rt == nil || rt.Kind != fhir.String {
		return outcome.New(http.StatusBadRequest, outcome.CodeRequired, "resourceType", "the body has no resourceType")
	}
	if rt.Text != typ {
		return outcome.Newf(http.StatusBadRequest, outcome.CodeInvalid, "resourceType", "the body is a %s, but the URL is for %s", rt.Text, typ)
	}
	return nil
}

// Written is a write's result with the warnings validation found.
type Written struct {
	*store.Result
	Warnings []outcome.Issue
}

// Create stores res as a new resource of type typ under a server-assigned
// id, ignoring any id in the body (https://hl7.org/fhir/R4/http.html#create).
func (s *Service) Create(ctx context.Context, typ string, res *fhir.Value) (*Written, error) {
	if err := CheckType(typ); err != nil {
		return nil, err
	}
	return s.writeOne(ctx, "create", Entry{Method: http.MethodPost, URL: typ, Resource: res})
}

// Update stores res as the new version of typ/id, creating it if it does
// not exist (update as create, with a client-chosen id). ifMatch, when
// non-zero, is the version the resource must be at.
func (s *Service) Update(ctx context.Context, typ, id string, res *fhir.Value, ifMatch int64) (*Written, error) {
	if err := checkTarget(typ, id); err != nil {
		return nil, err
	}
	if err := checkBody(res, typ); err != nil {
		return nil, err
	}
	bodyID := res.Get("id")
	switch {
	case bodyID == nil:
		return nil, outcome.New(http.StatusBadRequest, outcome.CodeRequired, typ+".id", "an update must carry the resource's id in the body")
	case bodyID.Kind != fhir.String || bodyID.Text != id:
		return nil, outcome.Newf(http.StatusBadRequest, outcome.CodeInvalid, typ+".id", "the id in the body (%s) is not the id in the URL (%s)", fhir.Marshal(*bodyID), id)
	}
	return s.writeOne(ctx, "update", Entry{Method: http.MethodPut, URL: typ + "/" + id, Resource: res, IfMatch: ifMatch})
}

// Delete marks typ/id deleted with a new version; deleting what is absent
// or already deleted succeeds and changes nothing.
func (s *Service) Delete(ctx context.Context, typ, id string, ifMatch int64) (*store.Result, error) {
	if err := checkTarget(typ, id); err != nil {
		return nil, err
	}
	w, err := s.writeOne(ctx, "delete", Entry{Method: http.MethodDelete, URL: typ + "/" + id, IfMatch: ifMatch})
	if err != nil {
		return nil, err
	}
	return w.Result, nil
}

// writeOne runs one write as a transaction of one entry, so that single
// interactions and Bundles share one path: access rules, validation,
// indexing, audit.
func (s *Service) writeOne(ctx context.Context, interaction string, e Entry) (*Written, error) {
	c, err := s.begin(ctx, interaction)
	if err != nil {
		return nil, err
	}
	res, err := c.transact(ctx, []Entry{e})
	if err != nil {
		return nil, c.end(ctx, err)
	}
	r := res[0]
	out := &Written{Result: &store.Result{Version: r.Version, Created: r.Status == http.StatusCreated, Unchanged: r.Version == nil || (e.Method == http.MethodDelete && r.Status == http.StatusOK)}, Warnings: r.Warnings}
	return out, c.end(ctx, nil)
}

// History lists versions newest first. An instance history of a resource
// that never existed is a 404. Versions the caller may not see are left
// out of type and system history; an instance history is all or nothing.
func (s *Service) History(ctx context.Context, q *store.HistoryQuery) ([]*store.Version, error) {
	interaction := "history-system"
	switch {
	case q.ID != "":
		interaction = "history-instance"
	case q.Type != "":
		interaction = "history-type"
	}
	c, err := s.begin(ctx, interaction)
	if err != nil {
		return nil, err
	}
	vs, err := c.history(ctx, q)
	return vs, c.end(ctx, err)
}

func (c *call) history(ctx context.Context, q *store.HistoryQuery) ([]*store.Version, error) {
	if q.Type != "" {
		if err := checkTarget(q.Type, q.ID); err != nil {
			return nil, err
		}
	}
	op := auth.Search
	if q.ID != "" {
		op = auth.Read
	}
	typ := q.Type
	if typ == "" {
		typ = "*"
	}
	patient := ""
	if q.Type != "" {
		p, where, err := access.Allowed(c.p, typ, op)
		if err != nil {
			return nil, err
		}
		if len(where) > 0 {
			return nil, access.Forbidden("history is not available under scopes with search constraints")
		}
		patient = p
	} else if c.p.Kind != auth.Admin && c.p.Kind != auth.System && c.p.Kind != auth.Dev {
		return nil, access.Forbidden("the history of the whole server is for administrators and systems")
	}
	vs, err := c.s.store.History(ctx, q)
	if err != nil {
		return nil, err
	}
	if q.ID != "" && len(vs) == 0 && q.Before == 0 && q.Since.IsZero() && q.AtHigh.IsZero() {
		if _, err := c.s.store.VRead(ctx, q.Type, q.ID, 1); err != nil {
			return nil, err
		}
	}
	out := make([]*store.Version, 0, len(vs))
	for _, v := range vs {
		check := v
		if v.Deleted && q.ID != "" {
			continue // a deletion shows nothing; its neighbours decide
		}
		if err := c.see(ctx, patient, check); err != nil {
			if q.ID != "" {
				return nil, err
			}
			continue
		}
		c.saw(v)
		out = append(out, v)
	}
	if q.ID != "" {
		return vs, nil
	}
	return out, nil
}

// Search runs a parsed search and returns one page of results, confined
// to what the caller may see. Resources withheld by a patient's opt-out
// are left out and counted in Withheld, so that a clinician can be
// offered break-glass.
func (s *Service) Search(ctx context.Context, q *search.Query) (*SearchResult, error) {
	interaction := "search-type"
	if q.Type == "" {
		interaction = "search-system"
	}
	c, err := s.begin(ctx, interaction)
	if err != nil {
		return nil, err
	}
	c.ev.Query = q.Params.Encode()
	if q.Type != "" {
		c.ev.Query = q.Type + "?" + c.ev.Query
	}
	res, err := c.search(ctx, q)
	return res, c.end(ctx, err)
}

func (c *call) search(ctx context.Context, q *search.Query) (*SearchResult, error) {
	types := append([]string{q.Type}, q.Types...)
	for _, t := range types {
		if t != "" {
			if err := CheckType(t); err != nil {
				return nil, err
			}
		}
	}
	if comp := q.Compartment; comp != nil {
		if err := checkTarget(comp.Type, comp.ID); err != nil {
			return nil, err
		}
	}
	if q.Type == "AuditEvent" {
		return c.searchAudit(ctx, q)
	}
	scopeType := q.Type
	if scopeType == "" {
		if len(q.Types) != 1 {
			if c.p.Kind == auth.Patient || c.p.PatientID != "" && c.p.Kind != auth.Clinician {
				return nil, access.Forbidden("searching across types is not available to patients; search one type")
			}
			scopeType = "*"
		} else {
			scopeType = q.Types[0]
		}
	}
	patient, err := access.SearchScope(c.p, q, scopeType)
	if err != nil {
		return nil, err
	}
	if patient != "" && !isDirectory(scopeType) {
		switch {
		case q.Compartment == nil:
			q.Compartment = &search.Compartment{Type: "Patient", ID: patient}
		case q.Compartment.Type != "Patient" || q.Compartment.ID != patient:
			return nil, notFound(q.Compartment.Type, q.Compartment.ID)
		}
	}
	res, err := c.s.store.Search(ctx, q)
	if err != nil {
		return nil, err
	}
	filter := func(vs []*store.Version) ([]*store.Version, error) {
		out := vs[:0]
		for _, v := range vs {
			d, err := c.s.policy.CanSee(ctx, c.p, patient, v)
			if err != nil {
				return nil, err
			}
			if d.BreakGlass != "" {
				c.ev.Purpose, c.ev.Reason = "ETREAT", d.BreakGlass
			}
			if !d.Allowed {
				if d.Withheld {
					res.Withheld++
				}
				continue
			}
			c.saw(v)
			out = append(out, v)
		}
		return out, nil
	}
	if res.Matches, err = filter(res.Matches); err != nil {
		return nil, err
	}
	if res.Included, err = filter(res.Included); err != nil {
		return nil, err
	}
	return res, nil
}

func isDirectory(typ string) bool { return access.IsDirectory(typ) }

// Validate checks res as a write would, storing nothing: as an update of
// typ/id when id is set, else on its own ($validate with no mode). It
// needs a signed-in caller, and is audited like any operation.
func (s *Service) Validate(ctx context.Context, typ, id string, res *fhir.Value) (_ []outcome.Issue, err error) {
	c, err := s.begin(ctx, "operation")
	if err != nil {
		return nil, err
	}
	c.ev.Query = "$validate"
	defer func() {
		if e, ok := outcome.As(err); ok && e.Status < 500 {
			c.end(ctx, nil) // an invalid resource is the operation's answer, not its failure
			return
		}
		err = c.end(ctx, err)
	}()
	if err := checkTarget(typ, id); err != nil {
		return nil, err
	}
	if err := checkBody(res, typ); err != nil {
		return nil, err
	}
	w := validate.Write{Interaction: validate.Check, Type: typ}
	if id != "" {
		w = validate.Write{Interaction: validate.Update, Type: typ, ID: id}
	}
	return s.validate.Resource(ctx, res, w)
}

// Patcher is a parsed patch document: JSON Patch or FHIRPath Patch.
type Patcher interface {
	Apply(ctx context.Context, res *fhir.Value) (fhir.Value, error)
}

// Patch applies a patch to the current version of typ/id and stores the
// result as the next version, validated as an update would be
// (https://hl7.org/fhir/R4/http.html#patch). Without If-Match it still
// insists on the version it patched, so that a concurrent write is not
// lost: the caller gets 412 and can patch again.
func (s *Service) Patch(ctx context.Context, typ, id string, p Patcher, ifMatch int64) (*Written, error) {
	c, err := s.begin(ctx, "patch")
	if err != nil {
		return nil, err
	}
	w, err := c.patch(ctx, typ, id, p, ifMatch)
	return w, c.end(ctx, err)
}

func (c *call) patch(ctx context.Context, typ, id string, p Patcher, ifMatch int64) (*Written, error) {
	cur, err := c.read(ctx, typ, id, 0)
	if err != nil {
		return nil, err
	}
	if ifMatch != 0 && ifMatch != cur.VersionID {
		return nil, outcome.Conflict(http.StatusPreconditionFailed, "If-Match: %s/%s is at version %d, not %d", typ, id, cur.VersionID, ifMatch)
	}
	res, err := fhir.Parse(cur.Body)
	if err != nil {
		return nil, err
	}
	patched, err := p.Apply(ctx, &res)
	if err != nil {
		return nil, err
	}
	results, err := c.transact(ctx, []Entry{{Method: http.MethodPut, URL: typ + "/" + id, Resource: &patched, IfMatch: cur.VersionID}})
	if err != nil {
		return nil, err
	}
	r := results[0]
	return &Written{Result: &store.Result{Version: r.Version}, Warnings: r.Warnings}, nil
}
