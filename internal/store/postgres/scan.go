package postgres

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"sharedcare/internal/store"
	"sharedcare/internal/store/sqlbuild"
)

// fewPatients is the most patients a scan finds through the reference
// index rather than by walking every version of the type: a patient's
// $everything is a handful of index lookups, a group export one pass.
const fewPatients = 50

// Scan walks the current versions of q.Type in seq order, a batch per
// query, keyset-paged on seq (no OFFSET). Each batch is read on a pooled
// connection that is released before fn sees the batch, so a slow
// consumer holds no connection, snapshot or lock. See the package comment
// for what seq order promises across nodes: a version committed late with
// a smaller seq than the scan has passed is not seen.
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
	query, args, err := scanSQL(q, db.params.id, batch)
	if err != nil {
		return err
	}
	after := q.After
	buf := make([]*store.Version, 0, batch)
	for {
		args[1] = after
		err := db.withConn(ctx, func(c *pgxpool.Conn) error {
			buf = buf[:0]
			rows, err := c.Query(ctx, query, args...)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				v := &store.Version{Type: q.Type}
				var ms int64
				var method int16
				var version int32
				if err := rows.Scan(&v.Seq, &v.ID, &version, &ms, &method, &v.Body, &v.Patients, &v.Source, &v.RID); err != nil {
					return err
				}
				v.VersionID = int64(version)
				v.Patients = noneIsNil(v.Patients)
				v.LastUpdated = time.UnixMilli(ms).UTC()
				v.Method = store.Method(method)
				v.Deleted = v.Body == nil
				buf = append(buf, v)
			}
			return rows.Err()
		})
		if err != nil {
			return db.fail(ctx, "scan "+q.Type, err)
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

// scanSQL is a scan's batch query, written with sqlbuild's '?'
// placeholders and renumbered; its second argument is the seq to continue
// after.
func scanSQL(q *store.ScanQuery, ids sqlbuild.ParamIDs, batch int) (string, []any, error) {
	const cols = `v.seq, v.id, v.version, v.updated, v.method, v.body, v.patients, v.source, v.rid`
	args := []any{q.Type, int64(0)}
	var b strings.Builder
	if len(q.Patients) > 0 && len(q.Patients) <= fewPatients && !q.Deleted {
		// The rids whose compartment parameters refer to the patients, and
		// the patients themselves: a superset of the compartment, narrowed
		// by v.patients.
		b.WriteString(`SELECT ` + cols + ` FROM resources r JOIN versions v ON v.seq = r.seq
WHERE r.type = ? AND r.seq > ? AND r.deleted = 0 AND (r.rid IN (SELECT rid FROM idx_reference WHERE param = ANY(?::bigint[]) AND target_id = ANY(?::text[]) AND target_type = 'Patient')`)
		args = append(args, sqlbuild.CompartmentParams("Patient", q.Type, ids), q.Patients)
		if q.Type == "Patient" {
			b.WriteString(` OR r.id = ANY(?::text[])`)
			args = append(args, q.Patients)
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
		return renumber(b.String()), pgArgs(append(args, batch)), nil
	}
	live := "NOT NULL"
	if q.Deleted {
		live = "NULL"
	}
	// Every version of the type in seq order (versions_type), kept if it
	// is the current one.
	b.WriteString(`SELECT ` + cols + ` FROM versions v JOIN resources r ON r.type = v.type AND r.id = v.id AND r.seq = v.seq
WHERE v.type = ? AND v.seq > ? AND v.body IS ` + live)
	if len(q.Patients) > 0 && !q.Deleted {
		b.WriteString(` AND v.patients && ?::text[]`)
		args = append(args, q.Patients)
	}
	if !q.Since.IsZero() {
		b.WriteString(` AND v.updated >= ?`)
		args = append(args, q.Since.UnixMilli())
	}
	args, err := match(&b, args, q, ids)
	if err != nil {
		return "", nil, err
	}
	b.WriteString(` ORDER BY v.seq LIMIT ?`)
	return renumber(b.String()), pgArgs(append(args, batch)), nil
}

// match adds q.Match's searches, any of which the resource row r must
// match.
func match(b *strings.Builder, args []any, q *store.ScanQuery, ids sqlbuild.ParamIDs) ([]any, error) {
	if len(q.Match) == 0 || q.Deleted {
		return args, nil
	}
	b.WriteString(` AND (`)
	for i, m := range q.Match {
		where, margs, err := sqlbuild.Where(sqlbuild.PostgreSQL, m, ids)
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
