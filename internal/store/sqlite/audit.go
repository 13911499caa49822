package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"sharedcare/internal/store"
)

// auditLog is the audit trail in a database file of its own beside the
// record's: every read writes an event, so the trail has its own writer
// and fsyncs, and never queues behind clinical writes (nor they behind it).
// Events are group-committed: concurrent requests' events share one
// transaction and one fsync, and each caller waits until its events are
// durable.
type auditLog struct {
	db    *sql.DB // readers
	jobs  chan *auditJob
	stop  chan struct{}
	done  chan struct{}
	write *sql.DB // the writer's single connection

	insert, insertPatient *sql.Stmt // prepared on the writer's connection

	path     string
	walLimit int
	log      *slog.Logger
	ckpt     *sql.DB       // the checkpointer's connection
	ckptDone chan struct{} // closed when it has stopped
}

type auditJob struct {
	events []*store.AuditRecord
	done   chan error
}

const auditSchema = `
CREATE TABLE IF NOT EXISTS audit (
	seq      INTEGER PRIMARY KEY,
	id       TEXT    NOT NULL UNIQUE,
	recorded INTEGER NOT NULL, -- Unix milliseconds
	prev     BLOB    NOT NULL,
	hash     BLOB    NOT NULL,
	body     BLOB    NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_patient (
	patient TEXT    NOT NULL,
	seq     INTEGER NOT NULL,
	PRIMARY KEY (patient, seq)
) WITHOUT ROWID;
`

func openAudit(ctx context.Context, path, synchronous string, walLimit int, log *slog.Logger) (*auditLog, error) {
	a := &auditLog{jobs: make(chan *auditJob, 1024), stop: make(chan struct{}), done: make(chan struct{}), path: path, walLimit: walLimit, log: log}
	a.write = sql.OpenDB(connector(path, synchronous, false))
	a.write.SetMaxOpenConns(1)
	if _, err := a.write.ExecContext(ctx, auditSchema); err != nil {
		a.write.Close()
		return nil, fmt.Errorf("sqlite: audit schema: %w", err)
	}
	a.db = sql.OpenDB(connector(path, synchronous, true))
	a.db.SetMaxOpenConns(4)
	fail := func(conn *sql.Conn, err error) (*auditLog, error) {
		if conn != nil {
			conn.Close()
		}
		a.db.Close()
		a.write.Close()
		return nil, fmt.Errorf("sqlite: audit: %w", err)
	}
	conn, err := a.write.Conn(ctx)
	if err != nil {
		return fail(nil, err)
	}
	var seq int64
	var prev []byte
	err = conn.QueryRowContext(ctx, `SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1`).Scan(&seq, &prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fail(conn, err)
	}
	if a.insert, err = conn.PrepareContext(ctx, `INSERT INTO audit (seq, id, recorded, prev, hash, body) VALUES (?, ?, ?, ?, ?, ?)`); err != nil {
		return fail(conn, err)
	}
	if a.insertPatient, err = conn.PrepareContext(ctx, `INSERT OR IGNORE INTO audit_patient (patient, seq) VALUES (?, ?)`); err != nil {
		return fail(conn, err)
	}
	// As for the record: the writer never checkpoints in a commit; a
	// checkpointer beside it does, and the writer truncates a long WAL.
	if _, err := conn.ExecContext(ctx, `PRAGMA wal_autocheckpoint=0`); err != nil {
		return fail(conn, err)
	}
	a.ckpt = sql.OpenDB(connector(path, synchronous, false))
	a.ckpt.SetMaxOpenConns(1)
	a.ckptDone = make(chan struct{})
	go passiveCheckpoints(a.ckpt, a.stop, a.ckptDone, log)
	go a.writer(conn, seq, prev)
	return a, nil
}

// closeAndWait stops the writer once queued events are written.
func (a *auditLog) closeAndWait() error {
	close(a.stop)
	<-a.done
	<-a.ckptDone
	return errors.Join(a.db.Close(), a.write.Close(), a.ckpt.Close())
}

// AppendAudit adds events to the chain and returns once they are durable.
func (db *DB) AppendAudit(ctx context.Context, events []*store.AuditRecord) error {
	if len(events) == 0 {
		return nil
	}
	j := &auditJob{events: events, done: make(chan error, 1)}
	select {
	case db.audit.jobs <- j:
	case <-db.audit.stop:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-j.done
}

func (a *auditLog) writer(conn *sql.Conn, seq int64, prev []byte) {
	defer close(a.done)
	defer conn.Close()
	if prev == nil {
		prev = []byte{}
	}
	for {
		var batch []*auditJob
		select {
		case j := <-a.jobs:
			batch = append(batch, j)
		case <-a.stop:
			for {
				select {
				case j := <-a.jobs:
					seq, prev = a.commit(conn, []*auditJob{j}, seq, prev)
				default:
					return
				}
			}
		}
	fill:
		for len(batch) < 512 {
			select {
			case j := <-a.jobs:
				batch = append(batch, j)
			default:
				break fill
			}
		}
		seq, prev = a.commit(conn, batch, seq, prev)
		truncateWAL(conn, a.path, a.walLimit, a.log)
	}
}

// commit writes a batch in one transaction, chaining each event to the one
// before, and answers every job; on failure the chain head is unchanged.
func (a *auditLog) commit(conn *sql.Conn, batch []*auditJob, seq int64, prev []byte) (int64, []byte) {
	ctx := context.Background()
	fail := func(err error) (int64, []byte) {
		conn.ExecContext(ctx, "ROLLBACK")
		for _, j := range batch {
			j.done <- fmt.Errorf("sqlite: audit: %w", err)
		}
		return seq, prev
	}
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return fail(err)
	}
	s, p := seq, prev
	type linked struct {
		e          *store.AuditRecord
		seq        int64
		prev, hash []byte
	}
	var done []linked
	for _, j := range batch {
		for _, e := range j.events {
			s++
			h := store.AuditHash(p, e.Body)
			if _, err := a.insert.ExecContext(ctx, s, e.ID, e.Recorded.UnixMilli(), p, h, e.Body); err != nil {
				return fail(err)
			}
			for _, pt := range e.Patients {
				if _, err := a.insertPatient.ExecContext(ctx, pt, s); err != nil {
					return fail(err)
				}
			}
			done = append(done, linked{e, s, p, h})
			p = h
		}
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return fail(err)
	}
	for _, l := range done {
		l.e.Seq, l.e.Prev, l.e.Hash = l.seq, l.prev, l.hash
	}
	for _, j := range batch {
		j.done <- nil
	}
	return s, p
}

// SearchAudit returns events newest first.
func (db *DB) SearchAudit(ctx context.Context, q *store.AuditQuery) ([]*store.AuditRecord, error) {
	var where []string
	var args []any
	from := "audit a"
	if q.Patient != "" {
		from = "audit_patient ap JOIN audit a ON a.seq = ap.seq"
		where = append(where, "ap.patient = ?")
		args = append(args, q.Patient)
	}
	if q.ID != "" {
		where = append(where, "a.id = ?")
		args = append(args, q.ID)
	}
	if !q.Since.IsZero() {
		where = append(where, "a.recorded >= ?")
		args = append(args, q.Since.UnixMilli())
	}
	if !q.Before.IsZero() {
		where = append(where, "a.recorded < ?")
		args = append(args, q.Before.UnixMilli())
	}
	if q.After > 0 {
		where = append(where, "a.seq < ?")
		args = append(args, q.After)
	}
	query := "SELECT a.seq, a.id, a.recorded, a.prev, a.hash, a.body FROM " + from
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	count := q.Count
	if count <= 0 {
		count = 50
	}
	query += " ORDER BY a.seq DESC LIMIT ?"
	args = append(args, count)
	rows, err := db.audit.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: search audit: %w", err)
	}
	defer rows.Close()
	var out []*store.AuditRecord
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func scanAudit(rows *sql.Rows) (*store.AuditRecord, error) {
	e := &store.AuditRecord{}
	var ms int64
	if err := rows.Scan(&e.Seq, &e.ID, &ms, &e.Prev, &e.Hash, &e.Body); err != nil {
		return nil, fmt.Errorf("sqlite: audit: %w", err)
	}
	e.Recorded = time.UnixMilli(ms).UTC()
	return e, nil
}

// ScanAudit calls fn with every event in chain order.
func (db *DB) ScanAudit(ctx context.Context, fn func(*store.AuditRecord) error) error {
	rows, err := db.audit.db.QueryContext(ctx, `SELECT seq, id, recorded, prev, hash, body FROM audit ORDER BY seq`)
	if err != nil {
		return fmt.Errorf("sqlite: scan audit: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return err
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return rows.Err()
}
