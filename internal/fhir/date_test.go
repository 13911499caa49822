package fhir

import (
	"testing"
	"time"
)

func TestParseDateRange(t *testing.T) {
	tests := []struct {
		in        string
		low, high string // RFC 3339; "" when invalid
		prec      Precision
	}{
		{"2024", "2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z", Year},
		{"2024-02", "2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z", Month},
		{"2024-02-29", "2024-02-29T00:00:00Z", "2024-03-01T00:00:00Z", Day},
		{"2023-02-29", "", "", 0},
		{"2024-13", "", "", 0},
		{"2024-01-31T09:30", "2024-01-31T09:30:00Z", "2024-01-31T09:31:00Z", Minute},
		{"2024-01-31T09:30:15+01:00", "2024-01-31T08:30:15Z", "2024-01-31T08:30:16Z", Second},
		{"2024-01-31T09:30:15.250Z", "2024-01-31T09:30:15.25Z", "2024-01-31T09:30:15.251Z", Millisecond},
		{"2024-01-31T25:00:00Z", "", "", 0},
		{"2024-01-31T09:30:15+15:00", "", "", 0},
		{"24-01-01", "", "", 0},
		{"2024-01-01X", "", "", 0},
	}
	for _, tt := range tests {
		d, err := ParseDateRange(tt.in)
		if tt.low == "" {
			if err == nil {
				t.Errorf("ParseDateRange(%q) = %v, want an error", tt.in, d)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseDateRange(%q): %v", tt.in, err)
			continue
		}
		lo, _ := time.Parse(time.RFC3339Nano, tt.low)
		hi, _ := time.Parse(time.RFC3339Nano, tt.high)
		if !d.Low.Equal(lo) || !d.High.Equal(hi) || d.Precision != tt.prec {
			t.Errorf("ParseDateRange(%q) = [%s, %s) %d, want [%s, %s) %d", tt.in, d.Low, d.High, d.Precision, lo, hi, tt.prec)
		}
	}
}

func FuzzParseDateRange(f *testing.F) {
	for _, s := range []string{"2024", "2024-02-29", "2024-01-31T09:30:15.250+01:00", "2024-01-31T09:30"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDateRange(s)
		if err == nil && !d.Low.Before(d.High) {
			t.Fatalf("ParseDateRange(%q): empty span [%s, %s)", s, d.Low, d.High)
		}
	})
}
