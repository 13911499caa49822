package nhs

// ValidSCTID reports whether s is a well-formed SNOMED CT identifier, as
// used for SNOMED CT and dm+d codes: 6 to 18 digits, no leading zero, a
// partition identifier (the second and third digits from the right) of a
// concept, description or relationship, and a final Verhoeff check digit
// (SNOMED CT Technical Implementation Guide, "SCTID"). It checks form, not
// that the concept exists.
func ValidSCTID(s string) bool {
	if len(s) < 6 || len(s) > 18 || s[0] == '0' {
		return false
	}
	for i := range len(s) {
		if !isDigit(s[i]) {
			return false
		}
	}
	switch s[len(s)-3 : len(s)-1] {
	case "00", "01", "02", "10", "11", "12":
	default:
		return false
	}
	c := 0
	for i := range len(s) {
		c = verhoeffD[c][verhoeffP[i%8][s[len(s)-1-i]-'0']]
	}
	return c == 0
}

// IsSCTConcept reports whether s is a valid SCTID of a concept (partition
// 00 in the international release, 10 in an extension such as the UK's).
func IsSCTConcept(s string) bool {
	if !ValidSCTID(s) {
		return false
	}
	p := s[len(s)-3 : len(s)-1]
	return p == "00" || p == "10"
}

// The Verhoeff scheme: multiplication in the dihedral group D5 and the
// position permutation.
var (
	verhoeffD = [10][10]int{
		{0, 1, 2, 3, 4, 5, 6, 7, 8, 9},
		{1, 2, 3, 4, 0, 6, 7, 8, 9, 5},
		{2, 3, 4, 0, 1, 7, 8, 9, 5, 6},
		{3, 4, 0, 1, 2, 8, 9, 5, 6, 7},
		{4, 0, 1, 2, 3, 9, 5, 6, 7, 8},
		{5, 9, 8, 7, 6, 0, 4, 3, 2, 1},
		{6, 5, 9, 8, 7, 1, 0, 4, 3, 2},
		{7, 6, 5, 9, 8, 2, 1, 0, 4, 3},
		{8, 7, 6, 5, 9, 3, 2, 1, 0, 4},
		{9, 8, 7, 6, 5, 4, 3, 2, 1, 0},
	}
	verhoeffP = [8][10]int{
		{0, 1, 2, 3, 4, 5, 6, 7, 8, 9},
		{1, 5, 7, 6, 2, 8, 3, 0, 9, 4},
		{5, 8, 0, 3, 7, 9, 6, 1, 4, 2},
		{8, 9, 1, 6, 0, 4, 3, 5, 2, 7},
		{9, 4, 5, 3, 1, 2, 6, 8, 7, 0},
		{4, 2, 8, 6, 5, 7, 3, 9, 0, 1},
		{2, 7, 9, 3, 8, 0, 6, 4, 1, 5},
		{7, 0, 4, 6, 9, 1, 3, 2, 5, 8},
	}
)
