package postgres

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"sharedcare/internal/outcome"
	"sharedcare/internal/store"
)

// auditLog group-commits the audit trail. Every read writes an event, so
// events queued by concurrent callers on this node go to the database
// together, in one transaction and one WAL flush, from one goroutine; each
// caller waits until its events are committed. Across nodes, appends
// serialise on the chain's head row (see appendAudit), so the chain stays
// one sequence whichever node writes.
type auditLog struct {
	jobs chan *auditJob
	stop chan struct{} // closed by Close
	done chan struct{} // closed when the writer has finished

	mu     sync.RWMutex // guards closed; held for reading while sending on jobs
	closed bool

	failing atomic.Pointer[error] // the last batch's error while queued events wait to be retried
}

type auditJob struct {
	events []*store.AuditRecord
	done   chan error // buffered: the writer never blocks on a caller; nil for queued events
}

// auditQueueLinger is how long a batch of queued events (QueueAudit)
// waits for more: nobody waits for them, and one transaction for many
// events costs the database far less than one each.
const auditQueueLinger = 2 * time.Millisecond

// maxAuditBatch bounds the events of one append transaction.
const maxAuditBatch = 512

var errClosed = outcome.Unavailable(5, "the database is shutting down")

// AppendAudit adds events to the chain in order and returns once they are
// committed. Once queued, the events are written even if ctx ends: the
// caller waits to learn whether they were.
func (db *DB) AppendAudit(ctx context.Context, events []*store.AuditRecord) error {
	if len(events) == 0 {
		return nil
	}
	return db.appendAudit(ctx, events)
}

// auditBarrier returns once every event this node queued before it is
// committed, so that a search of the trail sees the reads that came
// before it.
func (db *DB) auditBarrier(ctx context.Context) error { return db.appendAudit(ctx, nil) }

func (db *DB) appendAudit(ctx context.Context, events []*store.AuditRecord) error {
	j := &auditJob{events: events, done: make(chan error, 1)}
	a := db.audit
	a.mu.RLock()
	if a.closed {
		a.mu.RUnlock()
		return errClosed
	}
	select {
	case a.jobs <- j:
		a.mu.RUnlock()
	case <-ctx.Done():
		a.mu.RUnlock()
		return ctx.Err()
	}
	return <-j.done
}

// QueueAudit adds events to the chain without waiting for them to be
// committed: the writer commits them within a few milliseconds. It refuses
// events while the trail is failing, and the events of a failed batch are
// retried with the next.
func (db *DB) QueueAudit(ctx context.Context, events []*store.AuditRecord) error {
	if len(events) == 0 {
		return nil
	}
	a := db.audit
	if err := a.failing.Load(); err != nil {
		return *err
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.closed {
		return errClosed
	}
	select {
	case a.jobs <- &auditJob{events: events}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// auditWriter runs until Close, committing queued events in batches; on
// Close it writes what is queued, then returns.
func (db *DB) auditWriter(ctx context.Context) {
	a := db.audit
	defer close(a.done)
	var retry *auditJob // queued events of a failed batch
	for {
		var batch []*auditJob
		if retry != nil {
			batch, retry = append(batch, retry), nil
		}
		var pause <-chan time.Time
		if len(batch) > 0 {
			pause = time.After(100 * time.Millisecond) // then retry
		}
		select {
		case j := <-a.jobs:
			batch = append(batch, j)
		case <-pause:
		case <-a.stop:
			// Close has set closed, so nothing more is sent.
			if len(batch) > 0 {
				db.commitAudit(ctx, batch)
			}
			for {
				select {
				case j := <-a.jobs:
					db.commitAudit(ctx, []*auditJob{j})
				default:
					return
				}
			}
		}
		// Queued events, which nobody waits for, linger for more until a
		// caller who waits joins the batch.
		n, waiting := 0, false
		for _, j := range batch {
			n += len(j.events)
			waiting = waiting || j.done != nil
		}
		var linger <-chan time.Time
		var timer *time.Timer
		if !waiting {
			timer = time.NewTimer(auditQueueLinger)
			linger = timer.C
		}
	fill:
		for n < maxAuditBatch {
			var j *auditJob
			select {
			case j = <-a.jobs:
			default:
				if waiting {
					break fill
				}
				select {
				case j = <-a.jobs:
				case <-linger:
					break fill
				}
			}
			batch = append(batch, j)
			n += len(j.events)
			waiting = waiting || j.done != nil
		}
		if timer != nil {
			timer.Stop()
		}
		retry = db.commitAudit(ctx, batch)
	}
}

// commitAudit appends a batch and answers its callers. The events' Seq,
// Prev and Hash are set only once the transaction has committed. On
// failure the queued events come back as one job to retry, while
// QueueAudit refuses more.
func (db *DB) commitAudit(ctx context.Context, batch []*auditJob) *auditJob {
	var events []*store.AuditRecord
	for _, j := range batch {
		events = append(events, j.events...)
	}
	if len(events) == 0 { // barriers only
		for _, j := range batch {
			j.done <- nil
		}
		return nil
	}
	var seqs []int64
	var prevs, hashes [][]byte
	err := db.Tx(ctx, func(stx store.Tx) error {
		var err error
		seqs, prevs, hashes, err = appendAudit(ctx, stx.(*tx), events)
		return err
	})
	if err == nil {
		for i, e := range events {
			e.Seq, e.Prev, e.Hash = seqs[i], prevs[i], hashes[i]
		}
	}
	retry := &auditJob{}
	for _, j := range batch {
		switch {
		case j.done != nil:
			j.done <- err
		case err != nil:
			retry.events = append(retry.events, j.events...)
		}
	}
	if err != nil && len(retry.events) > 0 {
		db.log.Error("audit trail: batch not written", "err", err)
		db.audit.failing.Store(&err)
		return retry
	}
	db.audit.failing.Store(nil)
	return nil
}

// appendAudit locks the chain's head, links events after it and writes
// them, their patients and the new head in one statement.
func appendAudit(ctx context.Context, t *tx, events []*store.AuditRecord) (seqs []int64, prevs, hashes [][]byte, err error) {
	var seq int64
	var prev []byte
	if _, err := t.row(ctx, `SELECT seq, hash FROM audit_head FOR UPDATE`, nil, &seq, &prev); err != nil {
		return nil, nil, nil, fmt.Errorf("audit: %w", err)
	}
	if prev == nil {
		prev = []byte{}
	}
	ids := make([]string, len(events))
	recorded := make([]int64, len(events))
	bodies := make([][]byte, len(events))
	var patients []string
	var patientSeqs []int64
	for i, e := range events {
		seq++
		h := store.AuditHash(prev, e.Body)
		seqs, prevs, hashes = append(seqs, seq), append(prevs, prev), append(hashes, h)
		ids[i], recorded[i], bodies[i] = e.ID, e.Recorded.UnixMilli(), e.Body
		for _, p := range e.Patients {
			patients, patientSeqs = append(patients, p), append(patientSeqs, seq)
		}
		prev = h
	}
	err = t.query(ctx, `WITH a AS (
		INSERT INTO audit (seq, id, recorded, prev, hash, body)
		SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bytea[], $5::bytea[], $6::bytea[])
	), p AS (
		INSERT INTO audit_patient (patient, seq) SELECT * FROM unnest($7::text[], $8::bigint[])
		ON CONFLICT DO NOTHING
	)
	UPDATE audit_head SET seq = $9, hash = $10`,
		[]any{seqs, ids, recorded, prevs, hashes, bodies, nz(patients), nz(patientSeqs), seq, prev},
		func(pgx.Rows) error { return nil })
	if err != nil {
		return nil, nil, nil, fmt.Errorf("audit: %w", err)
	}
	return seqs, prevs, hashes, nil
}

// SearchAudit returns events matching q, newest first.
func (db *DB) SearchAudit(ctx context.Context, q *store.AuditQuery) ([]*store.AuditRecord, error) {
	if err := db.auditBarrier(ctx); err != nil {
		return nil, err
	}
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	from := "audit a"
	if q.Patient != "" {
		from = "audit_patient ap JOIN audit a ON a.seq = ap.seq"
		where = append(where, "ap.patient = "+arg(q.Patient))
	}
	if q.ID != "" {
		where = append(where, "a.id = "+arg(q.ID))
	}
	if !q.Since.IsZero() {
		where = append(where, "a.recorded >= "+arg(q.Since.UnixMilli()))
	}
	if !q.Before.IsZero() {
		where = append(where, "a.recorded < "+arg(q.Before.UnixMilli()))
	}
	if q.After > 0 {
		where = append(where, "a.seq < "+arg(q.After))
	}
	query := "SELECT a.seq, a.id, a.recorded, a.prev, a.hash, a.body FROM " + from
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	count := q.Count
	if count <= 0 {
		count = 50
	}
	query += " ORDER BY a.seq DESC LIMIT " + arg(count)
	var out []*store.AuditRecord
	err := db.withConn(ctx, func(c *pgxpool.Conn) error {
		out = out[:0]
		rows, err := c.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			e, err := scanAudit(rows)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, db.fail(ctx, "search audit", err)
	}
	return out, nil
}

func scanAudit(rows pgx.Rows) (*store.AuditRecord, error) {
	e := &store.AuditRecord{}
	var ms int64
	if err := rows.Scan(&e.Seq, &e.ID, &ms, &e.Prev, &e.Hash, &e.Body); err != nil {
		return nil, err
	}
	e.Recorded = time.UnixMilli(ms).UTC()
	return e, nil
}

// ScanAudit calls fn with every event in chain order, reading the chain in
// pages so that no one query holds a snapshot for the whole scan.
func (db *DB) ScanAudit(ctx context.Context, fn func(*store.AuditRecord) error) error {
	if err := db.auditBarrier(ctx); err != nil {
		return err
	}
	const page = 1000
	var after int64
	for {
		var batch []*store.AuditRecord
		err := db.withConn(ctx, func(c *pgxpool.Conn) error {
			batch = batch[:0]
			rows, err := c.Query(ctx, `SELECT seq, id, recorded, prev, hash, body FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2`, after, page)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				e, err := scanAudit(rows)
				if err != nil {
					return err
				}
				batch = append(batch, e)
			}
			return rows.Err()
		})
		if err != nil {
			return db.fail(ctx, "scan audit", err)
		}
		for _, e := range batch {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(batch) < page {
			return nil
		}
		after = batch[len(batch)-1].Seq
	}
}
