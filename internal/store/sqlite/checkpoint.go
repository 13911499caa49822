package sqlite

import (
	"context"
	"database/sql"
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

// checkpointEvery is how often the checkpointer copies committed WAL
// frames into the database file.
const checkpointEvery = 500 * time.Millisecond

// optimizeEvery is how often the planner's statistics are refreshed.
const optimizeEvery = time.Hour

// walLimitFrames is the WAL size (in pages) past which the writer itself
// finishes a checkpoint and truncates the WAL. Passive checkpoints alone
// never let the WAL restart while writes keep coming (each one ends with
// newer frames still uncopied), so without this it grows without bound.
const walLimitFrames = 32768 // 128 MiB at 4 KiB pages

// checkpointer copies the WAL into the database file on a connection of
// its own, so that the writer, whose automatic checkpoints are off, never
// stops a commit to do it. PASSIVE checkpoints neither wait for nor block
// readers and writers. It runs until stop is closed.
func (db *DB) checkpointer(conn *sql.DB, stop <-chan struct{}, done chan<- struct{}) {
	passiveCheckpoints(conn, stop, done, db.log)
}

func passiveCheckpoints(conn *sql.DB, stop <-chan struct{}, done chan<- struct{}, log *slog.Logger) {
	defer close(done)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	optimize := time.NewTicker(optimizeEvery)
	defer optimize.Stop()
	for {
		select {
		case <-stop:
			// Leave a small WAL behind on a clean shutdown.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			conn.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
			cancel()
			return
		case <-t.C:
			if _, err := conn.ExecContext(context.Background(), `PRAGMA wal_checkpoint(PASSIVE)`); err != nil {
				log.Warn("checkpoint failed", "err", err)
			}
		case <-optimize.C:
			// Refresh the statistics the query planner uses, with a bounded
			// sample (https://sqlite.org/pragma.html#pragma_optimize).
			if _, err := conn.ExecContext(context.Background(), `PRAGMA analysis_limit=1000; PRAGMA optimize`); err != nil {
				log.Warn("optimize failed", "err", err)
			}
		}
	}
}

// truncateWAL is run by the writer between batches: when the WAL has grown
// past the limit, with no write in progress, a TRUNCATE checkpoint copies
// what the passive ones have not and empties the WAL. It waits for readers
// of older snapshots (up to the busy timeout). Checking costs one stat.
func (w *writeTx) truncateWAL() {
	truncateWAL(w.conn, w.db.opts.Path, w.db.opts.WALLimitPages, w.db.log)
}

// truncateWAL empties the WAL of the database at path, through its
// writer's connection, once the WAL is past limitPages.
func truncateWAL(conn *sql.Conn, path string, limitPages int, log *slog.Logger) {
	fi, err := os.Stat(path + "-wal")
	if err != nil || fi.Size() < int64(limitPages)*4096 {
		return
	}
	start := time.Now()
	var busy, frames, copied int
	err = conn.QueryRowContext(context.Background(), `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &frames, &copied)
	switch {
	case err != nil:
		log.Warn("WAL truncation failed", "file", filepath.Base(path), "err", err)
	case busy != 0:
		// Routine under load (a reader or the checkpointer is behind); the
		// next batch tries again, so it is not worth a warning each time.
		log.Debug("WAL truncation blocked by readers; will retry", "file", filepath.Base(path), "dur_ms", time.Since(start).Milliseconds())
	default:
		log.Info("WAL truncated", "file", filepath.Base(path), "dur_ms", time.Since(start).Milliseconds())
	}
}
