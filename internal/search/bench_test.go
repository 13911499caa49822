package search_test

import (
	"context"
	"testing"

	"sharedcare/internal/fhir"
	"sharedcare/internal/search"
)

const benchPatient = `{"resourceType":"Patient","id":"p1","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9000000009"}],"name":[{"family":"Smith","given":["Jane"]}],"gender":"female","birthDate":"1970-01-01","address":[{"line":["1 High Street"],"city":"Leeds","postalCode":"LS1 4AP"}],"generalPractitioner":[{"reference":"Organization/gp1"}]}`

const benchObservation = `{"resourceType":"Observation","id":"o1","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"8480-6","display":"Systolic blood pressure"}]},"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2024-01-10T09:00:00Z","valueQuantity":{"value":150,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}}`

// BenchmarkExtract measures index extraction: every search parameter of
// the type evaluated with FHIRPath.
func BenchmarkExtract(b *testing.B) {
	for _, c := range []struct{ name, body string }{{"Patient", benchPatient}, {"Observation", benchObservation}} {
		b.Run(c.name, func(b *testing.B) {
			x := search.NewIndexer()
			v, err := fhir.Parse([]byte(c.body))
			if err != nil {
				b.Fatal(err)
			}
			e, err := x.Extract(context.Background(), &v)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(e.Len()), "rows")
			b.ReportAllocs()
			for b.Loop() {
				if _, err := x.Extract(context.Background(), &v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
