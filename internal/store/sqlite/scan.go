package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"sharedcare/internal/store"
	"sharedcare/internal/store/sqlbuild"
)

// fewPatients is the most patients a scan finds through the reference
// index (the rids referring to them) rather than by walking every version
// of the type and keeping theirs: a patient's $everything is a handful of
// index lookups, a group export one pass over the type.
const fewPatients = 50

// Scan walks the current versions of q.Type in seq order, a batch per
// query, keyset-paged on seq: no OFFSET, and the rows of one batch are
// read and closed before fn sees them, so that no read transaction stays
// open (one would hold back the WAL checkpoint) while the caller writes
// files or waits.
func (db *DB) Scan(ctx context.Context, q *store.ScanQuery, fn func(*store.Version) error) error {
	batch := q.Batch
	if batch <= 0 {
		batch = store.ScanBatch
	}
	var keep map[string]bool
	if len(q.Patients) > 0 {
		keep = make(map[string]bool, len(q.Patients))
		for _, p := range q.Patients {
			keep[p] = true
		}
	}
	after := q.After
	buf := make([]*store.Version, 0, batch)
	// Every batch's query has the same text (the position is an
	// argument), so it is planned once: small batches cost little more.
	var stmt *sql.Stmt
	defer func() {
		if stmt != nil {
			stmt.Close()
		}
	}()
	for {
		query, args, err := scanSQL(q, db.params.id, after, batch)
		if err != nil {
			return err
		}
		if stmt == nil {
			if stmt, err = db.read.PrepareContext(ctx, query); err != nil {
				return fmt.Errorf("sqlite: scan %s: %w", q.Type, err)
			}
		}
		rows, err := stmt.QueryContext(ctx, args...)
		if err != nil {
			return fmt.Errorf("sqlite: scan %s: %w", q.Type, err)
		}
		buf = buf[:0]
		for rows.Next() {
			v := &store.Version{Type: q.Type}
			var ms int64
			var method int
			var patients string
			if err := rows.Scan(&v.Seq, &v.ID, &v.VersionID, &ms, &method, &v.Body, &patients, &v.Source, &v.RID); err != nil {
				rows.Close()
				return fmt.Errorf("sqlite: scan %s: %w", q.Type, err)
			}
			v.Patients = splitPatients(patients)
			v.LastUpdated = time.UnixMilli(ms).UTC()
			v.Method = store.Method(method)
			v.Deleted = v.Body == nil
			buf = append(buf, v)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return fmt.Errorf("sqlite: scan %s: %w", q.Type, err)
		}
		for _, v := range buf {
			if keep != nil && !store.InPatients(v, keep) {
				continue
			}
			if err := fn(v); err != nil {
				return err
			}
		}
		if len(buf) < batch {
			return nil
		}
		after = buf[len(buf)-1].Seq
	}
}

// scanSQL is one batch of a scan after seq after.
func scanSQL(q *store.ScanQuery, ids sqlbuild.ParamIDs, after int64, batch int) (string, []any, error) {
	const cols = `v.seq, v.id, v.version, v.updated, v.method, v.body, v.patients, v.source, v.rid`
	live := "NOT NULL"
	if q.Deleted {
		live = "NULL"
	}
	var b strings.Builder
	args := []any{q.Type, after}
	if len(q.Patients) > 0 && len(q.Patients) <= fewPatients && !q.Deleted {
		// The rids whose compartment parameters refer to the patients, and
		// the patients themselves: a superset of the compartment (a
		// reference may have been to a patient whose compartment the
		// resource has since left) that Scan narrows by v.patients.
		marks := strings.TrimSuffix(strings.Repeat("?,", len(q.Patients)), ",")
		params := sqlbuild.CompartmentParams("Patient", q.Type, ids)
		b.WriteString(`SELECT ` + cols + ` FROM resources r JOIN versions v ON v.seq = r.seq
WHERE r.type = ? AND r.seq > ? AND r.deleted = 0 AND (r.rid IN (SELECT rid FROM idx_reference WHERE param IN (SELECT value FROM json_each(?)) AND target_id IN (` + marks + `) AND target_type = 'Patient')`)
		pl, _ := json.Marshal(params)
		args = append(args, string(pl))
		for _, p := range q.Patients {
			args = append(args, p)
		}
		if q.Type == "Patient" {
			b.WriteString(` OR r.id IN (` + marks + `)`)
			for _, p := range q.Patients {
				args = append(args, p)
			}
		}
		b.WriteString(`)`)
		if !q.Since.IsZero() {
			b.WriteString(` AND r.updated >= ?`)
			args = append(args, q.Since.UnixMilli())
		}
		args, err := match(&b, args, q, ids)
		if err != nil {
			return "", nil, err
		}
		b.WriteString(` ORDER BY r.seq LIMIT ?`)
		return b.String(), append(args, batch), nil
	}
	// Every version of the type in write order, kept if it is the current
	// one: versions are stored by seq, so the bodies are read in the order
	// they lie on disk.
	b.WriteString(`SELECT ` + cols + ` FROM versions v JOIN resources r ON r.type = v.type AND r.id = v.id AND r.seq = v.seq
WHERE v.type = ? AND v.seq > ? AND v.body IS ` + live)
	if !q.Since.IsZero() {
		b.WriteString(` AND v.updated >= ?`)
		args = append(args, q.Since.UnixMilli())
	}
	args, err := match(&b, args, q, ids)
	if err != nil {
		return "", nil, err
	}
	b.WriteString(` ORDER BY v.seq LIMIT ?`)
	return b.String(), append(args, batch), nil
}

// match adds q.Match's searches, any of which the resource row r must
// match.
func match(b *strings.Builder, args []any, q *store.ScanQuery, ids sqlbuild.ParamIDs) ([]any, error) {
	if len(q.Match) == 0 || q.Deleted {
		return args, nil
	}
	b.WriteString(` AND (`)
	for i, m := range q.Match {
		where, margs, err := sqlbuild.Where(sqlbuild.SQLite, m, ids)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			b.WriteString(` OR `)
		}
		b.WriteString(`(` + where + `)`)
		args = append(args, margs...)
	}
	b.WriteString(`)`)
	return args, nil
}
