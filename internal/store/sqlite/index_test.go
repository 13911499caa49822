package sqlite

import (
	"context"
	"math"
	"path/filepath"
	"reflect"
	"testing"

	"sharedcare/internal/fhir"
	"sharedcare/internal/search"
	"sharedcare/internal/store"
)

// TestIndexRowsKeepValues writes index entries whose values are hard to
// carry (quotes, backslashes, control characters, non-ASCII text, markup,
// decimals that are not exact in binary, the extreme dates) and reads the
// rows back as stored.
func TestIndexRowsKeepValues(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, Options{Path: filepath.Join(t.TempDir(), "i.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	hard := []string{"", `say "hi"`, `back\slash`, "tab\tnew\nline\x01", "Zoë Ó Súilleabháin 😀", "<b>&amp;</b>", "\u2028"}
	floats := []float64{0, 0.1, -2.5e-7, 123456789.123456789, 1e300, math.MaxFloat64, -0.0}
	type write struct {
		typ     string
		entries search.Entries
	}
	var writes []write
	var pat search.Entries
	for _, s := range hard {
		pat.Strings = append(pat.Strings, search.StringEntry{Param: "name", Norm: s, Exact: s + "!"})
		pat.Tokens = append(pat.Tokens, search.TokenEntry{Param: "identifier", System: s, Code: s + "1"})
		pat.References = append(pat.References, search.ReferenceEntry{Param: "general-practitioner", TargetType: "Practitioner", TargetID: s + "x", URL: s})
		pat.URIs = append(pat.URIs, search.URIEntry{Param: "_source", Value: s + "u"})
	}
	pat.Dates = []search.DateEntry{{Param: "birthdate", Low: search.MinTime, High: search.MaxTime}, {Param: "birthdate", Low: -1, High: 1700000000123}}
	writes = append(writes, write{"Patient", pat})
	var obs, risk search.Entries
	for i, f := range floats {
		obs.Quantities = append(obs.Quantities, search.QuantityEntry{Param: "value-quantity", System: hard[i%len(hard)], Code: "mm[Hg]", Value: f, CanonicalCode: "g", CanonicalValue: -f})
		obs.Composites = append(obs.Composites, search.CompositeEntry{Param: "code-value-quantity", ASystem: "http://loinc.org", ACode: hard[i%len(hard)], BSystem: "s", BCode: "c", BLow: f, BHigh: f + 1, CLow: -f, CHigh: f})
		risk.Numbers = append(risk.Numbers, search.NumberEntry{Param: "probability", Value: f})
	}
	writes = append(writes, write{"Observation", obs}, write{"RiskAssessment", risk})

	err = db.Tx(ctx, func(tx store.Tx) error {
		for _, w := range writes {
			res := fhir.ObjectValue("resourceType", fhir.StringValue(w.typ))
			if _, err := tx.Put(ctx, &store.Write{Type: w.typ, ID: "hard", Resource: &res, Index: &w.entries}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rows := func(typ, query string, scan func(func(...any) error) error) {
		t.Helper()
		rs, err := db.read.QueryContext(ctx, query+` AND rid = (SELECT rid FROM resources WHERE type = ? AND id = 'hard')`, typ)
		if err != nil {
			t.Fatal(err)
		}
		defer rs.Close()
		for rs.Next() {
			if err := scan(rs.Scan); err != nil {
				t.Fatal(err)
			}
		}
		if err := rs.Err(); err != nil {
			t.Fatal(err)
		}
	}
	var got search.Entries
	rows("Patient", `SELECT norm, exact FROM idx_string WHERE 1`, func(scan func(...any) error) error {
		e := search.StringEntry{Param: "name"}
		got.Strings = append(got.Strings, e)
		return scan(&got.Strings[len(got.Strings)-1].Norm, &got.Strings[len(got.Strings)-1].Exact)
	})
	rows("Patient", `SELECT system, code FROM idx_token WHERE 1`, func(scan func(...any) error) error {
		got.Tokens = append(got.Tokens, search.TokenEntry{Param: "identifier"})
		e := &got.Tokens[len(got.Tokens)-1]
		return scan(&e.System, &e.Code)
	})
	rows("Patient", `SELECT target_type, target_id, url FROM idx_reference WHERE 1`, func(scan func(...any) error) error {
		got.References = append(got.References, search.ReferenceEntry{Param: "general-practitioner"})
		e := &got.References[len(got.References)-1]
		return scan(&e.TargetType, &e.TargetID, &e.URL)
	})
	rows("Patient", `SELECT value FROM idx_uri WHERE 1`, func(scan func(...any) error) error {
		got.URIs = append(got.URIs, search.URIEntry{Param: "_source"})
		return scan(&got.URIs[len(got.URIs)-1].Value)
	})
	rows("Patient", `SELECT lo, hi FROM idx_date WHERE 1`, func(scan func(...any) error) error {
		got.Dates = append(got.Dates, search.DateEntry{Param: "birthdate"})
		e := &got.Dates[len(got.Dates)-1]
		return scan(&e.Low, &e.High)
	})
	var gotObs, gotRisk search.Entries
	rows("Observation", `SELECT system, code, value, ccode, cvalue FROM idx_quantity WHERE 1`, func(scan func(...any) error) error {
		gotObs.Quantities = append(gotObs.Quantities, search.QuantityEntry{Param: "value-quantity"})
		e := &gotObs.Quantities[len(gotObs.Quantities)-1]
		return scan(&e.System, &e.Code, &e.Value, &e.CanonicalCode, &e.CanonicalValue)
	})
	rows("Observation", `SELECT a_system, a_code, b_system, b_code, b_lo, b_hi, c_lo, c_hi FROM idx_composite WHERE 1`, func(scan func(...any) error) error {
		gotObs.Composites = append(gotObs.Composites, search.CompositeEntry{Param: "code-value-quantity"})
		e := &gotObs.Composites[len(gotObs.Composites)-1]
		return scan(&e.ASystem, &e.ACode, &e.BSystem, &e.BCode, &e.BLow, &e.BHigh, &e.CLow, &e.CHigh)
	})
	rows("RiskAssessment", `SELECT value FROM idx_number WHERE 1`, func(scan func(...any) error) error {
		gotRisk.Numbers = append(gotRisk.Numbers, search.NumberEntry{Param: "probability"})
		return scan(&gotRisk.Numbers[len(gotRisk.Numbers)-1].Value)
	})
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"strings", asSet(got.Strings), asSet(pat.Strings)},
		{"tokens", asSet(got.Tokens), asSet(pat.Tokens)},
		{"references", asSet(got.References), asSet(pat.References)},
		{"uris", asSet(got.URIs), asSet(pat.URIs)},
		{"dates", asSet(got.Dates), asSet(pat.Dates)},
		{"quantities", asSet(gotObs.Quantities), asSet(obs.Quantities)},
		{"composites", asSet(gotObs.Composites), asSet(obs.Composites)},
		{"numbers", asSet(gotRisk.Numbers), asSet(risk.Numbers)},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s stored as %v, want %v", c.name, c.got, c.want)
		}
	}
}

// asSet is s as a set, for comparing rows read back in any order.
func asSet[T comparable](s []T) map[T]bool {
	m := map[T]bool{}
	for _, v := range s {
		m[v] = true
	}
	return m
}
