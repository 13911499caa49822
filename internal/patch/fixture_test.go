package patch

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sharedcare/internal/fhir"
	"sharedcare/internal/outcome"
)

// A fixture is one case in testdata/jsonpatch or testdata/fhirpath, named
// for what it shows: a resource, a patch and either the expected result or
// the expected error:
//
//	{"resource": {...}, "patch": ..., "expected": {...}}
//	{"resource": {...}, "patch": ..., "error": {"status": 422, "code": "processing", "expression": "operation[0]"}}
//
// "expressions" (a list) instead of "expression" gives every issue's
// location, in order. A JSON Patch given as a JSON string is the raw
// document, for documents that are not valid JSON.
type fixture struct {
	file      string
	resource  fhir.Value
	patch     fhir.Value
	expected  *fhir.Value
	status    int
	code      string
	locations []string
}

func loadFixtures(t *testing.T, dir string) []fixture {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures in testdata/%s: %v", dir, err)
	}
	var out []fixture
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		v, err := fhir.Parse(data)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		f := fixture{file: file}
		for _, k := range v.Keys {
			switch k {
			case "resource", "patch", "expected", "error":
			default:
				t.Fatalf("%s: unknown member %q", file, k)
			}
		}
		if r := v.Get("resource"); r != nil {
			f.resource = *r
		} else {
			t.Fatalf("%s: no resource", file)
		}
		f.patch = *v.Get("patch")
		if e := v.Get("expected"); e != nil {
			f.expected = e
		}
		if e := v.Get("error"); e != nil {
			n := e.Get("status")
			if n == nil {
				t.Fatalf("%s: error without status", file)
			}
			f.status = map[string]int{"400": 400, "422": 422}[n.Text]
			f.code = e.Str("code")
			if x := e.Get("expression"); x != nil {
				f.locations = []string{x.Text}
			}
			if xs := e.Get("expressions"); xs != nil {
				for _, x := range xs.Items {
					f.locations = append(f.locations, x.Text)
				}
			}
		}
		if (f.expected == nil) == (f.status == 0) {
			t.Fatalf("%s: give expected or error", file)
		}
		out = append(out, f)
	}
	return out
}

// check compares what Apply (or parsing) gave with the fixture, and
// insists that the input resource was not changed either way.
func (f *fixture) check(t *testing.T, before []byte, res *fhir.Value, got fhir.Value, err error, exact bool) {
	t.Helper()
	if after := fhir.Marshal(*res); !bytes.Equal(before, after) {
		t.Errorf("%s: Apply changed its input:\n%s\nbecame\n%s", f.file, before, after)
	}
	if f.expected != nil {
		if err != nil {
			t.Fatalf("%s: error %v (%s), want success", f.file, err, diagnostics(err))
		}
		same := equal(&got, f.expected)
		if exact {
			same = bytes.Equal(fhir.Marshal(got), fhir.Marshal(*f.expected))
		}
		if !same {
			t.Errorf("%s: got\n%s\nwant\n%s", f.file, fhir.MarshalIndent(got), fhir.MarshalIndent(*f.expected))
		}
		return
	}
	if err == nil {
		t.Fatalf("%s: success, want a %d; got\n%s", f.file, f.status, fhir.MarshalIndent(got))
	}
	oe, ok := outcome.As(err)
	if !ok {
		t.Fatalf("%s: error %T %v, want an *outcome.Error", f.file, err, err)
	}
	var locs []string
	for _, is := range oe.Issues {
		locs = append(locs, is.Expression)
		if is.Diagnostics == "" {
			t.Errorf("%s: issue at %q has no diagnostics", f.file, is.Expression)
		}
	}
	if oe.Status != f.status || (f.code != "" && oe.Issues[0].Code != f.code) ||
		(f.locations != nil && !slices.Equal(locs, f.locations)) {
		t.Errorf("%s: error %d %s at %q, want %d %s at %q\n(%s)", f.file, oe.Status, oe.Issues[0].Code, locs,
			f.status, f.code, f.locations, diagnostics(err))
	}
	if strings.Contains(oe.Error(), "Diagnostics") {
		t.Errorf("%s: Error() leaks diagnostics", f.file)
	}
}

func diagnostics(err error) string {
	oe, ok := outcome.As(err)
	if !ok {
		return ""
	}
	var d []string
	for _, is := range oe.Issues {
		d = append(d, is.Diagnostics)
	}
	return strings.Join(d, "; ")
}

func name(file string) string {
	return strings.TrimSuffix(filepath.Base(file), ".json")
}

// seeds returns the resource and patch of every fixture in testdata/dir, as
// the bytes the fuzzers take.
func seeds(f *testing.F, dir string) [][2][]byte {
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	var out [][2][]byte
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		v, err := fhir.Parse(data)
		if err != nil {
			f.Fatalf("%s: %v", file, err)
		}
		p := fhir.Marshal(*v.Get("patch"))
		if pv := v.Get("patch"); pv.Kind == fhir.String {
			p = []byte(pv.Text)
		}
		out = append(out, [2][]byte{fhir.Marshal(*v.Get("resource")), p})
	}
	return out
}

// checkApply holds any outcome of a parse and apply to the package's
// promises: only *outcome.Error with issues, 400 or 422, reaches the
// caller; the input is never changed; what is accepted marshals to JSON
// that parses again.
func checkApply(t *testing.T, res *fhir.Value, parseErr error, apply func() (fhir.Value, error)) {
	t.Helper()
	okErr := func(err error, statuses ...int) {
		t.Helper()
		oe, ok := outcome.As(err)
		if !ok || len(oe.Issues) == 0 {
			t.Fatalf("error %T %v, want an *outcome.Error with issues", err, err)
		}
		for _, s := range statuses {
			if oe.Status == s {
				return
			}
		}
		t.Fatalf("status %d, want one of %v", oe.Status, statuses)
	}
	if parseErr != nil {
		okErr(parseErr, 400)
		return
	}
	before := fhir.Marshal(*res)
	got, err := apply()
	if after := fhir.Marshal(*res); !bytes.Equal(before, after) {
		t.Fatalf("Apply changed its input:\n%s\nbecame\n%s", before, after)
	}
	if err != nil {
		okErr(err, 422)
		return
	}
	out := fhir.Marshal(got)
	back, err := fhir.Parse(out)
	if err != nil {
		t.Fatalf("patched resource does not parse again: %v\n%s", err, out)
	}
	if !bytes.Equal(fhir.Marshal(back), out) {
		t.Fatalf("patched resource does not round-trip:\n%s", out)
	}
}

// applier is what both kinds of patch offer.
type applier interface {
	Apply(ctx context.Context, res *fhir.Value) (fhir.Value, error)
}

// benchPatient is a GP-registered patient of the size synth generates.
const benchPatient = `{"resourceType":"Patient","id":"9f1c2b7e-3d4a-4c5b-8e6f-0a1b2c3d4e5f",
	"meta":{"versionId":"3","lastUpdated":"2024-03-01T10:15:00Z","profile":["https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient"]},
	"identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9434765919"}],
	"active":true,
	"name":[{"use":"official","family":"Smith","given":["Ann","Marie"],"prefix":["Mrs"]},{"use":"maiden","family":"Jones"}],
	"telecom":[{"system":"phone","value":"01632 960001","use":"home"},{"system":"email","value":"ann.smith@example.org"}],
	"gender":"female","birthDate":"1961-07-14",
	"address":[{"use":"home","line":["1 High Street"],"city":"Leeds","postalCode":"LS1 4AP","country":"GB"}],
	"generalPractitioner":[{"reference":"Organization/B82005","display":"Leeds Surgery"}]}`

func benchApply(b *testing.B, p applier) {
	res, err := fhir.Parse([]byte(benchPatient))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Apply(ctx, &res); err != nil {
			b.Fatal(err)
		}
	}
}
