package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"sharedcare/internal/outcome"
	"sharedcare/internal/store"
)

const (
	readCurrentSQL = `SELECT v.seq, v.version, v.updated, v.method, v.body, v.patients, v.source FROM resources r JOIN versions v ON v.seq = r.seq WHERE r.type = $1 AND r.id = $2`
	vreadSQL       = `SELECT v.seq, v.version, v.updated, v.method, v.body, v.patients, v.source FROM resources r JOIN versions v ON v.rid = r.rid WHERE r.type = $1 AND r.id = $2 AND v.version = $3`
)

func scanVersion(row pgx.Row, typ, id string) (*store.Version, error) {
	v := &store.Version{Type: typ, ID: id}
	var method int16
	var ms int64
	if err := row.Scan(&v.Seq, &v.VersionID, &ms, &method, &v.Body, &v.Patients, &v.Source); err != nil {
		return nil, err
	}
	v.Patients = noneIsNil(v.Patients)
	v.LastUpdated = time.UnixMilli(ms).UTC()
	v.Method = store.Method(method)
	v.Deleted = v.Body == nil
	return v, nil
}

// withConn runs fn on a pooled connection. If the connection turns out to
// be broken (the server restarted, or an operator ended the session) it
// runs fn once more on a fresh one: fn only reads, so that is safe, and it
// hides the stale connections a restart leaves in the pool.
func (db *DB) withConn(ctx context.Context, fn func(*pgxpool.Conn) error) error {
	for attempt := 0; ; attempt++ {
		conn, err := db.acquire(ctx)
		if err != nil {
			return err
		}
		err = fn(conn)
		broken := err != nil && conn.Conn().IsClosed()
		conn.Release()
		if !broken || attempt > 0 || ctx.Err() != nil {
			return err
		}
	}
}

// Read returns the current version of typ/id: a 404 *outcome.Error if it
// never existed, 410 if it is deleted. It sees every write acknowledged
// before it began, on any node.
func (db *DB) Read(ctx context.Context, typ, id string) (*store.Version, error) {
	var v *store.Version
	err := db.withConn(ctx, func(c *pgxpool.Conn) (err error) {
		v, err = scanVersion(c.QueryRow(ctx, readCurrentSQL, typ, id), typ, id)
		return err
	})
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, outcome.NotFound(typ, id)
	case err != nil:
		return nil, db.fail(ctx, "read "+typ+"/"+id, err)
	case v.Deleted:
		return nil, outcome.Gone(typ, id, strconv.FormatInt(v.VersionID, 10))
	}
	return v, nil
}

// VRead returns one version of typ/id, a deletion included, or a 404.
func (db *DB) VRead(ctx context.Context, typ, id string, versionID int64) (*store.Version, error) {
	var v *store.Version
	err := db.withConn(ctx, func(c *pgxpool.Conn) (err error) {
		v, err = scanVersion(c.QueryRow(ctx, vreadSQL, typ, id, versionID), typ, id)
		return err
	})
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, outcome.Newf(404, outcome.CodeNotFound, "", "%s/%s has no version %d", typ, id, versionID)
	case err != nil:
		return nil, db.fail(ctx, fmt.Sprintf("vread %s/%s/_history/%d", typ, id, versionID), err)
	}
	return v, nil
}

// History lists versions newest first (by seq); see the package comment
// for what paging by seq promises across nodes.
func (db *DB) History(ctx context.Context, q *store.HistoryQuery) ([]*store.Version, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	switch {
	case q.ID != "":
		where = append(where, "v.rid = (SELECT rid FROM resources WHERE type = "+arg(q.Type)+" AND id = "+arg(q.ID)+")")
	case q.Type != "":
		where = append(where, "v.type = "+arg(q.Type))
	}
	if q.Before > 0 {
		where = append(where, "v.seq < "+arg(q.Before))
	}
	if !q.Since.IsZero() {
		where = append(where, "v.updated >= "+arg(q.Since.UnixMilli()))
	}
	if !q.AtHigh.IsZero() {
		// Current at some time in [AtLow, AtHigh]: written by AtHigh and not
		// replaced by the next version before AtLow.
		where = append(where, "v.updated <= "+arg(q.AtHigh.UnixMilli()),
			"NOT EXISTS (SELECT 1 FROM versions n WHERE n.rid = v.rid AND n.version = v.version + 1 AND n.updated < "+arg(q.AtLow.UnixMilli())+")")
	}
	query := "SELECT v.seq, v.version, v.updated, v.method, v.body, v.patients, v.source, v.type, v.id FROM versions v"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	count := q.Count
	if count <= 0 {
		count = 50
	}
	query += " ORDER BY v.seq DESC LIMIT " + arg(count)
	var out []*store.Version
	err := db.withConn(ctx, func(c *pgxpool.Conn) error {
		out = out[:0]
		rows, err := c.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			v := &store.Version{}
			var method int16
			var ms int64
			if err := rows.Scan(&v.Seq, &v.VersionID, &ms, &method, &v.Body, &v.Patients, &v.Source, &v.Type, &v.ID); err != nil {
				return err
			}
			v.Patients = noneIsNil(v.Patients)
			v.LastUpdated = time.UnixMilli(ms).UTC()
			v.Method = store.Method(method)
			v.Deleted = v.Body == nil
			out = append(out, v)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, db.fail(ctx, "history", err)
	}
	return out, nil
}

// noneIsNil reads an empty patients array as nil, as SQLite's backend does.
func noneIsNil(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}
