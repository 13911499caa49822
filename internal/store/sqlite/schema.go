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
	// 2: search index. Each table is clustered by rid, so that a resource's
	// rows are appended on create and removed as one range on update; the
	// secondary index serves searches.
	`
CREATE TABLE search_params (
	id   INTEGER PRIMARY KEY,
	type TEXT NOT NULL,
	code TEXT NOT NULL,
	UNIQUE (type, code)
);
CREATE TABLE idx_string (
	rid INTEGER NOT NULL, param INTEGER NOT NULL, norm TEXT NOT NULL, exact TEXT NOT NULL,
	PRIMARY KEY (rid, param, norm, exact)
) WITHOUT ROWID;
CREATE INDEX idx_string_s ON idx_string (param, norm);
CREATE TABLE idx_token (
	rid INTEGER NOT NULL, param INTEGER NOT NULL, system TEXT NOT NULL, code TEXT NOT NULL,
	PRIMARY KEY (rid, param, system, code)
) WITHOUT ROWID;
CREATE INDEX idx_token_s ON idx_token (param, code, system);
CREATE TABLE idx_reference (
	rid INTEGER NOT NULL, param INTEGER NOT NULL, target_type TEXT NOT NULL, target_id TEXT NOT NULL, url TEXT NOT NULL,
	PRIMARY KEY (rid, param, target_type, target_id, url)
) WITHOUT ROWID;
CREATE INDEX idx_reference_s ON idx_reference (param, target_id, target_type);
CREATE INDEX idx_reference_u ON idx_reference (param, url) WHERE url != '';
CREATE INDEX idx_reference_t ON idx_reference (target_id, target_type);
CREATE TABLE idx_date (
	rid INTEGER NOT NULL, param INTEGER NOT NULL, lo INTEGER NOT NULL, hi INTEGER NOT NULL,
	PRIMARY KEY (rid, param, lo, hi)
) WITHOUT ROWID;
CREATE INDEX idx_date_s ON idx_date (param, lo, hi);
CREATE TABLE idx_number (
	rid INTEGER NOT NULL, param INTEGER NOT NULL, value REAL NOT NULL,
	PRIMARY KEY (rid, param, value)
) WITHOUT ROWID;
CREATE INDEX idx_number_s ON idx_number (param, value);
CREATE TABLE idx_quantity (
	rid INTEGER NOT NULL, param INTEGER NOT NULL, system TEXT NOT NULL, code TEXT NOT NULL, value REAL NOT NULL,
	ccode TEXT NOT NULL, cvalue REAL NOT NULL,
	PRIMARY KEY (rid, param, system, code, value)
) WITHOUT ROWID;
CREATE INDEX idx_quantity_s ON idx_quantity (param, code, value);
CREATE INDEX idx_quantity_c ON idx_quantity (param, ccode, cvalue) WHERE ccode != '';
CREATE TABLE idx_uri (
	rid INTEGER NOT NULL, param INTEGER NOT NULL, value TEXT NOT NULL,
	PRIMARY KEY (rid, param, value)
) WITHOUT ROWID;
CREATE INDEX idx_uri_s ON idx_uri (param, value);
CREATE TABLE idx_composite (
	rid INTEGER NOT NULL, param INTEGER NOT NULL, a_system TEXT NOT NULL, a_code TEXT NOT NULL,
	b_system TEXT NOT NULL, b_code TEXT NOT NULL, b_lo REAL NOT NULL, b_hi REAL NOT NULL, c_lo REAL NOT NULL, c_hi REAL NOT NULL,
	PRIMARY KEY (rid, param, a_system, a_code, b_system, b_code, b_lo, b_hi, c_lo)
) WITHOUT ROWID;
CREATE INDEX idx_composite_s ON idx_composite (param, a_code, b_code);
`,
	// 3: the server's own records (users, OAuth clients, tokens).
	`
CREATE TABLE records (
	kind    TEXT NOT NULL,
	key     TEXT NOT NULL,
	value   BLOB NOT NULL,
	expires INTEGER NOT NULL, -- Unix milliseconds; 0 never
	PRIMARY KEY (kind, key)
) WITHOUT ROWID;
`,
	// 4: who a version is about and who recorded it, for access rules.
	`
ALTER TABLE versions ADD COLUMN patients TEXT NOT NULL DEFAULT ''; -- space-separated Patient ids
ALTER TABLE versions ADD COLUMN source TEXT NOT NULL DEFAULT '';   -- recording organisation
`,
	// 5: references by target alone went unused once a patient-level
	// scan looked them up by compartment parameter (idx_reference_s).
	`
DROP INDEX IF EXISTS idx_reference_t;
`,
	// 6: a code's texts kept once. Most :text rows repeat, resource after
	// resource, a coding's display or its CodeableConcept's text ("Body
	// mass index", "normal"): a quarter of all index rows. token_text holds
	// the first of each kind (1 display, 2 concept text) seen for each
	// (token parameter, system, code); a token row whose resource carries
	// that same text has the kind's bit set in texted and no :text row for
	// it. Rows written before this have texted 0 and keep their :text rows.
	// The search index is rebuilt to cover texted, so that a :text search
	// reads no table rows.
	`
CREATE TABLE token_text (
	param INTEGER NOT NULL, system TEXT NOT NULL, code TEXT NOT NULL, kind INTEGER NOT NULL, norm TEXT NOT NULL,
	PRIMARY KEY (param, system, code, kind)
) WITHOUT ROWID;
CREATE INDEX token_text_s ON token_text (param, norm);
ALTER TABLE idx_token ADD COLUMN texted INTEGER NOT NULL DEFAULT 0;
DROP INDEX idx_token_s;
CREATE INDEX idx_token_s ON idx_token (param, code, system, texted);
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
