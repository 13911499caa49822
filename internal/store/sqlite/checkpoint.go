package sqlite

import (
	"context"
	"database/sql"
	"time"
)

// checkpointEvery is how often the checkpointer copies committed WAL
// frames into the database file.
const checkpointEvery = 500 * time.Millisecond

// checkpointer copies the WAL into the database file on a connection of
// its own, so that the writer, whose automatic checkpoints are off, never
// stops a commit to do it. PASSIVE checkpoints neither wait for nor block
// readers and writers. It runs until stop is closed.
func (db *DB) checkpointer(conn *sql.DB, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			// Leave a small WAL behind on a clean shutdown.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			conn.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
			cancel()
			return
		case <-t.C:
			var busy, frames, copied int
			err := conn.QueryRowContext(context.Background(), `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied)
			if err != nil {
				db.log.Warn("checkpoint failed", "err", err)
			}
		}
	}
}
