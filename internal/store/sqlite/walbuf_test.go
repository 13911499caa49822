package sqlite_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"sharedcare/internal/store"
	"sharedcare/internal/store/sqlite"
)

// quietOptions open a store whose checkpointer never runs during a test
// and whose WAL is never restarted, so that the files change only by the
// writer's commits.
func quietOptions(path, synchronous string) sqlite.Options {
	return sqlite.Options{Path: path, Synchronous: synchronous, CheckpointEvery: time.Hour, WALLimitPages: 1 << 30}
}

// putPatients commits n Patients of about 2 KB each in one transaction.
func putPatients(t *testing.T, db *sqlite.DB, prefix string, n int) {
	t.Helper()
	ctx := context.Background()
	body := `{"resourceType":"Patient","name":[{"family":"` + strings.Repeat("x", 2000) + `"}]}`
	err := db.Tx(ctx, func(tx store.Tx) error {
		for i := range n {
			if _, err := tx.Put(ctx, &store.Write{Type: "Patient", ID: fmt.Sprint(prefix, i), Resource: mustParse(t, body)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCommitsInFilesWhileOpen: every acknowledged commit is in the
// database's files while the writer still runs, as a crash would find
// them, whether the writer gathers its WAL writes (FULL) or writes each at
// once (NORMAL).
func TestCommitsInFilesWhileOpen(t *testing.T) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		t.Run(sync, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "live.db")
			db, err := sqlite.Open(context.Background(), quietOptions(path, sync))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			for round := range 5 {
				putPatients(t, db, fmt.Sprintf("r%d-", round), 40)
			}
			// Copy the files as they are now, the writer still open: what
			// a crash at this moment would leave behind.
			copyDir := t.TempDir()
			for _, suffix := range []string{"", "-wal"} {
				copyFile(t, path+suffix, filepath.Join(copyDir, "live.db"+suffix))
			}
			cp, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(copyDir, "live.db")})
			if err != nil {
				t.Fatal(err)
			}
			defer cp.Close()
			for round := range 5 {
				for i := range 40 {
					if _, err := cp.Read(context.Background(), "Patient", fmt.Sprintf("r%d-%d", round, i)); err != nil {
						t.Fatalf("Patient/r%d-%d, committed before the copy: %v", round, i, err)
					}
				}
			}
			if err := cp.Check(context.Background()); err != nil {
				t.Errorf("the copy's integrity: %v", err)
			}
		})
	}
}

// TestWALWritesGathered: with synchronous=FULL a commit of many pages
// reaches the WAL in far fewer system calls than SQLite's two a page.
func TestWALWritesGathered(t *testing.T) {
	if _, err := writeCalls(); err != nil {
		t.Skipf("no write-call count for this process: %v", err)
	}
	path := filepath.Join(t.TempDir(), "g.db")
	db, err := sqlite.Open(context.Background(), quietOptions(path, "FULL"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	putPatients(t, db, "warm-", 1)
	size0 := fileSize(t, path+"-wal")
	calls0, _ := writeCalls()
	putPatients(t, db, "p", 400)
	calls1, _ := writeCalls()
	frames := (fileSize(t, path+"-wal") - size0) / (4096 + 24)
	if frames < 300 {
		t.Fatalf("the commit wrote %d WAL frames; the test needs hundreds", frames)
	}
	// Unbuffered, SQLite would make 2 calls a frame; gathered, each call
	// carries up to 31 frames. Other goroutines of the test may write a
	// little meanwhile.
	if calls := calls1 - calls0; calls > frames/4 {
		t.Errorf("%d write calls for %d WAL frames; want them gathered (at most %d)", calls, frames, frames/4)
	}
}

// TestWriterDoesNotSpill: a transaction larger than the writer's page
// cache writes nothing to the WAL before it commits, so that no frame of a
// transaction that is then rolled back can sit in walbuf.c's buffer, and
// no page is written twice.
func TestWriterDoesNotSpill(t *testing.T) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		t.Run(sync, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "s.db")
			db, err := sqlite.Open(context.Background(), quietOptions(path, sync))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			putPatients(t, db, "warm-", 1)
			ctx := context.Background()
			body := `{"resourceType":"Patient","name":[{"family":"` + strings.Repeat("y", 3000) + `"}]}`
			before := fileSize(t, path+"-wal")
			var during int64
			err = db.Tx(ctx, func(tx store.Tx) error {
				// 8,000 resources of 3 KB: about 24 MB, past the 16 MB cache.
				for i := range 8000 {
					if _, err := tx.Put(ctx, &store.Write{Type: "Patient", ID: fmt.Sprint("big", i), Resource: mustParse(t, body)}); err != nil {
						return err
					}
				}
				during = fileSize(t, path+"-wal")
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if during != before {
				t.Errorf("the WAL grew from %d to %d bytes before the commit; want no pages written until it", before, during)
			}
			if after := fileSize(t, path+"-wal"); after < before+20<<20 {
				t.Errorf("the WAL is %d bytes after the commit; want the transaction's 24 MB in it", after)
			}
		})
	}
}

// writeCalls is the process's count of write system calls (Linux).
func writeCalls() (int64, error) {
	f, err := os.Open("/proc/self/io")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "syscw: "); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("/proc/self/io has no syscw")
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}
