// Package sqlite implements the store contract on an embedded SQLite
// database (github.com/mattn/go-sqlite3, chosen over the pure-Go drivers for
// being ~1.3x faster on reads and ~1.4x on creates here; see
// ../shared/perf/README.md). One goroutine owns the only writing connection
// and commits concurrent writers' transactions together (group commit), so
// that each commit's fsync is shared; readers use a pool of their own.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"

	"sharedcare/internal/store"
)

// Options configure Open. The zero value of each field is a working default.
type Options struct {
	// Path is the database file; its folder is created if missing.
	Path string
	// Readers bounds the read connection pool; 0 means 4 per CPU.
	Readers int
	// MaxBatch bounds how many transactions share one commit; 0 means 256.
	MaxBatch int
	// Synchronous is SQLite's synchronous setting: "FULL" (the default)
	// fsyncs the WAL at every commit, so an acknowledged write survives a
	// power cut as well as a crash; "NORMAL" survives a process crash only.
	Synchronous string
	// AuditSynchronous is the same for the audit trail; "" means NORMAL:
	// every read writes an event, and an fsync per batch of reads would
	// cost more than the read. An event is written to the WAL before its
	// response goes out, so it survives the server crashing; a power cut
	// can lose the last moments of the trail (not of the record). FULL
	// makes every batch wait for the disk.
	AuditSynchronous string
	// WALLimitPages is the WAL length past which the writer restarts it;
	// 0 means walLimitFrames (128 MiB).
	WALLimitPages int
	// CheckpointEvery is how often the checkpointer copies the WAL into
	// the database file; 0 means every 500 ms.
	CheckpointEvery time.Duration
	// Exclusive says this process alone writes the file's resources
	// (serve, import): Open takes the data file's lock, failing while
	// another exclusive process holds it, and keeps a cache of versions
	// read by id. Without it (admin tools beside a running server) nothing
	// is locked or cached.
	Exclusive bool
	// ReadCacheBytes sizes that cache; 0 means 64 MiB, negative turns it
	// off.
	ReadCacheBytes int64
	// Reader says this process reads beside the one that writes (a bulk
	// worker beside its server): it leaves checkpointing the WAL and
	// indexing the audit trail to that one, so as not to do the same work
	// twice or hold the trail's write lock against it, and refuses audit
	// events, whose chain that one holds the head of.
	Reader bool
	// Now is the clock for lastUpdated; nil means time.Now.
	Now func() time.Time
	Log *slog.Logger
}

const defaultReadCacheBytes = 64 << 20

// DB is a store.Store on one SQLite file. It is safe for concurrent use.
type DB struct {
	read  *sql.DB
	write *sql.DB // one connection, used only by the writer goroutine
	jobs  chan *job
	opts  Options
	log   *slog.Logger

	stop     chan struct{}
	done     chan struct{}
	closeMu  sync.Mutex // guards closed, and sends on jobs against Close
	closed   bool
	running  bool // the writer goroutine was started
	stmts    *readStmts
	writeSQL *writeStmts
	params   *params
	snaps    *snapshots
	audit    *auditLog
	ckpt     *sql.DB // the checkpointer's connection
	wal      *wal
	ckptDone chan struct{} // closed when the checkpointer has stopped
	cache    *readCache    // nil unless Exclusive
	lock     *os.File      // holds the data file's lock while Exclusive

	commits, committedJobs atomic.Int64 // the writer's transactions, and the jobs in them
}

// Open opens (creating if needed) the database at opts.Path, migrates its
// schema and starts the writer.
func Open(ctx context.Context, opts Options) (*DB, error) {
	if opts.Path == "" {
		return nil, errors.New("sqlite: no path")
	}
	if opts.Readers <= 0 {
		opts.Readers = 4 * runtime.GOMAXPROCS(0)
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 256
	}
	switch opts.Synchronous {
	case "":
		opts.Synchronous = "FULL"
	case "FULL", "NORMAL":
	default:
		return nil, fmt.Errorf("sqlite: synchronous %q: want FULL or NORMAL", opts.Synchronous)
	}
	switch opts.AuditSynchronous {
	case "":
		opts.AuditSynchronous = "NORMAL"
	case "FULL", "NORMAL":
	default:
		return nil, fmt.Errorf("sqlite: audit synchronous %q: want FULL or NORMAL", opts.AuditSynchronous)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.WALLimitPages <= 0 {
		opts.WALLimitPages = walLimitFrames
	}
	if opts.CheckpointEvery <= 0 {
		opts.CheckpointEvery = checkpointEvery
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(filepath.Dir(opts.Path), 0o750); err != nil {
		return nil, fmt.Errorf("sqlite: create data folder: %w", err)
	}
	db := &DB{opts: opts, log: opts.Log.With("component", "sqlite"), jobs: make(chan *job, opts.MaxBatch), stop: make(chan struct{}), done: make(chan struct{})}
	if opts.Exclusive {
		var err error
		if db.lock, err = lockFile(opts.Path + "-lock"); err != nil {
			return nil, err
		}
		if opts.ReadCacheBytes == 0 {
			opts.ReadCacheBytes = defaultReadCacheBytes
		}
		if db.lock != nil {
			db.cache = newReadCache(opts.ReadCacheBytes)
		}
	}

	// The writer connection sets up WAL; readers then share it.
	wc, err := writerConnector(opts.Path, opts.Synchronous)
	if err != nil {
		if db.lock != nil {
			db.lock.Close()
		}
		return nil, err
	}
	db.write = sql.OpenDB(wc)
	db.write.SetMaxOpenConns(1)
	db.write.SetMaxIdleConns(1)
	db.write.SetConnMaxLifetime(0)
	if err := migrate(ctx, db.write); err != nil {
		db.write.Close()
		if db.lock != nil {
			db.lock.Close()
		}
		return nil, err
	}
	db.read = sql.OpenDB(connector(opts.Path, opts.Synchronous, true))
	db.read.SetMaxOpenConns(opts.Readers)
	db.read.SetMaxIdleConns(opts.Readers)
	if db.stmts, err = prepareRead(ctx, db.read); err != nil {
		db.Close()
		return nil, err
	}
	conn, err := db.write.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: writer connection: %w", err)
	}
	if db.writeSQL, err = prepareWrite(ctx, conn); err != nil {
		conn.Close()
		db.Close()
		return nil, err
	}
	last, seq, err := newest(ctx, conn)
	if err == nil {
		db.params, err = loadParams(ctx, conn)
	}
	var index *indexWriter
	if err == nil {
		index, err = newIndexWriter(ctx, conn)
	}
	if err == nil {
		db.snaps, err = openSnapshots(ctx, opts.Path+"-search")
	}
	if err == nil {
		db.audit, err = openAudit(ctx, opts.Path+"-audit", opts.AuditSynchronous, newWAL(opts.Path+"-audit", opts, db.log), opts.Reader)
	}
	if err != nil {
		conn.Close()
		db.Close()
		return nil, err
	}
	// The writer never checkpoints; the checkpointer does, beside it.
	if _, err := conn.ExecContext(ctx, `PRAGMA wal_autocheckpoint=0`); err != nil {
		conn.Close()
		db.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	db.wal = newWAL(opts.Path, opts, db.log)
	if !opts.Reader {
		db.ckpt = sql.OpenDB(connector(opts.Path, opts.Synchronous, false))
		db.ckpt.SetMaxOpenConns(1)
		db.ckptDone = make(chan struct{})
		go db.checkpointer(db.ckpt, db.stop, db.ckptDone)
	}
	db.closeMu.Lock()
	db.running = true
	db.closeMu.Unlock()
	go db.writer(conn, last, seq, index)
	return db, nil
}

// busyTimeoutMS is how long a connection waits for a lock another holds.
const busyTimeoutMS = 10000

// connector opens connections with the pragmas every connection needs,
// without registering a driver globally.
func connector(path, synchronous string, readOnly bool) driver.Connector {
	return newConnector(path, synchronous, readOnly, false, "")
}

// writerConnector is connector for the one connection that writes a
// file's transactions. Where every commit is synced it gathers the WAL's
// writes into few system calls (walbuf.c), which saves the writer, the
// bottleneck of ingest, about a tenth of its time.
func writerConnector(path, synchronous string) (driver.Connector, error) {
	vfs := ""
	if gathersWAL(synchronous) {
		if err := registerWalbuf(); err != nil {
			return nil, err
		}
		vfs = walbufVFS
	}
	return newConnector(path, synchronous, false, true, vfs), nil
}

// newConnector is connector for a writer or not, on vfs ("": SQLite's
// default).
func newConnector(path, synchronous string, readOnly, writer bool, vfs string) driver.Connector {
	q := url.Values{}
	q.Set("_busy_timeout", strconv.Itoa(busyTimeoutMS))
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", synchronous)
	q.Set("_foreign_keys", "0")
	if readOnly {
		q.Set("_query_only", "1")
	}
	if vfs != "" {
		q.Set("vfs", vfs)
	}
	dsn := "file:" + path + "?" + q.Encode()
	drv := &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		// Each connection keeps a 16 MB page cache; the OS page cache holds
		// the rest. No memory mapping: mapped pages count in the server's
		// resident memory once per connection, which hides what it really
		// uses. Temp tables stay in memory.
		pragmas := `PRAGMA cache_size=-16000; PRAGMA mmap_size=0; PRAGMA temp_store=MEMORY`
		if writer {
			// The writer never writes pages to the WAL before the commit. A
			// batch dirties more pages than the cache holds, and spilling
			// wrote them twice and read them back in between. And every
			// WAL write then belongs to a commit, which ends with the sync
			// that empties walbuf.c's buffer: nothing of a rolled-back
			// transaction stays buffered, to be written later over frames
			// that another process has since committed.
			pragmas += `; PRAGMA cache_spill=OFF`
		}
		_, err := c.Exec(pragmas, nil)
		return err
	}}
	return &sqliteConnector{dsn: dsn, drv: drv}
}

type sqliteConnector struct {
	dsn string
	drv *sqlite3.SQLiteDriver
}

func (c *sqliteConnector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.dsn) }
func (c *sqliteConnector) Driver() driver.Driver                        { return c.drv }

// Ping checks that a read connection answers.
func (db *DB) Ping(ctx context.Context) error { return db.read.PingContext(ctx) }

// Close stops the writer after the transactions already queued, then closes
// both pools. Calls after the first return nil.
func (db *DB) Close() error {
	db.closeMu.Lock()
	if db.closed {
		db.closeMu.Unlock()
		return nil
	}
	db.closed = true
	started := db.running
	close(db.stop)
	db.closeMu.Unlock()
	if started {
		<-db.done
	}
	if db.ckptDone != nil {
		<-db.ckptDone
		db.ckpt.Close()
	}
	var errs []error
	if db.audit != nil {
		errs = append(errs, db.audit.closeAndWait())
	}
	if db.snaps != nil {
		errs = append(errs, db.snaps.close())
	}
	if db.read != nil {
		errs = append(errs, db.read.Close())
	}
	errs = append(errs, db.write.Close())
	if db.lock != nil {
		errs = append(errs, db.lock.Close()) // closing it releases the lock
	}
	return errors.Join(errs...)
}

var _ store.Store = (*DB)(nil)
