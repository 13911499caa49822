package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"
)

// checkpointEvery is how often, unless told otherwise, the checkpointer
// copies committed WAL frames into the database file.
const checkpointEvery = 500 * time.Millisecond

// After the checkpointer has found no new WAL frames for quietPasses
// intervals (30 s at the default), a WAL larger than quietTruncateAbove is
// truncated, giving its disk space back. Counted in time, not passes: a
// pass that copies a large WAL takes longer than the interval.
const (
	quietPasses        = 60
	quietTruncateAbove = 1 << 20
)

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
	quietFor := quietPasses * w.every
	quietSince, lastFrames := time.Now(), int64(-1)
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
			if frames != lastFrames || busy != 0 {
				quietSince, lastFrames = time.Now(), frames
				continue
			}
			if time.Since(quietSince) >= quietFor {
				quietSince = time.Now()
				w.truncateIfLarge(conn)
			}
		case <-optimize.C:
			// Refresh the statistics the query planner uses, with a bounded
			// sample (https://sqlite.org/pragma.html#pragma_optimize).
			if _, err := conn.ExecContext(context.Background(), `PRAGMA analysis_limit=1000; PRAGMA optimize`); err != nil {
				w.log.Warn("optimize failed", "err", err)
			}
		}
	}
}

// truncateIfLarge truncates a WAL that has had no writes for a while and
// is larger than quietTruncateAbove. The WAL otherwise stays at its
// high-water mark (restarts rewrite it from the start without shrinking
// it) until a clean shutdown. A TRUNCATE checkpoint holds the write lock
// while it waits for readers of older snapshots, so it waits at most
// 100 ms here and tries again after the next quiet spell.
func (w *wal) truncateIfLarge(db *sql.DB) {
	fi, err := os.Stat(w.path + "-wal")
	if err != nil || fi.Size() <= quietTruncateAbove {
		return
	}
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		return
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA busy_timeout=100`); err != nil {
		return
	}
	defer conn.ExecContext(ctx, fmt.Sprintf(`PRAGMA busy_timeout=%d`, busyTimeoutMS))
	var busy, frames, copied int64
	err = conn.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &frames, &copied)
	switch {
	case err != nil:
		w.log.Warn("truncating an idle WAL failed", "file", filepath.Base(w.path), "err", err)
	case busy != 0:
		w.log.Debug("idle WAL not truncated: readers are busy", "file", filepath.Base(w.path))
	default:
		w.frames.Store(0)
		w.log.Info("idle WAL truncated", "file", filepath.Base(w.path), "bytes", fi.Size())
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
