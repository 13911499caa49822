package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"sharedcare/internal/fhir"
	"sharedcare/internal/outcome"
	"sharedcare/internal/search"
	"sharedcare/internal/store"
	"sharedcare/internal/store/sqlbuild"
)

// MaxSnapshot bounds the matches a search remembers for paging; past it,
// later pages are not offered and the client is told to narrow the search.
const MaxSnapshot = 10_000

// maxIncluded bounds the resources _include and _revinclude add to a page.
const maxIncluded = 1000

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Search runs q and returns one page of it. The first page remembers the
// ordered matches (up to MaxSnapshot) in the snapshot database, so that
// its next and previous links page through the same result however the
// data changes meanwhile.
func (db *DB) Search(ctx context.Context, q *search.Query) (*store.SearchResult, error) {
	res := &store.SearchResult{Total: -1}
	var page []int64
	if q.Page != "" {
		snapID, off, err := parsePage(q.Page)
		if err != nil {
			return nil, err
		}
		rids, total, err := db.snaps.get(ctx, snapID)
		if err != nil {
			return nil, err
		}
		if off > len(rids) {
			off = len(rids)
		}
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
		rids, err := matchRIDs(ctx, db.read, db.params.id, q, MaxSnapshot+1)
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
			if res.Total, err = countMatches(ctx, db.read, db.params.id, q); err != nil {
				return nil, err
			}
		}
		page = rids[:min(q.Count, len(rids))]
		if len(rids) > q.Count && q.Count > 0 {
			snapID, err := db.snaps.put(ctx, rids, res.Total)
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
	if res.Matches, err = fetchRIDs(ctx, db.read, page); err != nil {
		return nil, err
	}
	if res.Included, err = includes(ctx, db.read, db.params.id, q, res.Matches); err != nil {
		return nil, err
	}
	return res, nil
}

// Search inside a write transaction: matches only, up to q.Count.
func (w *writeTx) Search(ctx context.Context, q *search.Query) (*store.SearchResult, error) {
	ctx = uncancelled(ctx)
	if err := w.index.flush(ctx); err != nil {
		return nil, err
	}
	rids, err := matchRIDs(ctx, w.conn, w.db.params.id, q, q.Count)
	if err != nil {
		return nil, err
	}
	res := &store.SearchResult{Total: len(rids)}
	res.Matches, err = fetchRIDs(ctx, w.conn, rids)
	return res, err
}

func matchRIDs(ctx context.Context, db querier, ids sqlbuild.ParamIDs, q *search.Query, limit int) ([]int64, error) {
	query, args, err := sqlbuild.Select(sqlbuild.SQLite, q, ids, limit)
	if err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: search: %w", err)
	}
	defer rows.Close()
	var rids []int64
	for rows.Next() {
		var rid int64
		if err := rows.Scan(&rid); err != nil {
			return nil, fmt.Errorf("sqlite: search: %w", err)
		}
		rids = append(rids, rid)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: search: %w", err)
	}
	return rids, nil
}

func countMatches(ctx context.Context, db querier, ids sqlbuild.ParamIDs, q *search.Query) (int, error) {
	query, args, err := sqlbuild.Count(sqlbuild.SQLite, q, ids)
	if err != nil {
		return 0, err
	}
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return 0, fmt.Errorf("sqlite: count: %w", err)
	}
	defer rows.Close()
	n := 0
	if rows.Next() {
		if err := rows.Scan(&n); err != nil {
			return 0, fmt.Errorf("sqlite: count: %w", err)
		}
	}
	return n, rows.Err()
}

// fetchRIDs returns the current versions of rids, in the order given.
func fetchRIDs(ctx context.Context, db querier, rids []int64) ([]*store.Version, error) {
	if len(rids) == 0 {
		return nil, nil
	}
	list, _ := json.Marshal(rids)
	rows, err := db.QueryContext(ctx, `SELECT r.rid, r.type, r.id, v.seq, v.version, v.updated, v.method, v.body, v.patients, v.source
		FROM resources r JOIN versions v ON v.seq = r.seq
		WHERE r.rid IN (SELECT value FROM json_each(?)) AND r.deleted = 0`, string(list))
	if err != nil {
		return nil, fmt.Errorf("sqlite: fetch matches: %w", err)
	}
	defer rows.Close()
	byRID := make(map[int64]*store.Version, len(rids))
	for rows.Next() {
		v := &store.Version{}
		var rid, ms int64
		var method int
		var patients string
		if err := rows.Scan(&rid, &v.Type, &v.ID, &v.Seq, &v.VersionID, &ms, &method, &v.Body, &patients, &v.Source); err != nil {
			return nil, fmt.Errorf("sqlite: fetch matches: %w", err)
		}
		v.Patients = splitPatients(patients)
		v.LastUpdated = time.UnixMilli(ms).UTC()
		v.Method = store.Method(method)
		v.RID = rid
		byRID[rid] = v
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: fetch matches: %w", err)
	}
	out := make([]*store.Version, 0, len(rids))
	for _, rid := range rids {
		if v, ok := byRID[rid]; ok { // one deleted since the snapshot is left out
			out = append(out, v)
		}
	}
	return out, nil
}

// includes follows _include and _revinclude from the page's matches,
// repeating :iterate ones over what they added, to a bounded total.
func includes(ctx context.Context, db querier, ids sqlbuild.ParamIDs, q *search.Query, matches []*store.Version) ([]*store.Version, error) {
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
			vs, err := followIncludes(ctx, db, ids, inc, frontier)
			if err != nil {
				return nil, err
			}
			added = append(added, vs...)
		}
		for _, inc := range q.RevInclude {
			if round > 0 && !inc.Iterate {
				continue
			}
			vs, err := followRevIncludes(ctx, db, ids, inc, frontier)
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

func followIncludes(ctx context.Context, db querier, ids sqlbuild.ParamIDs, inc search.Include, from []*store.Version) ([]*store.Version, error) {
	var rids []int64
	var params []int64
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
	rl, _ := json.Marshal(rids)
	pl, _ := json.Marshal(params)
	query := `SELECT t.rid FROM idx_reference ref JOIN resources t ON t.type = ref.target_type AND t.id = ref.target_id
		WHERE ref.rid IN (SELECT value FROM json_each(?)) AND ref.param IN (SELECT value FROM json_each(?)) AND t.deleted = 0`
	args := []any{string(rl), string(pl)}
	if inc.TargetType != "" {
		query += " AND ref.target_type = ?"
		args = append(args, inc.TargetType)
	}
	return ridQuery(ctx, db, query+" LIMIT "+strconv.Itoa(maxIncluded), args...)
}

func followRevIncludes(ctx context.Context, db querier, ids sqlbuild.ParamIDs, inc search.Include, from []*store.Version) ([]*store.Version, error) {
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
	pl, _ := json.Marshal(params)
	var out []*store.Version
	for _, typ := range order {
		il, _ := json.Marshal(byType[typ])
		vs, err := ridQuery(ctx, db, `SELECT DISTINCT s.rid FROM idx_reference s JOIN resources r ON r.rid = s.rid
			WHERE s.param IN (SELECT value FROM json_each(?)) AND s.target_id IN (SELECT value FROM json_each(?)) AND s.target_type = ?
			AND r.type = ? AND r.deleted = 0 LIMIT `+strconv.Itoa(maxIncluded), string(pl), string(il), typ, inc.SourceType)
		if err != nil {
			return nil, err
		}
		out = append(out, vs...)
	}
	return out, nil
}

func ridQuery(ctx context.Context, db querier, query string, args ...any) ([]*store.Version, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: include: %w", err)
	}
	var rids []int64
	for rows.Next() {
		var rid int64
		if err := rows.Scan(&rid); err != nil {
			rows.Close()
			return nil, fmt.Errorf("sqlite: include: %w", err)
		}
		rids = append(rids, rid)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: include: %w", err)
	}
	return fetchRIDs(ctx, db, rids)
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

// snapshots keep the ordered matches of multi-page searches in a database
// of their own: derived data, written without fsync and without
// contending with the record's single writer. Entries expire after
// snapshotTTL.
type snapshots struct {
	db      *sql.DB
	putStmt *sql.Stmt
	getStmt *sql.Stmt
}

const snapshotTTL = time.Hour

func openSnapshots(ctx context.Context, path string) (*snapshots, error) {
	db := sql.OpenDB(connector(path, "OFF", false))
	db.SetMaxOpenConns(4)
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS snapshots (id TEXT PRIMARY KEY, created INTEGER NOT NULL, total INTEGER NOT NULL, rids BLOB NOT NULL);
		CREATE INDEX IF NOT EXISTS snapshots_created ON snapshots (created)`); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: search snapshots: %w", err)
	}
	s := &snapshots{db: db}
	var err error
	if s.putStmt, err = db.PrepareContext(ctx, `INSERT INTO snapshots (id, created, total, rids) VALUES (?, ?, ?, ?)`); err != nil {
		db.Close()
		return nil, err
	}
	if s.getStmt, err = db.PrepareContext(ctx, `SELECT total, rids FROM snapshots WHERE id = ?`); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *snapshots) close() error { return s.db.Close() }

func (s *snapshots) put(ctx context.Context, rids []int64, total int) (string, error) {
	var b [16]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	blob := make([]byte, 0, len(rids)*4)
	for _, r := range rids {
		blob = binary.AppendUvarint(blob, uint64(r))
	}
	now := time.Now()
	if _, err := s.putStmt.ExecContext(ctx, id, now.UnixMilli(), total, blob); err != nil {
		return "", fmt.Errorf("sqlite: save search snapshot: %w", err)
	}
	if b[0] == 0 { // now and then, drop expired snapshots
		s.db.ExecContext(ctx, `DELETE FROM snapshots WHERE created < ?`, now.Add(-snapshotTTL).UnixMilli())
	}
	return id, nil
}

func (s *snapshots) get(ctx context.Context, id string) ([]int64, int, error) {
	var total int
	var blob []byte
	err := s.getStmt.QueryRowContext(ctx, id).Scan(&total, &blob)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, outcome.New(http.StatusGone, outcome.CodeNotFound, "_page", "this page of search results has expired; run the search again")
	}
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite: read search snapshot: %w", err)
	}
	var rids []int64
	for len(blob) > 0 {
		v, n := binary.Uvarint(blob)
		if n <= 0 {
			return nil, 0, fmt.Errorf("sqlite: search snapshot %s is corrupt", id)
		}
		rids = append(rids, int64(v))
		blob = blob[n:]
	}
	return rids, total, nil
}
