package bulk

import (
	"context"
	"testing"
	"time"
)

// TestPacerStandsAside checks that a paced job stops working once an
// interactive request is being served, waits until none is, and that it
// never waits for good when requests never stop.
func TestPacerStandsAside(t *testing.T) {
	ctx := context.Background()
	t.Run("until the requests end", func(t *testing.T) {
		polls, busyFor := 0, 5
		p := &pacer{duty: 0.9, since: time.Now(), yield: time.Minute, aside: true, traffic: fakeTraffic{busy: func() bool {
			polls++
			return polls <= busyFor
		}}}
		for range 4 { // a step looks at the signal every fourth resource
			if err := p.step(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if polls <= busyFor {
			t.Errorf("the job went on working after %d looks, while requests were served for %d", polls, busyFor)
		}
	})
	t.Run("not for good", func(t *testing.T) {
		p := &pacer{duty: 0.9, since: time.Now(), yield: maxYield, aside: true, traffic: fakeTraffic{busy: func() bool { return true }}}
		done := make(chan error)
		go func() {
			var err error
			for range 40 {
				if err = p.step(ctx); err != nil {
					break
				}
			}
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the job stood aside for good under constant requests")
		}
	})
	t.Run("unpaced jobs do not yield", func(t *testing.T) {
		looked := false
		p := &pacer{duty: 1, since: time.Now(), aside: true, traffic: fakeTraffic{busy: func() bool { looked = true; return true }}}
		for range 8 {
			p.step(ctx)
		}
		if looked {
			t.Error("a job at duty 1 looked for requests to yield to")
		}
	})
	t.Run("not in a worker process", func(t *testing.T) {
		looked := false
		p := &pacer{duty: 0.9, since: time.Now(), yield: time.Minute, traffic: fakeTraffic{busy: func() bool { looked = true; return true }}}
		for range 8 {
			if err := p.step(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if looked {
			t.Error("a job in a worker process looked for requests to stand aside for")
		}
	})
}

// TestPacerQuiet checks that a paced job works unpaced while the server
// serves nobody (an export stepping, an import pausing after a batch),
// and that when requests come again it is paced from the
// last resource it wrote, not from when the quiet began.
func TestPacerQuiet(t *testing.T) {
	ctx := context.Background()
	quiet, looked := true, 0
	tr := fakeTraffic{busy: func() bool { looked++; return false }, quiet: func(d time.Duration) bool {
		if d != quietAfter {
			t.Errorf("asked whether quiet for %v, want %v", d, quietAfter)
		}
		return quiet
	}}
	p := &pacer{duty: 0.05, since: time.Now().Add(-time.Minute), yield: maxYield, aside: true, traffic: tr}
	for range 4000 {
		if err := p.step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if looked != 0 || p.owed != 0 {
		t.Errorf("on a quiet server the job looked for requests %d times and owes a pause of %v; want neither", looked, p.owed)
	}
	if time.Since(p.since) > 10*time.Second {
		t.Errorf("after the quiet, the job's slice began %v ago: its first pause would make up for the whole quiet", time.Since(p.since))
	}
	// An import pauses after each batch: not on a quiet server, however
	// long the batch took.
	p.since = time.Now().Add(-time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second) // paced, it would wait 19 minutes
	defer cancel()
	if err := p.pause(pctx); err != nil {
		t.Fatalf("a pause on a quiet server waited: %v", err)
	}
	if p.owed != 0 || time.Since(p.since) > 10*time.Second {
		t.Errorf("a pause on a quiet server left %v owed and its slice begun %v ago", p.owed, time.Since(p.since))
	}
	quiet = false
	p.since = time.Now().Add(-workSlice)
	for range 4 {
		if err := p.step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if p.owed == 0 || looked == 0 {
		t.Error("once requests came the job neither paused nor looked for them")
	}
}

// fakeTraffic is a Traffic made of functions; nil ones answer false.
type fakeTraffic struct {
	busy  func() bool
	quiet func(time.Duration) bool
}

func (t fakeTraffic) Busy() bool { return t.busy != nil && t.busy() }

func (t fakeTraffic) Quiet(d time.Duration) bool { return t.quiet != nil && t.quiet(d) }
