package bulk

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"sharedcare/internal/record"
	"sharedcare/internal/store/sqlite"
)

// TestClaimOneNode has four nodes on one database claim each waiting job
// at the same instant: exactly one takes it, and once its lease lapses
// unrenewed exactly one takes it again.
func TestClaimOneNode(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(t.TempDir(), "claim.db"), Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	rec := record.New(record.Options{Store: db})
	const lease = 300 * time.Millisecond
	var nodes []*Service
	for range 4 {
		nodes = append(nodes, New(Options{Record: rec, Dir: t.TempDir(), Lease: lease}))
	}
	claimAll := func(id string) (winners []string) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		start := make(chan struct{})
		for _, n := range nodes {
			wg.Go(func() {
				<-start
				j, err := n.claim(ctx, id)
				if err != nil {
					t.Error(err)
					return
				}
				if j != nil {
					mu.Lock()
					winners = append(winners, n.node)
					mu.Unlock()
				}
			})
		}
		close(start)
		wg.Wait()
		return winners
	}
	for round := range 10 {
		id := fmt.Sprint("job", round)
		if err := nodes[0].save(ctx, &job{ID: id, Kind: "export", State: queued, Created: time.Now()}); err != nil {
			t.Fatal(err)
		}
		if w := claimAll(id); len(w) != 1 {
			t.Fatalf("%s: %d nodes took the job (%v), want 1", id, len(w), w)
		}
	}
	if w := claimAll("job0"); len(w) != 0 {
		t.Errorf("job0 taken again within its lease by %v", w)
	}
	time.Sleep(lease + 100*time.Millisecond) // its node died: no checkpoint renews the lease
	w := claimAll("job0")
	if len(w) != 1 {
		t.Fatalf("after the lease lapsed, %d nodes took job0 (%v), want 1", len(w), w)
	}
	j, err := nodes[0].load(ctx, "job0")
	if err != nil || j.Node != w[0] {
		t.Errorf("job0 is held by %q (%v), want the winner %q", j.Node, err, w[0])
	}
}
