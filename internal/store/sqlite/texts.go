package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// texts keeps the texts that come with a code once (token_text), so that
// the many resources carrying the same coding with the same text need no
// :text row each: their token row is marked texted instead, and a :text
// search finds them through token_text. A code has two such texts, each
// the first one stored for it: its display, and the text of a
// CodeableConcept whose first coding it is (search.TextDisplay,
// search.TextConcept). A resource whose text differs gets an ordinary
// :text row.
//
// It belongs to the writer and caches what it has read or written. A
// token_text row never changes once committed, so a cached one stays true
// whoever else writes the file; rows inserted by a batch are cached apart
// until the batch commits, and a job's until it is released, so that a
// rollback leaves no cached text behind that the database lacks.
type texts struct {
	lookup, insert *sql.Stmt
	known          map[textKey]string // committed
	batch          map[textKey]string // inserted by the batch being run
	job            []textKey          // inserted by the job being run
}

type textKey struct {
	param        int64 // the token parameter's id
	system, code string
	kind         int64 // search.TextDisplay or search.TextConcept
}

// maxKnownTexts bounds the cache: a record holds a few thousand codes
// in common use, but free-standing terminologies could hold far more.
const maxKnownTexts = 100_000

func newTexts(ctx context.Context, conn *sql.Conn) (*texts, error) {
	c := &texts{known: map[textKey]string{}, batch: map[textKey]string{}}
	var err error
	if c.lookup, err = conn.PrepareContext(ctx, `SELECT norm FROM token_text WHERE param = ? AND system = ? AND code = ? AND kind = ?`); err != nil {
		return nil, fmt.Errorf("sqlite: prepare token_text lookup: %w", err)
	}
	if c.insert, err = conn.PrepareContext(ctx, `INSERT INTO token_text (param, system, code, kind, norm) VALUES (?, ?, ?, ?, ?)`); err != nil {
		return nil, fmt.Errorf("sqlite: prepare token_text insert: %w", err)
	}
	return c, nil
}

// holds reports whether norm is the text stored for k, storing it when k
// has none yet.
func (c *texts) holds(ctx context.Context, k textKey, norm string) (bool, error) {
	if s, ok := c.known[k]; ok {
		return s == norm, nil
	}
	if s, ok := c.batch[k]; ok {
		return s == norm, nil
	}
	var s string
	switch err := c.lookup.QueryRowContext(ctx, k.param, k.system, k.code, k.kind).Scan(&s); {
	case err == nil:
		// Not inserted by this batch (that would be in c.batch), so committed.
		if len(c.known) >= maxKnownTexts {
			clear(c.known)
		}
		c.known[k] = s
		return s == norm, nil
	case !errors.Is(err, sql.ErrNoRows):
		return false, fmt.Errorf("sqlite: text of %s|%s: %w", k.system, k.code, err)
	}
	if _, err := c.insert.ExecContext(ctx, k.param, k.system, k.code, k.kind, norm); err != nil {
		return false, fmt.Errorf("sqlite: store text of %s|%s: %w", k.system, k.code, err)
	}
	c.batch[k] = norm
	c.job = append(c.job, k)
	return true, nil
}

// released is called when a job's writes stay in the batch.
func (c *texts) released() { c.job = c.job[:0] }

// rolledBack is called when a job's writes are undone.
func (c *texts) rolledBack() {
	for _, k := range c.job {
		delete(c.batch, k)
	}
	c.job = c.job[:0]
}

// ended is called when the batch has committed, or failed to.
func (c *texts) ended(committed bool) {
	if committed {
		if len(c.known)+len(c.batch) > maxKnownTexts {
			clear(c.known)
		}
		for k, s := range c.batch {
			c.known[k] = s
		}
	}
	clear(c.batch)
	c.job = c.job[:0]
}
