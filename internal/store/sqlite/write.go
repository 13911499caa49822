package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"sharedcare/internal/outcome"
	"sharedcare/internal/store"
)

// job is one caller's transaction, waiting for the writer.
type job struct {
	ctx  context.Context
	fn   func(store.Tx) error
	done chan error // buffered: the writer never blocks on a caller
}

var errClosed = outcome.Unavailable(5, "the database is shutting down")

// Tx queues fn for the writer and waits until its batch has committed (or
// fn failed). SQLite allows one writer; running every write on one
// goroutine and committing a batch of them together shares the fsync and
// avoids lock contention between connections.
func (db *DB) Tx(ctx context.Context, fn func(store.Tx) error) error {
	j := &job{ctx: ctx, fn: fn, done: make(chan error, 1)}
	db.closeMu.Lock()
	if db.closed {
		db.closeMu.Unlock()
		return errClosed
	}
	select {
	case db.jobs <- j:
		db.closeMu.Unlock()
	default:
		// The queue is full: wait for room without holding the lock.
		db.closeMu.Unlock()
		select {
		case db.jobs <- j:
		case <-db.stop:
			return errClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	// Once queued, the job runs to completion even if ctx ends: the caller
	// must learn whether its write committed, so it waits for the outcome.
	return <-j.done
}

// writer owns conn. It runs until Close, committing queued jobs in batches.
func (db *DB) writer(conn *sql.Conn, last time.Time, seq int64, index *indexWriter) {
	defer close(db.done)
	defer conn.Close()
	w := &writeTx{db: db, conn: conn, last: last, seq: seq, index: index}
	w.batch, w.errs = make([]*job, 0, db.opts.MaxBatch), make([]error, 0, db.opts.MaxBatch)
	for {
		select {
		case j := <-db.jobs:
			w.run(j)
		case <-db.stop:
			// Finish what is already queued, then stop.
			for {
				select {
				case j := <-db.jobs:
					w.run(j)
				default:
					return
				}
			}
		}
		w.db.wal.restart(w.conn)
	}
}

// maxBatchTime bounds how long a batch keeps taking in jobs that arrive
// while it runs, so that the first job's caller waits at most about this
// long beyond its own work for the commit.
const maxBatchTime = 100 * time.Millisecond

// Commits reports how many transactions the writer has ended (committed
// or not) and how many jobs they held: jobs per commit is how well group
// commit shares the cost of a commit.
func (db *DB) Commits() (commits, jobs int64) {
	return db.commits.Load(), db.committedJobs.Load()
}

// writeTx is the store.Tx the writer passes to each job's fn.
type writeTx struct {
	db    *DB
	conn  *sql.Conn
	last  time.Time // lastUpdated of the newest version: stamps never go back
	seq   int64     // seq of the newest version
	index *indexWriter
	wrote []cacheKey // resources written in this batch, for the read cache
	batch []*job     // the jobs of the batch being run
	errs  []error    // their outcomes
}

// run executes a batch in one transaction, each job inside a savepoint so
// that one job's failure undoes only its own writes. The batch begins with
// first and takes in the jobs that queue while it runs, up to MaxBatch jobs
// and maxBatchTime: under load every commit, whose cost is the pages it
// rewrites rather than the rows, then carries more work, and the jobs that
// queued meanwhile are committed now instead of after another commit.
func (w *writeTx) run(first *job) {
	ctx := context.Background() // jobs are committed whatever their callers do now
	batch := append(w.batch[:0], first)
	if _, err := w.conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		err = fmt.Errorf("sqlite: begin: %w", err)
		first.done <- err
		return
	}
	start := time.Now()
	last, seq := w.last, w.seq
	errs := w.errs[:0]
	for i := 0; i < len(batch); i++ {
		j := batch[i]
		err := j.ctx.Err()
		if err == nil {
			err = w.runOne(j)
		}
		errs = append(errs, err)
		if i == len(batch)-1 {
			batch = w.takeQueued(batch, start)
		}
	}
	_, err := w.conn.ExecContext(ctx, "COMMIT")
	w.index.texts.ended(err == nil)
	if err != nil {
		err = fmt.Errorf("sqlite: commit: %w", err)
		w.conn.ExecContext(ctx, "ROLLBACK")
		w.last, w.seq = last, seq
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
	}
	// Committed or not, what the batch touched leaves the cache before any
	// caller hears of it, so that a reader who learns of a write reads it.
	if w.db.cache != nil {
		for _, k := range w.wrote {
			w.db.cache.invalidate(k.typ, k.id)
		}
	}
	w.wrote = w.wrote[:0]
	w.db.commits.Add(1)
	w.db.committedJobs.Add(int64(len(batch)))
	for i, j := range batch {
		j.done <- errs[i]
	}
	clear(batch)
	clear(errs)
	w.batch, w.errs = batch[:0], errs[:0]
}

// takeQueued appends to batch the jobs queued now, up to MaxBatch, unless
// the batch has run for maxBatchTime since start.
func (w *writeTx) takeQueued(batch []*job, start time.Time) []*job {
	if time.Since(start) >= maxBatchTime {
		return batch
	}
	for len(batch) < w.db.opts.MaxBatch {
		select {
		case j := <-w.db.jobs:
			batch = append(batch, j)
		default:
			return batch
		}
	}
	return batch
}

func (w *writeTx) runOne(j *job) (err error) {
	if _, err := w.conn.ExecContext(uncancelled(j.ctx), "SAVEPOINT job"); err != nil {
		return fmt.Errorf("sqlite: savepoint: %w", err)
	}
	last, seq := w.last, w.seq
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("sqlite: transaction panicked: %v", p)
		}
		ctx := context.Background()
		if err == nil {
			err = w.index.flush(ctx)
		}
		if err != nil {
			w.index.discard()
			w.last, w.seq = last, seq
			if _, rerr := w.conn.ExecContext(ctx, "ROLLBACK TO job"); rerr != nil {
				err = errors.Join(err, rerr)
			}
		}
		if _, rerr := w.conn.ExecContext(ctx, "RELEASE job"); rerr != nil {
			err = errors.Join(err, rerr)
		}
		if err == nil {
			w.index.texts.released()
		}
	}()
	return j.fn(w)
}

// uncancelled is the context for a job's statements. A queued job runs to
// completion whatever its caller does (the caller waits to learn whether
// it committed), and go-sqlite3 runs each statement under a cancellable
// context on a goroutine of its own, which on the one writer cost a
// goroutine, a wait and a reschedule per statement.
func uncancelled(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

// now returns the lastUpdated for a new version: the clock, to the
// millisecond, but never before the newest version's.
func (w *writeTx) now() time.Time {
	t := w.db.opts.Now().UTC().Truncate(time.Millisecond)
	if t.Before(w.last) {
		t = w.last
	}
	w.last = t
	return t
}

type current struct {
	rid, version, seq int64
	deleted           bool
	updated           int64
}

func (w *writeTx) current(ctx context.Context, typ, id string) (*current, error) {
	var c current
	err := w.db.writeSQL.current.QueryRowContext(ctx, typ, id).Scan(&c.rid, &c.version, &c.seq, &c.deleted, &c.updated)
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// Read returns the current version, a deletion included.
func (w *writeTx) Read(ctx context.Context, typ, id string) (*store.Version, error) {
	ctx = uncancelled(ctx)
	v, err := scanVersion(w.db.writeSQL.read.QueryRowContext(ctx, typ, id), typ, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: read %s/%s: %w", typ, id, err)
	}
	return v, nil
}

// Put writes a new version of wr.Type/wr.ID.
func (w *writeTx) Put(ctx context.Context, wr *store.Write) (*store.Result, error) {
	ctx = uncancelled(ctx)
	cur, err := w.current(ctx, wr.Type, wr.ID)
	exists := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: put %s/%s: %w", wr.Type, wr.ID, err)
	}
	if wr.CreateOnly && exists {
		return nil, outcome.Conflict(http.StatusConflict, "%s/%s already exists", wr.Type, wr.ID)
	}
	if wr.IfMatch != 0 && (!exists || cur.version != wr.IfMatch) {
		have := "none"
		if exists {
			have = fmt.Sprint(cur.version)
		}
		return nil, outcome.Conflict(http.StatusPreconditionFailed, "If-Match: %s/%s is at version %s, not %d", wr.Type, wr.ID, have, wr.IfMatch)
	}
	if wr.Delete && (!exists || cur.deleted) {
		r := &store.Result{Unchanged: true}
		if exists {
			r.Version = &store.Version{Type: wr.Type, ID: wr.ID, VersionID: cur.version, Deleted: true, Method: store.Delete, LastUpdated: time.UnixMilli(cur.updated).UTC(), Seq: cur.seq}
		}
		return r, nil
	}
	var t *store.Template
	if !wr.Delete {
		t = wr.Marshalled()
	}
	if exists && !wr.Delete && (wr.VersionID != 0 || wr.IfChanged) {
		same, err := w.importCheck(ctx, wr, cur, t)
		if err != nil || same {
			if same {
				return &store.Result{Unchanged: true, Version: &store.Version{Type: wr.Type, ID: wr.ID, VersionID: cur.version, Deleted: cur.deleted,
					LastUpdated: time.UnixMilli(cur.updated).UTC(), Seq: cur.seq}}, nil
			}
			return nil, err
		}
	}
	v := &store.Version{Type: wr.Type, ID: wr.ID, VersionID: 1, LastUpdated: w.now(), Method: store.Create}
	if exists {
		v.VersionID = cur.version + 1
		if !cur.deleted {
			v.Method = store.Update
		}
		// An imported version may carry a stamp ahead of this clock.
		if prev := time.UnixMilli(cur.updated).UTC(); v.LastUpdated.Before(prev) {
			v.LastUpdated = prev
		}
	}
	if wr.Delete {
		v.Deleted, v.Method = true, store.Delete
	} else {
		wr.KeepImported(v)
		v.Body = t.Fill(v.VersionID, v.LastUpdated)
	}
	ms := v.LastUpdated.UnixMilli()
	// The writer is the only one to insert versions, so it numbers them
	// itself; the first version's seq becomes the resource's rid.
	v.Seq = w.seq + 1
	rid := v.Seq
	if exists {
		rid = cur.rid
	}
	v.Patients, v.Source = wr.Patients, wr.Source
	if err := w.insertVersion(ctx, v, rid); err != nil {
		return nil, err
	}
	if exists {
		_, err = w.db.writeSQL.updateResource.ExecContext(ctx, v.VersionID, v.Seq, v.Deleted, ms, wr.Type, wr.ID)
	} else {
		_, err = w.db.writeSQL.insertResource.ExecContext(ctx, wr.Type, wr.ID, rid, v.VersionID, v.Seq, v.Deleted, ms)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: put %s/%s: %w", wr.Type, wr.ID, err)
	}
	if exists && !cur.deleted {
		if err := w.index.clear(ctx, rid); err != nil {
			return nil, err
		}
	}
	if !wr.Delete {
		if err := w.index.write(ctx, w.db.params, wr.Type, rid, wr.Index); err != nil {
			return nil, err
		}
	}
	return &store.Result{Version: v, Created: !exists || cur.deleted}, nil
}

// CreateMany implements store.Creator. It spares a bundle's or an
// import's new resources the lookup Put makes first: the resource row is
// inserted unless one is there, and only then its version and index rows.
func (w *writeTx) CreateMany(ctx context.Context, ws []*store.Write) ([]*store.Result, error) {
	ctx = uncancelled(ctx)
	out := make([]*store.Result, len(ws))
	for k, wr := range ws {
		if wr.Delete || wr.IfMatch != 0 || wr.CreateOnly {
			return nil, fmt.Errorf("sqlite: CreateMany of %s/%s: a delete, If-Match or create-only write", wr.Type, wr.ID)
		}
		v := &store.Version{Type: wr.Type, ID: wr.ID, VersionID: 1, LastUpdated: w.now(), Method: store.Create, Seq: w.seq + 1}
		wr.KeepImported(v)
		res, err := w.db.writeSQL.createResource.ExecContext(ctx, wr.Type, wr.ID, v.Seq, v.VersionID, v.Seq, v.LastUpdated.UnixMilli())
		if err != nil {
			return nil, fmt.Errorf("sqlite: create %s/%s: %w", wr.Type, wr.ID, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			continue // there already, or created by an earlier write in ws: for Put
		}
		v.Body = wr.Marshalled().Fill(v.VersionID, v.LastUpdated)
		v.Patients, v.Source = wr.Patients, wr.Source
		if err := w.insertVersion(ctx, v, v.Seq); err != nil {
			return nil, err
		}
		if err := w.index.write(ctx, w.db.params, wr.Type, v.Seq, wr.Index); err != nil {
			return nil, err
		}
		out[k] = &store.Result{Version: v, Created: true}
	}
	return out, nil
}

var _ store.Creator = (*writeTx)(nil)

// insertVersion stores v, numbered v.Seq, as a version of resource rid.
func (w *writeTx) insertVersion(ctx context.Context, v *store.Version, rid int64) error {
	var body any
	if v.Body != nil {
		body = v.Body
	}
	if _, err := w.db.writeSQL.insertVersion.ExecContext(ctx, v.Seq, rid, v.Type, v.ID, v.VersionID, v.LastUpdated.UnixMilli(), int(v.Method), body, strings.Join(v.Patients, " "), v.Source); err != nil {
		return fmt.Errorf("sqlite: put %s/%s: insert version: %w", v.Type, v.ID, err)
	}
	w.seq = v.Seq
	if w.db.cache != nil {
		w.wrote = append(w.wrote, cacheKey{v.Type, v.ID})
	}
	return nil
}

// importCheck decides an import write (store.Write.VersionID or
// IfChanged) on an existing resource: same reports that its content is
// already there, so nothing is to be written; an error that the given
// version is there with other content.
func (w *writeTx) importCheck(ctx context.Context, wr *store.Write, cur *current, t *store.Template) (same bool, err error) {
	if wr.VersionID != 0 && cur.version > wr.VersionID {
		return true, nil // the resource has moved on since the source's version
	}
	if wr.VersionID != 0 && cur.version < wr.VersionID {
		return false, nil
	}
	if cur.deleted {
		if wr.VersionID != 0 {
			return false, outcome.Conflict(http.StatusConflict, "%s/%s version %d is a deletion here, not the resource imported", wr.Type, wr.ID, cur.version)
		}
		return false, nil
	}
	var body []byte
	if err := w.db.writeSQL.body.QueryRowContext(ctx, cur.seq).Scan(&body); err != nil {
		return false, fmt.Errorf("sqlite: put %s/%s: read current body: %w", wr.Type, wr.ID, err)
	}
	if t.Matches(body, cur.version, time.UnixMilli(cur.updated).UTC()) {
		return true, nil
	}
	if wr.VersionID != 0 {
		return false, outcome.Conflict(http.StatusConflict, "%s/%s version %d is already here with other content", wr.Type, wr.ID, cur.version)
	}
	return false, nil
}

// writeStmts are the writer's statements, prepared once on its connection.
type writeStmts struct {
	current, read, body                           *sql.Stmt
	insertVersion, updateResource, insertResource *sql.Stmt
	createResource                                *sql.Stmt
}

// newest returns the newest version's stamp and seq, so that both stay
// monotonic across restarts.
func newest(ctx context.Context, conn *sql.Conn) (time.Time, int64, error) {
	var ms, seq sql.NullInt64
	err := conn.QueryRowContext(ctx, `SELECT updated, seq FROM versions ORDER BY seq DESC LIMIT 1`).Scan(&ms, &seq)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, 0, fmt.Errorf("sqlite: newest version: %w", err)
	}
	return time.UnixMilli(ms.Int64).UTC(), seq.Int64, nil
}

func prepareWrite(ctx context.Context, conn *sql.Conn) (*writeStmts, error) {
	var s writeStmts
	for _, p := range []struct {
		dst **sql.Stmt
		sql string
	}{
		{&s.current, `SELECT rid, version, seq, deleted, updated FROM resources WHERE type = ? AND id = ?`},
		{&s.read, readCurrentSQL},
		{&s.body, `SELECT body FROM versions WHERE seq = ?`},
		{&s.insertVersion, `INSERT INTO versions (seq, rid, type, id, version, updated, method, body, patients, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`},
		{&s.updateResource, `UPDATE resources SET version = ?, seq = ?, deleted = ?, updated = ? WHERE type = ? AND id = ?`},
		{&s.insertResource, `INSERT INTO resources (type, id, rid, version, seq, deleted, updated) VALUES (?, ?, ?, ?, ?, ?, ?)`},
		{&s.createResource, `INSERT INTO resources (type, id, rid, version, seq, deleted, updated) VALUES (?, ?, ?, ?, ?, 0, ?) ON CONFLICT (type, id) DO NOTHING`},
	} {
		st, err := conn.PrepareContext(ctx, p.sql)
		if err != nil {
			return nil, fmt.Errorf("sqlite: prepare %q: %w", p.sql, err)
		}
		*p.dst = st
	}
	return &s, nil
}

// Lock does nothing: every transaction already runs on the one writer.
func (w *writeTx) Lock(context.Context, string) error { return nil }
