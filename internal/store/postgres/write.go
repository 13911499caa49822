package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"sharedcare/internal/outcome"
	"sharedcare/internal/search"
	"sharedcare/internal/store"
)

const (
	// maxAttempts bounds how often Tx runs fn when PostgreSQL aborts the
	// transaction to break a deadlock or a serialisation conflict.
	maxAttempts = 8
	// commitTimeout bounds the wait for COMMIT. It runs even if the
	// caller's context has ended, so that the caller learns whether its
	// write was stored whenever the database can say.
	commitTimeout = 30 * time.Second
)

// lockSQL reads a resource's current state and locks its row until the
// transaction ends: writers of one resource, on any node, queue here, and
// each sees the version its predecessor committed (READ COMMITTED re-reads
// a row that changed while it waited).
const lockSQL = `SELECT rid, version, seq, deleted, updated, indexed FROM resources WHERE type = $1 AND id = $2 FOR UPDATE`

// createSQLHead begins the statement that writes the first version of a
// resource ($8: 1, or an imported version's number), its row and
// (indexCTEs) its index rows: one round trip. The
// first version's seq becomes its rid. If the id is taken, by a committed
// row or by a concurrent transaction that then commits, it writes nothing
// and returns no row (ON CONFLICT waits for the other transaction rather
// than failing with a duplicate key).
const createSQLHead = `WITH s AS (SELECT nextval('versions_seq') AS seq),
r AS (
	INSERT INTO resources (type, id, rid, version, seq, deleted, updated, indexed)
	SELECT $1::text, $2::text, s.seq, $8::integer, s.seq, 0, $3::bigint, $5::smallint FROM s
	ON CONFLICT (type, id) DO NOTHING
	RETURNING rid
),
v AS (
	INSERT INTO versions (seq, rid, type, id, version, updated, method, body, patients, source)
	SELECT r.rid, r.rid, $1::text, $2::text, $8::integer, $3::bigint, 1, $4::bytea, $6::text[], $7::text FROM r
	RETURNING seq
)`

// updateSQLHead begins the statement that writes a later version, points
// the resource row (locked by lockSQL) at it and (indexCTEs) replaces the
// resource's index rows.
const updateSQLHead = `WITH v AS (
	INSERT INTO versions (rid, type, id, version, updated, method, body, patients, source)
	VALUES ($3::bigint, $1::text, $2::text, $4::integer, $5::bigint, $6::smallint, $7::bytea, $10::text[], $11::text)
	RETURNING seq
),
cur AS (
	UPDATE resources r SET version = $4::integer, seq = v.seq, deleted = $8::smallint, updated = $5::bigint, indexed = $9::smallint
	FROM v WHERE r.type = $1::text AND r.id = $2::text
	RETURNING v.seq
)`

// Tx runs fn in one database transaction on one pooled connection, at
// PostgreSQL's READ COMMITTED with row locks on every resource written (see
// lockSQL). When PostgreSQL aborts it to break a deadlock (two transactions
// writing the same resources in opposite orders) or a serialisation
// conflict, Tx runs fn again, up to maxAttempts times; it also runs fn once
// more when the connection was lost before the commit was sent, since the
// server then rolled it back. A commit whose outcome is unknown (the
// connection was lost while committing) is reported, never retried. When
// Tx returns nil the transaction has committed with synchronous_commit, so
// a read on any node sees it.
func (db *DB) Tx(ctx context.Context, fn func(store.Tx) error) error {
	rerun := false
	for attempt := 1; ; attempt++ {
		err, lost := db.runTx(ctx, fn)
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil || attempt >= maxAttempts:
		case lost && !rerun:
			rerun = true
			continue // on a fresh connection
		case retryable(err):
			if backoff(ctx, attempt) == nil {
				db.log.DebugContext(ctx, "transaction retried", "attempt", attempt, "err", err)
				continue
			}
		}
		return db.fail(ctx, "transaction", err)
	}
}

// backoff waits a random time that grows with attempt, so that
// transactions that deadlocked do not meet again at once.
func backoff(ctx context.Context, attempt int) error {
	d := time.Duration(1+rand.IntN(1<<min(attempt, 6))) * time.Millisecond
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// runTx is one attempt of Tx. lost reports that the connection broke before
// the commit was sent: nothing was stored.
func (db *DB) runTx(ctx context.Context, fn func(store.Tx) error) (err error, lost bool) {
	conn, err := db.acquire(ctx)
	if err != nil {
		return err, false
	}
	t := &tx{db: db, conn: conn}
	ended := false
	defer func() {
		// Also when fn panics: leave the connection clean for the pool.
		if t.begun && !ended {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), db.opts.AcquireTimeout)
			conn.Exec(rctx, "rollback")
			cancel()
		}
		conn.Release() // closes the connection instead if it is still in a transaction
	}()
	err = fn(t)
	if t.err != nil {
		// A statement failed, so PostgreSQL has aborted the transaction,
		// whatever fn made of the error.
		if err == nil {
			err = t.err
		}
		return err, conn.Conn().IsClosed() && ctx.Err() == nil
	}
	if err != nil || !t.begun {
		return err, false
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	tag, err := conn.Exec(cctx, "commit")
	ended = true // committed, refused or unknown: not to be rolled back
	switch {
	case err != nil:
		return fmt.Errorf("commit: %w", err), false
	case tag.String() != "COMMIT":
		return fmt.Errorf("commit: the database answered %s", tag), false
	}
	db.texts.add(t.texts)
	return nil, false
}

// tx is the store.Tx that Tx passes to fn.
type tx struct {
	db    *DB
	conn  *pgxpool.Conn
	begun bool               // BEGIN was sent
	err   error              // the statement that failed and aborted the transaction
	texts map[textKey]string // token_text rows read or written, cached once committed
}

// query runs one statement in the transaction and passes its rows to fn,
// which must not keep them. The transaction's first statement goes out in
// one round trip with the BEGIN before it. A failed statement aborts the
// transaction: every later call returns its error without a round trip.
func (t *tx) query(ctx context.Context, sql string, args []any, fn func(pgx.Rows) error) (err error) {
	if t.err != nil {
		return fmt.Errorf("transaction aborted earlier: %w", t.err)
	}
	var rows pgx.Rows
	var br pgx.BatchResults
	if t.begun {
		rows, err = t.conn.Query(ctx, sql, args...)
	} else {
		t.begun = true
		b := &pgx.Batch{}
		b.Queue("begin")
		b.Queue(sql, args...)
		br = t.conn.SendBatch(ctx, b)
		if _, err = br.Exec(); err == nil {
			rows, err = br.Query()
		}
	}
	if err == nil {
		err = fn(rows)
		rows.Close()
		if rerr := rows.Err(); err == nil {
			err = rerr
		}
	}
	if br != nil {
		if cerr := br.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		t.err = err
	}
	return err
}

// row runs a statement that returns at most one row and scans it into
// dest; found reports whether there was a row.
func (t *tx) row(ctx context.Context, sql string, args []any, dest ...any) (found bool, err error) {
	err = t.query(ctx, sql, args, func(rows pgx.Rows) error {
		if !rows.Next() {
			return nil
		}
		found = true
		return rows.Scan(dest...)
	})
	return found, err
}

// now returns the lastUpdated for a new version: the clock, to the
// millisecond, but never before prev, the resource's previous version's,
// whatever the skew between the nodes' clocks.
func (t *tx) now(prev time.Time) time.Time {
	now := t.db.opts.Now().UTC().Truncate(time.Millisecond)
	if now.Before(prev) {
		return prev
	}
	return now
}

// Read returns the current version, a deletion included, or
// store.ErrNotFound. It does not lock: a Put with IfMatch does.
func (t *tx) Read(ctx context.Context, typ, id string) (*store.Version, error) {
	var v *store.Version
	err := t.query(ctx, readCurrentSQL, []any{typ, id}, func(rows pgx.Rows) (err error) {
		if rows.Next() {
			v, err = scanVersion(rows, typ, id)
		}
		return err
	})
	switch {
	case err != nil:
		return nil, fmt.Errorf("read %s/%s: %w", typ, id, err)
	case v == nil:
		return nil, store.ErrNotFound
	}
	return v, nil
}

// current is a resource's row, as lockSQL reads it.
type current struct {
	rid, version, seq int64
	deleted           int16 // 0 or 1
	updated           int64 // Unix milliseconds
	indexed           int16 // the index tables holding its rows, as indexTables bits
}

// Put writes a new version of w.Type/w.ID.
func (t *tx) Put(ctx context.Context, w *store.Write) (*store.Result, error) {
	if w.CreateOnly && !w.Delete && w.IfMatch == 0 {
		// A create under a new id, the commonest write: insert at once and
		// let the primary key say whether the id is taken.
		res, err := t.create(ctx, w)
		if err == nil && res == nil {
			err = outcome.Conflict(http.StatusConflict, "%s/%s already exists", w.Type, w.ID)
		}
		return res, err
	}
	if (w.VersionID != 0 || w.IfChanged) && !w.Delete && w.IfMatch == 0 {
		// An import, most often of resources not here yet: insert at once,
		// and only if the id is taken lock the row and decide.
		res, err := t.create(ctx, w)
		if err != nil || res != nil {
			return res, err
		}
	}
	// At most twice round: the second time only if another transaction
	// created the resource between our look and our insert.
	for range 2 {
		var c current
		found, err := t.row(ctx, lockSQL, []any{w.Type, w.ID}, &c.rid, &c.version, &c.seq, &c.deleted, &c.updated, &c.indexed)
		switch {
		case err != nil:
			return nil, fmt.Errorf("put %s/%s: %w", w.Type, w.ID, err)
		case found:
			return t.update(ctx, w, &c)
		case w.IfMatch != 0:
			return nil, outcome.Conflict(http.StatusPreconditionFailed, "If-Match: %s/%s is at version none, not %d", w.Type, w.ID, w.IfMatch)
		case w.Delete:
			return &store.Result{Unchanged: true}, nil
		}
		res, err := t.create(ctx, w)
		if err != nil || res != nil {
			return res, err
		}
	}
	return nil, fmt.Errorf("put %s/%s: the resource row is neither there nor insertable", w.Type, w.ID)
}

// create writes the first version of a resource (version 1, or an
// import's VersionID), or returns nil if it exists.
func (t *tx) create(ctx context.Context, w *store.Write) (*store.Result, error) {
	v := t.firstVersion(w)
	held, err := t.heldTexts(ctx, []string{w.Type}, []*search.Entries{w.Index})
	if err != nil {
		return nil, fmt.Errorf("put %s/%s: %w", w.Type, w.ID, err)
	}
	rows, fill := t.db.params.indexRows(w.Type, w.Index, held[0])
	args := append([]any{w.Type, w.ID, v.LastUpdated.UnixMilli(), v.Body, int16(fill), nz(w.Patients), w.Source, int32(v.VersionID)}, rows...)
	found, err := t.row(ctx, t.db.stmts.createSQL(fill), args, &v.Seq)
	switch {
	case err != nil:
		return nil, fmt.Errorf("put %s/%s: create: %w", w.Type, w.ID, err)
	case !found:
		return nil, nil
	}
	return &store.Result{Version: v, Created: true}, nil
}

// firstVersion is w's first version (1, or an import's), stamped now.
func (t *tx) firstVersion(w *store.Write) *store.Version {
	v := &store.Version{Type: w.Type, ID: w.ID, VersionID: 1, LastUpdated: t.now(time.Time{}), Method: store.Create}
	w.KeepImported(v)
	v.Body = w.Marshalled().Fill(v.VersionID, v.LastUpdated)
	v.Patients, v.Source = w.Patients, w.Source
	return v
}

// update writes the version after c, the locked current row.
func (t *tx) update(ctx context.Context, w *store.Write, c *current) (*store.Result, error) {
	if w.CreateOnly {
		return nil, outcome.Conflict(http.StatusConflict, "%s/%s already exists", w.Type, w.ID)
	}
	if w.IfMatch != 0 && c.version != w.IfMatch {
		return nil, outcome.Conflict(http.StatusPreconditionFailed, "If-Match: %s/%s is at version %d, not %d", w.Type, w.ID, c.version, w.IfMatch)
	}
	deleted := c.deleted == 1
	prev := time.UnixMilli(c.updated).UTC()
	if w.Delete && deleted {
		return &store.Result{Unchanged: true, Version: &store.Version{
			Type: w.Type, ID: w.ID, VersionID: c.version, Deleted: true, Method: store.Delete, LastUpdated: prev, Seq: c.seq,
		}}, nil
	}
	if !w.Delete && (w.VersionID != 0 || w.IfChanged) {
		same, err := t.importCheck(ctx, w, c)
		if err != nil {
			return nil, err
		}
		if same {
			return &store.Result{Unchanged: true, Version: &store.Version{
				Type: w.Type, ID: w.ID, VersionID: c.version, Deleted: deleted, LastUpdated: prev, Seq: c.seq,
			}}, nil
		}
	}
	v := &store.Version{Type: w.Type, ID: w.ID, VersionID: c.version + 1, LastUpdated: t.now(prev), Method: store.Update}
	if deleted {
		v.Method = store.Create
	}
	if !w.Delete {
		w.KeepImported(v)
	}
	var body any // NULL for a deletion
	var index *search.Entries
	if w.Delete {
		v.Deleted, v.Method = true, store.Delete
	} else {
		v.Body = w.Marshalled().Fill(v.VersionID, v.LastUpdated)
		body, index = v.Body, w.Index
	}
	held, err := t.heldTexts(ctx, []string{w.Type}, []*search.Entries{index})
	if err != nil {
		return nil, fmt.Errorf("put %s/%s: %w", w.Type, w.ID, err)
	}
	rows, fill := t.db.params.indexRows(w.Type, index, held[0])
	args := append([]any{w.Type, w.ID, c.rid, v.VersionID, v.LastUpdated.UnixMilli(), int16(v.Method), body, boolInt(v.Deleted), int16(fill),
		nz(w.Patients), w.Source}, rows...)
	v.Patients, v.Source = w.Patients, w.Source
	found, err := t.row(ctx, t.db.stmts.updateSQL(uint8(c.indexed), fill), args, &v.Seq)
	switch {
	case err != nil:
		return nil, fmt.Errorf("put %s/%s: %w", w.Type, w.ID, err)
	case !found:
		return nil, fmt.Errorf("put %s/%s: the locked resource row was not updated", w.Type, w.ID)
	}
	return &store.Result{Version: v, Created: deleted}, nil
}

// importCheck decides an import write (store.Write.VersionID or
// IfChanged) on the locked resource c: same reports that its content is
// already there, so nothing is to be written; an error that the given
// version is there with other content.
func (t *tx) importCheck(ctx context.Context, w *store.Write, c *current) (same bool, err error) {
	switch {
	case w.VersionID != 0 && c.version > w.VersionID:
		return true, nil // the resource has moved on since the source's version
	case w.VersionID != 0 && c.version < w.VersionID:
		return false, nil
	case c.deleted == 1 && w.VersionID != 0:
		return false, outcome.Conflict(http.StatusConflict, "%s/%s version %d is a deletion here, not the resource imported", w.Type, w.ID, c.version)
	case c.deleted == 1:
		return false, nil
	}
	var body []byte
	if _, err := t.row(ctx, `SELECT body FROM versions WHERE seq = $1`, []any{c.seq}, &body); err != nil {
		return false, fmt.Errorf("put %s/%s: read current body: %w", w.Type, w.ID, err)
	}
	if w.Marshalled().Matches(body, c.version, time.UnixMilli(c.updated).UTC()) {
		return true, nil
	}
	if w.VersionID != 0 {
		return false, outcome.Conflict(http.StatusConflict, "%s/%s version %d is already here with other content", w.Type, w.ID, c.version)
	}
	return false, nil
}

// Lock takes a transaction-scoped advisory lock on key, so that
// conditional writes on the same criteria from any node queue one behind
// the other: the second searches after the first has committed (READ
// COMMITTED gives each statement a fresh snapshot). Distinct keys may
// share a 64-bit hash, which only makes them queue too.
func (t *tx) Lock(ctx context.Context, key string) error {
	if err := t.query(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, []any{key}, func(pgx.Rows) error { return nil }); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	return nil
}

func boolInt(b bool) int16 {
	if b {
		return 1
	}
	return 0
}

var _ store.Tx = (*tx)(nil)

// nz returns s, or an empty slice for nil: pgx sends a nil slice as NULL,
// which an array column that is NOT NULL refuses.
func nz[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
