package storetest

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"sharedcare/internal/fhir"
	"sharedcare/internal/search"
	"sharedcare/internal/store"
)

// obsOf is an Observation in patient's compartment, with the reference
// index row a real write would have.
func obsOf(t testing.TB, id, patient, text string) *store.Write {
	t.Helper()
	v, err := fhir.Parse([]byte(`{"resourceType":"Observation","status":"final","code":{"text":"` + text + `"},"subject":{"reference":"Patient/` + patient + `"}}`))
	if err != nil {
		t.Fatal(err)
	}
	return &store.Write{Type: "Observation", ID: id, Resource: &v, Patients: []string{patient},
		Index: &search.Entries{References: []search.ReferenceEntry{{Param: "subject", TargetType: "Patient", TargetID: patient}, {Param: "patient", TargetType: "Patient", TargetID: patient}}}}
}

func scanIDs(t testing.TB, s store.Store, q *store.ScanQuery) (string, []*store.Version) {
	t.Helper()
	var ids []string
	var vs []*store.Version
	if err := s.Scan(context.Background(), q, func(v *store.Version) error {
		ids = append(ids, v.ID)
		vs = append(vs, v)
		return nil
	}); err != nil {
		t.Fatalf("Scan %+v: %v", q, err)
	}
	return strings.Join(ids, " "), vs
}

func testScan(t *testing.T, s store.Store) {
	ctx := context.Background()
	// 25 observations of three patients, written in id order; o5 updated
	// later, o7 deleted, one Patient.
	for i := range 25 {
		mustPut(t, s, obsOf(t, fmt.Sprintf("o%02d", i), fmt.Sprintf("p%d", i%3), "x"))
	}
	mustPut(t, s, &store.Write{Type: "Patient", ID: "p1", Resource: patient(t, "One"), Patients: []string{"p1"}})
	mid := mustPut(t, s, obsOf(t, "o05", "p2", "changed")).Version
	mustPut(t, s, &store.Write{Type: "Observation", ID: "o07", Delete: true})

	all, vs := scanIDs(t, s, &store.ScanQuery{Type: "Observation", Batch: 4})
	want := "o00 o01 o02 o03 o04 o06 o08 o09 o10 o11 o12 o13 o14 o15 o16 o17 o18 o19 o20 o21 o22 o23 o24 o05"
	if all != want {
		t.Errorf("Scan Observation in batches of 4 = %s, want %s (current versions, in write order)", all, want)
	}
	for _, v := range vs {
		if v.Body == nil || v.Deleted || v.Seq == 0 || v.RID == 0 || v.LastUpdated.IsZero() {
			t.Errorf("scanned %s: body %d bytes, deleted %v, seq %d, rid %d, lastUpdated %v", v.ID, len(v.Body), v.Deleted, v.Seq, v.RID, v.LastUpdated)
		}
	}
	if last := vs[len(vs)-1]; last.VersionID != 2 || !strings.Contains(string(last.Body), "changed") || fmt.Sprint(last.Patients) != "[p2]" {
		t.Errorf("scanned o05 = version %d %s patients %v, want version 2, changed, [p2]", last.VersionID, last.Body, last.Patients)
	}
	// Resuming after the 6th passes the rest.
	rest, _ := scanIDs(t, s, &store.ScanQuery{Type: "Observation", After: vs[5].Seq})
	if rest != strings.Join(strings.Fields(want)[6:], " ") {
		t.Errorf("Scan after %s = %s, want the rest", vs[5].ID, rest)
	}
	if got, _ := scanIDs(t, s, &store.ScanQuery{Type: "Observation", Since: mid.LastUpdated}); !strings.HasSuffix(got, "o05") || strings.Contains(got, "o00") && mid.LastUpdated.After(vs[0].LastUpdated) {
		t.Errorf("Scan since o05's update = %s, want o05 and nothing older", got)
	}
	if got, _ := scanIDs(t, s, &store.ScanQuery{Type: "Observation", Since: time.Now().Add(time.Hour)}); got != "" {
		t.Errorf("Scan since an hour ahead = %s, want nothing", got)
	}
	if got, _ := scanIDs(t, s, &store.ScanQuery{Type: "Observation", Deleted: true}); got != "o07" {
		t.Errorf("Scan deleted = %q, want o07", got)
	}
	// Compartments: a few patients (by the reference index) and many (by a
	// walk), the same answer.
	if got, _ := scanIDs(t, s, &store.ScanQuery{Type: "Observation", Patients: []string{"p1"}, Batch: 3}); got != "o01 o04 o10 o13 o16 o19 o22" {
		t.Errorf("Scan p1's Observations = %s", got)
	}
	many := []string{"p1"}
	for i := range 100 {
		many = append(many, fmt.Sprintf("x%d", i))
	}
	if got, _ := scanIDs(t, s, &store.ScanQuery{Type: "Observation", Patients: many, Batch: 3}); got != "o01 o04 o10 o13 o16 o19 o22" {
		t.Errorf("Scan the Observations of 101 patients, one with data = %s", got)
	}
	if got, _ := scanIDs(t, s, &store.ScanQuery{Type: "Patient", Patients: []string{"p1", "p2"}}); got != "p1" {
		t.Errorf("Scan Patient in [p1 p2] = %q, want p1", got)
	}
	if got, _ := scanIDs(t, s, &store.ScanQuery{Type: "Condition"}); got != "" {
		t.Errorf("Scan Condition = %q, want nothing", got)
	}
	stop := fmt.Errorf("stop")
	n := 0
	if err := s.Scan(ctx, &store.ScanQuery{Type: "Observation", Batch: 2}, func(*store.Version) error { n++; return stop }); err != stop || n != 1 {
		t.Errorf("Scan whose fn fails = %v after %d calls, want that error after 1", err, n)
	}
}

func testImportWrites(t *testing.T, s store.Store) {
	ctx := context.Background()
	when := time.Date(2021, 3, 4, 5, 6, 7, 890_000_000, time.UTC)
	imp := func(version int64, updated time.Time, family string) *store.Write {
		return &store.Write{Type: "Patient", ID: "imp", Resource: patient(t, family), Patients: []string{"imp"}, VersionID: version, LastUpdated: updated}
	}
	res := mustPut(t, s, imp(3, when, "Kept"))
	if !res.Created || res.Version.VersionID != 3 || !res.Version.LastUpdated.Equal(when) {
		t.Fatalf("import of version 3 = created %v version %d at %v, want a new resource at version 3, %v", res.Created, res.Version.VersionID, res.Version.LastUpdated, when)
	}
	v, err := s.Read(ctx, "Patient", "imp")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := fhir.Parse(v.Body)
	if body.Get("meta").Str("versionId") != "3" || body.Get("meta").Str("lastUpdated") != "2021-03-04T05:06:07.890Z" || v.VersionID != 3 {
		t.Errorf("Read after import = %s, want meta.versionId 3 and the source's lastUpdated", v.Body)
	}
	// Again: nothing written, whatever the stamp.
	for _, w := range []*store.Write{imp(3, when, "Kept"), imp(3, time.Time{}, "Kept"), imp(2, when, "Older")} {
		res := mustPut(t, s, w)
		if !res.Unchanged || res.Version.VersionID != 3 {
			t.Errorf("import of version %d again = unchanged %v at %d, want unchanged at 3", w.VersionID, res.Unchanged, res.Version.VersionID)
		}
	}
	if _, err := put(t, s, imp(3, when, "Other")); status(err) != http.StatusConflict {
		t.Errorf("import of version 3 with other content: %v, want 409", err)
	}
	later := when.Add(time.Hour)
	res = mustPut(t, s, imp(5, later, "Newer"))
	if res.Unchanged || res.Version.VersionID != 5 || res.Version.Method != store.Update {
		t.Errorf("import of version 5 = unchanged %v version %d method %d, want version 5 by update", res.Unchanged, res.Version.VersionID, res.Version.Method)
	}
	h, err := s.History(ctx, &store.HistoryQuery{Type: "Patient", ID: "imp", Count: 10})
	if err != nil || versions(h) != "5 3" {
		t.Errorf("History = %s, %v; want 5 3", versions(h), err)
	}
	// A local write after an import stamped ahead of the clock is not
	// stamped before it.
	ahead := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)
	mustPut(t, s, imp(6, ahead, "Ahead"))
	res = mustPut(t, s, &store.Write{Type: "Patient", ID: "imp", Resource: patient(t, "Local"), Patients: []string{"imp"}})
	if res.Version.VersionID != 7 || res.Version.LastUpdated.Before(ahead) {
		t.Errorf("local update after an import = version %d at %v, want 7 at or after %v", res.Version.VersionID, res.Version.LastUpdated, ahead)
	}

	// IfChanged: no versionId from the source.
	mustPut(t, s, &store.Write{Type: "Patient", ID: "nov", Resource: patient(t, "Same"), IfChanged: true})
	res = mustPut(t, s, &store.Write{Type: "Patient", ID: "nov", Resource: patient(t, "Same"), IfChanged: true})
	if !res.Unchanged || res.Version.VersionID != 1 {
		t.Errorf("the same resource again with IfChanged = unchanged %v version %d, want unchanged at 1", res.Unchanged, res.Version.VersionID)
	}
	res = mustPut(t, s, &store.Write{Type: "Patient", ID: "nov", Resource: patient(t, "Different"), IfChanged: true})
	if res.Unchanged || res.Version.VersionID != 2 {
		t.Errorf("other content with IfChanged = unchanged %v version %d, want version 2", res.Unchanged, res.Version.VersionID)
	}
	// Inside one transaction with other writes, an unchanged import does
	// not disturb them.
	err = s.Tx(ctx, func(tx store.Tx) error {
		if r, err := tx.Put(ctx, imp(7, time.Time{}, "Local")); err != nil || !r.Unchanged {
			return fmt.Errorf("unchanged import in a batch = %+v, %v", r, err)
		}
		_, err := tx.Put(ctx, &store.Write{Type: "Patient", ID: "batch2", Resource: patient(t, "B"), VersionID: 2, LastUpdated: when})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := s.Read(ctx, "Patient", "batch2"); err != nil || v.VersionID != 2 {
		t.Errorf("Read batch2 = %v, %v; want version 2", v, err)
	}
}

func testScanMatch(t *testing.T, s store.Store) {
	for i := range 6 {
		w := obsOf(t, fmt.Sprintf("m%d", i), "pm", "x")
		w.Index.Tokens = []search.TokenEntry{{Param: "status", Code: []string{"final", "amended", "preliminary"}[i%3]}}
		mustPut(t, s, w)
	}
	parse := func(raw string) *search.Query {
		vals, _ := url.ParseQuery(raw)
		q, err := search.Parse("Observation", vals, search.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	for _, patients := range [][]string{nil, {"pm"}} {
		got, _ := scanIDs(t, s, &store.ScanQuery{Type: "Observation", Patients: patients, Batch: 2,
			Match: []*search.Query{parse("status=final"), parse("status=preliminary")}})
		if got != "m0 m2 m3 m5" {
			t.Errorf("Scan patients %v matching status=final or status=preliminary = %s, want m0 m2 m3 m5", patients, got)
		}
	}
}

// testCreateMany holds a backend's store.Creator, if it has one, to Put's
// results: what is new is created with its versions, stamps, patients and
// index rows; what exists, or comes twice, is left for Put.
func testCreateMany(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustPut(t, s, &store.Write{Type: "Patient", ID: "cm-old", Resource: patient(t, "Old")})
	when := time.Date(2022, 5, 6, 7, 8, 9, 100_000_000, time.UTC)
	obs := obsOf(t, "cm-obs", "cm-a", "Pulse")
	obs.IfChanged = true
	obs.Index.Tokens = []search.TokenEntry{{Param: "status", Code: "final"}}
	obs.Index.Dates = []search.DateEntry{{Param: "date", Low: when.UnixMilli(), High: when.UnixMilli() + 1}}
	ws := []*store.Write{
		{Type: "Patient", ID: "cm-a", Resource: patient(t, "Many"), Patients: []string{"cm-a"}, IfChanged: true,
			Index: &search.Entries{Strings: []search.StringEntry{{Param: "family", Norm: "many", Exact: "Many"}}}},
		{Type: "Patient", ID: "cm-b", Resource: patient(t, "Many"), VersionID: 4, LastUpdated: when, IfChanged: true,
			Index: &search.Entries{Strings: []search.StringEntry{{Param: "family", Norm: "many", Exact: "Many"}}}},
		{Type: "Patient", ID: "cm-old", Resource: patient(t, "Old"), IfChanged: true},
		{Type: "Patient", ID: "cm-a", Resource: patient(t, "Twice"), IfChanged: true},
		obs,
	}
	var rs []*store.Result
	supported := true
	err := s.Tx(ctx, func(tx store.Tx) error {
		c, ok := tx.(store.Creator)
		if !ok {
			supported = false
			return nil
		}
		var err error
		rs, err = c.CreateMany(ctx, ws)
		return err
	})
	if !supported {
		t.Skip("this backend has no store.Creator")
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != len(ws) {
		t.Fatalf("CreateMany returned %d results for %d writes", len(rs), len(ws))
	}
	for i, want := range []bool{true, true, false, false, true} {
		if (rs[i] != nil) != want {
			t.Errorf("write %d (%s/%s): created %v, want %v", i, ws[i].Type, ws[i].ID, rs[i] != nil, want)
		}
	}
	if rs[1] != nil && (rs[1].Version.VersionID != 4 || !rs[1].Version.LastUpdated.Equal(when) || !rs[1].Created) {
		t.Errorf("cm-b = version %d at %v, want a creation at version 4, %v", rs[1].Version.VersionID, rs[1].Version.LastUpdated, when)
	}
	v, err := s.Read(ctx, "Patient", "cm-b")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := fhir.Parse(v.Body)
	if v.VersionID != 4 || body.Get("meta").Str("versionId") != "4" || body.Get("meta").Str("lastUpdated") != "2022-05-06T07:08:09.100Z" {
		t.Errorf("Read cm-b = version %d, body %s; want 4 with the source's lastUpdated", v.VersionID, v.Body)
	}
	if v, err := s.Read(ctx, "Patient", "cm-a"); err != nil || len(v.Patients) != 1 || v.Patients[0] != "cm-a" || !strings.Contains(string(v.Body), "Many") {
		t.Errorf("Read cm-a = %+v, %v; want the first write's body, in its own compartment", v, err)
	}
	if v, err := s.Read(ctx, "Patient", "cm-old"); err != nil || !strings.Contains(string(v.Body), "Old") || v.VersionID != 1 {
		t.Errorf("Read cm-old = %+v, %v; want it untouched", v, err)
	}
	search1 := func(typ, raw string) string { return strings.Join(MatchIDs(t, s, typ, raw), " ") }
	if got := search1("Patient", "family=many&_sort=_id"); got != "cm-a cm-b" {
		t.Errorf("Patient?family=many = %q, want cm-a cm-b (their index rows)", got)
	}
	if got := search1("Observation", "subject=Patient/cm-a&status=final&date=2022-05-06"); got != "cm-obs" {
		t.Errorf("Observation by subject, status and date = %q, want cm-obs", got)
	}
}
