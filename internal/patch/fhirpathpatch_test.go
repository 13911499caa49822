package patch

import (
	"context"
	"testing"

	"sharedcare/internal/fhir"
)

func TestFHIRPathPatch(t *testing.T) {
	t.Parallel()
	for _, f := range loadFixtures(t, "fhirpath") {
		t.Run(name(f.file), func(t *testing.T) {
			t.Parallel()
			before := fhir.Marshal(f.resource)
			p, err := ParseFHIRPath(&f.patch)
			var got fhir.Value
			if err == nil {
				got, err = p.Apply(context.Background(), &f.resource)
			}
			// Exact: members the patch adds go in the spec's element order.
			f.check(t, before, &f.resource, got, err, true)
		})
	}
}

func FuzzFHIRPathPatch(f *testing.F) {
	for _, s := range seeds(f, "fhirpath") {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, resource, params []byte) {
		res, err := fhir.Parse(resource)
		if err != nil {
			return
		}
		pv, err := fhir.Parse(params)
		if err != nil {
			return
		}
		p, err := ParseFHIRPath(&pv)
		checkApply(t, &res, err, func() (fhir.Value, error) { return p.Apply(context.Background(), &res) })
	})
}

func BenchmarkFHIRPathPatch(b *testing.B) {
	params, err := fhir.Parse([]byte(`{"resourceType":"Parameters","parameter":[
		{"name":"operation","part":[{"name":"type","valueCode":"replace"},
			{"name":"path","valueString":"Patient.telecom.where(system = 'phone').value"},
			{"name":"value","valueString":"01632 960002"}]},
		{"name":"operation","part":[{"name":"type","valueCode":"add"},
			{"name":"path","valueString":"Patient.name.where(use = 'official')"},
			{"name":"name","valueString":"given"},{"name":"value","valueString":"Louise"}]},
		{"name":"operation","part":[{"name":"type","valueCode":"delete"},
			{"name":"path","valueString":"Patient.name.where(use = 'maiden')"}]}]}`))
	if err != nil {
		b.Fatal(err)
	}
	p, err := ParseFHIRPath(&params)
	if err != nil {
		b.Fatal(err)
	}
	benchApply(b, p)
}
