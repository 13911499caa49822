package fhirpath

import (
	"math/big"
	"testing"
)

func TestParseUnit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		unit   string
		factor string // in base units; "" when the unit is refused
	}{
		{"mg", "1/1000"},
		{"kg/m2", "1000"},
		{"10*3/uL", "1000000000000"},
		{"10*-3", "1/1000"},
		{"/min", "1/60"},
		{"mm[Hg]", "133322"},
		{"[in_i]", "127/5000"},
		{"{beats}/min", "1/60"},
		{"mg{total}", "1/1000"},
		{"(cm).(m)", "1/100"},
		{"%", "1/100"},
		{"1", "1"},
		{"s-1", "1"},
		{"", ""},
		{"{", ""},
		{"mg{", ""},
		{"(mg", ""},
		{"0", ""},
		{"xyz", ""},
		{"m100", ""},
		{"[lb_av", ""},
	}
	for _, tt := range tests {
		u, ok := parseUnit(tt.unit)
		switch {
		case tt.factor == "" && ok:
			t.Errorf("parseUnit(%q) = %v, want refused", tt.unit, u.factor)
		case tt.factor != "" && !ok:
			t.Errorf("parseUnit(%q) refused, want factor %s", tt.unit, tt.factor)
		case ok && u.factor.Cmp(rat(tt.factor)) != 0:
			t.Errorf("parseUnit(%q) factor = %v, want %s", tt.unit, u.factor, tt.factor)
		}
	}
}

func TestDecimal(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, out string }{
		{"1.50", "1.50"}, {"-0.001", "-0.001"}, {"1e3", "1000"}, {"1.5e-3", "0.0015"}, {"007", "7"},
	}
	for _, tt := range tests {
		d, ok := parseDec(tt.in)
		if !ok || d.String() != tt.out {
			t.Errorf("parseDec(%q) = %v %v, want %s", tt.in, d, ok, tt.out)
		}
	}
	for _, bad := range []string{"", "-", ".5", "1.", "e3", "1e", "1x", "--1"} {
		if _, ok := parseDec(bad); ok {
			t.Errorf("parseDec(%q) accepted", bad)
		}
	}
	r := decFromRat(big.NewRat(1, 8), 0)
	if r.String() != "0.125" {
		t.Errorf("decFromRat(1/8) = %v", r)
	}
}
