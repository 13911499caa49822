package patch

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"sharedcare/internal/fhir"
	"sharedcare/internal/outcome"
)

func mustParse(t testing.TB, s string) fhir.Value {
	t.Helper()
	v, err := fhir.Parse([]byte(s))
	if err != nil {
		t.Fatalf("fhir.Parse(%s): %v", s, err)
	}
	return v
}

func parseBoth(t testing.TB, jsonDoc, params string) map[string]applier {
	t.Helper()
	jp, err := ParseJSON([]byte(jsonDoc))
	if err != nil {
		t.Fatalf("ParseJSON: %v (%s)", err, diagnostics(err))
	}
	pv := mustParse(t, params)
	fp, err := ParseFHIRPath(&pv)
	if err != nil {
		t.Fatalf("ParseFHIRPath: %v (%s)", err, diagnostics(err))
	}
	return map[string]applier{"JSON Patch": jp, "FHIRPath Patch": fp}
}

// chain is n nested extensions: 2n levels of JSON.
func chain(n int) string {
	return strings.Repeat(`{"url":"x","extension":[`, n) + `{"url":"x","valueString":"v"}` + strings.Repeat(`]}`, n)
}

// chainParts is chain as the parts of a FHIRPath Patch value named name.
func chainParts(name string, n int) string {
	if n == 0 {
		return `{"name":"` + name + `","part":[{"name":"url","valueUri":"x"},{"name":"value","valueString":"v"}]}`
	}
	return `{"name":"` + name + `","part":[{"name":"url","valueUri":"x"},` + chainParts("extension", n-1) + `]}`
}

// TestApplyTooDeep: a patch may not build a resource nested deeper than
// fhir.Parse reads back, or the stored version could never be read.
func TestApplyTooDeep(t *testing.T) {
	t.Parallel()
	// The resource's innermost extension is 32 levels down; the value,
	// itself under fhir.MaxDepth, takes the result past it.
	deep := chain(90)
	jsonDoc := `[{"op":"add","path":"` + strings.Repeat("/extension/0", 16) + `/extension","value":[` + deep + `]}]`
	params := `{"resourceType":"Parameters","parameter":[{"name":"operation","part":[
		{"name":"type","valueCode":"add"},{"name":"path","valueString":"Patient` + strings.Repeat(".extension", 16) + `"},
		{"name":"name","valueString":"extension"},` + chainParts("value", 90) + `]}]}`
	for kind, p := range parseBoth(t, jsonDoc, params) {
		res := mustParse(t, `{"resourceType":"Patient","id":"p1","extension":[`+chain(15)+`]}`)
		_, err := p.Apply(context.Background(), &res)
		if oe, ok := outcome.As(err); !ok || oe.Status != 422 || !strings.Contains(diagnostics(err), "deeper") {
			t.Errorf("%s: Apply nesting past fhir.MaxDepth = %v (%s), want a 422 for the depth", kind, err, diagnostics(err))
		}
	}
}

// TestApplyCanceled: Apply gives up with the context's error.
func TestApplyCanceled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ps := parseBoth(t, `[{"op":"remove","path":"/active"}]`,
		`{"resourceType":"Parameters","parameter":[{"name":"operation","part":[
			{"name":"type","valueCode":"delete"},{"name":"path","valueString":"Patient.active"}]}]}`)
	for kind, p := range ps {
		res := mustParse(t, `{"resourceType":"Patient","id":"p1","active":true}`)
		if _, err := p.Apply(ctx, &res); !errors.Is(err, context.Canceled) {
			t.Errorf("%s: Apply(canceled) = %v, want context.Canceled", kind, err)
		}
	}
}

// TestApplyShared: one parsed patch serves many resources at once, and
// what one application builds never leaks into the patch or another
// result (go test -race).
func TestApplyShared(t *testing.T) {
	t.Parallel()
	ps := parseBoth(t, `[
		{"op":"add","path":"/name","value":[{"family":"Smith"}]},
		{"op":"add","path":"/name/0/given","value":["Ann"]},
		{"op":"add","path":"/name/0/given/-","value":"Beth"}]`,
		`{"resourceType":"Parameters","parameter":[
		{"name":"operation","part":[{"name":"type","valueCode":"add"},{"name":"path","valueString":"Patient"},
			{"name":"name","valueString":"name"},{"name":"value","valueHumanName":{"family":"Smith"}}]},
		{"name":"operation","part":[{"name":"type","valueCode":"add"},{"name":"path","valueString":"Patient.name[0]"},
			{"name":"name","valueString":"given"},{"name":"value","valueString":"Ann"}]},
		{"name":"operation","part":[{"name":"type","valueCode":"add"},{"name":"path","valueString":"Patient.name[0]"},
			{"name":"name","valueString":"given"},{"name":"value","valueString":"Beth"}]}]}`)
	want := []byte(`{"resourceType":"Patient","id":"p1","name":[{"family":"Smith","given":["Ann","Beth"]}]}`)
	for kind, p := range ps {
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 50 {
					res := mustParse(t, `{"resourceType":"Patient","id":"p1"}`)
					got, err := p.Apply(context.Background(), &res)
					if err != nil {
						t.Errorf("%s: Apply = %v", kind, err)
						return
					}
					if !bytes.Equal(fhir.Marshal(got), want) {
						t.Errorf("%s: Apply = %s, want %s", kind, fhir.Marshal(got), want)
						return
					}
				}
			})
		}
		wg.Wait()
	}
}
