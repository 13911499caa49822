package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"sharedcare/internal/store"
)

// GetRecord returns a record's value, or store.ErrNotFound.
func (db *DB) GetRecord(ctx context.Context, kind, key string) ([]byte, error) {
	var v []byte
	err := db.read.QueryRowContext(ctx, `SELECT value FROM records WHERE kind = ? AND key = ? AND (expires = 0 OR expires > ?)`,
		kind, key, db.opts.Now().UnixMilli()).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get record %s: %w", kind, err)
	}
	return v, nil
}

// PutRecord creates or replaces a record through the writer, so that it is
// durable when this returns.
func (db *DB) PutRecord(ctx context.Context, kind, key string, value []byte, expires time.Time) error {
	var exp int64
	if !expires.IsZero() {
		exp = expires.UnixMilli()
	}
	return db.Tx(ctx, func(tx store.Tx) error {
		_, err := tx.(*writeTx).conn.ExecContext(uncancelled(ctx), `INSERT INTO records (kind, key, value, expires) VALUES (?, ?, ?, ?)
			ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value, expires = excluded.expires`, kind, key, value, exp)
		if err != nil {
			return fmt.Errorf("sqlite: put record %s: %w", kind, err)
		}
		return nil
	})
}

// DeleteRecord removes a record.
func (db *DB) DeleteRecord(ctx context.Context, kind, key string) error {
	return db.Tx(ctx, func(tx store.Tx) error {
		_, err := tx.(*writeTx).conn.ExecContext(uncancelled(ctx), `DELETE FROM records WHERE kind = ? AND key = ?`, kind, key)
		if err != nil {
			return fmt.Errorf("sqlite: delete record %s: %w", kind, err)
		}
		return nil
	})
}

// ListRecords calls fn for each unexpired record of kind, in key order.
func (db *DB) ListRecords(ctx context.Context, kind string, fn func(key string, value []byte) error) error {
	rows, err := db.read.QueryContext(ctx, `SELECT key, value FROM records WHERE kind = ? AND (expires = 0 OR expires > ?) ORDER BY key`,
		kind, db.opts.Now().UnixMilli())
	if err != nil {
		return fmt.Errorf("sqlite: list records %s: %w", kind, err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var v []byte
		if err := rows.Scan(&k, &v); err != nil {
			return fmt.Errorf("sqlite: list records %s: %w", kind, err)
		}
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return rows.Err()
}

// TakeRecord deletes a record and returns its value, through the writer,
// so that of callers taking the same record exactly one gets it.
func (db *DB) TakeRecord(ctx context.Context, kind, key string) ([]byte, error) {
	var v []byte
	err := db.Tx(ctx, func(tx store.Tx) error {
		err := tx.(*writeTx).conn.QueryRowContext(uncancelled(ctx), `DELETE FROM records WHERE kind = ? AND key = ? AND (expires = 0 OR expires > ?) RETURNING value`,
			kind, key, db.opts.Now().UnixMilli()).Scan(&v)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: take record %s: %w", kind, err)
	}
	return v, nil
}

// PutRecordIfAbsent creates a record unless an unexpired one exists, and
// reports whether it did.
func (db *DB) PutRecordIfAbsent(ctx context.Context, kind, key string, value []byte, expires time.Time) (bool, error) {
	var exp int64
	if !expires.IsZero() {
		exp = expires.UnixMilli()
	}
	created := false
	err := db.Tx(ctx, func(tx store.Tx) error {
		res, err := tx.(*writeTx).conn.ExecContext(uncancelled(ctx), `INSERT INTO records (kind, key, value, expires) VALUES (?, ?, ?, ?)
			ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value, expires = excluded.expires
			WHERE records.expires != 0 AND records.expires <= ?`, kind, key, value, exp, db.opts.Now().UnixMilli())
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		created = n == 1
		return err
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: claim record %s: %w", kind, err)
	}
	return created, nil
}
