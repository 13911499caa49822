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
	"fmt"
	"log/slog"
	"net/http"

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
	Log   *slog.Logger
}

// Service is the record. It is safe for concurrent use.
type Service struct {
	store    store.Store
	validate Validator
	indexer  *search.Indexer
	newID    func() string
	log      *slog.Logger
}

// New returns a Service over opts.Store.
func New(opts Options) *Service {
	s := &Service{store: opts.Store, validate: opts.Validator, indexer: opts.Indexer, newID: opts.NewID, log: opts.Log}
	if s.indexer == nil {
		s.indexer = search.NewIndexer()
	}
	if s.validate == nil {
		s.validate = validate.New(validate.Options{})
	}
	if s.newID == nil {
		s.newID = NewUUID
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// NewUUID returns a random (version 4) UUID.
func NewUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
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

// Read returns the current version of typ/id: 404 if unknown, 410 if deleted.
func (s *Service) Read(ctx context.Context, typ, id string) (*store.Version, error) {
	if err := checkTarget(typ, id); err != nil {
		return nil, err
	}
	return s.store.Read(ctx, typ, id)
}

// VRead returns version vid of typ/id.
func (s *Service) VRead(ctx context.Context, typ, id string, vid int64) (*store.Version, error) {
	if err := checkTarget(typ, id); err != nil {
		return nil, err
	}
	return s.store.VRead(ctx, typ, id, vid)
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

// Write results carry the warnings validation found.
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
	if err := checkBody(res, typ); err != nil {
		return nil, err
	}
	res.Delete("id")
	warnings, err := s.validate.Resource(ctx, res, validate.Write{Interaction: validate.Create, Type: typ})
	if err != nil {
		return nil, err
	}
	id := s.newID()
	res.SetAfter("id", "resourceType", fhir.StringValue(id))
	index, err := s.indexer.Extract(ctx, res)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", typ, err)
	}
	tmpl := store.NewTemplate(res, id)
	var r *store.Result
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		var err error
		r, err = tx.Put(ctx, &store.Write{Type: typ, ID: id, Resource: res, Template: tmpl, CreateOnly: true, Index: index})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", typ, err)
	}
	return &Written{Result: r, Warnings: warnings}, nil
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
	warnings, err := s.validate.Resource(ctx, res, validate.Write{Interaction: validate.Update, Type: typ, ID: id})
	if err != nil {
		return nil, err
	}
	index, err := s.indexer.Extract(ctx, res)
	if err != nil {
		return nil, fmt.Errorf("update %s/%s: %w", typ, id, err)
	}
	tmpl := store.NewTemplate(res, id)
	var r *store.Result
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		var err error
		r, err = tx.Put(ctx, &store.Write{Type: typ, ID: id, Resource: res, Template: tmpl, IfMatch: ifMatch, Index: index})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("update %s/%s: %w", typ, id, err)
	}
	return &Written{Result: r, Warnings: warnings}, nil
}

// Delete marks typ/id deleted with a new version; deleting what is absent
// or already deleted succeeds and changes nothing.
func (s *Service) Delete(ctx context.Context, typ, id string, ifMatch int64) (*store.Result, error) {
	if err := checkTarget(typ, id); err != nil {
		return nil, err
	}
	var r *store.Result
	err := s.store.Tx(ctx, func(tx store.Tx) error {
		var err error
		r, err = tx.Put(ctx, &store.Write{Type: typ, ID: id, Delete: true, IfMatch: ifMatch})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("delete %s/%s: %w", typ, id, err)
	}
	return r, nil
}

// History lists versions newest first. An instance history of a resource
// that never existed is a 404.
func (s *Service) History(ctx context.Context, q *store.HistoryQuery) ([]*store.Version, error) {
	if q.Type != "" {
		if err := checkTarget(q.Type, q.ID); err != nil {
			return nil, err
		}
	}
	vs, err := s.store.History(ctx, q)
	if err != nil {
		return nil, err
	}
	if q.ID != "" && len(vs) == 0 && q.Before == 0 && q.Since.IsZero() && q.AtHigh.IsZero() {
		if _, err := s.store.VRead(ctx, q.Type, q.ID, 1); err != nil {
			return nil, err
		}
	}
	return vs, nil
}

// Search runs a parsed search and returns one page of results.
func (s *Service) Search(ctx context.Context, q *search.Query) (*SearchResult, error) {
	for _, t := range append([]string{q.Type}, q.Types...) {
		if t != "" {
			if err := CheckType(t); err != nil {
				return nil, err
			}
		}
	}
	if c := q.Compartment; c != nil {
		if err := checkTarget(c.Type, c.ID); err != nil {
			return nil, err
		}
	}
	return s.store.Search(ctx, q)
}

// Validate checks res as a write would, storing nothing: as an update of
// typ/id when id is set, else on its own ($validate with no mode).
func (s *Service) Validate(ctx context.Context, typ, id string, res *fhir.Value) ([]outcome.Issue, error) {
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
