package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"

	"sharedcare/internal/search"
	"sharedcare/internal/store/sqlbuild"
)

// params is the search_params registry: (type, code) ↔ the small integer
// ids that index rows carry instead of the text. Every node reads the same
// table, so the ids agree between nodes. It is read once at Open and not
// changed afterwards, so it needs no lock.
type params map[paramKey]int64

// paramKey is a registry key; a struct, so that a lookup allocates
// nothing (a joined string did, on the writer, for every index row).
type paramKey struct{ typ, code string }

func (p params) id(typ, code string) (int64, bool) {
	id, ok := p[paramKey{typ, code}]
	return id, ok
}

// loadParams reads the registry, first adding the parameters this
// program's specification has and the table lacks (all of them, on a new
// database). Nodes starting at once add them once: a row another node is
// inserting makes this insert wait for it, then skip it.
func (db *DB) loadParams(ctx context.Context) (params, error) {
	conn, err := db.acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: search parameters: %w", err)
	}
	defer conn.Release()
	read := func() (params, error) {
		rows, err := conn.Query(ctx, `SELECT id, type, code FROM search_params`)
		if err != nil {
			return nil, err
		}
		p := params{}
		var id int64
		var typ, code string
		_, err = pgx.ForEachRow(rows, []any{&id, &typ, &code}, func() error {
			p[paramKey{typ, code}] = id
			return nil
		})
		return p, err
	}
	p, err := read()
	if err != nil {
		return nil, fmt.Errorf("postgres: read search parameters: %w", err)
	}
	var types, codes []string
	for _, tc := range sqlbuild.Registry() {
		if _, ok := p.id(tc[0], tc[1]); !ok {
			types, codes = append(types, tc[0]), append(codes, tc[1])
		}
	}
	if len(types) == 0 {
		return p, nil
	}
	if _, err := conn.Exec(ctx, `INSERT INTO search_params (type, code) SELECT * FROM unnest($1::text[], $2::text[])
		ON CONFLICT (type, code) DO NOTHING`, types, codes); err != nil {
		return nil, fmt.Errorf("postgres: register search parameters: %w", err)
	}
	if p, err = read(); err != nil {
		return nil, fmt.Errorf("postgres: read search parameters: %w", err)
	}
	return p, nil
}

// indexTables are the index tables and their columns after rid, with the
// array type each column travels in. A resource's row in resources records
// in which of them it has rows, as a bit mask (resources.indexed: bit i for
// indexTables[i]), so that an update deletes from those tables alone.
// Never reorder this list: append.
var indexTables = []struct {
	name string
	cols []string // name:type
}{
	{"idx_string", []string{"param:integer", "norm:text", "exact:text"}},
	{"idx_token", []string{"param:integer", "system:text", "code:text", "texted:smallint"}},
	{"idx_reference", []string{"param:integer", "target_type:text", "target_id:text", "url:text"}},
	{"idx_date", []string{"param:integer", "lo:bigint", "hi:bigint"}},
	{"idx_number", []string{"param:integer", "value:float8"}},
	{"idx_quantity", []string{"param:integer", "system:text", "code:text", "value:float8", "ccode:text", "cvalue:float8"}},
	{"idx_uri", []string{"param:integer", "value:text"}},
	{"idx_composite", []string{"param:integer", "a_system:text", "a_code:text", "b_system:text", "b_code:text",
		"b_lo:float8", "b_hi:float8", "c_lo:float8", "c_hi:float8"}},
}

// indexCTEs returns the WITH items that replace rid's index rows (rid is
// an SQL expression; from, if not empty, the FROM item it comes from):
// they delete its rows from the tables in clear, then insert into the
// tables in fill their rows, unnested from one array per column starting
// at parameter $first (indexRows.args' order). All sub-statements of one
// statement share a snapshot, so the DELETE sees only the old rows, never
// the new. Naming only the tables that have rows keeps the statement from
// opening and locking the others; there are few combinations per resource
// type, and each is prepared once per connection.
func indexCTEs(rid, from string, first int, clear, fill uint8) string {
	var b strings.Builder
	n := first
	for i, t := range indexTables {
		if clear&(1<<i) != 0 {
			fmt.Fprintf(&b, ",\nd%d AS (DELETE FROM %s WHERE rid = %s)", i, t.name, rid)
		}
		if fill&(1<<i) == 0 {
			continue
		}
		names, arrays := unnestArgs(t.cols, n)
		n += len(arrays)
		fmt.Fprintf(&b, ",\ni%d AS (INSERT INTO %s (rid, %s) SELECT %s, u.* FROM %sunnest(%s) u)",
			i, t.name, strings.Join(names, ", "), rid, from, strings.Join(arrays, ", "))
	}
	return b.String()
}

// unnestArgs returns the names of cols (name:type) and the typed array
// parameters that carry them, numbered from first.
func unnestArgs(cols []string, first int) (names, arrays []string) {
	for i, c := range cols {
		name, typ, _ := strings.Cut(c, ":")
		names = append(names, name)
		arrays = append(arrays, "$"+strconv.Itoa(first+i)+"::"+typ+"[]")
	}
	return names, arrays
}

// statements caches the write statements by the index tables they touch.
type statements struct {
	mu     sync.Mutex        // guards the maps below
	create map[uint8]string  // by the tables filled
	update map[uint16]string // by the tables cleared<<8 | filled
	many   map[uint8]string  // CreateMany, by the tables filled
}

func (s *statements) createSQL(fill uint8) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	sql, ok := s.create[fill]
	if !ok {
		sql = createSQLHead + indexCTEs("r.rid", "r, ", 9, 0, fill) + "\nSELECT seq FROM v"
		s.create[fill] = sql
	}
	return sql
}

func (s *statements) updateSQL(clear, fill uint8) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := uint16(clear)<<8 | uint16(fill)
	sql, ok := s.update[key]
	if !ok {
		sql = updateSQLHead + indexCTEs("$3::bigint", "", 12, clear, fill) + "\nSELECT seq FROM cur"
		s.update[key] = sql
	}
	return sql
}

// indexRows returns e's values as the arrays indexCTEs reads, for a
// resource of type typ, and the mask of the tables that have rows. A
// parameter the registry lacks cannot be searched, so its rows are left
// out. A nil e has no rows. held are the coded texts of e that token_text
// holds (tx.heldTexts): their token rows stand for their :text rows.
func (p params) indexRows(typ string, e *search.Entries, held []search.CodedText) (args []any, fill uint8) {
	if e == nil {
		return nil, 0
	}
	var (
		sParam, tParam, rParam, dParam, nParam, qParam, uParam, cParam []int32
		sNorm, sExact, tSystem, tCode                                  []string
		tTexted                                                        []int16
		rType, rID, rURL                                               []string
		dLo, dHi                                                       []int64
		nValue                                                         []float64
		qSystem, qCode, qCCode                                         []string
		qValue, qCValue                                                []float64
		uValue                                                         []string
		cASystem, cACode, cBSystem, cBCode                             []string
		cBLo, cBHi, cCLo, cCHi                                         []float64
	)
	id := func(code string) (int32, bool) {
		n, ok := p.id(typ, code)
		return int32(n), ok
	}
	for _, s := range e.Strings {
		if search.Covered(held, s) {
			continue
		}
		if n, ok := id(s.Param); ok {
			sParam, sNorm, sExact = append(sParam, n), append(sNorm, pgText(s.Norm)), append(sExact, pgText(s.Exact))
		}
	}
	for _, t := range e.Tokens {
		if n, ok := id(t.Param); ok {
			tParam, tSystem, tCode = append(tParam, n), append(tSystem, pgText(t.System)), append(tCode, pgText(t.Code))
			tTexted = append(tTexted, int16(search.Texted(held, t)))
		}
	}
	for _, r := range e.References {
		if n, ok := id(r.Param); ok {
			rParam, rType, rID, rURL = append(rParam, n), append(rType, pgText(r.TargetType)), append(rID, pgText(r.TargetID)), append(rURL, pgText(r.URL))
		}
	}
	for _, d := range e.Dates {
		if n, ok := id(d.Param); ok {
			dParam, dLo, dHi = append(dParam, n), append(dLo, d.Low), append(dHi, d.High)
		}
	}
	for _, x := range e.Numbers {
		if n, ok := id(x.Param); ok {
			nParam, nValue = append(nParam, n), append(nValue, x.Value)
		}
	}
	for _, q := range e.Quantities {
		if n, ok := id(q.Param); ok {
			qParam, qSystem, qCode, qValue = append(qParam, n), append(qSystem, pgText(q.System)), append(qCode, pgText(q.Code)), append(qValue, q.Value)
			qCCode, qCValue = append(qCCode, pgText(q.CanonicalCode)), append(qCValue, q.CanonicalValue)
		}
	}
	for _, u := range e.URIs {
		if n, ok := id(u.Param); ok {
			uParam, uValue = append(uParam, n), append(uValue, pgText(u.Value))
		}
	}
	for _, c := range e.Composites {
		if n, ok := id(c.Param); ok {
			cParam, cASystem, cACode, cBSystem, cBCode = append(cParam, n), append(cASystem, pgText(c.ASystem)), append(cACode, pgText(c.ACode)), append(cBSystem, pgText(c.BSystem)), append(cBCode, pgText(c.BCode))
			cBLo, cBHi, cCLo, cCHi = append(cBLo, c.BLow), append(cBHi, c.BHigh), append(cCLo, c.CLow), append(cCHi, c.CHigh)
		}
	}
	// In indexTables' order.
	tables := []struct {
		n    int
		cols []any
	}{
		{len(sParam), []any{sParam, sNorm, sExact}},
		{len(tParam), []any{tParam, tSystem, tCode, tTexted}},
		{len(rParam), []any{rParam, rType, rID, rURL}},
		{len(dParam), []any{dParam, dLo, dHi}},
		{len(nParam), []any{nParam, nValue}},
		{len(qParam), []any{qParam, qSystem, qCode, qValue, qCCode, qCValue}},
		{len(uParam), []any{uParam, uValue}},
		{len(cParam), []any{cParam, cASystem, cACode, cBSystem, cBCode, cBLo, cBHi, cCLo, cCHi}},
	}
	for i, t := range tables {
		if t.n > 0 {
			fill |= 1 << i
			args = append(args, t.cols...)
		}
	}
	return args, fill
}
