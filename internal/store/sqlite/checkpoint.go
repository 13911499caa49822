package sqlite

import (
	"context"
	"database/sql"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"time"
)

// checkpointEvery is how often, unless told otherwise, the checkpointer
// copies committed WAL frames into the database file.
const checkpointEvery = 500 * time.Millisecond

// optimizeEvery is how often the planner's statistics are refreshed.
const optimizeEvery = time.Hour

// walLimitFrames is the WAL length (in frames) past which the writer
// itself finishes a checkpoint and restarts the WAL. Passive checkpoints
// alone never let the WAL restart while writes keep coming (each one ends
// with newer frames still uncopied), so without this it grows without
// bound.
const walLimitFrames = 32768 // 128 MiB at 4 KiB pages

// wal is what a database's writer and its checkpointer share: how long the
// WAL was at the checkpointer's last pass.
type wal struct {
	path   string
	limit  int64         // frames
	every  time.Duration // how often the checkpointer passes
	frames atomic.Int64
	log    *slog.Logger
}

// newWAL describes the WAL of the database file at path, with the limit
// and checkpoint interval opts give.
func newWAL(path string, opts Options, log *slog.Logger) *wal {
	return &wal{path: path, limit: int64(opts.WALLimitPages), every: opts.CheckpointEvery, log: log}
}

// checkpointer copies the WAL into the database file on a connection of
// its own, so that the writer, whose automatic checkpoints are off, never
// stops a commit to do it. PASSIVE checkpoints neither wait for nor block
// readers and writers. It runs until stop is closed.
func (db *DB) checkpointer(conn *sql.DB, stop <-chan struct{}, done chan<- struct{}) {
	passiveCheckpoints(conn, stop, done, db.wal)
}

func passiveCheckpoints(conn *sql.DB, stop <-chan struct{}, done chan<- struct{}, w *wal) {
	defer close(done)
	t := time.NewTicker(w.every)
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
			var busy, frames, copied int64
			if err := conn.QueryRowContext(context.Background(), `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied); err != nil {
				w.log.Warn("checkpoint failed", "err", err)
				continue
			}
			w.frames.Store(frames)
		case <-optimize.C:
			// Refresh the statistics the query planner uses, with a bounded
			// sample (https://sqlite.org/pragma.html#pragma_optimize).
			if _, err := conn.ExecContext(context.Background(), `PRAGMA analysis_limit=1000; PRAGMA optimize`); err != nil {
				w.log.Warn("optimize failed", "err", err)
			}
		}
	}
}

// restart is run by the writer between batches, on its connection: when
// the checkpointer last saw the WAL past its limit, a RESTART checkpoint
// copies what the passive ones have not, and the next write begins the
// WAL again from its start. It waits for readers of older snapshots (up
// to the busy timeout). The file keeps its length: frames written over
// pages the kernel already holds cost far less than a file grown anew
// from empty, as a TRUNCATE checkpoint would leave it.
func (w *wal) restart(conn *sql.Conn) {
	if w.frames.Load() < w.limit {
		return
	}
	start := time.Now()
	var busy, frames, copied int
	err := conn.QueryRowContext(context.Background(), `PRAGMA wal_checkpoint(RESTART)`).Scan(&busy, &frames, &copied)
	switch {
	case err != nil:
		w.log.Warn("WAL restart failed", "file", filepath.Base(w.path), "err", err)
	case busy != 0:
		// Routine under load (a reader or the checkpointer is behind); the
		// next batch tries again, so it is not worth a warning each time.
		w.log.Debug("WAL restart blocked by readers; will retry", "file", filepath.Base(w.path), "dur_ms", time.Since(start).Milliseconds())
	default:
		w.frames.Store(0)
		w.log.Info("WAL restarted", "file", filepath.Base(w.path), "frames", frames, "dur_ms", time.Since(start).Milliseconds())
	}
}
