package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"sharedcare/internal/fhir"
	"sharedcare/internal/outcome"
	"sharedcare/internal/search"
	"sharedcare/internal/store"
	"sharedcare/internal/store/sqlbuild"
)

// MaxSnapshot bounds the matches a search remembers for paging; past it,
// later pages are not offered and the client is told to narrow the search.
const MaxSnapshot = 10_000

const (
	// maxIncluded bounds the resources _include and _revinclude add to a page.
	maxIncluded = 1000
	// snapshotTTL is how long a search's later pages stay available.
	snapshotTTL = time.Hour
)

// queryFunc runs one statement and passes its rows to fn: on a pooled
// connection for Search, inside the transaction for tx.Search.
type queryFunc func(ctx context.Context, sql string, args []any, fn func(pgx.Rows) error) error

func connQuery(c *pgxpool.Conn) queryFunc {
	return func(ctx context.Context, sql string, args []any, fn func(pgx.Rows) error) error {
		rows, err := c.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		if err := fn(rows); err != nil {
			return err
		}
		rows.Close()
		return rows.Err()
	}
}

// Search runs q and returns one page of it. The first page of a longer
// result remembers its ordered matches (up to MaxSnapshot) in
// search_snapshots, so that its next and previous links page through the
// same result however the data changes meanwhile, on whichever node
// serves them.
func (db *DB) Search(ctx context.Context, q *search.Query) (*store.SearchResult, error) {
	var res *store.SearchResult
	err := db.withConn(ctx, func(c *pgxpool.Conn) (err error) {
		res, err = db.search(ctx, connQuery(c), q)
		return err
	})
	if err != nil {
		return nil, db.fail(ctx, "search", err)
	}
	return res, nil
}

func (db *DB) search(ctx context.Context, query queryFunc, q *search.Query) (*store.SearchResult, error) {
	res := &store.SearchResult{Total: -1}
	var page []int64
	if q.Page != "" {
		snapID, off, err := parsePage(q.Page)
		if err != nil {
			return nil, err
		}
		rids, total, err := getSnapshot(ctx, query, snapID)
		if err != nil {
			return nil, err
		}
		off = min(off, len(rids))
		end := min(off+q.Count, len(rids))
		page = rids[off:end]
		res.Offset = off
		if q.Total != "none" {
			res.Total = total
		}
		if end < len(rids) {
			res.Next = pageToken(snapID, end)
		}
		if off > 0 {
			res.Prev = pageToken(snapID, max(0, off-q.Count))
		}
	} else {
		rids, err := matchRIDs(ctx, query, db.params.id, q, MaxSnapshot+1)
		if err != nil {
			return nil, err
		}
		complete := len(rids) <= MaxSnapshot
		if !complete {
			rids = rids[:MaxSnapshot]
		}
		switch {
		case q.Total == "none":
		case complete:
			res.Total = len(rids)
		case q.Total == "accurate" || q.Summary == "count":
			if res.Total, err = countMatches(ctx, query, db.params.id, q); err != nil {
				return nil, err
			}
		}
		page = rids[:min(q.Count, len(rids))]
		if len(rids) > q.Count && q.Count > 0 {
			snapID, err := putSnapshot(ctx, query, rids, res.Total)
			if err != nil {
				return nil, err
			}
			res.Next = pageToken(snapID, q.Count)
		}
	}
	if q.Summary == "count" {
		return res, nil
	}
	var err error
	if res.Matches, err = fetchRIDs(ctx, query, page); err != nil {
		return nil, err
	}
	if res.Included, err = includes(ctx, query, db.params.id, q, res.Matches); err != nil {
		return nil, err
	}
	return res, nil
}

// Search inside a write transaction: matches only, up to q.Count, seeing
// the transaction's own writes. A conditional write takes Lock on its
// criteria first, so that one on another node cannot search, find nothing
// and create alongside it.
func (t *tx) Search(ctx context.Context, q *search.Query) (*store.SearchResult, error) {
	rids, err := matchRIDs(ctx, t.query, t.db.params.id, q, q.Count)
	if err != nil {
		return nil, err
	}
	res := &store.SearchResult{Total: len(rids)}
	if res.Matches, err = fetchRIDs(ctx, t.query, rids); err != nil {
		return nil, err
	}
	return res, nil
}

// renumber turns sqlbuild's '?' placeholders into PostgreSQL's $1, $2 ...
// sqlbuild writes no '?' but placeholders: values never enter its SQL text.
func renumber(sql string) string {
	var b strings.Builder
	b.Grow(len(sql) + 32)
	n := 0
	for i := 0; i < len(sql); i++ {
		if sql[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(sql[i])
	}
	return b.String()
}

// pgText makes s storable in a PostgreSQL text value, which can hold
// neither NUL nor invalid UTF-8: each becomes U+FFFD, in index rows and
// search values alike, so that they still match each other. (FHIR strings
// may not contain NUL anyway, https://hl7.org/fhir/R4/datatypes.html#string.)
func pgText(s string) string {
	if strings.IndexByte(s, 0) < 0 && utf8.ValidString(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// pgArgs applies pgText to sqlbuild's string arguments.
func pgArgs(args []any) []any {
	for i, a := range args {
		if s, ok := a.(string); ok {
			args[i] = pgText(s)
		}
	}
	return args
}

func scanRIDs(rids *[]int64) func(pgx.Rows) error {
	return func(rows pgx.Rows) error {
		var rid int64
		for rows.Next() {
			if err := rows.Scan(&rid); err != nil {
				return err
			}
			*rids = append(*rids, rid)
		}
		return nil
	}
}

func matchRIDs(ctx context.Context, query queryFunc, ids sqlbuild.ParamIDs, q *search.Query, limit int) ([]int64, error) {
	sql, args, err := sqlbuild.Select(sqlbuild.PostgreSQL, q, ids, limit)
	if err != nil {
		return nil, err
	}
	var rids []int64
	if err := query(ctx, renumber(sql), pgArgs(args), scanRIDs(&rids)); err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	return rids, nil
}

func countMatches(ctx context.Context, query queryFunc, ids sqlbuild.ParamIDs, q *search.Query) (int, error) {
	sql, args, err := sqlbuild.Count(sqlbuild.PostgreSQL, q, ids)
	if err != nil {
		return 0, err
	}
	var n int
	err = query(ctx, renumber(sql), pgArgs(args), func(rows pgx.Rows) error {
		if rows.Next() {
			return rows.Scan(&n)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("count: %w", err)
	}
	return n, nil
}

// fetchRIDs returns the current versions of rids, in the order given,
// leaving out any deleted since they matched.
func fetchRIDs(ctx context.Context, query queryFunc, rids []int64) ([]*store.Version, error) {
	if len(rids) == 0 {
		return nil, nil
	}
	byRID := make(map[int64]*store.Version, len(rids))
	err := query(ctx, `SELECT r.rid, r.type, r.id, v.seq, v.version, v.updated, v.method, v.body, v.patients, v.source
		FROM resources r JOIN versions v ON v.seq = r.seq
		WHERE r.rid = ANY($1::bigint[]) AND r.deleted = 0`, []any{rids}, func(rows pgx.Rows) error {
		for rows.Next() {
			v := &store.Version{}
			var ms int64
			var method int16
			if err := rows.Scan(&v.RID, &v.Type, &v.ID, &v.Seq, &v.VersionID, &ms, &method, &v.Body, &v.Patients, &v.Source); err != nil {
				return err
			}
			v.Patients = noneIsNil(v.Patients)
			v.LastUpdated = time.UnixMilli(ms).UTC()
			v.Method = store.Method(method)
			byRID[v.RID] = v
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("fetch matches: %w", err)
	}
	out := make([]*store.Version, 0, len(rids))
	for _, rid := range rids {
		if v, ok := byRID[rid]; ok {
			out = append(out, v)
		}
	}
	return out, nil
}

// includes follows _include and _revinclude from the page's matches,
// repeating :iterate ones over what they added, to a bounded total.
func includes(ctx context.Context, query queryFunc, ids sqlbuild.ParamIDs, q *search.Query, matches []*store.Version) ([]*store.Version, error) {
	if len(q.Include) == 0 && len(q.RevInclude) == 0 {
		return nil, nil
	}
	seen := map[string]bool{}
	for _, m := range matches {
		seen[m.Type+"/"+m.ID] = true
	}
	var out []*store.Version
	frontier := matches
	for round := 0; len(frontier) > 0 && round < 4 && len(out) < maxIncluded; round++ {
		var added []*store.Version
		for _, inc := range q.Include {
			if round > 0 && !inc.Iterate {
				continue
			}
			vs, err := followIncludes(ctx, query, ids, inc, frontier)
			if err != nil {
				return nil, err
			}
			added = append(added, vs...)
		}
		for _, inc := range q.RevInclude {
			if round > 0 && !inc.Iterate {
				continue
			}
			vs, err := followRevIncludes(ctx, query, ids, inc, frontier)
			if err != nil {
				return nil, err
			}
			added = append(added, vs...)
		}
		frontier = frontier[:0:0]
		for _, v := range added {
			k := v.Type + "/" + v.ID
			if seen[k] || len(out) >= maxIncluded {
				continue
			}
			seen[k] = true
			out = append(out, v)
			frontier = append(frontier, v)
		}
	}
	return out, nil
}

func includeParams(ids sqlbuild.ParamIDs, typ string, inc search.Include) []int64 {
	var out []int64
	if inc.Param == "*" {
		for _, p := range fhir.SearchParams(typ) {
			if p.Type == "reference" {
				if id, ok := ids(typ, p.Code); ok {
					out = append(out, id)
				}
			}
		}
		return out
	}
	if id, ok := ids(typ, inc.Param); ok {
		out = append(out, id)
	}
	return out
}

func followIncludes(ctx context.Context, query queryFunc, ids sqlbuild.ParamIDs, inc search.Include, from []*store.Version) ([]*store.Version, error) {
	var rids, params []int64
	types := map[string]bool{}
	for _, v := range from {
		if inc.SourceType != "" && v.Type != inc.SourceType {
			continue
		}
		rids = append(rids, v.RID)
		if !types[v.Type] {
			types[v.Type] = true
			params = append(params, includeParams(ids, v.Type, inc)...)
		}
	}
	if len(rids) == 0 || len(params) == 0 {
		return nil, nil
	}
	sql := `SELECT t.rid FROM idx_reference ref JOIN resources t ON t.type = ref.target_type AND t.id = ref.target_id
		WHERE ref.rid = ANY($1::bigint[]) AND ref.param = ANY($2::bigint[]) AND t.deleted = 0`
	args := []any{rids, params}
	if inc.TargetType != "" {
		sql += " AND ref.target_type = $3"
		args = append(args, inc.TargetType)
	}
	return ridQuery(ctx, query, sql+" LIMIT "+strconv.Itoa(maxIncluded), args)
}

func followRevIncludes(ctx context.Context, query queryFunc, ids sqlbuild.ParamIDs, inc search.Include, from []*store.Version) ([]*store.Version, error) {
	params := includeParams(ids, inc.SourceType, inc)
	if len(params) == 0 || len(from) == 0 {
		return nil, nil
	}
	byType := map[string][]string{}
	var order []string
	for _, v := range from {
		if inc.TargetType != "" && v.Type != inc.TargetType {
			continue
		}
		if byType[v.Type] == nil {
			order = append(order, v.Type)
		}
		byType[v.Type] = append(byType[v.Type], v.ID)
	}
	var out []*store.Version
	for _, typ := range order {
		vs, err := ridQuery(ctx, query, `SELECT DISTINCT s.rid FROM idx_reference s JOIN resources r ON r.rid = s.rid
			WHERE s.param = ANY($1::bigint[]) AND s.target_id = ANY($2::text[]) AND s.target_type = $3
			AND r.type = $4 AND r.deleted = 0 LIMIT `+strconv.Itoa(maxIncluded), []any{params, byType[typ], typ, inc.SourceType})
		if err != nil {
			return nil, err
		}
		out = append(out, vs...)
	}
	return out, nil
}

func ridQuery(ctx context.Context, query queryFunc, sql string, args []any) ([]*store.Version, error) {
	var rids []int64
	if err := query(ctx, sql, args, scanRIDs(&rids)); err != nil {
		return nil, fmt.Errorf("include: %w", err)
	}
	return fetchRIDs(ctx, query, rids)
}

func pageToken(snapID string, offset int) string { return snapID + "." + strconv.Itoa(offset) }

func parsePage(tok string) (string, int, error) {
	id, off, ok := strings.Cut(tok, ".")
	n, err := strconv.Atoi(off)
	if !ok || err != nil || n < 0 || len(id) != 32 {
		return "", 0, outcome.Newf(http.StatusBadRequest, outcome.CodeValue, "_page", "%q is not a page of a search this server gave", tok)
	}
	return id, n, nil
}

// putSnapshot saves the ordered matches of a search and returns their id.
// Now and then it also drops snapshots past their time.
func putSnapshot(ctx context.Context, query queryFunc, rids []int64, total int) (string, error) {
	var b [16]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	now := time.Now()
	noRows := func(pgx.Rows) error { return nil }
	if err := query(ctx, `INSERT INTO search_snapshots (id, created, total, rids) VALUES ($1, $2, $3, $4)`,
		[]any{id, now.UnixMilli(), total, rids}, noRows); err != nil {
		return "", fmt.Errorf("save search snapshot: %w", err)
	}
	if b[0] == 0 {
		if err := query(ctx, `DELETE FROM search_snapshots WHERE created < $1`, []any{now.Add(-snapshotTTL).UnixMilli()}, noRows); err != nil {
			return "", fmt.Errorf("drop old search snapshots: %w", err)
		}
	}
	return id, nil
}

func getSnapshot(ctx context.Context, query queryFunc, id string) ([]int64, int, error) {
	var total int
	var rids []int64
	found := false
	err := query(ctx, `SELECT total, rids FROM search_snapshots WHERE id = $1`, []any{id}, func(rows pgx.Rows) error {
		if !rows.Next() {
			return nil
		}
		found = true
		return rows.Scan(&total, &rids)
	})
	switch {
	case err != nil:
		return nil, 0, fmt.Errorf("read search snapshot: %w", err)
	case !found:
		return nil, 0, outcome.New(http.StatusGone, outcome.CodeNotFound, "_page", "this page of search results has expired; run the search again")
	}
	return rids, total, nil
}
