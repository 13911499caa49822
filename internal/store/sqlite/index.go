package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"

	"sharedcare/internal/search"
	"sharedcare/internal/store/sqlbuild"
)

// params is the search_params registry: (type, code) ↔ small integer ids
// that index rows carry instead of the text.
type params struct {
	mu  sync.RWMutex // guards ids
	ids map[string]int64
}

func paramKey(typ, code string) string { return typ + "\x00" + code }

func (p *params) id(typ, code string) (int64, bool) {
	p.mu.RLock()
	id, ok := p.ids[paramKey(typ, code)]
	p.mu.RUnlock()
	return id, ok
}

// loadParams reads the registry, adding the spec's parameters that are
// missing (all of them, on a new database).
func loadParams(ctx context.Context, conn *sql.Conn) (*params, error) {
	p := &params{ids: map[string]int64{}}
	read := func() error {
		rows, err := conn.QueryContext(ctx, `SELECT id, type, code FROM search_params`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			var typ, code string
			if err := rows.Scan(&id, &typ, &code); err != nil {
				return err
			}
			p.ids[paramKey(typ, code)] = id
		}
		return rows.Err()
	}
	if err := read(); err != nil {
		return nil, fmt.Errorf("sqlite: read search parameters: %w", err)
	}
	var missing [][2]string
	for _, tc := range sqlbuild.Registry() {
		if _, ok := p.ids[paramKey(tc[0], tc[1])]; !ok {
			missing = append(missing, tc)
		}
	}
	if len(missing) == 0 {
		return p, nil
	}
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return nil, fmt.Errorf("sqlite: register search parameters: %w", err)
	}
	for _, tc := range missing {
		if _, err := conn.ExecContext(ctx, `INSERT OR IGNORE INTO search_params (type, code) VALUES (?, ?)`, tc[0], tc[1]); err != nil {
			conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
			return nil, fmt.Errorf("sqlite: register search parameter %s.%s: %w", tc[0], tc[1], err)
		}
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return nil, fmt.Errorf("sqlite: register search parameters: %w", err)
	}
	if err := read(); err != nil {
		return nil, fmt.Errorf("sqlite: read search parameters: %w", err)
	}
	return p, nil
}

// indexTable describes one index table for batched inserts.
type indexTable struct {
	name string
	cols int // columns, rid and param included
}

var indexTables = []indexTable{
	{"idx_string", 4}, {"idx_token", 4}, {"idx_reference", 5}, {"idx_date", 4},
	{"idx_number", 3}, {"idx_quantity", 7}, {"idx_uri", 3}, {"idx_composite", 10},
}

// rowsPerInsert bounds a multi-row INSERT: one statement carries many
// rows, which costs far fewer calls into SQLite than a row at a time.
const rowsPerInsert = 32

// indexWriter writes index rows with prepared multi-row inserts, cached by
// table and row count. It belongs to the writer goroutine.
type indexWriter struct {
	conn    *sql.Conn
	inserts map[[2]int]*sql.Stmt // (table, rows) → INSERT
	deletes []*sql.Stmt          // per table: DELETE ... WHERE rid = ?
}

func newIndexWriter(ctx context.Context, conn *sql.Conn) (*indexWriter, error) {
	w := &indexWriter{conn: conn, inserts: map[[2]int]*sql.Stmt{}}
	for _, t := range indexTables {
		st, err := conn.PrepareContext(ctx, "DELETE FROM "+t.name+" WHERE rid = ?")
		if err != nil {
			return nil, fmt.Errorf("sqlite: prepare delete from %s: %w", t.name, err)
		}
		w.deletes = append(w.deletes, st)
	}
	return w, nil
}

func (w *indexWriter) insert(ctx context.Context, table int, rows int, args []any) error {
	key := [2]int{table, rows}
	st := w.inserts[key]
	if st == nil {
		t := indexTables[table]
		row := "(" + strings.TrimSuffix(strings.Repeat("?,", t.cols), ",") + ")"
		q := "INSERT OR IGNORE INTO " + t.name + " VALUES " + strings.TrimSuffix(strings.Repeat(row+",", rows), ",")
		var err error
		if st, err = w.conn.PrepareContext(ctx, q); err != nil {
			return fmt.Errorf("sqlite: prepare insert into %s: %w", t.name, err)
		}
		w.inserts[key] = st
	}
	_, err := st.ExecContext(ctx, args...)
	return err
}

// clear removes every index row of rid.
func (w *indexWriter) clear(ctx context.Context, rid int64) error {
	for i, st := range w.deletes {
		if _, err := st.ExecContext(ctx, rid); err != nil {
			return fmt.Errorf("sqlite: clear %s: %w", indexTables[i].name, err)
		}
	}
	return nil
}

// write inserts e's rows for rid, a resource of type typ.
func (w *indexWriter) write(ctx context.Context, p *params, typ string, rid int64, e *search.Entries) error {
	if e == nil {
		return nil
	}
	var firstErr error
	for table := range indexTables {
		var args []any
		n := 0
		flush := func() {
			if n > 0 && firstErr == nil {
				if err := w.insert(ctx, table, n, args); err != nil {
					firstErr = fmt.Errorf("sqlite: index %s: %w", indexTables[table].name, err)
				}
			}
			args, n = args[:0], 0
		}
		add := func(code string, vals ...any) {
			id, ok := p.id(typ, code)
			if !ok {
				return // a parameter the registry lacks cannot be searched; skip its rows
			}
			args = append(args, rid, id)
			args = append(args, vals...)
			if n++; n == rowsPerInsert {
				flush()
			}
		}
		switch table {
		case 0:
			for _, s := range e.Strings {
				add(s.Param, s.Norm, s.Exact)
			}
		case 1:
			for _, t := range e.Tokens {
				add(t.Param, t.System, t.Code)
			}
		case 2:
			for _, r := range e.References {
				add(r.Param, r.TargetType, r.TargetID, r.URL)
			}
		case 3:
			for _, d := range e.Dates {
				add(d.Param, d.Low, d.High)
			}
		case 4:
			for _, x := range e.Numbers {
				add(x.Param, x.Value)
			}
		case 5:
			for _, q := range e.Quantities {
				add(q.Param, q.System, q.Code, q.Value, q.CanonicalCode, q.CanonicalValue)
			}
		case 6:
			for _, u := range e.URIs {
				add(u.Param, u.Value)
			}
		case 7:
			for _, c := range e.Composites {
				add(c.Param, c.ASystem, c.ACode, c.BSystem, c.BCode, c.BLow, c.BHigh, c.CLow, c.CHigh)
			}
		}
		flush()
	}
	return firstErr
}
