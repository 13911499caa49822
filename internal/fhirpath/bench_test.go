package fhirpath

import (
	"context"
	"testing"

	"sharedcare/internal/fhir"
)

// go test ./internal/fhirpath -run '^$' -bench . -count 10 | tee new.txt; benchstat old.txt new.txt

func benchEval(b *testing.B, doc, expr string, want int) {
	v := parseJSON(b, doc)
	e := MustParse(expr)
	in := Resource(v)
	ctx := context.Background()
	res, err := e.Evaluate(ctx, in, nil)
	if err != nil || len(res) != want {
		b.Fatalf("Evaluate(%q) = %d items, %v; want %d", expr, len(res), err, want)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Evaluate(ctx, in, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEvaluatePath(b *testing.B) {
	benchEval(b, patientJSON, "Patient.name", 3)
}

func BenchmarkEvaluateWhere(b *testing.B) {
	benchEval(b, patientJSON, "Patient.name.where(use = 'official').family", 1)
}

func BenchmarkEvaluateSearchCode(b *testing.B) {
	benchEval(b, observationJSON, "Observation.code", 1)
}

func BenchmarkEvaluateSearchResolve(b *testing.B) {
	benchEval(b, observationJSON, "Observation.subject.where(resolve() is Patient)", 1)
}

func BenchmarkEvaluateSearchChoice(b *testing.B) {
	benchEval(b, observationJSON, "(Observation.value as Quantity) | (Observation.value as SampledData)", 1)
}

func BenchmarkEvaluateInvariant(b *testing.B) {
	// per-1 on a Period, as the validator runs it: $this the element.
	v := parseJSON(b, `{"start": "2019-01-01T10:00:00Z", "end": "2019-01-02"}`)
	e := MustParse("start.hasValue().not() or end.hasValue().not() or (start <= end)")
	in := Node(v, "Period")
	ctx := context.Background()
	if ok, known, err := e.EvaluateBool(ctx, in, nil); err != nil || !known || !ok {
		b.Fatalf("per-1 = %v %v %v", ok, known, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := e.EvaluateBool(ctx, in, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEvaluateIndexPatient runs every Patient search parameter, as a
// write of a Patient does.
func BenchmarkEvaluateIndexPatient(b *testing.B) {
	v := parseJSON(b, patientJSON)
	in := Resource(v)
	var exprs []*Expression
	for _, p := range fhir.SearchParams("Patient") {
		if p.Expression != "" {
			exprs = append(exprs, MustParse(p.Expression))
		}
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		for _, e := range exprs {
			if _, err := e.Evaluate(ctx, in, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(exprs)), "exprs/op")
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("Patient.name.where(use = 'official').family | Patient.telecom.where(system = 'phone').value"); err != nil {
			b.Fatal(err)
		}
	}
}
