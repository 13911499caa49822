package nhs

import (
	"errors"
	"testing"
)

func TestParseODSCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want        string
		practice, trust bool
	}{
		{"B82001", "B82001", true, false},
		{" b82001 ", "B82001", true, false},
		{"RR8", "RR8", false, true},
		{"r0a", "R0A", false, true},
		{"TAK", "TAK", false, true},
		{"RR801", "RR801", false, false},
		{"Y12345", "Y12345", true, false},
		{"FA123", "FA123", false, false},
		{"15F", "15F", false, false},
		{"ABCDEFGHJ", "ABCDEFGHJ", false, false},
		{"AB", "", false, false},
		{"ABCDEFGHJK", "", false, false},
		{"B82-001", "", false, false},
		{"B82 001", "", false, false},
		{"", "", false, false},
		{"RÉ8", "", false, false},
	}
	for _, tt := range tests {
		got, err := ParseODSCode(tt.in)
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("ParseODSCode(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		if err != nil && !errors.Is(err, ErrODSCode) {
			t.Errorf("ParseODSCode(%q) error %v is not ErrODSCode", tt.in, err)
		}
		if ValidODSCode(tt.in) != (tt.in == tt.want && tt.want != "") {
			t.Errorf("ValidODSCode(%q) = %v", tt.in, ValidODSCode(tt.in))
		}
		if got := IsGPPracticeCode(tt.want); got != tt.practice {
			t.Errorf("IsGPPracticeCode(%q) = %v, want %v", tt.want, got, tt.practice)
		}
		if got := IsTrustCode(tt.want); got != tt.trust {
			t.Errorf("IsTrustCode(%q) = %v, want %v", tt.want, got, tt.trust)
		}
	}
}

func FuzzParseODSCode(f *testing.F) {
	for _, s := range []string{"B82001", "rr8", " RR801 ", "AB", "B82-001", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		code, err := ParseODSCode(s)
		if err != nil {
			if !errors.Is(err, ErrODSCode) {
				t.Fatalf("ParseODSCode(%q) error %v is not ErrODSCode", s, err)
			}
			if ValidODSCode(s) {
				t.Fatalf("ValidODSCode(%q) but ParseODSCode failed", s)
			}
			return
		}
		if !ValidODSCode(code) {
			t.Fatalf("ParseODSCode(%q) = %q, which ValidODSCode rejects", s, code)
		}
		if again, err := ParseODSCode(code); again != code || err != nil {
			t.Fatalf("ParseODSCode(%q) = %q, %v; want it unchanged", code, again, err)
		}
		if (IsGPPracticeCode(code) || IsTrustCode(code)) && !ValidODSCode(code) {
			t.Fatalf("%q is a practice or trust code but not a valid ODS code", code)
		}
	})
}
