package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"sharedcare/internal/store"
)

// GetRecord returns a record's value, or store.ErrNotFound if it is absent
// or expired.
func (db *DB) GetRecord(ctx context.Context, kind, key string) ([]byte, error) {
	var v []byte
	err := db.withConn(ctx, func(c *pgxpool.Conn) error {
		return c.QueryRow(ctx, `SELECT value FROM records WHERE kind = $1 AND key = $2 AND (expires = 0 OR expires > $3)`,
			kind, key, db.opts.Now().UnixMilli()).Scan(&v)
	})
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, store.ErrNotFound
	case err != nil:
		return nil, db.fail(ctx, "get record "+kind, err)
	}
	return v, nil
}

// PutRecord creates or replaces a record; it is committed when this
// returns. A zero expires keeps it for ever.
func (db *DB) PutRecord(ctx context.Context, kind, key string, value []byte, expires time.Time) error {
	var exp int64
	if !expires.IsZero() {
		exp = expires.UnixMilli()
	}
	return db.exec(ctx, "put record "+kind, `INSERT INTO records (kind, key, value, expires) VALUES ($1, $2, $3, $4)
		ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value, expires = excluded.expires`, kind, key, value, exp)
}

// DeleteRecord removes a record; removing an absent one is no error.
func (db *DB) DeleteRecord(ctx context.Context, kind, key string) error {
	return db.exec(ctx, "delete record "+kind, `DELETE FROM records WHERE kind = $1 AND key = $2`, kind, key)
}

// exec runs one idempotent statement in a transaction of its own, and
// once more on a fresh connection if the first broke (a stale connection
// after a restart): whether or not it ran the first time, the outcome is
// the same.
func (db *DB) exec(ctx context.Context, op, sql string, args ...any) error {
	for attempt := 0; ; attempt++ {
		conn, err := db.acquire(ctx)
		if err != nil {
			return db.fail(ctx, op, err)
		}
		_, err = conn.Exec(ctx, sql, args...)
		broken := conn.Conn().IsClosed()
		conn.Release()
		if err == nil {
			return nil
		}
		if !broken || attempt > 0 || ctx.Err() != nil {
			return db.fail(ctx, op, err)
		}
	}
}

// ListRecords calls fn for each unexpired record of kind, in key order.
func (db *DB) ListRecords(ctx context.Context, kind string, fn func(key string, value []byte) error) error {
	conn, err := db.acquire(ctx)
	if err != nil {
		return db.fail(ctx, "list records "+kind, err)
	}
	defer conn.Release()
	rows, err := conn.Query(ctx, `SELECT key, value FROM records WHERE kind = $1 AND (expires = 0 OR expires > $2) ORDER BY key`,
		kind, db.opts.Now().UnixMilli())
	if err != nil {
		return db.fail(ctx, "list records "+kind, err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var v []byte
		if err := rows.Scan(&k, &v); err != nil {
			return db.fail(ctx, "list records "+kind, err)
		}
		if err := fn(k, v); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return db.fail(ctx, "list records "+kind, err)
	}
	return nil
}

// TakeRecord deletes a record and returns its value, in one statement, so
// that of nodes taking the same record at once exactly one gets it.
func (db *DB) TakeRecord(ctx context.Context, kind, key string) ([]byte, error) {
	var v []byte
	// Not retried on a broken connection: the delete may have happened.
	conn, err := db.acquire(ctx)
	if err != nil {
		return nil, db.fail(ctx, "take record "+kind, err)
	}
	defer conn.Release()
	err = conn.QueryRow(ctx, `DELETE FROM records WHERE kind = $1 AND key = $2 AND (expires = 0 OR expires > $3) RETURNING value`,
		kind, key, db.opts.Now().UnixMilli()).Scan(&v)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, store.ErrNotFound
	case err != nil:
		return nil, db.fail(ctx, "take record "+kind, err)
	}
	return v, nil
}

// PutRecordIfAbsent creates a record unless an unexpired one exists, and
// reports whether it did; concurrent callers cannot both succeed.
func (db *DB) PutRecordIfAbsent(ctx context.Context, kind, key string, value []byte, expires time.Time) (bool, error) {
	var exp int64
	if !expires.IsZero() {
		exp = expires.UnixMilli()
	}
	conn, err := db.acquire(ctx)
	if err != nil {
		return false, db.fail(ctx, "claim record "+kind, err)
	}
	defer conn.Release()
	tag, err := conn.Exec(ctx, `INSERT INTO records (kind, key, value, expires) VALUES ($1, $2, $3, $4)
		ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value, expires = excluded.expires
		WHERE records.expires != 0 AND records.expires <= $5`, kind, key, value, exp, db.opts.Now().UnixMilli())
	if err != nil {
		return false, db.fail(ctx, "claim record "+kind, err)
	}
	return tag.RowsAffected() == 1, nil
}
