package bulk_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"sharedcare/internal/audit"
	"sharedcare/internal/bulk"
	"sharedcare/internal/outcome"
	"sharedcare/internal/record"
	"sharedcare/internal/store"
	"sharedcare/internal/store/postgres"
	"sharedcare/internal/store/sqlite"
	"sharedcare/internal/store/storetest"
)

// workerEnv, set to a database's path, makes the test binary a bulk
// worker over it (TestMain), as the bulk-worker command is for serve.
const workerEnv = "SHAREDCARE_TEST_BULK_WORKER"

func TestMain(m *testing.M) {
	path := os.Getenv(workerEnv)
	if path == "" {
		os.Exit(m.Run())
	}
	if path == "crash" {
		os.Exit(3)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	var st store.Store
	var err error
	if strings.HasPrefix(path, "postgres://") {
		st, err = postgres.Open(ctx, postgres.Options{URL: path})
	} else {
		st, err = sqlite.Open(ctx, sqlite.Options{Path: path, Reader: true})
	}
	if err == nil {
		rec := record.NewRelayed(st, os.Stdin, os.Stdout, record.Options{})
		err = bulk.Work(ctx, rec, os.Getenv(bulk.HelloEnv), nil)
		st.Close()
	}
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
	// Tells the test that a worker, not the server, ran the job.
	if marker := os.Getenv(workerRanEnv); marker != "" {
		os.WriteFile(marker, []byte("yes"), 0o600)
	}
}

// workerRanEnv names the file a test worker writes when it has run a job.
const workerRanEnv = "SHAREDCARE_TEST_BULK_WORKER_RAN"

// workerRecord is newRecord on the backend named, and where its workers
// find the database: a file's path, or PostgreSQL's URL.
func workerRecord(t *testing.T, backend string) (*record.Service, store.Store, string) {
	t.Helper()
	var db store.Store
	var where string
	var err error
	if backend == "postgres" {
		where = storetest.PostgresURL(t)
		db, err = postgres.Open(context.Background(), postgres.Options{URL: where})
	} else {
		where = filepath.Join(t.TempDir(), "bulk.db")
		db, err = sqlite.Open(context.Background(), sqlite.Options{Path: where, Synchronous: "NORMAL", Exclusive: true})
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return record.New(record.Options{Store: db}), db, where
}

// workerCommand starts this test binary as a worker over the database
// where, and counts how often it did; a worker that runs a job writes the
// file ran.
func workerCommand(where, ran string, started *atomic.Int32) func(ctx context.Context) *exec.Cmd {
	return func(ctx context.Context) *exec.Cmd {
		started.Add(1)
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), workerEnv+"="+where, workerRanEnv+"="+ran)
		return cmd
	}
}

// exportObservations runs a Service with opts (polling every 5 ms) until
// the test ends, and kicks off an export of Observations on it.
func exportObservations(t *testing.T, opts bulk.Options) (*bulk.Service, string) {
	t.Helper()
	opts.Poll = 5 * time.Millisecond
	svc := bulk.New(opts)
	ctx, cancel := context.WithCancel(dev())
	var wg sync.WaitGroup
	wg.Go(func() { svc.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	id, err := svc.Export(dev(), "system", "", map[string][]string{"_type": {"Observation"}}, "test")
	if err != nil {
		t.Fatal(err)
	}
	return svc, id
}

// waitDone polls a job's status until it has finished, and returns its
// manifest or error.
func waitDone(t *testing.T, svc *bulk.Service, id string) ([]byte, error) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		m, _, err := svc.Status(dev(), id, "")
		if m != nil || err != nil {
			return m, err
		}
	}
	t.Fatal("job still running after a minute")
	return nil, nil
}

// lines reads an export file and returns its lines.
func lines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// TestExportInWorker runs an export in a worker process, on each backend:
// its file holds every resource once, and its AuditEvents, which the
// worker relays to the server, are on the server's trail with the chain
// intact.
func TestExportInWorker(t *testing.T) {
	if testing.Short() {
		t.Skip("starts worker processes")
	}
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) { testExportInWorker(t, backend) })
	}
}

func testExportInWorker(t *testing.T, backend string) {
	rec, db, where := workerRecord(t, backend)
	observations(t, rec, 0, 2500)
	dir := t.TempDir()
	ran := filepath.Join(t.TempDir(), "worker-ran")
	var started atomic.Int32
	svc, id := exportObservations(t, bulk.Options{Record: rec, Dir: dir, Duty: 0.5, Worker: workerCommand(where, ran, &started)})
	m, err := waitDone(t, svc, id)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(m), `"count":2500`) {
		t.Errorf("manifest %s: want 2500 Observations", m)
	}
	// The worker marks that it ran once it has ended, just after the job.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat(ran); err == nil {
			break
		}
	}
	if _, err := os.Stat(ran); err != nil || started.Load() != 1 {
		t.Fatalf("worker started %d times, ran: %v; want the export run in one worker", started.Load(), err)
	}
	seen := map[string]bool{}
	for _, l := range lines(t, filepath.Join(dir, id, "Observation.ndjson")) {
		i := strings.Index(l, `"id":"`)
		oid := l[i+6 : i+6+strings.IndexByte(l[i+6:], '"')]
		if seen[oid] {
			t.Fatalf("%s exported twice", oid)
		}
		seen[oid] = true
	}
	if len(seen) != 2500 {
		t.Errorf("exported %d Observations, want 2500", len(seen))
	}
	// The export's events: one per 1,000 resources read.
	exports := 0
	err = db.ScanAudit(context.Background(), func(r *store.AuditRecord) error {
		e, err := audit.Decode(r.Body)
		if err != nil {
			return err
		}
		if e.Interaction == "export" {
			exports++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if exports < 3 {
		t.Errorf("%d export AuditEvents on the trail; want one per 1,000 resources, 3", exports)
	}
	if _, err := audit.Verify(context.Background(), db); err != nil {
		t.Errorf("audit chain: %v", err)
	}
}

// TestWorkerStopsAndResumes stops the server's jobs while a worker
// exports: the worker saves where it got to, through the server, and the
// next start resumes there and writes every resource once.
func TestWorkerStopsAndResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts worker processes")
	}
	rec, _, where := workerRecord(t, "sqlite")
	const n = 12000
	observations(t, rec, 0, n)
	dir := t.TempDir()
	var started atomic.Int32
	// At 5%, the least, the export takes several seconds.
	// A short lease: the next start, a node of another name, takes the job
	// over once its claim lapses.
	opts := bulk.Options{Record: rec, Dir: dir, Poll: 5 * time.Millisecond, Duty: 0.05, Lease: 2 * time.Second, Worker: workerCommand(where, filepath.Join(t.TempDir(), "worker-ran"), &started)}
	svc := bulk.New(opts)
	ctx, cancel := context.WithCancel(dev())
	var wg sync.WaitGroup
	wg.Go(func() { svc.Run(ctx) })
	id, err := svc.Export(dev(), "system", "", map[string][]string{"_type": {"Observation"}}, "test")
	if err != nil {
		t.Fatal(err)
	}
	// Stopped a second after its worker started, the export has written
	// some of the resources, paced at 5%, and not all.
	for deadline := time.Now().Add(time.Minute); started.Load() == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no worker started within a minute")
		}
	}
	time.Sleep(time.Second)
	cancel()
	wg.Wait()
	// The worker saved where it got to as it stopped, through the server.
	_, stopped, err := svc.Status(dev(), id, "")
	if err != nil || !strings.HasPrefix(stopped, "exported ") || strings.HasPrefix(stopped, "exported 0 ") {
		t.Fatalf("stopped job: progress %q, %v; want it running, with its progress saved", stopped, err)
	}
	if strings.Contains(stopped, fmt.Sprintf("exported %d ", n)) {
		t.Fatalf("the export finished before it was stopped (%q); slow it down", stopped)
	}

	opts.Duty = 1
	svc = bulk.New(opts)
	ctx, cancel = context.WithCancel(dev())
	wg.Go(func() { svc.Run(ctx) })
	defer func() { cancel(); wg.Wait() }()
	if _, err := waitDone(t, svc, id); err != nil {
		t.Fatal(err)
	}
	if got := lines(t, filepath.Join(dir, id, "Observation.ndjson")); len(got) != n {
		t.Errorf("%d lines after resuming from %q; want %d", len(got), stopped, n)
	}
	if started.Load() != 2 {
		t.Errorf("%d workers started; want 2, one per run", started.Load())
	}
}

// TestWorkerCrashFailsJob: a worker that dies without finishing its job
// fails it, with an error its owner can read, rather than leave it
// running forever.
func TestWorkerCrashFailsJob(t *testing.T) {
	if testing.Short() {
		t.Skip("starts worker processes")
	}
	rec, _, _ := workerRecord(t, "sqlite")
	observations(t, rec, 0, 10)
	var started atomic.Int32
	svc, id := exportObservations(t, bulk.Options{Record: rec, Dir: t.TempDir(), Worker: workerCommand("crash", "", &started)})
	_, err := waitDone(t, svc, id)
	var oe *outcome.Error
	if !errors.As(err, &oe) || oe.Status != 500 {
		t.Fatalf("status of a job whose worker crashed: %v; want a 500 outcome", err)
	}
}
