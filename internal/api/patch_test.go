package api_test

import (
	"encoding/base64"
	"strings"
	"testing"
)

func TestPatch(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		p := srv.create(t, "Patient", patientJSON)
		path := "/fhir/Patient/" + p.ID
		jsonPatch := "application/json-patch+json"
		tests := []struct {
			name, ctype, body string
			headers           []string
			wantStatus        int
			wantIssue         string
			wantBody          string
		}{
			{"json patch replace", jsonPatch, `[{"op":"replace","path":"/gender","value":"other"}]`, nil, 200, "", `"gender":"other"`},
			{"json patch add", jsonPatch, `[{"op":"add","path":"/name/0/given/-","value":"Anne"}]`, nil, 200, "", `"given":["Jane","Anne"]`},
			{"json patch failed test", jsonPatch, `[{"op":"test","path":"/gender","value":"male"}]`, nil, 422, "processing", ""},
			{"json patch malformed", jsonPatch, `[{"op":"frobnicate","path":"/gender"}]`, nil, 400, "invalid", ""},
			{"json patch makes it invalid", jsonPatch, `[{"op":"replace","path":"/gender","value":"robot"}]`, nil, 400, "code-invalid", ""},
			{"json patch changes id", jsonPatch, `[{"op":"replace","path":"/id","value":"other"}]`, nil, 422, "processing", ""},
			{"fhirpath patch", "application/fhir+json", `{"resourceType":"Parameters","parameter":[{"name":"operation","part":[{"name":"type","valueCode":"replace"},{"name":"path","valueString":"Patient.birthDate"},{"name":"value","valueDate":"1971-02-03"}]}]}`, nil, 200, "", `"birthDate":"1971-02-03"`},
			{"stale If-Match", jsonPatch, `[{"op":"replace","path":"/gender","value":"female"}]`, []string{"If-Match", `W/"1"`}, 412, "conflict", ""},
			{"wrong content type", "text/plain", `x`, nil, 415, "not-supported", ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := srv.do(t, "PATCH", path, tt.body, append([]string{"Content-Type", tt.ctype}, tt.headers...)...)
				if r.Status != tt.wantStatus || r.IssueCode() != tt.wantIssue || !strings.Contains(string(r.Body), tt.wantBody) {
					t.Fatalf("PATCH %s = %d %q\n%s\nwant %d %q %s", tt.name, r.Status, r.IssueCode(), r.Body, tt.wantStatus, tt.wantIssue, tt.wantBody)
				}
			})
		}
		// In a transaction, as a Binary JSON Patch.
		data := base64.StdEncoding.EncodeToString([]byte(`[{"op":"add","path":"/active","value":false}]`))
		r := srv.do(t, "POST", "/fhir", txBundle("transaction",
			`{"resource":{"resourceType":"Binary","contentType":"application/json-patch+json","data":"`+data+`"},"request":{"method":"PATCH","url":"Patient/`+p.ID+`"}}`))
		if r.Status != 200 || !strings.Contains(string(srv.do(t, "GET", path, "").Body), `"active":false`) {
			t.Errorf("PATCH in a transaction = %d %s", r.Status, r.Body)
		}
	})
}
