package nhs

import "testing"

func TestValidSCTID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in             string
		valid, concept bool
	}{
		{"38341003", true, true},              // Hypertensive disorder
		{"44054006", true, true},              // Diabetes mellitus type 2
		{"195967001", true, true},             // Asthma
		{"35489007", true, true},              // Depressive disorder
		{"319283006", true, true},             // Amlodipine 5mg tablets
		{"39113611000001102", true, true},     // Salbutamol 100micrograms/dose inhaler CFC free (UK extension)
		{"999791000000106", true, true},       // HbA1c level - IFCC standardised (UK extension)
		{"38341013", false, false},            // one digit changed
		{"38341030", false, false},            // adjacent digits swapped
		{"100022", true, false},               // a relationship id (partition 02)
		{"038341003", false, false},           // leading zero
		{"12345", false, false},               // too short
		{"1234567890123456789", false, false}, // too long
		{"3834100a", false, false},
		{"", false, false},
		{"101301", false, false}, // partition 30 does not exist
	}
	for _, tt := range tests {
		if got := ValidSCTID(tt.in); got != tt.valid {
			t.Errorf("ValidSCTID(%q) = %v, want %v", tt.in, got, tt.valid)
		}
		if got := IsSCTConcept(tt.in); got != tt.concept {
			t.Errorf("IsSCTConcept(%q) = %v, want %v", tt.in, got, tt.concept)
		}
	}
}

func FuzzValidSCTID(f *testing.F) {
	for _, s := range []string{"38341003", "39113611000001102", "100022", "", "0", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !ValidSCTID(s) {
			if IsSCTConcept(s) {
				t.Fatalf("IsSCTConcept(%q) but not ValidSCTID", s)
			}
			return
		}
		// The Verhoeff check digit catches every single-digit error.
		last := s[len(s)-1]
		for d := byte('0'); d <= '9'; d++ {
			if d != last && ValidSCTID(s[:len(s)-1]+string(d)) {
				t.Fatalf("ValidSCTID accepts both %q and a different check digit %c", s, d)
			}
		}
	})
}
