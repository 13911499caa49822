package server

import (
	"testing"
	"time"
)

// TestLatencyBuckets checks that a request lands in the first bucket whose
// bound it does not exceed, and past the last bound in +Inf.
func TestLatencyBuckets(t *testing.T) {
	for _, c := range []struct {
		d      time.Duration
		bucket int
	}{
		{0, 0},
		{250 * time.Microsecond, 0},
		{251 * time.Microsecond, 1},
		{time.Millisecond, 3},
		{1100 * time.Microsecond, 4},
		{10 * time.Second, len(latencyBounds) - 1},
		{11 * time.Second, len(latencyBounds)},
	} {
		var m metrics
		m.observe(c.d)
		for i := range m.latency {
			want := uint64(0)
			if i == c.bucket {
				want = 1
			}
			if got := m.latency[i].Load(); got != want {
				t.Errorf("%v: bucket %d holds %d, want %d", c.d, i, got, want)
			}
		}
	}
}
