package synth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"sharedcare/internal/fhir"
	"sharedcare/internal/nhs"
)

func newTestGenerator(t testing.TB, opts Options) *Generator {
	t.Helper()
	g, err := New(opts)
	if err != nil {
		t.Fatalf("New(%+v): %v", opts, err)
	}
	return g
}

// TestResourcesValid checks every resource of a population against the R4
// model, round-trips it through fhir.Parse, and checks that references
// resolve and ids are unique.
func TestResourcesValid(t *testing.T) {
	t.Parallel()
	g := newTestGenerator(t, Options{Seed: 7, Practices: 25})
	shared := map[string]bool{}
	check := func(r Resource, where string) {
		t.Helper()
		if got := r.Body.Str("resourceType"); got != r.Type {
			t.Errorf("%s: resourceType %q, Resource.Type %q", where, got, r.Type)
		}
		if got := r.Body.Str("id"); got != r.ID {
			t.Errorf("%s: id %q, Resource.ID %q", where, got, r.ID)
		}
		for _, e := range checkResource(r.Body) {
			t.Errorf("%s %s/%s: %s", where, r.Type, r.ID, e)
		}
		for _, e := range checkRequiredCodes(r.Body) {
			t.Errorf("%s %s/%s: %s", where, r.Type, r.ID, e)
		}
		data := fhir.Marshal(r.Body)
		back, err := fhir.Parse(data)
		if err != nil {
			t.Fatalf("%s: fhir.Parse(Marshal(%s/%s)): %v", where, r.Type, r.ID, err)
		}
		if again := fhir.Marshal(back); !bytes.Equal(again, data) {
			t.Errorf("%s: %s/%s does not round-trip:\n%s\n%s", where, r.Type, r.ID, data, again)
		}
	}
	for _, r := range g.Shared() {
		if shared[r.Type+"/"+r.ID] {
			t.Errorf("shared %s/%s twice", r.Type, r.ID)
		}
		shared[r.Type+"/"+r.ID] = true
		check(r, "shared")
	}
	for i := range 150 {
		rec, err := g.Patient(i)
		if err != nil {
			t.Fatalf("Patient(%d): %v", i, err)
		}
		if rec.Patient().Type != "Patient" {
			t.Fatalf("Patient(%d): first resource is %s", i, rec.Patient().Type)
		}
		own := map[string]bool{}
		for _, r := range rec.Resources {
			key := r.Type + "/" + r.ID
			if own[key] || shared[key] {
				t.Errorf("patient %d: %s twice", i, key)
			}
			own[key] = true
		}
		for _, r := range rec.Resources {
			check(r, fmt.Sprintf("patient %d", i))
			forEachReference(r.Body, func(ref string) {
				if !own[ref] && !shared[ref] {
					t.Errorf("patient %d: %s/%s refers to %s, which is not generated", i, r.Type, r.ID, ref)
				}
			})
		}
		if t.Failed() {
			return
		}
	}
}

func forEachReference(v fhir.Value, fn func(string)) {
	switch v.Kind {
	case fhir.Object:
		for i, k := range v.Keys {
			if k == "reference" && v.Items[i].Kind == fhir.String {
				fn(v.Items[i].Text)
				continue
			}
			forEachReference(v.Items[i], fn)
		}
	case fhir.Array:
		for _, it := range v.Items {
			forEachReference(it, fn)
		}
	}
}

func TestCodesWellFormed(t *testing.T) {
	t.Parallel()
	for _, c := range allCodes() {
		switch c.system {
		case nhs.SNOMEDSystem, nhs.DMDSystem:
			if !nhs.IsSCTConcept(c.code) {
				t.Errorf("%s|%s (%s) is not a valid SCTID", c.system, c.code, c.display)
			}
		}
		if c.display == "" {
			t.Errorf("%s|%s has no display", c.system, c.code)
		}
	}
	for _, tw := range towns {
		for _, d := range tw.districts {
			if pc := d + " 1AB"; !nhs.ValidPostcode(pc) {
				t.Errorf("%s: district %s makes invalid postcode %q", tw.name, d, pc)
			}
		}
		if !nhs.IsTrustCode(tw.trust.code) {
			t.Errorf("%s: %q is not a trust code", tw.name, tw.trust.code)
		}
	}
}

func patientBytes(t testing.TB, g *Generator, i int) []byte {
	t.Helper()
	r, err := g.Patient(i)
	if err != nil {
		t.Fatalf("Patient(%d): %v", i, err)
	}
	return fhir.Marshal(r.Bundle())
}

func TestDeterministic(t *testing.T) {
	t.Parallel()
	a := newTestGenerator(t, Options{Seed: 42})
	b := newTestGenerator(t, Options{Seed: 42})
	c := newTestGenerator(t, Options{Seed: 43})
	if !bytes.Equal(fhir.Marshal(a.SharedBundle()), fhir.Marshal(c.SharedBundle())) {
		t.Errorf("shared resources differ between seeds; they should depend on Practices only")
	}
	same := 0
	for i := range 50 {
		// Generate b's patients in reverse: patient i must not depend on
		// patients generated before it.
		pa, pb := patientBytes(t, a, i), patientBytes(t, b, 49-i)
		if want := patientBytes(t, a, 49-i); !bytes.Equal(pb, want) {
			t.Fatalf("patient %d differs between two generators with the same seed", 49-i)
		}
		if bytes.Equal(pa, patientBytes(t, c, i)) {
			same++
		}
	}
	if same > 0 {
		t.Errorf("%d of 50 patients identical under seeds 42 and 43", same)
	}
}

// TestShards checks that a population written in two shards is the
// population written at once.
func TestShards(t *testing.T) {
	t.Parallel()
	g := newTestGenerator(t, Options{Seed: 5, Workers: 3})
	collect := func(start, count int) [][]byte {
		var out [][]byte
		err := g.Bundles(context.Background(), start, count, func(i int, b []byte) error {
			if i >= 0 {
				out = append(out, slices.Clone(b))
			}
			return nil
		})
		if err != nil {
			t.Fatalf("Bundles(%d, %d): %v", start, count, err)
		}
		return out
	}
	whole := collect(0, 40)
	parts := append(collect(0, 17), collect(17, 23)...)
	if len(whole) != 40 || len(parts) != 40 {
		t.Fatalf("got %d and %d bundles, want 40", len(whole), len(parts))
	}
	for i := range whole {
		if !bytes.Equal(whole[i], parts[i]) {
			t.Fatalf("bundle %d differs between one run and two shards", i)
		}
		if want := patientBytes(t, g, i); !bytes.Equal(whole[i], want) {
			t.Fatalf("bundle %d from Bundles differs from Patient(%d).Bundle()", i, i)
		}
	}
}

func TestHistoryYearsKeepsThePerson(t *testing.T) {
	t.Parallel()
	short := newTestGenerator(t, Options{Seed: 9, HistoryYears: 3})
	long := newTestGenerator(t, Options{Seed: 9, HistoryYears: 30})
	var nShort, nLong int
	for i := range 100 {
		a, _ := short.Patient(i)
		b, _ := long.Patient(i)
		if !bytes.Equal(fhir.Marshal(a.Patient().Body), fhir.Marshal(b.Patient().Body)) {
			t.Fatalf("patient %d: Patient resource changes with HistoryYears", i)
		}
		nShort += len(a.Resources)
		nLong += len(b.Resources)
	}
	if nLong < 3*nShort {
		t.Errorf("30 years of history gave %d resources, 3 years %d; want many more", nLong, nShort)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	t.Parallel()
	for _, o := range []Options{{Practices: -1}, {Practices: MaxPractices + 1}, {HistoryYears: -2}, {HistoryYears: MaxHistoryYears + 1}, {Workers: -1}} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) succeeded, want an error", o)
		}
	}
}

func TestStreamStops(t *testing.T) {
	t.Parallel()
	g := newTestGenerator(t, Options{Workers: 4})
	stop := errors.New("stop")
	n := 0
	err := g.Stream(context.Background(), 0, 1000, func(r *Record) error {
		if r.Index != n {
			t.Fatalf("Stream gave patient %d, want %d", r.Index, n)
		}
		n++
		if n == 10 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 10 {
		t.Errorf("Stream = %v after %d patients, want %v after 10", err, n, stop)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n = 0
	err = g.Stream(ctx, 0, 1000, func(*Record) error {
		n++
		if n == 5 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || n > 5+4*4 {
		t.Errorf("Stream after cancel = %v after %d patients, want context.Canceled soon after 5", err, n)
	}
	if err := g.Stream(context.Background(), -1, 3, func(*Record) error { return nil }); err == nil {
		t.Errorf("Stream(start -1) succeeded")
	}
}

func TestNDJSON(t *testing.T) {
	t.Parallel()
	g := newTestGenerator(t, Options{Seed: 3, Practices: 2})
	files := map[string]*bytes.Buffer{}
	err := g.NDJSON(context.Background(), 0, 30, func(typ string, lines []byte) error {
		if files[typ] == nil {
			files[typ] = new(bytes.Buffer)
		}
		files[typ].Write(lines)
		return nil
	})
	if err != nil {
		t.Fatalf("NDJSON: %v", err)
	}
	want := map[string]int{}
	for _, r := range g.Shared() {
		want[r.Type]++
	}
	for i := range 30 {
		rec, _ := g.Patient(i)
		for _, r := range rec.Resources {
			want[r.Type]++
		}
	}
	for typ, buf := range files {
		lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
		if len(lines) != want[typ] {
			t.Errorf("%s: %d lines, want %d", typ, len(lines), want[typ])
		}
		for _, line := range lines {
			v, err := fhir.Parse([]byte(line))
			if err != nil || v.Str("resourceType") != typ {
				t.Fatalf("%s line %.80q: %v, resourceType %q", typ, line, err, v.Str("resourceType"))
			}
		}
	}
	if len(files) != len(want) {
		t.Errorf("NDJSON wrote %d types, want %d", len(files), len(want))
	}
}

// TestPrevalence checks the rough shape of the population: ages, sexes and
// how common each condition is among adults.
func TestPrevalence(t *testing.T) {
	t.Parallel()
	g := newTestGenerator(t, Options{Seed: 11})
	const n = 20000
	var adults, female, over65 int
	var conds [numConds]int
	for i := range n {
		p := newPerson(g, i, "9000000009")
		age := years(p.birth, g.until)
		if p.female {
			female++
		}
		if age >= 65 {
			over65++
		}
		if age < 18 {
			continue
		}
		adults++
		for c := condHypertension; c < numConds; c++ {
			if p.health.has(c, g.until) {
				conds[c]++
			}
		}
	}
	share := func(k, of int) float64 { return float64(k) / float64(of) }
	checks := []struct {
		what   string
		got    float64
		lo, hi float64
	}{
		{"adults", share(adults, n), 0.76, 0.84},
		{"female", share(female, n), 0.48, 0.53},
		{"over 65", share(over65, n), 0.16, 0.22},
		{"hypertension (adults)", share(conds[condHypertension], adults), 0.13, 0.22},
		{"type 2 diabetes (adults)", share(conds[condT2DM], adults), 0.05, 0.10},
		{"asthma (adults)", share(conds[condAsthma], adults), 0.08, 0.12},
		{"COPD (adults)", share(conds[condCOPD], adults), 0.01, 0.04},
		{"depression (adults)", share(conds[condDepression], adults), 0.08, 0.12},
	}
	for _, c := range checks {
		t.Logf("%-26s %.3f", c.what, c.got)
		if c.got < c.lo || c.got > c.hi {
			t.Errorf("%s = %.3f, want in [%.2f, %.2f]", c.what, c.got, c.lo, c.hi)
		}
	}
}

// TestTrends checks that readings respond to treatment: blood pressure falls
// after an antihypertensive starts, HbA1c sits in the diabetic range.
func TestTrends(t *testing.T) {
	t.Parallel()
	g := newTestGenerator(t, Options{Seed: 2})
	var drops []float64
	var a1c []float64
	for i := range 2000 {
		rec, _ := g.Patient(i)
		p := newPerson(g, i, "9000000009")
		onset := p.health.onset[condHypertension]
		diagnosed := !onset.IsZero() && onset.After(g.until.AddDate(-9, 0, 0))
		var atDiagnosis float64
		var treated []float64
		for _, r := range rec.Resources {
			if r.Type != "Observation" {
				continue
			}
			when := r.Body.Str("effectiveDateTime")[:10]
			switch r.Body.Get("code").Get("coding").Items[0].Str("code") {
			case "85354-9":
				sbp := number(t, r.Body.Get("component").Items[0].Get("valueQuantity").Get("value"))
				switch {
				case !diagnosed || when < date(onset):
				case atDiagnosis == 0:
					atDiagnosis = sbp
				case when > date(onset.AddDate(0, 6, 0)):
					treated = append(treated, sbp)
				}
			case "59261-8":
				if p.health.has(condT2DM, g.until) && when >= date(p.health.onset[condT2DM]) {
					a1c = append(a1c, number(t, r.Body.Get("valueQuantity").Get("value")))
				}
			}
		}
		if atDiagnosis > 0 && len(treated) > 0 {
			drops = append(drops, atDiagnosis-mean(treated))
		}
	}
	if len(drops) < 30 || mean(drops) < 15 {
		t.Errorf("systolic fall from diagnosis to six months on in %d patients: mean %.1f, want over 15", len(drops), mean(drops))
	}
	if m := mean(a1c); len(a1c) < 100 || m < 48 || m > 75 {
		t.Errorf("HbA1c of %d readings in diabetics: mean %.1f, want 48-75", len(a1c), m)
	}
	t.Logf("systolic fall %.1f mmHg over %d patients; diabetic HbA1c mean %.1f over %d readings", mean(drops), len(drops), mean(a1c), len(a1c))
}

func number(t *testing.T, v *fhir.Value) float64 {
	t.Helper()
	var f float64
	if v == nil || v.Kind != fhir.Number {
		t.Fatalf("not a number: %+v", v)
	}
	fmt.Sscan(v.Text, &f)
	return f
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// TestResourcesPerPatient reports the size of histories and keeps adults
// within the range the issue asks for.
func TestResourcesPerPatient(t *testing.T) {
	t.Parallel()
	g := newTestGenerator(t, Options{Seed: 1})
	var adults, children []float64
	for i := range 2000 {
		rec, _ := g.Patient(i)
		p := newPerson(g, i, "9000000009")
		n := float64(len(rec.Resources))
		if years(p.birth, g.until) >= 18 {
			adults = append(adults, n)
		} else {
			children = append(children, n)
		}
	}
	slices.Sort(adults)
	q := func(xs []float64, p float64) float64 { return xs[int(p*float64(len(xs)-1))] }
	t.Logf("adults: mean %.0f, median %.0f, p10 %.0f, p90 %.0f, max %.0f; children: mean %.0f",
		mean(adults), q(adults, 0.5), q(adults, 0.1), q(adults, 0.9), q(adults, 1), mean(children))
	if m := mean(adults); m < 50 || m > 150 {
		t.Errorf("adults average %.0f resources, want 50-150", m)
	}
}

func TestSummerTime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		t    time.Time
		want string
	}{
		{time.Date(2024, 3, 31, 1, 59, 0, 0, time.UTC), "2024-03-31T01:59:00+00:00"},
		{time.Date(2024, 3, 31, 2, 0, 0, 0, time.UTC), "2024-03-31T02:00:00+01:00"},
		{time.Date(2024, 7, 1, 9, 30, 0, 0, time.UTC), "2024-07-01T09:30:00+01:00"},
		{time.Date(2024, 10, 27, 1, 59, 0, 0, time.UTC), "2024-10-27T01:59:00+01:00"},
		{time.Date(2024, 10, 27, 2, 0, 0, 0, time.UTC), "2024-10-27T02:00:00+00:00"},
		{time.Date(2025, 12, 25, 12, 0, 0, 0, time.UTC), "2025-12-25T12:00:00+00:00"},
	}
	for _, tt := range tests {
		if got := dateTime(tt.t); got != tt.want {
			t.Errorf("dateTime(%v) = %s, want %s", tt.t, got, tt.want)
		}
	}
}
