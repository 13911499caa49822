package nhs

import (
	"errors"
	"strings"
	"testing"
)

func TestParseNumber(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		wantErr  error
	}{
		{"9434765919", "9434765919", nil},
		{"943 476 5919", "9434765919", nil},
		{"943-476-5919", "9434765919", nil},
		{"9000000009", "9000000009", nil},
		{"9990000018", "9990000018", nil},
		{"4010232137", "4010232137", nil},
		{"9434765918", "", ErrNumberCheckDigit}, // wrong check digit
		{"9434765960", "", ErrNumberCheckDigit}, // check would be 10: no valid number
		{"943 476-5919", "", ErrNumberFormat},   // mixed separators
		{"9434 76 5919", "", ErrNumberFormat},   // wrong grouping
		{"943476591", "", ErrNumberFormat},      // nine digits
		{"94347659190", "", ErrNumberFormat},    // eleven digits
		{"94347659I9", "", ErrNumberFormat},     // a letter
		{"", "", ErrNumberFormat},
		{" 9434765919", "", ErrNumberFormat}, // stray space
		{"９434765919", "", ErrNumberFormat},  // full-width digit
		{"-943476591", "", ErrNumberFormat},
		{"943 476 591 ", "", ErrNumberFormat},
		{"0000000000", "0000000000", nil}, // Modulus 11 alone accepts it
		{"943\x00476\x005919", "", ErrNumberFormat},
	}
	for _, tt := range tests {
		got, err := ParseNumber(tt.in)
		if got != tt.want || !errors.Is(err, tt.wantErr) {
			t.Errorf("ParseNumber(%q) = %q, %v; want %q, %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if valid := ValidNumber(tt.in); valid != (tt.wantErr == nil && tt.in == tt.want) {
			t.Errorf("ValidNumber(%q) = %v", tt.in, valid)
		}
	}
}

func TestFormatNumber(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"9434765919": "943 476 5919", "123": "123", "": ""} {
		if got := FormatNumber(in); got != want {
			t.Errorf("FormatNumber(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNumberIn(t *testing.T) {
	t.Parallel()
	tests := []struct {
		prefix, i int
		want      string
	}{
		{900, 0, "9000000009"},
		{900, 1, "9000000017"},
		{900, 2, "9000000025"},
		{999, 0, "9990000018"},
		{999, NumbersPerPrefix - 1, "9999999999"},
	}
	for _, tt := range tests {
		got, err := NumberIn(tt.prefix, tt.i)
		if got != tt.want || err != nil {
			t.Errorf("NumberIn(%d, %d) = %q, %v; want %q", tt.prefix, tt.i, got, err, tt.want)
		}
	}
	for _, bad := range [][2]int{{99, 0}, {1000, 0}, {999, -1}, {999, NumbersPerPrefix}} {
		if got, err := NumberIn(bad[0], bad[1]); err == nil {
			t.Errorf("NumberIn(%d, %d) = %q, want an error", bad[0], bad[1], got)
		}
	}
}

// TestNumberInExhaustive walks a whole prefix: every number is valid, has the
// prefix, and is greater than the one before, so distinct indices never
// collide.
func TestNumberInExhaustive(t *testing.T) {
	t.Parallel()
	prev := ""
	for i := range NumbersPerPrefix {
		n, err := NumberIn(999, i)
		if err != nil || !ValidNumber(n) || !strings.HasPrefix(n, "999") || n <= prev {
			t.Fatalf("NumberIn(999, %d) = %q, %v after %q", i, n, err, prev)
		}
		prev = n
	}
}

func TestTestNumber(t *testing.T) {
	t.Parallel()
	tests := []struct {
		i    int
		want string
	}{
		{0, "9990000018"},
		{NumbersPerPrefix, "9980000007"},
		{TestNumbers - 1, "9019999990"},
	}
	for _, tt := range tests {
		got, err := TestNumber(tt.i)
		if got != tt.want || err != nil {
			t.Errorf("TestNumber(%d) = %q, %v; want %q", tt.i, got, err, tt.want)
		}
	}
	if got, err := TestNumber(TestNumbers); err == nil {
		t.Errorf("TestNumber(%d) = %q, want an error", TestNumbers, got)
	}
}

func FuzzParseNumber(f *testing.F) {
	for _, s := range []string{"9434765919", "943 476 5919", "943-476-5919", "9000000009", "94347659", "abc", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseNumber(s)
		if err != nil {
			if !errors.Is(err, ErrNumberFormat) && !errors.Is(err, ErrNumberCheckDigit) {
				t.Fatalf("ParseNumber(%q) error %v is neither format nor check digit", s, err)
			}
			if ValidNumber(s) {
				t.Fatalf("ValidNumber(%q) but ParseNumber failed: %v", s, err)
			}
			return
		}
		if !ValidNumber(n) {
			t.Fatalf("ParseNumber(%q) = %q, which ValidNumber rejects", s, n)
		}
		// Accepted input round-trips through both printed forms.
		for _, form := range []string{n, FormatNumber(n)} {
			if again, err := ParseNumber(form); again != n || err != nil {
				t.Fatalf("ParseNumber(%q) = %q, %v; want %q", form, again, err, n)
			}
		}
	})
}
