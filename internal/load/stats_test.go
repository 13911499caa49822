package load

import (
	"testing"
	"time"
)

func msRange(lo, hi int) []time.Duration {
	var ds []time.Duration
	for i := lo; i <= hi; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	return ds
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 99, 0},
		{"one sample is every percentile", msRange(7, 7), 50, 7 * time.Millisecond},
		{"p50 of 1..100", msRange(1, 100), 50, 50 * time.Millisecond},
		{"p95 of 1..100", msRange(1, 100), 95, 95 * time.Millisecond},
		{"p99 of 1..100 is the 99th, not the 100th", msRange(1, 100), 99, 99 * time.Millisecond},
		{"p100 is the max", msRange(1, 100), 100, 100 * time.Millisecond},
		{"p99 of 1..1000", msRange(1, 1000), 99, 990 * time.Millisecond},
		{"p99.9 of 1..1000", msRange(1, 1000), 99.9, 999 * time.Millisecond},
		{"p99 of 10 samples is the 10th (nearest rank)", msRange(1, 10), 99, 10 * time.Millisecond},
		{"p50 of 10 samples is the 5th", msRange(1, 10), 50, 5 * time.Millisecond},
		{"p50 of 3 samples is the 2nd", msRange(1, 3), 50, 2 * time.Millisecond},
		{"p99 of 1..200000", msRange(1, 200_000), 99, 198_000 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := percentile(tt.sorted, tt.p); got != tt.want {
			t.Errorf("%s: percentile(%d samples, %v) = %v, want %v", tt.name, len(tt.sorted), tt.p, got, tt.want)
		}
	}
}

func TestLatencyOfSorts(t *testing.T) {
	t.Parallel()
	ds := msRange(1, 100)
	for i, j := 0, len(ds)-1; i < j; i, j = i+1, j-1 {
		ds[i], ds[j] = ds[j], ds[i]
	}
	ds[10], ds[60] = ds[60], ds[10]
	got := latencyOf(ds)
	want := Latency{P50: 50, P95: 95, P99: 99, Max: 100}
	if got != want {
		t.Errorf("latencyOf(100..1 shuffled) = %+v, want %+v", got, want)
	}
	if got := latencyOf([]time.Duration{1500 * time.Microsecond}); got.P99 != 1.5 {
		t.Errorf("latencyOf(1.5ms).P99 = %v, want 1.5 (milliseconds to the microsecond)", got.P99)
	}
}

func TestThink(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want Think
		str  string
	}{
		{"0", Think{}, "0"},
		{"0s", Think{}, "0"},
		{"5s", Think{Mean: 5 * time.Second}, "exp:5s"},
		{"exp:500ms", Think{Mean: 500 * time.Millisecond}, "exp:500ms"},
		{"fixed:2s", Think{Mean: 2 * time.Second, Fixed: true}, "fixed:2s"},
	}
	for _, tt := range tests {
		got, err := ParseThink(tt.in)
		if err != nil || got != tt.want || got.String() != tt.str {
			t.Errorf("ParseThink(%q) = %+v (%q), %v; want %+v (%q)", tt.in, got, got.String(), err, tt.want, tt.str)
		}
	}
	for _, bad := range []string{"", "soon", "exp:", "fixed:-1s", "-2s", "gauss:5s"} {
		if _, err := ParseThink(bad); err == nil {
			t.Errorf("ParseThink(%q): no error, want one", bad)
		}
	}
}
