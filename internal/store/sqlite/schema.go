package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations are applied in order, each once; the schema's version is the
// number applied. Never edit one that has shipped: append another.
var migrations = []string{
	// 1: resources and their versions.
	`
-- The current version of each resource. rid is the seq of its first
-- version: a stable integer for index rows to point at.
CREATE TABLE resources (
	type    TEXT    NOT NULL,
	id      TEXT    NOT NULL,
	rid     INTEGER NOT NULL,
	version INTEGER NOT NULL,
	seq     INTEGER NOT NULL, -- versions.seq of the current version
	deleted INTEGER NOT NULL,
	updated INTEGER NOT NULL, -- lastUpdated, Unix milliseconds
	PRIMARY KEY (type, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX resources_rid ON resources (rid);

-- Every version ever written, in write order; body is NULL for a deletion.
-- updated never decreases with seq (one writer stamps both), so history
-- filters on it by walking seq.
CREATE TABLE versions (
	seq     INTEGER PRIMARY KEY,
	rid     INTEGER NOT NULL,
	type    TEXT    NOT NULL,
	id      TEXT    NOT NULL,
	version INTEGER NOT NULL,
	updated INTEGER NOT NULL,
	method  INTEGER NOT NULL,
	body    BLOB
);
CREATE UNIQUE INDEX versions_rid ON versions (rid, version);
CREATE INDEX versions_type ON versions (type, seq);
`,
}

// migrate brings the schema up to date inside one immediate transaction, so
// that two processes opening the same file cannot both apply a migration.
func migrate(ctx context.Context, db *sql.DB) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	applied, err := func() (int, error) {
		if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
			return 0, err
		}
		var v int
		err := conn.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&v)
		switch {
		case err == sql.ErrNoRows:
			if _, err := conn.ExecContext(ctx, `INSERT INTO schema_version VALUES (0)`); err != nil {
				return 0, err
			}
		case err != nil:
			return 0, err
		}
		if v > len(migrations) {
			return v, fmt.Errorf("database schema version %d is newer than this program's %d", v, len(migrations))
		}
		for i := v; i < len(migrations); i++ {
			if _, err := conn.ExecContext(ctx, migrations[i]); err != nil {
				return i, fmt.Errorf("migration %d: %w", i+1, err)
			}
		}
		_, err = conn.ExecContext(ctx, `UPDATE schema_version SET version = ?`, len(migrations))
		return len(migrations), err
	}()
	if err != nil {
		conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		return fmt.Errorf("sqlite: migrate (at version %d): %w", applied, err)
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("sqlite: migrate: commit: %w", err)
	}
	return nil
}
