package validate

import (
	"context"
	"slices"
	"strings"
	"testing"

	"sharedcare/internal/fhir"
	"sharedcare/internal/outcome"
)

func TestWrite(t *testing.T) {
	t.Parallel()
	withID := `{"resourceType":"Patient","id":"p1","gender":"female"}`
	noID := `{"resourceType":"Patient","gender":"female"}`
	tests := []struct {
		name   string
		opts   Options
		body   string
		write  Write
		want   []string
		status int
	}{
		{"check any id", Options{}, withID, Write{}, nil, 0},
		{"create without id", Options{}, noID, Write{Interaction: Create, Type: "Patient"}, nil, 0},
		{"create with id", Options{}, withID, Write{Interaction: Create, Type: "Patient"}, []string{"warning invalid Patient.id"}, 0},
		{"create with id rejected", Options{RejectCreateID: true}, withID, Write{Interaction: Create}, []string{"error invalid Patient.id"}, 400},
		{"update matching id", Options{}, withID, Write{Interaction: Update, Type: "Patient", ID: "p1"}, nil, 0},
		{"update other id", Options{}, withID, Write{Interaction: Update, Type: "Patient", ID: "p2"}, []string{"error invalid Patient.id"}, 400},
		{"update without id", Options{}, noID, Write{Interaction: Update, Type: "Patient", ID: "p1"}, []string{"error required Patient.id"}, 400},
		{"type differs from URL", Options{}, noID, Write{Interaction: Create, Type: "Observation"}, []string{"error invalid Patient"}, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := fhir.Parse([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			warnings, err := New(tt.opts).Resource(context.Background(), &res, tt.write)
			got, status := issues(t, warnings, err)
			if !slices.Equal(got, tt.want) || status != tt.status {
				t.Errorf("Resource(%s, %+v) = %d %q, want %d %q", tt.body, tt.write, status, got, tt.status, tt.want)
			}
		})
	}
}

func TestNotAnObject(t *testing.T) {
	t.Parallel()
	for _, body := range []string{`[]`, `"Patient"`, `null`, `1`} {
		res, err := fhir.Parse([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		warnings, err := New(Options{}).Resource(context.Background(), &res, Write{})
		got, status := issues(t, warnings, err)
		if want := []string{"error structure "}; !slices.Equal(got, want) || status != 400 {
			t.Errorf("Resource(%s) = %d %q, want 400 %q", body, status, got, want)
		}
	}
	warnings, err := New(Options{}).Resource(context.Background(), nil, Write{})
	if got, status := issues(t, warnings, err); status != 400 || len(got) != 1 {
		t.Errorf("Resource(nil) = %d %q, want one 400 issue", status, got)
	}
}

// TestStringLimit holds strings to 1 MB, counted in characters.
func TestStringLimit(t *testing.T) {
	t.Parallel()
	v := New(Options{})
	for _, tt := range []struct {
		family string
		want   []string
	}{
		{strings.Repeat("é", maxString), nil}, // 2 MB of UTF-8, 1 M characters
		{strings.Repeat("a", maxString+1), []string{"error too-long Patient.name[0].family"}},
	} {
		res := fhir.ObjectValue("resourceType", fhir.StringValue("Patient"),
			"name", fhir.Value{Kind: fhir.Array, Items: []fhir.Value{fhir.ObjectValue("family", fhir.StringValue(tt.family))}})
		warnings, err := v.Resource(context.Background(), &res, Write{})
		if got, _ := issues(t, warnings, err); !slices.Equal(got, tt.want) {
			t.Errorf("Resource(family of %d bytes) = %q, want %q", len(tt.family), got, tt.want)
		}
	}
}

// TestIssueLimit bounds the issues listed for a body full of faults.
func TestIssueLimit(t *testing.T) {
	t.Parallel()
	given := make([]fhir.Value, 3*maxIssues)
	for i := range given {
		given[i] = fhir.NumberValue("1")
	}
	res := fhir.ObjectValue("resourceType", fhir.StringValue("Patient"),
		"name", fhir.Value{Kind: fhir.Array, Items: []fhir.Value{fhir.ObjectValue("given", fhir.Value{Kind: fhir.Array, Items: given})}})
	_, err := New(Options{}).Resource(context.Background(), &res, Write{})
	oe, ok := outcome.As(err)
	if !ok {
		t.Fatalf("Resource(%d bad names) = %v, want an *outcome.Error", len(given), err)
	}
	if n := len(oe.Issues); n != maxIssues+1 || oe.Issues[n-1].Code != outcome.CodeTooCostly {
		t.Errorf("Resource(%d bad names) has %d issues, the last %+v; want %d and a too-costly note", len(given), n, oe.Issues[n-1], maxIssues+1)
	}
}
