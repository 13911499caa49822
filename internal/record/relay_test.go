package record_test

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sharedcare/internal/audit"
	"sharedcare/internal/auth"
	"sharedcare/internal/record"
	"sharedcare/internal/store"
	"sharedcare/internal/store/sqlite"
)

// relayPair is a server's Service and a bulk worker's beside it, on the
// same database, the worker's writes relayed to the server over pipes.
func relayPair(t *testing.T) (server, worker *record.Service, db *sqlite.DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "relay.db")
	db, err := sqlite.Open(context.Background(), sqlite.Options{Path: path, Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	reader, err := sqlite.Open(context.Background(), sqlite.Options{Path: path, Reader: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reader.Close() })
	server = record.New(record.Options{Store: db})
	toServer, fromWorker := io.Pipe()
	toWorker, fromServer := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- server.ServeRelay(context.Background(), toServer, fromServer) }()
	t.Cleanup(func() {
		fromWorker.Close()
		if err := <-done; err != nil {
			t.Errorf("ServeRelay: %v", err)
		}
	})
	return server, record.NewRelayed(reader, toWorker, fromWorker, record.Options{}), db
}

// TestRelay: a worker's Service reads the store itself, saves jobs and
// audits through the server, whose trail stays one chain, and can make no
// other write.
func TestRelay(t *testing.T) {
	server, worker, db := relayPair(t)
	dev := auth.NewContext(context.Background(), auth.DevPrincipal())
	if _, err := server.Update(dev, "Patient", "p1", parse(t, `{"resourceType":"Patient","id":"p1","name":[{"family":"Able"}]}`), 0); err != nil {
		t.Fatal(err)
	}

	if err := worker.PutJob(dev, "job1", []byte(`{"state":"running"}`), time.Time{}); err != nil {
		t.Fatalf("worker saving its job: %v", err)
	}
	if b, err := server.Job(dev, "job1"); err != nil || string(b) != `{"state":"running"}` {
		t.Fatalf("the server reads the worker's job as %q, %v", b, err)
	}

	// An export's read, audited by the worker, lands on the server's trail.
	n := 0
	err := worker.Export(dev, &record.ScanQuery{Type: "Patient"}, func(*store.Version) error { n++; return nil })
	if err != nil || n != 1 {
		t.Fatalf("worker export: %d resources, %v", n, err)
	}
	found := false
	err = db.ScanAudit(context.Background(), func(r *store.AuditRecord) error {
		e, err := audit.Decode(r.Body)
		if err != nil {
			return err
		}
		found = found || e.Interaction == "export" && strings.Join(r.Patients, " ") == "p1"
		return nil
	})
	if err != nil || !found {
		t.Fatalf("the worker's export of p1 is not on the server's trail (%v)", err)
	}
	if _, err := audit.Verify(context.Background(), db); err != nil {
		t.Errorf("audit chain: %v", err)
	}

	// Any other write is refused, and changes nothing.
	if _, err := worker.Update(dev, "Patient", "p1", parse(t, `{"resourceType":"Patient","id":"p1","name":[{"family":"Changed"}]}`), 0); err == nil {
		t.Error("a worker changed a Patient")
	}
	if err := worker.DeleteJob(dev, "job1"); err == nil {
		t.Error("a worker deleted a job")
	}
	v, err := server.Read(dev, "Patient", "p1")
	if err != nil || !strings.Contains(string(v.Body), "Able") {
		t.Errorf("after the worker's refused write, p1 reads %s, %v", v.Body, err)
	}
}
