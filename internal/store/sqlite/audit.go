package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"sharedcare/internal/store"
)

// auditLog is the audit trail in a database file of its own beside the
// record's: every read writes an event, so the trail has its own writer
// and fsyncs, and never queues behind clinical writes (nor they behind it).
// Events are group-committed: concurrent requests' events share one
// transaction; a caller of AppendAudit waits until its events are written,
// one of QueueAudit (a read) does not.
type auditLog struct {
	db    *sql.DB // readers
	jobs  chan *auditJob
	stop  chan struct{}
	done  chan struct{}
	write *sql.DB // the writer's single connection

	stmts map[string]*sql.Stmt // multi-row inserts on the writer's connection, by table/rows

	wal      *wal
	log      *slog.Logger
	ckpt     *sql.DB       // the checkpointer's connection
	ckptDone chan struct{} // closed when it has stopped

	failing atomic.Pointer[error] // the last batch's error while queued events wait to be retried

	// reader: the trail is another process's to write (Options.Reader).
	// This one neither appends events nor brings the patient index up to
	// date, which would hold the trail's write lock against that process.
	reader bool

	// fault, when a test sets it, fails each batch it returns an error for,
	// as a full disk or an I/O error would.
	fault atomic.Pointer[func() error]
}

// auditLinger is how long the trail's writer waits for more events before
// committing a batch: at most this much is added to a read's latency.
const auditLinger = 200 * time.Microsecond

// auditQueueLinger is how long a batch of queued events (QueueAudit) waits
// for more: nobody waits for them, and a commit costs much the same for
// one event as for hundreds.
const auditQueueLinger = 2 * time.Millisecond

type auditJob struct {
	events []*store.AuditRecord
	done   chan error // nil for queued events: nobody waits
}

// The trail is one append-only table: committing an event writes only
// the table's last pages. Its patient index is built behind it, in sorted
// batches, when the writer is idle or the backlog is long, so that the
// pages of a busy index are written once per batch rather than once per
// event; a search reads the index and scans the short backlog. An event's
// id is derived from its place in the chain ("a" and the seq), so that no
// index of ids is kept either.
const auditSchema = `
CREATE TABLE IF NOT EXISTS trail (
	seq      INTEGER PRIMARY KEY,
	recorded INTEGER NOT NULL, -- Unix milliseconds
	patients TEXT    NOT NULL, -- space-separated Patient ids
	prev     BLOB    NOT NULL,
	hash     BLOB    NOT NULL,
	body     BLOB    NOT NULL
);
CREATE TABLE IF NOT EXISTS trail_patient (
	patient TEXT    NOT NULL,
	seq     INTEGER NOT NULL,
	PRIMARY KEY (patient, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS trail_state (
	k TEXT PRIMARY KEY,
	v INTEGER NOT NULL
);
INSERT OR IGNORE INTO trail_state VALUES ('indexed', 0);
`

// indexBacklog is how many events may wait for the patient index while
// events keep coming; when the writer is idle it indexes at once.
const indexBacklog = 4096

// auditQueue is how many jobs may wait for the trail's writer. It must
// absorb the writer's pauses, chiefly its WAL checkpoints (when they were
// truncations, 130-180 ms every few seconds under 20,000 reads/s here):
// with 1,024 the queue filled and reads waited (p99 80-140 ms). A queued read's event
// waits in memory meanwhile, which is what a crash could lose.
const auditQueue = 8192

// auditIdle is how long without events before the writer indexes what is
// waiting.
const auditIdle = 100 * time.Millisecond

// errReaderAudit is what a Reader store answers an audit event with.
var errReaderAudit = errors.New("sqlite: this process reads beside the server, which alone writes the audit trail")

// reader: see Options.Reader.
func openAudit(ctx context.Context, path, synchronous string, w *wal, reader bool) (*auditLog, error) {
	log := w.log
	a := &auditLog{jobs: make(chan *auditJob, auditQueue), stop: make(chan struct{}), done: make(chan struct{}), wal: w, log: log, reader: reader}
	wc, err := writerConnector(path, synchronous)
	if err != nil {
		return nil, fmt.Errorf("sqlite: audit: %w", err)
	}
	a.write = sql.OpenDB(wc)
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
	err = conn.QueryRowContext(ctx, `SELECT seq, hash FROM trail ORDER BY seq DESC LIMIT 1`).Scan(&seq, &prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fail(conn, err)
	}
	a.stmts = map[string]*sql.Stmt{}
	// As for the record: the writer never checkpoints in a commit; a
	// checkpointer beside it does, and the writer restarts a long WAL.
	if _, err := conn.ExecContext(ctx, `PRAGMA wal_autocheckpoint=0`); err != nil {
		return fail(conn, err)
	}
	if !reader {
		a.ckpt = sql.OpenDB(connector(path, synchronous, false))
		a.ckpt.SetMaxOpenConns(1)
		a.ckptDone = make(chan struct{})
		go passiveCheckpoints(a.ckpt, a.stop, a.ckptDone, a.wal)
	}
	var indexed int64
	if err := conn.QueryRowContext(ctx, `SELECT v FROM trail_state WHERE k = 'indexed'`).Scan(&indexed); err != nil {
		return fail(conn, err)
	}
	go a.writer(conn, seq, prev, indexed)
	return a, nil
}

// closeAndWait stops the writer once queued events are written.
func (a *auditLog) closeAndWait() error {
	close(a.stop)
	<-a.done
	if a.ckpt == nil {
		return errors.Join(a.db.Close(), a.write.Close())
	}
	<-a.ckptDone
	return errors.Join(a.db.Close(), a.write.Close(), a.ckpt.Close())
}

// AppendAudit adds events to the chain and returns once they are durable.
func (db *DB) AppendAudit(ctx context.Context, events []*store.AuditRecord) error {
	if len(events) == 0 {
		return nil
	}
	if db.audit.reader {
		return errReaderAudit
	}
	return db.appendAudit(ctx, events)
}

// auditBarrier returns once every event queued before it is written, so
// that a search of the trail sees the reads that came before it.
func (db *DB) auditBarrier(ctx context.Context) error { return db.appendAudit(ctx, nil) }

func (db *DB) appendAudit(ctx context.Context, events []*store.AuditRecord) error {
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

// QueueAudit adds events to the chain without waiting for them to be
// written: the writer commits them within a few milliseconds. It refuses
// events while the trail is failing, and the events of a failed batch are
// retried with the next.
func (db *DB) QueueAudit(ctx context.Context, events []*store.AuditRecord) error {
	if len(events) == 0 {
		return nil
	}
	if db.audit.reader {
		return errReaderAudit
	}
	if err := db.audit.failing.Load(); err != nil {
		return fmt.Errorf("sqlite: audit: %w", *err)
	}
	select {
	case db.audit.jobs <- &auditJob{events: events}:
		return nil
	case <-db.audit.stop:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (a *auditLog) writer(conn *sql.Conn, seq int64, prev []byte, indexed int64) {
	defer close(a.done)
	defer conn.Close()
	if prev == nil {
		prev = []byte{}
	}
	crowded := false    // events arrived while the last batch was committing
	var retry *auditJob // queued events of a failed batch
	idle := time.NewTimer(auditIdle)
	defer idle.Stop()
	for {
		var batch []*auditJob
		if retry != nil {
			batch, retry = append(batch, retry), nil
		}
		select {
		case j := <-a.jobs:
			batch = append(batch, j)
		case <-idle.C:
			if len(batch) > 0 {
				break // commit the retried events
			}
			// Quiet for a moment: bring the patient index up to date.
			if seq > indexed && !a.reader {
				indexed = a.indexPatients(conn, indexed)
			}
			idle.Reset(auditIdle)
			continue
		case <-a.stop:
			if len(batch) > 0 {
				seq, prev, _ = a.commit(conn, batch, seq, prev)
			}
			for {
				select {
				case j := <-a.jobs:
					seq, prev, _ = a.commit(conn, []*auditJob{j}, seq, prev)
				default:
					for seq > indexed && !a.reader {
						before := indexed
						if indexed = a.indexPatients(conn, indexed); indexed == before {
							break
						}
					}
					return
				}
			}
		}
		// When events come in crowds (some arrived while the last batch
		// was committing), linger a little for more: a commit costs about
		// the same for one event as for a hundred. A lone reader is not
		// kept waiting. Queued events, which nobody waits for, linger
		// longer, until a caller who waits joins the batch.
		began := time.Now()
		lingerFor := func(waiting bool) time.Duration {
			switch {
			case !waiting:
				return auditQueueLinger
			case crowded:
				return auditLinger
			}
			return 0
		}
		waiting := false
		for _, j := range batch {
			waiting = waiting || j.done != nil
		}
		lingering := lingerFor(waiting)
		add := func(j *auditJob) {
			batch = append(batch, j)
			if j.done != nil && !waiting {
				waiting = true
				lingering = lingerFor(true)
			}
		}
		var timer *time.Timer
	fill:
		for len(batch) < 512 {
			select {
			case j := <-a.jobs:
				add(j)
				continue
			default:
			}
			left := lingering - time.Since(began)
			if left <= 0 {
				break
			}
			if timer == nil {
				timer = time.NewTimer(left)
			} else {
				timer.Reset(left)
			}
			select {
			case j := <-a.jobs:
				add(j)
			case <-timer.C:
				break fill
			}
		}
		if timer != nil {
			timer.Stop()
		}
		seq, prev, retry = a.commit(conn, batch, seq, prev)
		crowded = len(a.jobs) > 0 || len(batch) > 2
		if seq-indexed >= indexBacklog {
			indexed = a.indexPatients(conn, indexed)
		}
		idle.Reset(auditIdle)
		a.wal.restart(conn)
	}
}

// commit writes a batch in one transaction, chaining each event to the one
// before, and answers every job that waits. On failure the chain head is
// unchanged, those who wait get the error, and the queued events come back
// as one job to retry, while QueueAudit refuses more.
func (a *auditLog) commit(conn *sql.Conn, batch []*auditJob, seq int64, prev []byte) (int64, []byte, *auditJob) {
	ctx := context.Background()
	if barriersOnly(batch) {
		for _, j := range batch {
			j.done <- nil
		}
		return seq, prev, nil
	}
	fail := func(err error) (int64, []byte, *auditJob) {
		conn.ExecContext(ctx, "ROLLBACK")
		a.log.Error("audit trail: batch not written", "err", err)
		retry := &auditJob{}
		for _, j := range batch {
			if j.done != nil {
				j.done <- fmt.Errorf("sqlite: audit: %w", err)
			} else {
				retry.events = append(retry.events, j.events...)
			}
		}
		if len(retry.events) == 0 {
			return seq, prev, nil
		}
		a.failing.Store(&err)
		return seq, prev, retry
	}
	if f := a.fault.Load(); f != nil {
		if err := (*f)(); err != nil {
			return fail(err)
		}
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
	var rows []any
	for _, j := range batch {
		for _, e := range j.events {
			s++
			h := store.AuditHash(p, e.Body)
			rows = append(rows, s, e.Recorded.UnixMilli(), strings.Join(e.Patients, " "), p, h, e.Body)
			done = append(done, linked{e, s, p, h})
			p = h
		}
	}
	if err := a.insertRows(ctx, conn, "trail", 6, rows); err != nil {
		return fail(err)
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return fail(err)
	}
	for _, l := range done {
		l.e.Seq, l.e.Prev, l.e.Hash, l.e.ID = l.seq, l.prev, l.hash, auditID(l.seq)
	}
	for _, j := range batch {
		if j.done != nil {
			j.done <- nil
		}
	}
	a.failing.Store(nil)
	return s, p, nil
}

// barriersOnly reports whether a batch holds no events, only callers
// waiting for those queued before them.
func barriersOnly(batch []*auditJob) bool {
	for _, j := range batch {
		if len(j.events) > 0 {
			return false
		}
	}
	return true
}

// auditID is an event's id: "a" and its seq.
func auditID(seq int64) string { return "a" + strconv.FormatInt(seq, 10) }

// indexPatients adds the events after indexed (up to a batch) to the
// patient index, sorted, in one transaction with the new high-water mark;
// it returns the mark.
func (a *auditLog) indexPatients(conn *sql.Conn, indexed int64) int64 {
	ctx := context.Background()
	rows, err := conn.QueryContext(ctx, `SELECT seq, patients FROM trail WHERE seq > ? ORDER BY seq LIMIT 50000`, indexed)
	if err != nil {
		a.log.Warn("audit patient index", "err", err)
		return indexed
	}
	type pair struct {
		patient string
		seq     int64
	}
	var pairs []pair
	last := indexed
	for rows.Next() {
		var seq int64
		var pts string
		if err := rows.Scan(&seq, &pts); err != nil {
			rows.Close()
			a.log.Warn("audit patient index", "err", err)
			return indexed
		}
		for _, pt := range strings.Fields(pts) {
			pairs = append(pairs, pair{pt, seq})
		}
		last = seq
	}
	rows.Close()
	if last == indexed {
		return indexed
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].patient != pairs[j].patient {
			return pairs[i].patient < pairs[j].patient
		}
		return pairs[i].seq < pairs[j].seq
	})
	args := make([]any, 0, 2*len(pairs))
	for _, p := range pairs {
		args = append(args, p.patient, p.seq)
	}
	fail := func(err error) int64 {
		conn.ExecContext(ctx, "ROLLBACK")
		a.log.Warn("audit patient index", "err", err)
		return indexed
	}
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return fail(err)
	}
	if err := a.insertRows(ctx, conn, "trail_patient", 2, args); err != nil {
		return fail(err)
	}
	if _, err := conn.ExecContext(ctx, `UPDATE trail_state SET v = ? WHERE k = 'indexed'`, last); err != nil {
		return fail(err)
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return fail(err)
	}
	return last
}

// SearchAudit returns events newest first. By patient, it reads the patient
// index and scans the events not yet indexed, in one snapshot.
func (db *DB) SearchAudit(ctx context.Context, q *store.AuditQuery) ([]*store.AuditRecord, error) {
	if err := db.auditBarrier(ctx); err != nil {
		return nil, err
	}
	var where []string
	var args []any
	if q.ID != "" {
		seq, err := strconv.ParseInt(strings.TrimPrefix(q.ID, "a"), 10, 64)
		if err != nil || !strings.HasPrefix(q.ID, "a") {
			return nil, nil
		}
		where = append(where, "a.seq = ?")
		args = append(args, seq)
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
	filter := ""
	if len(where) > 0 {
		filter = " AND " + strings.Join(where, " AND ")
	}
	count := q.Count
	if count <= 0 {
		count = 50
	}
	const cols = "a.seq, a.recorded, a.patients, a.prev, a.hash, a.body"
	var query string
	var all []any
	if q.Patient != "" {
		query = "SELECT * FROM (SELECT " + cols + " FROM trail_patient p JOIN trail a ON a.seq = p.seq WHERE p.patient = ?" + filter +
			" UNION ALL SELECT " + cols + " FROM trail a WHERE a.seq > (SELECT v FROM trail_state WHERE k = 'indexed')" +
			" AND instr(' ' || a.patients || ' ', ?) > 0" + filter + ") ORDER BY seq DESC LIMIT ?"
		all = append(append(append(append([]any{q.Patient}, args...), " "+q.Patient+" "), args...), count)
	} else {
		query = "SELECT " + cols + " FROM trail a WHERE 1 = 1" + filter + " ORDER BY a.seq DESC LIMIT ?"
		all = append(args, count)
	}
	rows, err := db.audit.db.QueryContext(ctx, query, all...)
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
	var patients string
	if err := rows.Scan(&e.Seq, &ms, &patients, &e.Prev, &e.Hash, &e.Body); err != nil {
		return nil, fmt.Errorf("sqlite: audit: %w", err)
	}
	e.ID, e.Recorded, e.Patients = auditID(e.Seq), time.UnixMilli(ms).UTC(), strings.Fields(patients)
	return e, nil
}

// ScanAudit calls fn with every event in chain order.
func (db *DB) ScanAudit(ctx context.Context, fn func(*store.AuditRecord) error) error {
	if err := db.auditBarrier(ctx); err != nil {
		return err
	}
	rows, err := db.audit.db.QueryContext(ctx, `SELECT seq, recorded, patients, prev, hash, body FROM trail ORDER BY seq`)
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

// insertRows inserts rows (cols values each) in multi-row statements of
// up to rowsPerInsert rows, prepared once per shape: far fewer calls into
// SQLite than a row at a time.
func (a *auditLog) insertRows(ctx context.Context, conn *sql.Conn, table string, cols int, args []any) error {
	n := len(args) / cols
	for n > 0 {
		k := rowsPerInsert
		for k > n {
			k /= 2
		}
		key := fmt.Sprintf("%s/%d", table, k)
		st := a.stmts[key]
		if st == nil {
			row := "(" + strings.TrimSuffix(strings.Repeat("?,", cols), ",") + ")"
			verb := "INSERT"
			if table == "trail_patient" {
				verb = "INSERT OR IGNORE"
			}
			var err error
			st, err = conn.PrepareContext(ctx, verb+" INTO "+table+" VALUES "+strings.TrimSuffix(strings.Repeat(row+",", k), ","))
			if err != nil {
				return err
			}
			a.stmts[key] = st
		}
		if _, err := st.ExecContext(ctx, args[:k*cols]...); err != nil {
			return err
		}
		args, n = args[k*cols:], n-k
	}
	return nil
}
