package search_test

import (
	"context"
	"testing"

	"sharedcare/internal/fhir"
	"sharedcare/internal/search"
)

// TestExtractDistinct: an entry reached twice is indexed once, and
// different entries all are.
func TestExtractDistinct(t *testing.T) {
	tests := []struct {
		name, body string
		param      string
		want       int // entries of param
	}{
		{"text repeating the display", `{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://snomed.info/sct","code":"271649006","display":"Systolic blood pressure"}],"text":"Systolic blood pressure"},"subject":{"reference":"Patient/p1"}}`, "code:text", 1},
		{"text unlike the display", `{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://snomed.info/sct","code":"271649006","display":"Systolic blood pressure"}],"text":"BP (systolic)"},"subject":{"reference":"Patient/p1"}}`, "code:text", 2},
		{"one coding twice", `{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8480-6"},{"system":"http://loinc.org","code":"8480-6"}]}}`, "code", 1},
		{"two codings", `{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8480-6"},{"system":"http://snomed.info/sct","code":"271649006"}]}}`, "code", 2},
	}
	x := search.NewIndexer()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := fhir.Parse([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			e, err := x.Extract(context.Background(), &v)
			if err != nil {
				t.Fatal(err)
			}
			got := 0
			for _, s := range e.Strings {
				if s.Param == tt.param {
					got++
				}
			}
			for _, tok := range e.Tokens {
				if tok.Param == tt.param {
					got++
				}
			}
			if got != tt.want {
				t.Errorf("%d entries of %s, want %d: %+v", got, tt.param, tt.want, e)
			}
		})
	}
}
