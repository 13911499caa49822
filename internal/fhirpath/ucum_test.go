package fhirpath

import "testing"

func TestCanonicalUnit(t *testing.T) {
	tests := []struct {
		code   string
		value  float64
		want   string
		wantV  float64
		wantOK bool
	}{
		{"mg", 500, "g", 0.5, true},
		{"g", 0.5, "g", 0.5, true},
		{"mmol/L", 5.4, "m-3.mol", 5.4, true},
		{"umol/L", 5400, "m-3.mol", 5.4, true},
		{"mm[Hg]", 120, "", 0, true},
		{"Cel", 37, "", 0, false},
		{"nonsense-unit", 1, "", 0, false},
		// Memoised units: the same code with another value.
		{"mg", 250, "g", 0.25, true},
		{"umol/L", 10, "m-3.mol", 0.01, true},
		{"Cel", 20, "", 0, false},
	}
	for _, tt := range tests {
		got, v, ok := CanonicalUnit(tt.code, tt.value)
		if ok != tt.wantOK || (tt.want != "" && got != tt.want) || (tt.wantV != 0 && (v-tt.wantV > 1e-9 || tt.wantV-v > 1e-9)) || (!ok && (got != "" || v != 0)) {
			t.Errorf("CanonicalUnit(%q, %g) = %q %g %v, want %q %g %v", tt.code, tt.value, got, v, ok, tt.want, tt.wantV, tt.wantOK)
		}
	}
}
