// Package postgres implements the store contract on PostgreSQL
// (github.com/jackc/pgx/v5), so that several stateless sharedcare nodes on
// one database behave as one server. Nothing is kept in a node that another
// node would need to see: versions are numbered under a row lock on the
// resource, seq comes from a database sequence, and every write is
// committed (synchronous_commit) before Tx returns. It must not import
// record, api or any package above the store layer.
//
// Many transactions write at once, each on its own pooled connection; there
// is no single writer as on SQLite. A transaction is begun lazily, in the
// same round trip as its first statement, so that a create costs two round
// trips: the begin with the insert, then the commit.
//
// # Ordering across nodes
//
// seq is handed out when a version is inserted, but transactions commit in
// any order, so a version can become visible after versions with a larger
// seq. History pages newest first by seq, so one traversal (first page,
// then each Before cursor) neither repeats nor skips a version that was
// committed before its first page; a version committed during the
// traversal may or may not appear, as any concurrent write. What history
// is not is a gap-free change feed: a client that polls for "everything
// newer than the newest seq or lastUpdated I have seen" can miss a version
// that committed late with a smaller seq, or (lastUpdated coming from each
// node's clock) an earlier stamp. Such a client must overlap its polls by
// the longest write transaction plus the clock skew between nodes and drop
// versions it already has (type, id and versionId identify one). Within one
// resource both seq and lastUpdated never go back.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"sharedcare/internal/store"
)

// Options configure Open. The zero value of each field except URL is a
// working default.
type Options struct {
	// URL is the database, postgres://user:password@host:port/dbname?...;
	// pgx's parameters (pool_max_conns, connect_timeout, sslmode,
	// default_query_exec_mode ...) apply.
	URL string
	// MaxConns bounds the connection pool; 0 means the URL's
	// pool_max_conns, else 8 per CPU (at least 16). Several nodes share the
	// server's max_connections (100 by default).
	MaxConns int
	// ConnectTimeout bounds opening one connection, from dial to the end of
	// authentication; 0 means the URL's connect_timeout, else 5s.
	ConnectTimeout time.Duration
	// AcquireTimeout bounds waiting for a pooled connection, dialling
	// included, so that requests fail fast with 503 while the database is
	// unreachable instead of hanging; 0 means 5s.
	AcquireTimeout time.Duration
	// Now is the clock for lastUpdated; nil means time.Now.
	Now func() time.Time
	Log *slog.Logger
}

// DB is a store.Store on one PostgreSQL database. It is safe for concurrent
// use, and any number of DBs, in one process or many, may share a database.
type DB struct {
	pool   *pgxpool.Pool
	opts   Options
	log    *slog.Logger
	params params // the search parameter registry, read at Open
	texts  texts  // token_text rows seen committed
	stmts  statements
	audit  *auditLog
}

// Open connects to opts.URL, brings the schema up to date (waiting for any
// other node doing the same) and returns the store. It fails if the database
// does not answer within the connect timeout.
func Open(ctx context.Context, opts Options) (*DB, error) {
	if opts.URL == "" {
		return nil, errors.New("postgres: no database URL")
	}
	cfg, err := pgxpool.ParseConfig(opts.URL)
	if err != nil {
		// The parse error quotes the URL with its password redacted.
		return nil, fmt.Errorf("postgres: %w", err)
	}
	switch {
	case opts.MaxConns > 0:
		cfg.MaxConns = int32(opts.MaxConns)
	case !hasParam(opts.URL, "pool_max_conns"):
		cfg.MaxConns = int32(max(16, 8*runtime.GOMAXPROCS(0)))
	}
	opts.MaxConns = int(cfg.MaxConns)
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = cfg.ConnConfig.ConnectTimeout
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 5 * time.Second
	}
	if opts.AcquireTimeout <= 0 {
		opts.AcquireTimeout = 5 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	cfg.ConnConfig.ConnectTimeout = opts.ConnectTimeout
	// Keepalives find a peer that vanished without closing (a network
	// partition, a crashed host) in about half a minute rather than the
	// kernel's two hours, so that its pooled connections are dropped.
	d := &net.Dialer{Timeout: opts.ConnectTimeout, KeepAliveConfig: net.KeepAliveConfig{
		Enable: true, Idle: 15 * time.Second, Interval: 5 * time.Second, Count: 3,
	}}
	cfg.ConnConfig.DialFunc = d.DialContext
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "sharedcare"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	db := &DB{pool: pool, opts: opts, log: opts.Log.With("component", "postgres"),
		stmts: statements{create: map[uint8]string{}, update: map[uint16]string{}, many: map[uint8]string{}}}
	if err := db.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	if db.params, err = db.loadParams(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	db.audit = &auditLog{jobs: make(chan *auditJob, maxAuditBatch), stop: make(chan struct{}), done: make(chan struct{})}
	// The writer outlives Open's caller; Close stops it.
	go db.auditWriter(context.WithoutCancel(ctx))
	return db, nil
}

// hasParam reports whether the connection string, in URL or keyword=value
// form, sets the parameter name.
func hasParam(conn, name string) bool {
	if u, err := url.Parse(conn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		return u.Query().Has(name)
	}
	for _, kv := range strings.Fields(conn) {
		if k, _, ok := strings.Cut(kv, "="); ok && strings.TrimSpace(k) == name {
			return true
		}
	}
	return false
}

// Ping reports whether the database answers, within the acquire timeout.
func (db *DB) Ping(ctx context.Context) error {
	conn, err := db.acquire(ctx)
	if err != nil {
		return db.fail(ctx, "ping", err)
	}
	defer conn.Release()
	if err := conn.Ping(ctx); err != nil {
		return db.fail(ctx, "ping", err)
	}
	return nil
}

// Close writes the audit events already queued, then closes every
// connection, waiting for those in use to be released. Calls after the
// first do nothing.
func (db *DB) Close() error {
	a := db.audit
	a.mu.Lock()
	first := !a.closed
	a.closed = true
	a.mu.Unlock()
	if first {
		close(a.stop)
		<-a.done
		db.pool.Close()
	}
	return nil
}

// Size returns the bytes the database takes on disk.
func (db *DB) Size(ctx context.Context) (int64, error) {
	var n int64
	err := db.withConn(ctx, func(c *pgxpool.Conn) error {
		return c.QueryRow(ctx, `SELECT pg_database_size(current_database())`).Scan(&n)
	})
	if err != nil {
		return 0, db.fail(ctx, "size", err)
	}
	return n, nil
}

var _ store.Store = (*DB)(nil)
