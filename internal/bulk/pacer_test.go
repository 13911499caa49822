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
		p := &pacer{duty: 0.9, since: time.Now(), yield: time.Minute, busy: func() bool {
			polls++
			return polls <= busyFor
		}}
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
		p := &pacer{duty: 0.9, since: time.Now(), yield: maxYield, busy: func() bool { return true }}
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
		p := &pacer{duty: 1, since: time.Now(), busy: func() bool { looked = true; return true }}
		for range 8 {
			p.step(ctx)
		}
		if looked {
			t.Error("a job at duty 1 looked for requests to yield to")
		}
	})
}
