package postgres

import (
	"context"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"

	"sharedcare/internal/search"
)

// texts caches token_text: the first display and the first CodeableConcept
// text stored for each (token parameter, system, code), kept once instead
// of as a :text row per resource. A resource carrying the same text marks
// its coding's token row (texted) instead; a text that differs keeps its
// own row, so a :text search finds exactly the resources whose texts match.
// A token_text row never changes once committed, so every node may cache
// the rows it has seen committed; a transaction's own finds join the cache
// only when it commits.
type texts struct {
	mu    sync.Mutex // guards known
	known map[textKey]string
}

type textKey struct {
	param        int64
	system, code string
	kind         int16
}

// maxKnownTexts bounds the cache: a record holds a few thousand codes in
// common use, but free-standing terminologies could hold far more.
const maxKnownTexts = 100_000

func (c *texts) lookup(k textKey) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.known[k]
	return s, ok
}

// add caches rows a committed transaction read or wrote.
func (c *texts) add(rows map[textKey]string) {
	if len(rows) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.known == nil || len(c.known)+len(rows) > maxKnownTexts {
		c.known = make(map[textKey]string, len(rows))
	}
	for k, s := range rows {
		c.known[k] = s
	}
}

// heldTexts returns, for each of es (the index entries of resources of
// types typs; nil entries allowed), the coded texts that token_text holds
// for their codes, storing those of codes it has none for yet. Codes new
// to this node cost two statements for the lot: an insert that leaves
// what is there alone (waiting for a concurrent insert of the same code to
// end), then a read of what is there. A code whose row this transaction
// cannot see is taken as not held: its resources keep their :text rows.
func (t *tx) heldTexts(ctx context.Context, typs []string, es []*search.Entries) ([][]search.CodedText, error) {
	keys := make([][]textKey, len(es))
	var unknown []textKey
	var unknownNorms []string
	var seen map[textKey]bool // unknown, as a set
	for i, e := range es {
		if e == nil || len(e.Coded) == 0 {
			continue
		}
		keys[i] = make([]textKey, len(e.Coded))
		for j, ct := range e.Coded {
			id, ok := t.db.params.id(typs[i], ct.Key.Param)
			if !ok {
				id = -1 // not in the registry: never held
			}
			k := textKey{param: id, system: pgText(ct.Key.System), code: pgText(ct.Key.Code), kind: int16(ct.Key.Kind)}
			keys[i][j] = k
			if id < 0 || seen[k] {
				continue
			}
			if _, ok := t.texts[k]; ok {
				continue
			}
			if _, ok := t.db.texts.lookup(k); ok {
				continue
			}
			if seen == nil {
				seen = map[textKey]bool{}
			}
			seen[k] = true
			unknown, unknownNorms = append(unknown, k), append(unknownNorms, pgText(ct.Norm))
		}
	}
	if len(unknown) > 0 {
		if err := t.resolveTexts(ctx, unknown, unknownNorms); err != nil {
			return nil, err
		}
	}
	held := make([][]search.CodedText, len(es))
	for i, e := range es {
		if keys[i] == nil {
			continue
		}
		for j, ct := range e.Coded {
			k := keys[i][j]
			s, ok := t.texts[k]
			if !ok {
				s, ok = t.db.texts.lookup(k)
			}
			if ok && s == pgText(ct.Norm) {
				held[i] = append(held[i], ct)
			}
		}
	}
	return held, nil
}

// resolveTexts stores the texts of keys that token_text lacks and reads
// back what it holds for each, into the transaction's finds.
func (t *tx) resolveTexts(ctx context.Context, keys []textKey, norms []string) error {
	params, systems, codes, kinds := make([]int64, len(keys)), make([]string, len(keys)), make([]string, len(keys)), make([]int16, len(keys))
	for i, k := range keys {
		params[i], systems[i], codes[i], kinds[i] = k.param, k.system, k.code, k.kind
	}
	err := t.query(ctx, `INSERT INTO token_text (param, system, code, kind, norm)
		SELECT * FROM unnest($1::integer[], $2::text[], $3::text[], $4::smallint[], $5::text[])
		ON CONFLICT DO NOTHING`, []any{params, systems, codes, kinds, norms}, func(pgx.Rows) error { return nil })
	if err != nil {
		return fmt.Errorf("store texts of codes: %w", err)
	}
	if t.texts == nil {
		t.texts = map[textKey]string{}
	}
	err = t.query(ctx, `SELECT t.param, t.system, t.code, t.kind, t.norm FROM token_text t
		JOIN unnest($1::integer[], $2::text[], $3::text[], $4::smallint[]) AS k (param, system, code, kind)
		ON t.param = k.param AND t.system = k.system AND t.code = k.code AND t.kind = k.kind`,
		[]any{params, systems, codes, kinds}, func(rows pgx.Rows) error {
			for rows.Next() {
				var k textKey
				var norm string
				if err := rows.Scan(&k.param, &k.system, &k.code, &k.kind, &norm); err != nil {
					return err
				}
				t.texts[k] = norm
			}
			return rows.Err()
		})
	if err != nil {
		return fmt.Errorf("read texts of codes: %w", err)
	}
	return nil
}
