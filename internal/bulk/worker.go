package bulk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"sharedcare/internal/record"
	"sharedcare/internal/traffic"
)

// An export runs in a worker process of its own when Options.Worker is
// set. The server starts the worker with the job's id and how to run it
// (hello, in the environment), and serves the writes it relays back over
// its standard output and input (record.Service.ServeRelay): its job's
// checkpoints and AuditEvents. The worker reads the job, the resources
// and the access rules from the store itself, and writes the files.
//
// Why a process: isolation. A worker that fails or runs out of memory
// fails its job, not the server; the whole of a job, its garbage
// collection and runtime threads too, runs at the lowest priority; and
// none of it holds the server's processors (Ps). What it costs
// interactive requests measured about the same as a job inside the
// server on a quiet box, and steadier on a busy one (docs/PERFORMANCE.md,
// ninth session).

// HelloEnv is the environment variable that hands a worker its hello.
const HelloEnv = "SHAREDCARE_BULK_WORKER"

// hello tells a worker which job to run, and how.
type hello struct {
	Job   string        `json:"job"`
	Node  string        `json:"node"` // the server's, whose lease the job holds
	Dir   string        `json:"dir"`
	Duty  float64       `json:"duty"`
	Lease time.Duration `json:"lease"`
	// Traffic says the worker's file descriptor 3 maps the server's count
	// of interactive requests (traffic.Meter), for the job to work unpaced
	// while the server is quiet.
	Traffic bool `json:"traffic,omitempty"`
}

// workerFD is the worker's file descriptor for the traffic counters: the
// first of exec.Cmd.ExtraFiles.
const workerFD = 3

// sharer is a Traffic whose counters a worker can map.
type sharer interface{ File() *os.File }

// runInWorker runs an export in a worker process and relays its writes
// until it exits. When ctx ends the worker is asked to stop (SIGTERM
// where there are signals), and saves where it got to first.
func (s *Service) runInWorker(ctx context.Context, j *job) error {
	cmd := s.opts.Worker(ctx)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return fmt.Errorf("bulk: worker: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("bulk: worker: %w", err)
	}
	if cmd.Stderr == nil {
		cmd.Stderr = os.Stderr // its log
	}
	h := hello{Job: j.ID, Node: s.node, Dir: s.opts.Dir, Duty: s.opts.Duty, Lease: s.opts.Lease}
	if t, ok := s.opts.Traffic.(sharer); ok && t.File() != nil {
		cmd.ExtraFiles = []*os.File{t.File()}
		h.Traffic = true
	}
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, HelloEnv+"="+string(b))
	isolate(cmd)
	cmd.WaitDelay = 15 * time.Second
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("bulk: start worker: %w", err)
	}
	err = s.rec.ServeRelay(context.WithoutCancel(ctx), stdout, stdin)
	if err != nil {
		cmd.Process.Kill() // it talks nonsense, and nobody reads it now
	}
	stdin.Close()
	if werr := cmd.Wait(); err == nil {
		err = werr
	}
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("bulk: worker: %w", err)
	}
	return nil
}

// failWorker records that a job's worker failed: unless the job was
// cancelled or taken over meanwhile, it failed.
func (s *Service) failWorker(ctx context.Context, id string, err error) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	s.log.ErrorContext(sctx, "bulk job failed", "job", id, "err", err)
	j, lerr := s.load(sctx, id)
	if lerr != nil {
		s.log.WarnContext(sctx, "saving a failed bulk job", "job", id, "err", lerr)
		return
	}
	if j.State != running || j.Node != s.node {
		return
	}
	j.State, j.Failure = failed, failureOf(err)
	j.Finished, j.Node, j.Lease = s.now().UTC(), "", time.Time{}
	if err := s.save(sctx, j); err != nil {
		s.log.WarnContext(sctx, "saving a failed bulk job", "job", id, "err", err)
	}
}

// Work runs, in a worker process, the export its server hands it
// (runInWorker): hello is the value of HelloEnv, and rec a Service whose
// writes reach the server (record.NewRelayed). It returns when the job has
// ended, or stopped because ctx did.
func Work(ctx context.Context, rec *record.Service, helloJSON string, log *slog.Logger) error {
	lowerProcessPriority()
	var h hello
	if err := json.Unmarshal([]byte(helloJSON), &h); err != nil || h.Job == "" {
		return fmt.Errorf("bulk: worker: %s is not a job to run (%v)", HelloEnv, err)
	}
	var tr Traffic
	if h.Traffic {
		m, err := traffic.Open(os.NewFile(workerFD, "traffic"))
		if err != nil {
			return fmt.Errorf("bulk: worker: %w", err)
		}
		tr = m
	}
	s := New(Options{Record: rec, Dir: h.Dir, Duty: h.Duty, Lease: h.Lease, Traffic: tr, Log: log})
	s.node, s.inWorker = h.Node, true
	j, err := s.load(ctx, h.Job)
	if err != nil {
		return fmt.Errorf("bulk: worker: %w", err)
	}
	if j.Kind != "export" || j.State != running || j.Node != h.Node {
		return errors.New("bulk: worker: the job is not an export this server runs")
	}
	s.runHere(ctx, j)
	return nil
}
