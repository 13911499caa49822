// Package traffic counts the interactive requests a server is serving, in
// memory that a bulk worker running in a process of its own can map too,
// so that it stands aside for them as one inside the server would.
package traffic

import (
	"os"
	"sync/atomic"
	"time"
)

// Meter counts interactive requests in flight and notes when the last one
// ended. Its zero value counts in the process's own memory; Share moves
// the counters to memory another process can map. It is safe for
// concurrent use, across processes too once shared.
type Meter struct {
	own    counters
	shared *counters // in mapped memory, once shared
	file   *os.File  // the mapping's file, for a child to inherit
}

// counters are the Meter's state: requests in flight, and when the latest
// ended in Unix nanoseconds.
type counters struct {
	inFlight  atomic.Int64
	lastEnded atomic.Int64
}

func (m *Meter) c() *counters {
	if m.shared != nil {
		return m.shared
	}
	return &m.own
}

// Begin counts a request that has started.
func (m *Meter) Begin() { m.c().inFlight.Add(1) }

// End counts a request that ended at t.
func (m *Meter) End(t time.Time) {
	c := m.c()
	c.lastEnded.Store(t.UnixNano())
	c.inFlight.Add(-1)
}

// Busy reports whether a request is being served.
func (m *Meter) Busy() bool { return m.c().inFlight.Load() > 0 }

// Quiet reports whether no request has been served for d.
func (m *Meter) Quiet(d time.Duration) bool {
	return !m.Busy() && time.Since(time.Unix(0, m.c().lastEnded.Load())) >= d
}

// File is the file whose mapping holds the counters, for a child process
// to inherit and Open; nil until Share.
func (m *Meter) File() *os.File { return m.file }

// Share moves the counters to memory that a child process given File can
// map. Call it before the Meter is used: counts already made stay behind.
func (m *Meter) Share() error {
	c, f, err := create()
	if err != nil {
		return err
	}
	m.shared, m.file = c, f
	return nil
}

// Open returns a Meter over the counters of another process's shared
// Meter, given its File.
func Open(f *os.File) (*Meter, error) {
	c, err := mapFile(f)
	if err != nil {
		return nil, err
	}
	return &Meter{shared: c, file: f}, nil
}
