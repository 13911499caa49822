package validate

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sharedcare/internal/fhir"
	"sharedcare/internal/outcome"
)

// examplesDir is the spec's JSON examples, read in place from the shared
// checkout beside this repository.
func examplesDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "shared", "testdata", "r4-examples")
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the spec's examples are needed in CI: %v", err)
		}
		t.Skipf("skipping: the spec's examples are not at %s (check out ../shared to run this)", dir)
	}
	return dir
}

// knownInvalid are spec examples that break the spec's own rules: where
// (every error's location starts with it) and why.
var knownInvalid = map[string]struct{ where, why string }{
	"ActivityDefinition-blood-tubes-supply.json":        {"ActivityDefinition.text.div", "txt-2: the narrative div is empty"},
	"ActivityDefinition-heart-valve-replacement.json":   {"ActivityDefinition.text.div", "txt-2: the narrative div is empty"},
	"EventDefinition-example.json":                      {"EventDefinition.text.div", "txt-2: the narrative div is empty"},
	"Questionnaire-zika-virus-exposure-assessment.json": {"Questionnaire.text.div", "txt-2: the narrative is an empty <pre>"},
	"DeviceMetric-example.json":                         {"DeviceMetric.parent.reference", "parent refers to a DeviceDefinition; DeviceMetric.parent allows only Device"},
	"DeviceUseStatement-example.json":                   {"DeviceUseStatement.reasonReference[0].reference", "reasonReference refers to a Procedure, which is not among its targets"},
	"MedicationRequest-medrx0301.json":                  {"MedicationRequest.dispenseRequest.performer.reference", "dispenseRequest.performer refers to a Practitioner; it allows only Organization"},
	"Observation-clinical-gender.json":                  {"Observation.performer[0].reference", "performer refers to an Encounter, which is not among its targets"},
	"Questionnaire-qs1.json":                            {"Questionnaire.item[0].item[", "nested items have no linkId, which is 1..1"},
	"Questionnaire-bb.json":                             {"Questionnaire.item[0].item[1].item[2].item[0].enableWhen[0]", "que-7 says 'answer is Boolean', which the official FHIRPath suite (testType12) makes false for a FHIR boolean"},
	"StructureDefinition-Definition.json":               {"StructureDefinition", "sdf-4: a logical model, not abstract, with no baseDefinition"},
	"StructureDefinition-Event.json":                    {"StructureDefinition", "sdf-4: a logical model, not abstract, with no baseDefinition"},
	"StructureDefinition-FiveWs.json":                   {"StructureDefinition", "sdf-4: a logical model, not abstract, with no baseDefinition"},
	"StructureDefinition-Request.json":                  {"StructureDefinition", "sdf-4: a logical model, not abstract, with no baseDefinition"},
	"SearchParameter-questionnaireresponse-extensions-QuestionnaireResponse-item-subject.json": {"SearchParameter.id", "the id has 67 characters; an id has at most 64"},
	"SearchParameter-codesystem-extensions-CodeSystem-author.json":                             {"SearchParameter.base", "no base, which is 1..*"},
	"SearchParameter-codesystem-extensions-CodeSystem-effective.json":                          {"SearchParameter.base", "no base, which is 1..*"},
	"SearchParameter-codesystem-extensions-CodeSystem-end.json":                                {"SearchParameter.base", "no base, which is 1..*"},
	"SearchParameter-codesystem-extensions-CodeSystem-keyword.json":                            {"SearchParameter.base", "no base, which is 1..*"},
	"SearchParameter-codesystem-extensions-CodeSystem-workflow.json":                           {"SearchParameter.base", "no base, which is 1..*"},
	"SearchParameter-valueset-extensions-ValueSet-author.json":                                 {"SearchParameter.base", "no base, which is 1..*"},
	"SearchParameter-valueset-extensions-ValueSet-effective.json":                              {"SearchParameter.base", "no base, which is 1..*"},
	"SearchParameter-valueset-extensions-ValueSet-end.json":                                    {"SearchParameter.base", "no base, which is 1..*"},
	"SearchParameter-valueset-extensions-ValueSet-keyword.json":                                {"SearchParameter.base", "no base, which is 1..*"},
	"SearchParameter-valueset-extensions-ValueSet-workflow.json":                               {"SearchParameter.base", "no base, which is 1..*"},
}

// TestExamples validates every example of the R4 spec: each must pass with
// no errors, but for the few listed in knownInvalid.
func TestExamples(t *testing.T) {
	t.Parallel()
	dir := examplesDir(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	v := New(Options{Invariants: invariantsHook})
	passed := 0
	for _, path := range files {
		name := filepath.Base(path)
		if name == "package.json" {
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		res, err := fhir.Parse(data)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		_, err = v.Resource(context.Background(), &res, Write{})
		bad, known := knownInvalid[name]
		switch {
		case err == nil && known:
			t.Errorf("%s validates, but knownInvalid says %q: remove it from the list", name, bad.why)
		case err == nil:
			passed++
		case !known || !errorsAt(err, bad.where):
			t.Errorf("%s: %s", name, describe(err))
		}
	}
	t.Logf("%d of %d spec examples valid; %d known invalid", passed, len(files)-1, len(knownInvalid))
}

// errorsAt reports whether every error of err is at a location starting
// with prefix.
func errorsAt(err error, prefix string) bool {
	oe, ok := outcome.As(err)
	if !ok {
		return false
	}
	for _, is := range oe.Issues {
		if is.Severity == outcome.Err && !strings.HasPrefix(is.Expression, prefix) {
			return false
		}
	}
	return true
}

// describe renders an error with its issues' diagnostics, for test failures.
func describe(err error) string {
	oe, ok := outcome.As(err)
	if !ok {
		return err.Error()
	}
	var b strings.Builder
	for _, is := range oe.Issues {
		b.WriteString("\n\t")
		b.WriteString(is.Severity + " " + is.Code + " @ " + is.Expression + ": " + is.Diagnostics)
	}
	return b.String()
}

// TestExamplesMutated spoils each valid example in two ways and expects
// exactly those faults back: an unknown element at the root, and the
// resource's id turned into an invalid one.
func TestExamplesMutated(t *testing.T) {
	t.Parallel()
	dir := examplesDir(t)
	files, err := filepath.Glob(filepath.Join(dir, "*-*.json"))
	if err != nil {
		t.Fatal(err)
	}
	v := New(Options{})
	for _, path := range files {
		name := filepath.Base(path)
		if _, bad := knownInvalid[name]; bad {
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		res, err := fhir.Parse(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		typ := res.Str("resourceType")
		res.Set("bogusElement", fhir.BoolValue(true))
		res.SetAfter("id", "resourceType", fhir.StringValue("not an id"))
		_, err = v.Resource(context.Background(), &res, Write{})
		oe, ok := outcome.As(err)
		want := []string{typ + ".id", typ + ".bogusElement"}
		var got []string
		if ok {
			for _, is := range oe.Issues {
				got = append(got, is.Expression)
			}
		}
		if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
			t.Errorf("%s spoilt: issues at %q, want %q", name, got, want)
		}
	}
}
