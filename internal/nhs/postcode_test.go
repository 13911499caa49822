package nhs

import (
	"errors"
	"testing"
)

func TestParsePostcode(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"LS1 4AP", "LS1 4AP"}, // AA9 9AA
		{"ls14ap", "LS1 4AP"},
		{" LS1  4AP ", "LS1 4AP"},
		{"M1 1AE", "M1 1AE"},     // A9 9AA
		{"B33 8TH", "B33 8TH"},   // A99 9AA
		{"W1A 0AX", "W1A 0AX"},   // A9A 9AA
		{"CR2 6XH", "CR2 6XH"},   // AA9 9AA
		{"DN55 1PT", "DN55 1PT"}, // AA99 9AA
		{"EC1A 1BB", "EC1A 1BB"}, // AA9A 9AA
		{"SW1A 2AA", "SW1A 2AA"},
		{"GIR 0AA", "GIR 0AA"}, // the special case
		{"NE1 7RU", "NE1 7RU"},
		{"QA1 1AA", ""},  // Q never first
		{"AJ1 1AA", ""},  // J never second
		{"W1I 0AX", ""},  // I not allowed third (A9A)
		{"EC1C 1BB", ""}, // C not allowed fourth (AA9A)
		{"LS1 4CP", ""},  // C never in the inward code
		{"LS1 4AV", ""},
		{"LS1", ""}, // outward only
		{"LS1 4A", ""},
		{"LS123 4AP", ""}, // outward too long
		{"1S1 4AP", ""},   // digit first
		{"LS1-4AP", ""},
		{"", ""},
		{"LS1 4ÄP", ""},
		{"          ", ""},
	}
	for _, tt := range tests {
		got, err := ParsePostcode(tt.in)
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("ParsePostcode(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		if err != nil && !errors.Is(err, ErrPostcode) {
			t.Errorf("ParsePostcode(%q) error %v is not ErrPostcode", tt.in, err)
		}
		if ValidPostcode(tt.in) != (tt.in == tt.want && tt.want != "") {
			t.Errorf("ValidPostcode(%q) = %v", tt.in, ValidPostcode(tt.in))
		}
	}
}

func FuzzParsePostcode(f *testing.F) {
	for _, s := range []string{"LS1 4AP", "ls14ap", "EC1A 1BB", "GIR 0AA", "W1A 0AX", "QA1 1AA", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePostcode(s)
		if err != nil {
			if !errors.Is(err, ErrPostcode) {
				t.Fatalf("ParsePostcode(%q) error %v is not ErrPostcode", s, err)
			}
			return
		}
		if !ValidPostcode(p) {
			t.Fatalf("ParsePostcode(%q) = %q, which ValidPostcode rejects", s, p)
		}
		if len(p) < 6 || len(p) > 8 || p[len(p)-4] != ' ' {
			t.Fatalf("ParsePostcode(%q) = %q: not outward, space, inward", s, p)
		}
	})
}
