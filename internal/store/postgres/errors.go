package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"sharedcare/internal/outcome"
)

// retryAfter is the Retry-After, in seconds, of a 503 for an unreachable
// database: long enough for a restart or a failover to finish.
const retryAfter = 2

// errAcquire marks a failure to get a pooled connection in time: the
// database is unreachable or every connection is busy.
var errAcquire = errors.New("no database connection within the acquire timeout")

// acquire takes a connection from the pool, waiting at most the acquire
// timeout (dialling included) unless ctx ends first.
func (db *DB) acquire(ctx context.Context) (*pgxpool.Conn, error) {
	actx, cancel := context.WithTimeout(ctx, db.opts.AcquireTimeout)
	defer cancel()
	c, err := db.pool.Acquire(actx)
	if err != nil && ctx.Err() == nil && actx.Err() != nil {
		return nil, fmt.Errorf("%w: %w", errAcquire, err)
	}
	return c, err
}

// fail says what op was doing and turns a database that cannot be reached,
// or that refuses work for now, into a 503 the client can retry, so that an
// outage is never a 500. Errors that are already the client's (an
// *outcome.Error) and the caller's own cancellation pass through.
func (db *DB) fail(ctx context.Context, op string, err error) error {
	if _, ok := outcome.As(err); ok {
		return err
	}
	err = fmt.Errorf("postgres: %s: %w", op, err)
	if ctx.Err() != nil {
		return err // the caller gave up; api knows what that means
	}
	if transient(err) {
		e := outcome.Unavailable(retryAfter, "the database is not available; try again shortly")
		e.Err = err
		return e
	}
	return err
}

// transient reports whether err means the database is unreachable, going
// away, or refusing work for a while, rather than a fault in the request or
// in this program.
func transient(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code[:2] {
		case "08", // connection exception
			"53", // insufficient resources: too many connections, disk full, out of memory
			"57": // operator intervention: shutdown, cannot connect now, query cancelled
			return true
		}
		switch pe.Code {
		case "40001", "40P01": // serialisation failure, deadlock: left after Tx's retries
			return true
		case "25006": // read_only_sql_transaction: a standby, during a failover
			return true
		}
		return false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.Is(err, errAcquire) || errors.As(err, &ce) || errors.As(err, &ne) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, pgconn.ErrConnClosed) || pgconn.Timeout(err)
}

// retryable reports whether a transaction that failed with err can be run
// again from the start: PostgreSQL aborted it to break a deadlock or keep
// serialisability, and nothing of it was committed.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}
