package postgres

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"sharedcare/internal/store"
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
	query, args := scanSQL(q, batch)
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

// scanSQL is a scan's batch query; $1 is the type and $2 the seq to
// continue after.
func scanSQL(q *store.ScanQuery, batch int) (string, []any) {
	const cols = `v.seq, v.id, v.version, v.updated, v.method, v.body, v.patients, v.source, v.rid`
	args := []any{q.Type, int64(0)}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	var b strings.Builder
	if len(q.Patients) > 0 && len(q.Patients) <= fewPatients && !q.Deleted {
		// The rids that refer to the patients, and the patients themselves:
		// a superset of the compartment, narrowed by v.patients.
		ids := arg(q.Patients)
		b.WriteString(`SELECT ` + cols + ` FROM resources r JOIN versions v ON v.seq = r.seq
WHERE r.type = $1 AND r.seq > $2 AND r.deleted = 0 AND (r.rid IN (SELECT rid FROM idx_reference WHERE target_id = ANY(` + ids + `::text[]) AND target_type = 'Patient')`)
		if q.Type == "Patient" {
			b.WriteString(` OR r.id = ANY(` + ids + `::text[])`)
		}
		b.WriteString(`)`)
		if !q.Since.IsZero() {
			b.WriteString(` AND r.updated >= ` + arg(q.Since.UnixMilli()))
		}
		b.WriteString(` ORDER BY r.seq LIMIT ` + arg(batch))
		return b.String(), args
	}
	live := "NOT NULL"
	if q.Deleted {
		live = "NULL"
	}
	// Every version of the type in seq order (versions_type), kept if it
	// is the current one.
	b.WriteString(`SELECT ` + cols + ` FROM versions v JOIN resources r ON r.type = v.type AND r.id = v.id AND r.seq = v.seq
WHERE v.type = $1 AND v.seq > $2 AND v.body IS ` + live)
	if len(q.Patients) > 0 && !q.Deleted {
		b.WriteString(` AND v.patients && ` + arg(q.Patients) + `::text[]`)
	}
	if !q.Since.IsZero() {
		b.WriteString(` AND v.updated >= ` + arg(q.Since.UnixMilli()))
	}
	b.WriteString(` ORDER BY v.seq LIMIT ` + arg(batch))
	return b.String(), args
}
