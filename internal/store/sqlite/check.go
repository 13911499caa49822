package sqlite

import (
	"context"
	"fmt"
	"os"
)

// Check verifies the database file (SQLite's integrity_check) and the
// store's own invariants: every resource's current version exists and is
// its newest, and versions of a resource are numbered without gaps.
func (db *DB) Check(ctx context.Context) error {
	var res string
	if err := db.read.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&res); err != nil {
		return fmt.Errorf("sqlite: integrity_check: %w", err)
	}
	if res != "ok" {
		return fmt.Errorf("sqlite: integrity_check: %s", res)
	}
	checks := []struct{ what, sql string }{
		{"resources whose current version is missing or not the newest", `
			SELECT count(*) FROM resources r LEFT JOIN versions v ON v.seq = r.seq
			WHERE v.seq IS NULL OR v.version != r.version OR v.rid != r.rid
			   OR EXISTS (SELECT 1 FROM versions n WHERE n.rid = r.rid AND n.version > r.version)`},
		{"resources with gaps in their version numbers", `
			SELECT count(*) FROM (SELECT rid FROM versions GROUP BY rid HAVING max(version) != count(*))`},
		{"versions of no resource", `
			SELECT count(*) FROM versions v WHERE NOT EXISTS (SELECT 1 FROM resources r WHERE r.rid = v.rid)`},
	}
	for _, c := range checks {
		var n int
		if err := db.read.QueryRowContext(ctx, c.sql).Scan(&n); err != nil {
			return fmt.Errorf("sqlite: check %s: %w", c.what, err)
		}
		if n != 0 {
			return fmt.Errorf("sqlite: %d %s", n, c.what)
		}
	}
	return nil
}

// Size returns the bytes the database files take: the main file, its WAL
// and the search snapshots.
func (db *DB) Size(ctx context.Context) (int64, error) {
	var total int64
	for _, p := range []string{db.opts.Path, db.opts.Path + "-wal", db.opts.Path + "-search", db.opts.Path + "-search-wal", db.opts.Path + "-audit", db.opts.Path + "-audit-wal"} {
		if fi, err := os.Stat(p); err == nil {
			total += fi.Size()
		}
	}
	return total, nil
}
