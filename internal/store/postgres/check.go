package postgres

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
)

// Check verifies the store's invariants in one snapshot: every resource's
// current version exists and is its newest, its rid is its first version's
// seq, versions of a resource are numbered without gaps and never go back
// in seq or lastUpdated, a version has a body unless it is a deletion, and
// the sequence is past every seq, and index rows belong to resources that
// exist, are not deleted and record that they have rows in that table;
// and the audit trail is one unbroken hash chain ending at its head. It reads every row: run it on a quiet
// database or a copy, not on every start.
func (db *DB) Check(ctx context.Context) error {
	conn, err := db.acquire(ctx)
	if err != nil {
		return db.fail(ctx, "check", err)
	}
	defer conn.Release()
	checks := []struct{ what, sql string }{
		{"resources whose current version is missing or not the newest", `
			SELECT count(*) FROM resources r LEFT JOIN versions v ON v.seq = r.seq
			WHERE v.seq IS NULL OR v.version != r.version OR v.rid != r.rid
			   OR v.updated != r.updated OR (v.body IS NULL) != (r.deleted = 1)
			   OR EXISTS (SELECT 1 FROM versions n WHERE n.rid = r.rid AND n.version > r.version)`},
		{"resources whose rid is not their first version's seq", `
			SELECT count(*) FROM resources r
			WHERE NOT EXISTS (SELECT 1 FROM versions v WHERE v.rid = r.rid AND v.version = 1 AND v.seq = r.rid)`},
		{"resources with gaps in their version numbers", `
			SELECT count(*) FROM (SELECT rid FROM versions GROUP BY rid HAVING max(version) != count(*)) g`},
		{"versions whose successor has a smaller seq or an earlier lastUpdated", `
			SELECT count(*) FROM versions v JOIN versions n ON n.rid = v.rid AND n.version = v.version + 1
			WHERE n.seq < v.seq OR n.updated < v.updated`},
		{"versions of no resource", `
			SELECT count(*) FROM versions v WHERE NOT EXISTS (SELECT 1 FROM resources r WHERE r.rid = v.rid)`},
		{"versions whose body disagrees with their method (a deletion has none)", `
			SELECT count(*) FROM versions WHERE (body IS NULL) != (method = 3)`},
		{"versions with a seq the sequence has not handed out", `
			SELECT count(*) FROM versions WHERE seq > (SELECT last_value FROM versions_seq)`},
	}
	checks = append(checks, []struct{ what, sql string }{
		{"audit events whose hash is not SHA-256 of the previous hash and their body", `
			SELECT count(*) FROM audit WHERE hash <> sha256(prev || body)`},
		{"audit events not linked to the event before them", `
			SELECT count(*) FROM audit a LEFT JOIN audit p ON p.seq = a.seq - 1
			WHERE CASE WHEN a.seq = 1 THEN a.prev <> '' ELSE p.seq IS NULL OR a.prev <> p.hash END`},
		{"audit chain heads that are not the newest event", `
			SELECT count(*) FROM audit_head h
			WHERE h.seq <> (SELECT coalesce(max(seq), 0) FROM audit)
			   OR h.hash <> coalesce((SELECT hash FROM audit ORDER BY seq DESC LIMIT 1), '')`},
	}...)
	for i, t := range indexTables {
		checks = append(checks, struct{ what, sql string }{"rows in " + t.name + " of no current resource indexed there", `
			SELECT count(*) FROM ` + t.name + ` i WHERE NOT EXISTS (SELECT 1 FROM resources r
				WHERE r.rid = i.rid AND r.deleted = 0 AND r.indexed & ` + strconv.Itoa(1<<i) + ` <> 0)`})
	}
	return pgx.BeginTxFunc(ctx, conn, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		for _, c := range checks {
			var n int64
			if err := tx.QueryRow(ctx, c.sql).Scan(&n); err != nil {
				return db.fail(ctx, "check "+c.what, err)
			}
			if n != 0 {
				return fmt.Errorf("postgres: %d %s", n, c.what)
			}
		}
		return nil
	})
}
