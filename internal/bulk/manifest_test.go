package bulk

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"sharedcare/internal/outcome"
)

func TestParseManifest(t *testing.T) {
	tests := []struct {
		name, in string
		want     *ImportRequest
		issues   []string // code expression
	}{
		{"proposal's JSON", `{"inputFormat":"application/fhir+ndjson","inputSource":"https://a.example/fhir","storageDetail":{"type":"https"},
			"input":[{"type":"Patient","url":"https://a.example/p.ndjson"},{"type":"Observation","url":"https://a.example/o.ndjson"}]}`,
			&ImportRequest{InputFormat: "application/fhir+ndjson", InputSource: "https://a.example/fhir",
				Inputs: []Input{{"Patient", "https://a.example/p.ndjson"}, {"Observation", "https://a.example/o.ndjson"}}}, nil},
		{"Parameters", `{"resourceType":"Parameters","parameter":[{"name":"inputFormat","valueCode":"ndjson"},{"name":"inputSource","valueUri":"urn:x"},
			{"name":"storageDetail","part":[{"name":"type","valueCode":"https"}]},
			{"name":"input","part":[{"name":"type","valueCode":"Patient"},{"name":"url","valueUri":"https://a.example/p"}]}]}`,
			&ImportRequest{InputFormat: "ndjson", InputSource: "urn:x", Inputs: []Input{{"Patient", "https://a.example/p"}}}, nil},
		{"every fault at once", `{"inputFormat":"text/csv","storageDetail":{"type":"aws-s3"},"colour":"blue","input":[{"type":"Patients"},7]}`, nil,
			[]string{"not-supported colour", "structure input[1]", "not-supported inputFormat", "not-supported storageDetail.type", "value input[0].type", "required input[0].url"}},
		{"no input", `{"inputFormat":"application/fhir+ndjson"}`, nil, []string{"required input"}},
		{"not JSON", `{"inputFormat":`, nil, []string{"structure "}},
		{"not an object", `"x"`, nil, []string{"structure "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseManifest([]byte(tt.in))
			if tt.issues == nil {
				if err != nil || !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("ParseManifest = %+v, %v; want %+v", got, err, tt.want)
				}
				return
			}
			e, ok := outcome.As(err)
			if !ok || e.Status != 400 {
				t.Fatalf("ParseManifest = %v, want a 400 *outcome.Error", err)
			}
			var issues []string
			for _, is := range e.Issues {
				issues = append(issues, is.Code+" "+is.Expression)
			}
			if strings.Join(issues, "; ") != strings.Join(tt.issues, "; ") {
				t.Errorf("issues = %q, want %q", issues, tt.issues)
			}
		})
	}
}

// FuzzManifest: no panics; a refusal is an *outcome.Error; an accepted
// manifest written back as the proposal's JSON reads the same.
func FuzzManifest(f *testing.F) {
	f.Add([]byte(`{"inputFormat":"application/fhir+ndjson","input":[{"type":"Patient","url":"https://a.example/p"}]}`))
	f.Add([]byte(`{"resourceType":"Parameters","parameter":[{"name":"input","part":[{"name":"type","valueCode":"Patient"}]}]}`))
	f.Add([]byte(`{"input":[{}],"storageDetail":[]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		req, err := ParseManifest(in)
		if err != nil {
			if _, ok := outcome.As(err); !ok {
				t.Fatalf("refusal %v is not an *outcome.Error", err)
			}
			return
		}
		type item struct {
			Type string `json:"type"`
			URL  string `json:"url"`
		}
		out := map[string]any{"inputFormat": req.InputFormat, "inputSource": req.InputSource}
		var items []item
		for _, i := range req.Inputs {
			items = append(items, item{i.Type, i.URL})
		}
		out["input"] = items
		b, _ := json.Marshal(out)
		again, err := ParseManifest(b)
		if err != nil || !reflect.DeepEqual(again, req) {
			t.Fatalf("accepted manifest does not round-trip: %+v, %v; want %+v", again, err, req)
		}
	})
}
