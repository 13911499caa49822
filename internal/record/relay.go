package record

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"sharedcare/internal/store"
)

// A bulk export can run in a worker process of its own (bulk.Work). The
// worker reads the store itself, but the server that started it alone
// writes: it holds the head of the audit chain. So a worker's Service
// relays the writes an export makes, its job's checkpoints and the
// AuditEvents of what it read, to that server over a pair of pipes: one
// relayCall at a time, each answered by a relayReply once made.

type relayCall struct {
	Op      string               `json:"op"` // appendAudit, queueAudit or putJob
	Events  []*store.AuditRecord `json:"events,omitempty"`
	Key     string               `json:"key,omitempty"`
	Value   []byte               `json:"value,omitempty"`
	Expires time.Time            `json:"expires,omitzero"`
}

type relayReply struct {
	Err string `json:"err,omitempty"`
}

// NewRelayed returns a Service for a bulk worker: it reads st, and relays
// the AuditEvents it records and the jobs it saves over w to the server's
// ServeRelay, reading the answers from r. Any other write fails.
func NewRelayed(st store.Store, r io.Reader, w io.Writer, opts Options) *Service {
	opts.Store = &relayed{Store: st, dec: json.NewDecoder(r), enc: json.NewEncoder(w)}
	return New(opts)
}

// ServeRelay makes the writes a worker's relayed Service asks for, in
// order, until r ends. A worker that is stopping still saves where it got
// to, so ctx should outlast the worker's job.
func (s *Service) ServeRelay(ctx context.Context, r io.Reader, w io.Writer) error {
	dec, enc := json.NewDecoder(r), json.NewEncoder(w)
	for {
		var c relayCall
		if err := dec.Decode(&c); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("record: relay: %w", err)
		}
		var reply relayReply
		if err := s.relay(ctx, &c); err != nil {
			reply.Err = err.Error()
		}
		if err := enc.Encode(&reply); err != nil {
			return fmt.Errorf("record: relay: %w", err)
		}
	}
}

func (s *Service) relay(ctx context.Context, c *relayCall) error {
	switch c.Op {
	case "appendAudit":
		return s.store.AppendAudit(ctx, c.Events)
	case "queueAudit":
		return s.store.QueueAudit(ctx, c.Events)
	case "putJob":
		return s.PutJob(ctx, c.Key, c.Value, c.Expires)
	}
	return fmt.Errorf("record: relay: no such write %q", c.Op)
}

// relayed is a worker's store: its own for reads, and the server's, by
// relay, for the writes a bulk export makes.
type relayed struct {
	store.Store
	mu  sync.Mutex // one call at a time: answers come in order
	dec *json.Decoder
	enc *json.Encoder
}

var errRelayedWrite = errors.New("record: a bulk worker makes no writes but its job's and its audit's")

func (f *relayed) call(c *relayCall) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.enc.Encode(c); err != nil {
		return fmt.Errorf("record: relay to the server: %w", err)
	}
	var r relayReply
	if err := f.dec.Decode(&r); err != nil {
		return fmt.Errorf("record: relay from the server: %w", err)
	}
	if r.Err != "" {
		return errors.New(r.Err)
	}
	return nil
}

func (f *relayed) AppendAudit(_ context.Context, events []*store.AuditRecord) error {
	return f.call(&relayCall{Op: "appendAudit", Events: events})
}

func (f *relayed) QueueAudit(_ context.Context, events []*store.AuditRecord) error {
	return f.call(&relayCall{Op: "queueAudit", Events: events})
}

func (f *relayed) PutRecord(_ context.Context, kind, key string, value []byte, expires time.Time) error {
	if kind != jobKind {
		return errRelayedWrite
	}
	return f.call(&relayCall{Op: "putJob", Key: key, Value: value, Expires: expires})
}

func (f *relayed) Tx(context.Context, func(store.Tx) error) error { return errRelayedWrite }

func (f *relayed) DeleteRecord(context.Context, string, string) error { return errRelayedWrite }

func (f *relayed) TakeRecord(context.Context, string, string) ([]byte, error) {
	return nil, errRelayedWrite
}

func (f *relayed) PutRecordIfAbsent(context.Context, string, string, []byte, time.Time) (bool, error) {
	return false, errRelayedWrite
}
