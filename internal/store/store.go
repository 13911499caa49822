// Package store is the storage contract: versioned resources, their history
// and their search index rows, changed only inside transactions. Two
// backends implement it (store/sqlite, store/postgres) and storetest holds
// both to it. It knows FHIR only as far as meta.versionId and
// meta.lastUpdated, which a backend sets in the body it stores.
package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"time"

	"sharedcare/internal/fhir"
	"sharedcare/internal/search"
)

// Version is one stored version of a resource.
type Version struct {
	Type        string
	ID          string
	VersionID   int64
	LastUpdated time.Time // UTC, millisecond precision, as in the body's meta
	Deleted     bool      // a deletion: Body is nil
	Method      Method    // the interaction that made this version
	Body        []byte    // the resource's JSON with meta.versionId and meta.lastUpdated set
	// Seq is the version's place in the backend's global order of writes;
	// history pages use it as their cursor.
	Seq int64
	// RID is the backend's stable number for the resource; set on versions
	// a search returns, for following their references.
	RID int64
	// Patients are the ids of the patients in whose compartment this
	// version is, and Source the organisation that recorded it
	// ("Organization/123"): access rules decide on them without parsing
	// the body.
	Patients []string
	Source   string
}

// Method is the interaction that wrote a version, as history reports it.
type Method uint8

const (
	Create Method = iota + 1 // POST, or PUT of a new id
	Update                   // PUT or PATCH of an existing resource
	Delete
)

// Write is one change inside a transaction.
type Write struct {
	Type string
	ID   string
	// Resource is the new content; nil for a delete. The backend sets its
	// meta.versionId and meta.lastUpdated before storing it, and nothing else.
	Resource *fhir.Value
	// Template, when set, is Resource already marshalled (NewTemplate),
	// so that the backend need not marshal it inside the transaction.
	Template *Template
	Delete   bool
	// IfMatch, when non-zero, is the version the resource must be at for the
	// write to go ahead (412 otherwise): it stops lost updates.
	IfMatch int64
	// CreateOnly makes the write fail with 409 if the resource exists, even
	// deleted; a POST with a server-assigned id uses it.
	CreateOnly bool
	// Patients and Source are stored with the version (see Version).
	Patients []string
	Source   string
	// Index holds the search index values of Resource (nil for a delete);
	// they replace the resource's previous ones in the same transaction.
	Index *search.Entries
	// VersionID, when not zero, is kept as the new version's number
	// instead of the next one, with LastUpdated as its lastUpdated (zero:
	// the time of the write): a bulk import keeping the source's versions.
	// Such a write is idempotent. If the resource is already at VersionID
	// with the same content (meta.versionId and meta.lastUpdated aside), or
	// at a later version, nothing is written and Result.Unchanged is set;
	// at VersionID with other content it fails with 409. A VersionID after
	// the current version supersedes it (history holds no versions in
	// between). Imported stamps come from the source's clock, so
	// lastUpdated no longer follows the order of writes across resources;
	// within one resource later writes are never stamped before it.
	// IfMatch and CreateOnly do not apply.
	VersionID   int64
	LastUpdated time.Time
	// IfChanged skips the write (Result.Unchanged) when the current version
	// has the same content, meta.versionId and meta.lastUpdated aside, so
	// that importing a resource without a versionId twice leaves one
	// version.
	IfChanged bool
}

// Marshalled returns w's resource ready to stamp: Template, or Resource
// marshalled now if the caller has not already.
func (w *Write) Marshalled() *Template {
	if w.Template != nil {
		return w.Template
	}
	return NewTemplate(w.Resource, w.ID)
}

// KeepImported gives v the version number and stamp an import write
// carries (VersionID, LastUpdated), when it has them.
func (w *Write) KeepImported(v *Version) {
	if w.VersionID == 0 {
		return
	}
	v.VersionID = w.VersionID
	if !w.LastUpdated.IsZero() {
		v.LastUpdated = w.LastUpdated.UTC().Truncate(time.Millisecond)
	}
}

// Result is what a write did.
type Result struct {
	Version *Version
	Created bool // no version existed before (201 rather than 200)
	// Unchanged is set when a delete found nothing to delete (already
	// deleted or never existed), or an import write (VersionID, IfChanged)
	// found its content already there; no version was written. Version is
	// then the current one, without its Body.
	Unchanged bool
}

// Tx is a transaction in progress. Its methods see its own writes. It must
// not be used after the function it was passed to returns.
type Tx interface {
	// Read returns the current version, a deletion included (Deleted set),
	// or ErrNotFound.
	Read(ctx context.Context, typ, id string) (*Version, error)
	Put(ctx context.Context, w *Write) (*Result, error)
	// Search runs a search inside the transaction, seeing its writes, so
	// that conditional writes decide on what they then change. It returns
	// matches only: no paging, includes or totals beyond Total.
	Search(ctx context.Context, q *search.Query) (*SearchResult, error)
	// Lock holds an exclusive lock on key until the transaction ends, so
	// that conditional writes on the same criteria (If-None-Exist, a
	// conditional update) serialise instead of both finding no match and
	// both creating. A backend with a single writer may do nothing.
	Lock(ctx context.Context, key string) error
}

// Creator is a Tx that can create many new resources more cheaply than
// Put one by one, for bulk loads: PostgreSQL in one statement (one round
// trip and one statement per resource were most of its cost), SQLite
// without looking each resource up first.
type Creator interface {
	// CreateMany writes the first version of each write whose resource is
	// not there yet, as Put would, and returns each one's Result; a nil
	// Result means the resource exists (or another write in ws created
	// it), and nothing was written for it: Put it. Only for writes
	// without Delete, IfMatch or CreateOnly.
	CreateMany(ctx context.Context, ws []*Write) ([]*Result, error)
}

// Store is a storage backend. All methods are safe for concurrent use.
type Store interface {
	// Read returns the current version of typ/id; an *outcome.Error with
	// status 404 if it never existed, 410 if its current version is a deletion.
	Read(ctx context.Context, typ, id string) (*Version, error)
	// VRead returns the given version (a deletion has Deleted set), or a 404
	// *outcome.Error.
	VRead(ctx context.Context, typ, id string, versionID int64) (*Version, error)
	// History lists versions, newest first.
	History(ctx context.Context, q *HistoryQuery) ([]*Version, error)
	// Search finds current, undeleted resources matching q, one page of
	// them, with what q includes.
	Search(ctx context.Context, q *search.Query) (*SearchResult, error)
	// Scan calls fn with each current version of one type that q selects,
	// in Seq order. It reads a batch at a time by keyset (Seq), never
	// holding a read transaction while fn runs, so that memory stays flat
	// and writers are not held back however many versions there are. It
	// stops at fn's first error and returns it. A version written during
	// a scan may or may not be seen, and one updated during it may be seen
	// at its new position rather than its old.
	Scan(ctx context.Context, q *ScanQuery, fn func(*Version) error) error
	// Tx runs fn in one database transaction: every Put in it commits
	// together, or none does when fn or the commit fails. When Tx returns
	// nil, the writes are durable. fn may be called again after a
	// serialisation failure, so it must not have effects outside tx.
	Tx(ctx context.Context, fn func(Tx) error) error
	// Records keeps the server's own data beside the resources.
	Records
	// Audit keeps the audit trail.
	Audit
	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
	Close() error
}

// HistoryQuery selects versions for the history interactions.
type HistoryQuery struct {
	Type string // "" for system history
	ID   string // "" for type or system history
	// Since keeps versions last updated at or after it (_since).
	Since time.Time
	// AtLow/AtHigh keep versions current at some time in [AtLow, AtHigh] (_at).
	AtLow, AtHigh time.Time
	// Before keeps versions older than this position, for paging that stays
	// stable while others write; 0 means from the newest.
	Before int64
	Count  int // at most this many
}

// ScanQuery selects current versions of one type for Scan.
type ScanQuery struct {
	Type string // required
	// Since keeps versions last updated at or after it.
	Since time.Time
	// After resumes a scan past the version with this Seq (the last one a
	// previous scan passed to fn); 0 starts from the beginning.
	After int64
	// Patients, when not empty, keeps the versions in the compartment of
	// one of these patients (by Version.Patients, which for a Patient
	// holds its own id).
	Patients []string
	// Deleted scans the resources whose current version is a deletion
	// (Body nil, Patients empty) instead of the live ones.
	Deleted bool
	// Match, when not empty, keeps the resources that match at least one
	// of these searches of Type (their filters; paging, sorting and
	// includes are ignored): a bulk export's _typeFilter.
	Match []*search.Query
	// Batch is how many versions are read per query; 0 means 1000.
	Batch int
}

// ScanBatch is the number of versions Scan reads per query by default.
const ScanBatch = 1000

// InPatients reports whether v is in the compartment of one of patients.
func InPatients(v *Version, patients map[string]bool) bool {
	for _, p := range v.Patients {
		if patients[p] {
			return true
		}
	}
	return false
}

// SearchResult is one page of a search.
type SearchResult struct {
	Matches  []*Version
	Included []*Version // from _include and _revinclude
	// Total is the number of matches, -1 when not counted.
	Total int
	// Next and Prev are the page tokens of the neighbouring pages, "" when
	// there is none; a Query with Page set to one of them reads that page
	// of the same result snapshot, whatever was written since.
	Next, Prev string
	// Offset is the index of the first match of this page in the result.
	Offset int
	// Withheld counts matches the access rules left out of this page
	// because a patient opted out of sharing (set by record, not stores).
	Withheld int
}

// Records is a small keyed store for the server's own data that is not
// FHIR: users' password hashes, OAuth clients, refresh tokens, login
// attempts. A record is a kind, a key and an opaque value; an expired
// record reads as absent. Writes are durable when they return.
type Records interface {
	// GetRecord returns the value, or ErrNotFound.
	GetRecord(ctx context.Context, kind, key string) ([]byte, error)
	// PutRecord creates or replaces a record; a zero expires keeps it.
	PutRecord(ctx context.Context, kind, key string, value []byte, expires time.Time) error
	// DeleteRecord removes a record; removing an absent one is no error.
	DeleteRecord(ctx context.Context, kind, key string) error
	// TakeRecord deletes a record and returns its value, atomically: of
	// callers taking the same record at once, on any node, exactly one
	// gets it (authorisation codes, single-use tokens); ErrNotFound if it
	// is absent or expired.
	TakeRecord(ctx context.Context, kind, key string) ([]byte, error)
	// PutRecordIfAbsent creates a record unless an unexpired one exists,
	// and reports whether it did: of concurrent callers exactly one does
	// (replay caches).
	PutRecordIfAbsent(ctx context.Context, kind, key string, value []byte, expires time.Time) (bool, error)
	// ListRecords calls fn for each unexpired record of kind, by key.
	ListRecords(ctx context.Context, kind string, fn func(key string, value []byte) error) error
}

// AuditRecord is one AuditEvent as the audit trail stores it.
type AuditRecord struct {
	ID       string    // the AuditEvent's id
	Recorded time.Time // AuditEvent.recorded
	// Patients are the ids of the patients whose records the event
	// touched: "who looked at my record" finds events by them.
	Patients []string
	Body     []byte // the AuditEvent's JSON
	// Seq, Prev and Hash are set by the store: the event's place in the
	// chain, the previous event's hash, and SHA-256(Prev || Body).
	Seq        int64
	Prev, Hash []byte
}

// AuditQuery selects audit events, newest first.
type AuditQuery struct {
	ID      string    // one event by id
	Patient string    // events about this patient
	Since   time.Time // recorded at or after
	Before  time.Time // recorded before; zero means no bound
	After   int64     // for paging: Seq below this; 0 means from the newest
	Count   int
}

// Audit is the tamper-evident audit trail: an append-only chain of
// AuditEvents, each holding the hash of the one before, so that a changed,
// removed or inserted event breaks the chain from there on.
type Audit interface {
	// AppendAudit adds events to the chain in order and returns when they
	// are durable. Backends commit concurrent callers' events together.
	AppendAudit(ctx context.Context, events []*AuditRecord) error
	// QueueAudit adds events to the chain without waiting: they are
	// committed within milliseconds, with other callers' events, and
	// written before the store closes. It fails while the trail cannot be
	// written; events it took are retried until they are. Reads audit
	// this way, so that their audit costs a share of a commit, not one.
	QueueAudit(ctx context.Context, events []*AuditRecord) error
	// SearchAudit returns events matching q, newest first.
	SearchAudit(ctx context.Context, q *AuditQuery) ([]*AuditRecord, error)
	// ScanAudit calls fn with every event in chain order, for verification.
	ScanAudit(ctx context.Context, fn func(*AuditRecord) error) error
}

// AuditHash is the chain's link: SHA-256 of the previous hash and the body.
func AuditHash(prev, body []byte) []byte {
	h := sha256.New()
	h.Write(prev)
	h.Write(body)
	return h.Sum(nil)
}

// Errors a backend returns; record and api map them to HTTP statuses.
var (
	ErrNotFound = errors.New("not found")
)
