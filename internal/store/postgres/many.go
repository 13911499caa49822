package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"sharedcare/internal/search"
	"sharedcare/internal/store"
)

// manySQL creates many resources in one statement: each input row gets a
// seq (its rid); resources that already exist are left out by ON CONFLICT,
// and only the rows inserted get their version and index rows, which are
// joined to them by their position in the input (ord). It returns the
// position and seq of each resource created. Index tables named in fill
// read their arrays from $10 on, each with an ord array first.
func manySQL(fill uint8) string {
	var b strings.Builder
	b.WriteString(`WITH n AS MATERIALIZED (
	SELECT u.*, nextval('versions_seq') AS seq
	FROM unnest($1::integer[], $2::text[], $3::text[], $4::bigint[], $5::bytea[], $6::smallint[], $7::text[], $8::text[], $9::integer[])
		AS u(ord, typ, id, updated, body, fill, patients, source, version)
),
r AS (
	INSERT INTO resources (type, id, rid, version, seq, deleted, updated, indexed)
	SELECT typ, id, seq, version, seq, 0, updated, fill FROM n
	ON CONFLICT (type, id) DO NOTHING
	RETURNING rid
),
m AS MATERIALIZED (SELECT n.* FROM n JOIN r ON r.rid = n.seq),
v AS (
	INSERT INTO versions (seq, rid, type, id, version, updated, method, body, patients, source)
	SELECT seq, seq, typ, id, version, updated, 1, body, string_to_array(patients, ' '), source FROM m
)`)
	arg := 10
	for i, t := range indexTables {
		if fill&(1<<i) == 0 {
			continue
		}
		names, arrays := unnestArgs(t.cols, arg+1)
		arrays = append([]string{"$" + strconv.Itoa(arg) + "::integer[]"}, arrays...)
		arg += len(arrays)
		fmt.Fprintf(&b, ",\ni%d AS (INSERT INTO %s (rid, %s) SELECT m.seq, u.%s FROM unnest(%s) AS u(ord, %s) JOIN m ON m.ord = u.ord)",
			i, t.name, strings.Join(names, ", "), strings.Join(names, ", u."), strings.Join(arrays, ", "), strings.Join(names, ", "))
	}
	b.WriteString("\nSELECT ord, seq FROM m")
	return b.String()
}

func (s *statements) manySQL(fill uint8) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	sql, ok := s.many[fill]
	if !ok {
		sql = manySQL(fill)
		s.many[fill] = sql
	}
	return sql
}

// CreateMany implements store.Creator: one statement for the lot.
func (t *tx) CreateMany(ctx context.Context, ws []*store.Write) ([]*store.Result, error) {
	if len(ws) == 0 {
		return nil, nil
	}
	var (
		ords, versions             []int32
		types, ids, patients, srcs []string
		updated                    []int64
		bodies                     [][]byte
		fills                      []int16
		cols                       [8][]any // per index table: ord, then its columns
		all                        uint8
		made                       = make([]*store.Version, len(ws))
		typs                       = make([]string, len(ws))
		es                         = make([]*search.Entries, len(ws))
	)
	for k, w := range ws {
		typs[k], es[k] = w.Type, w.Index
	}
	held, err := t.heldTexts(ctx, typs, es)
	if err != nil {
		return nil, fmt.Errorf("create %d resources: %w", len(ws), err)
	}
	for k, w := range ws {
		if w.Delete || w.IfMatch != 0 || w.CreateOnly {
			return nil, fmt.Errorf("postgres: CreateMany of %s/%s: a delete, If-Match or create-only write", w.Type, w.ID)
		}
		v := t.firstVersion(w)
		made[k] = v
		rows, fill := t.db.params.indexRows(w.Type, w.Index, held[k])
		ords, types, ids = append(ords, int32(k)), append(types, w.Type), append(ids, w.ID)
		updated, bodies, fills = append(updated, v.LastUpdated.UnixMilli()), append(bodies, v.Body), append(fills, int16(fill))
		patients, srcs, versions = append(patients, strings.Join(w.Patients, " ")), append(srcs, w.Source), append(versions, int32(v.VersionID))
		all |= fill
		for i := range indexTables {
			if fill&(1<<i) == 0 {
				continue
			}
			n := columnLen(rows[0])
			if cols[i] == nil {
				cols[i] = make([]any, 1+len(indexTables[i].cols))
			}
			ord := make([]int32, n)
			for j := range ord {
				ord[j] = int32(k)
			}
			cols[i][0] = appendColumn(cols[i][0], ord)
			for c := range indexTables[i].cols {
				cols[i][1+c] = appendColumn(cols[i][1+c], rows[c])
			}
			rows = rows[len(indexTables[i].cols):]
		}
	}
	args := []any{ords, types, ids, updated, bodies, fills, patients, srcs, versions}
	for i := range indexTables {
		if all&(1<<i) != 0 {
			args = append(args, cols[i]...)
		}
	}
	out := make([]*store.Result, len(ws))
	err = t.query(ctx, t.db.stmts.manySQL(all), args, func(rows pgx.Rows) error {
		for rows.Next() {
			var ord int32
			var seq int64
			if err := rows.Scan(&ord, &seq); err != nil {
				return err
			}
			v := made[ord]
			v.Seq = seq
			out[ord] = &store.Result{Version: v, Created: true}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("create %d resources: %w", len(ws), err)
	}
	return out, nil
}

// columnLen is the length of one of indexRows' column arrays.
func columnLen(col any) int {
	switch c := col.(type) {
	case []int16:
		return len(c)
	case []int32:
		return len(c)
	case []int64:
		return len(c)
	case []float64:
		return len(c)
	case []string:
		return len(c)
	}
	panic(fmt.Sprintf("postgres: index column of type %T", col))
}

// appendColumn appends src to dst, column arrays of the same type (dst
// may be nil).
func appendColumn(dst, src any) any {
	switch s := src.(type) {
	case []int16:
		d, _ := dst.([]int16)
		return append(d, s...)
	case []int32:
		d, _ := dst.([]int32)
		return append(d, s...)
	case []int64:
		d, _ := dst.([]int64)
		return append(d, s...)
	case []float64:
		d, _ := dst.([]float64)
		return append(d, s...)
	case []string:
		d, _ := dst.([]string)
		return append(d, s...)
	}
	panic(fmt.Sprintf("postgres: index column of type %T", src))
}

var _ store.Creator = (*tx)(nil)
