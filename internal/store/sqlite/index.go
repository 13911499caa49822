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
	ids map[paramKey]int64
}

// paramKey is a registry key; a struct, so that a lookup allocates
// nothing (a joined string did, on the writer, for every index row).
type paramKey struct{ typ, code string }

func (p *params) id(typ, code string) (int64, bool) {
	p.mu.RLock()
	id, ok := p.ids[paramKey{typ, code}]
	p.mu.RUnlock()
	return id, ok
}

// loadParams reads the registry, adding the spec's parameters that are
// missing (all of them, on a new database).
func loadParams(ctx context.Context, conn *sql.Conn) (*params, error) {
	p := &params{ids: map[paramKey]int64{}}
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
			p.ids[paramKey{typ, code}] = id
		}
		return rows.Err()
	}
	if err := read(); err != nil {
		return nil, fmt.Errorf("sqlite: read search parameters: %w", err)
	}
	var missing [][2]string
	for _, tc := range sqlbuild.Registry() {
		if _, ok := p.ids[paramKey{tc[0], tc[1]}]; !ok {
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
	{"idx_string", 4}, {"idx_token", 5}, {"idx_reference", 5}, {"idx_date", 4},
	{"idx_number", 3}, {"idx_quantity", 7}, {"idx_uri", 3}, {"idx_composite", 10},
}

// rowsPerInsert bounds a multi-row INSERT: one statement carries many
// rows, which costs far fewer calls into SQLite than a row at a time.
const rowsPerInsert = 32

// indexWriter writes index rows with prepared multi-row inserts, cached by
// table and row count. Rows are buffered across the writes of a
// transaction and flushed in large statements: before a search inside the
// transaction, and before it commits. It belongs to the writer goroutine.
type indexWriter struct {
	conn    *sql.Conn
	inserts map[[2]int]*sql.Stmt // (table, rows) → INSERT
	deletes []*sql.Stmt          // per table: DELETE ... WHERE rid = ?
	pending [8][]any             // per table: buffered row values
	rows    [8]int               // per table: buffered rows
	texts   *texts
	held    []search.CodedText // scratch for write
}

func newIndexWriter(ctx context.Context, conn *sql.Conn) (*indexWriter, error) {
	tt, err := newTexts(ctx, conn)
	if err != nil {
		return nil, err
	}
	w := &indexWriter{conn: conn, inserts: map[[2]int]*sql.Stmt{}, texts: tt}
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

// clear removes every index row of rid, flushing buffered rows first so
// that none of rid's survive.
func (w *indexWriter) clear(ctx context.Context, rid int64) error {
	if err := w.flush(ctx); err != nil {
		return err
	}
	for i, st := range w.deletes {
		if _, err := st.ExecContext(ctx, rid); err != nil {
			return fmt.Errorf("sqlite: clear %s: %w", indexTables[i].name, err)
		}
	}
	return nil
}

// flush writes the buffered rows, in statements of up to rowsPerInsert
// rows. Statements for fewer rows are prepared for the powers of two, so
// that few shapes are cached.
func (w *indexWriter) flush(ctx context.Context) error {
	for table := range indexTables {
		args, n := w.pending[table], w.rows[table]
		cols := indexTables[table].cols
		for n > 0 {
			k := rowsPerInsert
			for k > n {
				k /= 2
			}
			if err := w.insert(ctx, table, k, args[:k*cols]); err != nil {
				w.discard()
				return fmt.Errorf("sqlite: index %s: %w", indexTables[table].name, err)
			}
			args, n = args[k*cols:], n-k
		}
		w.pending[table], w.rows[table] = w.pending[table][:0], 0
	}
	return nil
}

// discard drops buffered rows, when their job is rolled back.
func (w *indexWriter) discard() {
	for t := range w.pending {
		w.pending[t], w.rows[t] = w.pending[t][:0], 0
	}
	w.texts.rolledBack()
}

// write buffers e's rows for rid, a resource of type typ.
func (w *indexWriter) write(ctx context.Context, p *params, typ string, rid int64, e *search.Entries) error {
	if e == nil {
		return nil
	}
	add := func(table int, code string, vals ...any) {
		id, ok := p.id(typ, code)
		if !ok {
			return // a parameter the registry lacks cannot be searched; skip its rows
		}
		w.pending[table] = append(append(w.pending[table], rid, id), vals...)
		w.rows[table]++
	}
	held, err := w.heldTexts(ctx, p, typ, e)
	if err != nil {
		return err
	}
	for _, s := range e.Strings {
		if !search.Covered(held, s) {
			add(0, s.Param, s.Norm, s.Exact)
		}
	}
	for _, t := range e.Tokens {
		add(1, t.Param, t.System, t.Code, search.Texted(held, t))
	}
	for _, r := range e.References {
		add(2, r.Param, r.TargetType, r.TargetID, r.URL)
	}
	for _, d := range e.Dates {
		add(3, d.Param, d.Low, d.High)
	}
	for _, x := range e.Numbers {
		add(4, x.Param, x.Value)
	}
	for _, q := range e.Quantities {
		add(5, q.Param, q.System, q.Code, q.Value, q.CanonicalCode, q.CanonicalValue)
	}
	for _, u := range e.URIs {
		add(6, u.Param, u.Value)
	}
	for _, c := range e.Composites {
		add(7, c.Param, c.ASystem, c.ACode, c.BSystem, c.BCode, c.BLow, c.BHigh, c.CLow, c.CHigh)
	}
	return nil
}

// heldTexts returns the coded texts of e that token_text holds for their
// codes (storing those of codes new to it): their codings' token rows
// stand for their :text rows.
func (w *indexWriter) heldTexts(ctx context.Context, p *params, typ string, e *search.Entries) ([]search.CodedText, error) {
	held := w.held[:0]
	for _, ct := range e.Coded {
		id, ok := p.id(typ, ct.Key.Param)
		if !ok {
			continue
		}
		ok, err := w.texts.holds(ctx, textKey{param: id, system: ct.Key.System, code: ct.Key.Code, kind: int64(ct.Key.Kind)}, ct.Norm)
		if err != nil {
			return nil, err
		}
		if ok {
			held = append(held, ct)
		}
	}
	w.held = held
	return held, nil
}
