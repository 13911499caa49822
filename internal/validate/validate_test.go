package validate

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sharedcare/internal/fhir"
	"sharedcare/internal/outcome"
)

// fixture parses a file of testdata.
func fixture(t testing.TB, name string) *fhir.Value {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	v, err := fhir.Parse(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &v
}

// issues renders what Resource returned as "severity code expression"
// lines, and the status, 0 when it returned no error.
func issues(t *testing.T, warnings []outcome.Issue, err error) ([]string, int) {
	t.Helper()
	var out []string
	status := 0
	if err != nil {
		oe, ok := outcome.As(err)
		if !ok {
			t.Fatalf("error %v is not an *outcome.Error", err)
		}
		warnings, status = oe.Issues, oe.Status
	}
	for _, is := range warnings {
		out = append(out, is.Severity+" "+is.Code+" "+is.Expression)
		if is.Diagnostics == "" {
			t.Errorf("issue %s %s has no diagnostics", is.Code, is.Expression)
		}
	}
	return out, status
}

func TestFixtures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		want []string // every issue, in order; nil when valid with no warnings
	}{
		{"patient-minimal.json", nil},
		{"patient-typical.json", nil},
		{"observation-components.json", nil},
		{"bundle-transaction.json", nil},
		{"patient-birthdate-leap-day.json", nil},
		{"patient-primitive-extension.json", nil},
		{"patient-shadow-no-value.json", nil},
		{"patient-modifier-extension.json", nil},
		{"patient-contained.json", nil},
		{"patient-contained-refers-back.json", nil},
		{"patient-ref-forms.json", nil},
		{"patient-narrative.json", nil},
		{"observation-partial-dates.json", nil},
		{"condition-clinical-status-one-good.json", nil},
		{"condition-clinical-status-text.json", nil},
		// invariants other than the native ones are the hook's (TestInvariants)
		{"observation-quantity-code-no-system.json", nil},
		{"patient-contact-no-details.json", nil},
		{"observation-absent-reason-with-value.json", nil},
		{"bundle-transaction-no-request.json", nil},
		{"patient-structural-and-invariant.json", []string{"error value Patient.birthDate"}},

		// the root
		{"patient-unknown-type.json", []string{"error invalid "}},
		{"resource-abstract-type.json", []string{"error invalid "}},
		{"resource-no-type.json", []string{"error required "}},
		{"resource-type-number.json", []string{"error structure "}},

		// JSON shape
		{"patient-unknown-element.json", []string{"error structure Patient.nickname"}},
		{"patient-name-not-array.json", []string{"error structure Patient.name"}},
		{"patient-gender-array.json", []string{"error structure Patient.gender"}},
		{"patient-active-string.json", []string{"error structure Patient.active"}},
		{"patient-null.json", []string{"error structure Patient.gender"}},
		{"patient-null-in-array.json", []string{"error structure Patient.name[0].given[1]"}},
		{"patient-empty-values.json", []string{
			"error invariant Patient.name[0]",
			"error invariant Patient.telecom",
			"error invariant Patient.gender",
		}},
		{"patient-only-id.json", []string{"error invariant Patient.name[0]"}},
		{"patient-shadow-on-complex.json", []string{"error structure Patient._name"}},
		{"patient-shadow-unknown.json", []string{"error structure Patient._nickname"}},
		{"patient-shadow-length.json", []string{"error structure Patient.name[0].given"}},
		{"patient-shadow-both-null.json", []string{"error structure Patient.name[0].given[1]"}},
		{"patient-shadow-only-id.json", []string{"error invariant Patient.birthDate"}},
		{"patient-contact-telecom.json", []string{
			"error code-invalid Patient.contact[0].telecom[1].system",
			"error structure Patient.contact[0].telecom[1].value",
		}},

		// choice elements and cardinality
		{"observation-value-two-forms.json", []string{"error structure Observation.valueString"}},
		{"observation-value-bad-form.json", []string{"error structure Observation.valueWeight"}},
		{"observation-value-bare.json", []string{"error structure Observation.value"}},
		{"observation-missing-required.json", []string{
			"error required Observation.status",
			"error required Observation.code",
		}},
		{"observation-component-missing-code.json", []string{"error required Observation.component[0].code"}},
		{"observation-quantity-value-string.json", []string{"error structure Observation.valueQuantity.value"}},
		{"observation-value-string-in-choice.json", []string{"error invariant Observation.valueString"}},

		// primitive formats
		{"patient-bad-birthdate.json", []string{"error value Patient.birthDate"}},
		{"patient-birthdate-not-leap.json", []string{"error value Patient.birthDate"}},
		{"patient-birthdate-format.json", []string{"error value Patient.birthDate"}},
		{"patient-primitive-extension-bad.json", []string{"error value Patient.birthDate.extension[0].valueDateTime"}},
		{"patient-id-bad.json", []string{"error value Patient.id"}},
		{"patient-code-whitespace.json", []string{"error value Patient.gender"}},
		{"patient-form-feed.json", []string{"error value Patient.name[0].family"}},
		{"patient-blank-family.json", []string{"warning value Patient.name[0].family"}},
		{"patient-control-character.json", []string{"warning value Patient.name[0].family"}},
		{"observation-integer-range.json", []string{"error value Observation.valueInteger"}},
		{"observation-integer-decimal.json", []string{"error value Observation.valueInteger"}},
		{"observation-datetime-no-timezone.json", []string{"error value Observation.effectiveDateTime"}},
		{"observation-instant-no-timezone.json", []string{"error value Observation.issued"}},
		{"observation-time-bad.json", []string{"error value Observation.valueTime"}},
		{"patient-primitive-formats.json", []string{
			"error value Patient.identifier[0].system",
			"error value Patient.photo[0].data",
			"error value Patient.extension[0].valueOid",
			"error value Patient.extension[1].valueUuid",
			"error value Patient.extension[2].valuePositiveInt",
			"error value Patient.extension[3].valueUnsignedInt",
		}},

		// bindings
		{"patient-bad-gender-code.json", []string{"error code-invalid Patient.gender"}},
		{"observation-bad-status.json", []string{"error code-invalid Observation.status"}},
		{"condition-clinical-status-bad.json", []string{"error code-invalid Condition.clinicalStatus"}},

		// extensions
		{"patient-extension-no-url.json", []string{"error required Patient.extension[0].url"}},
		{"patient-extension-value-and-nested.json", []string{"error invariant Patient.extension[0]"}},
		{"patient-extension-empty.json", []string{"error invariant Patient.extension[0]"}},

		// contained resources and references
		{"patient-contained-bad-name.json", []string{"error structure Patient.contained[0].name[0].given"}},
		{"patient-contained-unreferenced.json", []string{"error invariant Patient.contained[0]"}},
		{"patient-contained-nested.json", []string{
			"error invariant Patient.contained[0].partOf.reference", // #org2 is nested, so no reference reaches it
			"error invariant Patient.contained[0].contained",
		}},
		{"patient-contained-meta.json", []string{
			"error invariant Patient.contained[0].meta.versionId",
			"error invariant Patient.contained[0].meta.lastUpdated",
			"error invariant Patient.contained[0].meta.security",
		}},
		{"patient-ref-hash-alone.json", []string{"error invariant Patient.managingOrganization.reference"}},
		{"patient-ref-fragment-missing.json", []string{"error invariant Patient.managingOrganization.reference"}},
		{"patient-ref-bad-target.json", []string{"error value Patient.managingOrganization.reference"}},
		{"patient-ref-unknown-type.json", []string{"error value Patient.managingOrganization.reference"}},
		{"patient-ref-bad-id.json", []string{"error value Patient.managingOrganization.reference"}},
		{"patient-ref-urn-uuid.json", []string{"error value Patient.managingOrganization.reference"}},
		{"patient-ref-conditional.json", []string{"error value Patient.managingOrganization.reference"}},
		{"patient-ref-absolute-bad-target.json", []string{"error value Patient.managingOrganization.reference"}},
		{"patient-ref-type-disagrees.json", []string{"error value Patient.managingOrganization.type"}},
		{"patient-ref-not-a-reference.json", []string{"error value Patient.managingOrganization.reference"}},

		// narrative
		{"patient-narrative-script.json", []string{"error invariant Patient.text.div"}},
		{"patient-narrative-onclick.json", []string{"error invariant Patient.text.div"}},
		{"patient-narrative-javascript-href.json", []string{"error invariant Patient.text.div"}},
		{"patient-narrative-iframe.json", []string{"error invariant Patient.text.div"}},
		{"patient-narrative-style-url.json", []string{"error invariant Patient.text.div"}},
		{"patient-narrative-no-namespace.json", []string{"error value Patient.text.div"}},
		{"patient-narrative-not-div.json", []string{"error value Patient.text.div"}},
		{"patient-narrative-malformed.json", []string{"error value Patient.text.div"}},
		{"patient-narrative-empty.json", []string{"error invariant Patient.text.div"}},
		{"patient-narrative-no-status.json", []string{"error required Patient.text.status"}},

		// resources in resources
		{"bundle-entry-invalid.json", []string{"error value Bundle.entry[0].resource.birthDate"}},
		{"bundle-entry-unknown-type.json", []string{"error invalid Bundle.entry[0].resource"}},
		{"parameters-resource-invalid.json", []string{"error code-invalid Parameters.parameter[0].resource.gender"}},
	}
	v := New(Options{})
	seen := map[string]bool{}
	for _, tt := range tests {
		seen[tt.file] = true
		t.Run(strings.TrimSuffix(tt.file, ".json"), func(t *testing.T) {
			t.Parallel()
			warnings, err := v.Resource(context.Background(), fixture(t, tt.file), Write{})
			got, status := issues(t, warnings, err)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Resource(%s) issues:\n\t%s\nwant:\n\t%s", tt.file, strings.Join(got, "\n\t"), strings.Join(tt.want, "\n\t"))
			}
			wantStatus := 0
			for _, w := range tt.want {
				if strings.HasPrefix(w, "error ") {
					wantStatus = 400
				}
			}
			if status != wantStatus {
				t.Errorf("Resource(%s) status %d, want %d", tt.file, status, wantStatus)
			}
		})
	}
	// Every fixture is in the table, so none goes stale unseen.
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, f := range files {
		if !seen[filepath.Base(f)] {
			t.Errorf("testdata/%s is in no test case", filepath.Base(f))
		}
	}
}
