package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"sharedcare/internal/outcome"
	"sharedcare/internal/store"
)

const readCurrentSQL = `SELECT v.seq, v.version, v.updated, v.method, v.body, v.patients, v.source FROM resources r JOIN versions v ON v.seq = r.seq WHERE r.type = ? AND r.id = ?`

type readStmts struct {
	current, vread *sql.Stmt
}

func prepareRead(ctx context.Context, db *sql.DB) (*readStmts, error) {
	var s readStmts
	var err error
	if s.current, err = db.PrepareContext(ctx, readCurrentSQL); err != nil {
		return nil, fmt.Errorf("sqlite: prepare read: %w", err)
	}
	if s.vread, err = db.PrepareContext(ctx, `SELECT v.seq, v.version, v.updated, v.method, v.body, v.patients, v.source FROM resources r JOIN versions v ON v.rid = r.rid WHERE r.type = ? AND r.id = ? AND v.version = ?`); err != nil {
		return nil, fmt.Errorf("sqlite: prepare vread: %w", err)
	}
	return &s, nil
}

func scanVersion(row interface{ Scan(...any) error }, typ, id string) (*store.Version, error) {
	v := &store.Version{Type: typ, ID: id}
	var ms int64
	var method int
	var patients string
	if err := row.Scan(&v.Seq, &v.VersionID, &ms, &method, &v.Body, &patients, &v.Source); err != nil {
		return nil, err
	}
	v.Patients = splitPatients(patients)
	v.LastUpdated = time.UnixMilli(ms).UTC()
	v.Method = store.Method(method)
	v.Deleted = v.Body == nil
	return v, nil
}

// Read returns the current version of typ/id.
// A version from the cache shares its Body with other readers: callers
// must not change its bytes.
func (db *DB) Read(ctx context.Context, typ, id string) (*store.Version, error) {
	var epoch uint64
	if db.cache != nil {
		var v *store.Version
		var ok bool
		if v, epoch, ok = db.cache.get(typ, id); ok {
			if v.Deleted {
				return nil, outcome.Gone(typ, id, fmt.Sprint(v.VersionID))
			}
			return v, nil
		}
	}
	v, err := scanVersion(db.stmts.current.QueryRowContext(ctx, typ, id), typ, id)
	if err == nil && db.cache != nil {
		db.cache.put(v, epoch)
	}
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, outcome.NotFound(typ, id)
	case err != nil:
		return nil, fmt.Errorf("sqlite: read %s/%s: %w", typ, id, err)
	case v.Deleted:
		return nil, outcome.Gone(typ, id, fmt.Sprint(v.VersionID))
	}
	return v, nil
}

// VRead returns one version of typ/id.
func (db *DB) VRead(ctx context.Context, typ, id string, versionID int64) (*store.Version, error) {
	v, err := scanVersion(db.stmts.vread.QueryRowContext(ctx, typ, id, versionID), typ, id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, outcome.Newf(404, outcome.CodeNotFound, "", "%s/%s has no version %d", typ, id, versionID)
	case err != nil:
		return nil, fmt.Errorf("sqlite: vread %s/%s/_history/%d: %w", typ, id, versionID, err)
	}
	return v, nil
}

// History lists versions newest first.
func (db *DB) History(ctx context.Context, q *store.HistoryQuery) ([]*store.Version, error) {
	var where []string
	var args []any
	switch {
	case q.ID != "":
		where = append(where, "v.rid = (SELECT rid FROM resources WHERE type = ? AND id = ?)")
		args = append(args, q.Type, q.ID)
	case q.Type != "":
		where = append(where, "v.type = ?")
		args = append(args, q.Type)
	}
	if q.Before > 0 {
		where = append(where, "v.seq < ?")
		args = append(args, q.Before)
	}
	if !q.Since.IsZero() {
		where = append(where, "v.updated >= ?")
		args = append(args, q.Since.UnixMilli())
	}
	if !q.AtHigh.IsZero() {
		// Current at some time in [AtLow, AtHigh]: written by AtHigh and not
		// replaced by the next version before AtLow.
		where = append(where, "v.updated <= ?", "NOT EXISTS (SELECT 1 FROM versions n WHERE n.rid = v.rid AND n.version = v.version + 1 AND n.updated < ?)")
		args = append(args, q.AtHigh.UnixMilli(), q.AtLow.UnixMilli())
	}
	query := "SELECT v.seq, v.version, v.updated, v.method, v.body, v.patients, v.source, v.type, v.id FROM versions v"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	count := q.Count
	if count <= 0 {
		count = 50
	}
	query += " ORDER BY v.seq DESC LIMIT ?"
	args = append(args, count)
	rows, err := db.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: history: %w", err)
	}
	defer rows.Close()
	var out []*store.Version
	for rows.Next() {
		v := &store.Version{}
		var ms int64
		var method int
		var patients string
		if err := rows.Scan(&v.Seq, &v.VersionID, &ms, &method, &v.Body, &patients, &v.Source, &v.Type, &v.ID); err != nil {
			return nil, fmt.Errorf("sqlite: history: %w", err)
		}
		v.Patients = splitPatients(patients)
		v.LastUpdated = time.UnixMilli(ms).UTC()
		v.Method = store.Method(method)
		v.Deleted = v.Body == nil
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: history: %w", err)
	}
	return out, nil
}

// splitPatients reads the space-separated patient ids of a version.
func splitPatients(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Fields(s)
}
