package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

const patientJSON = `{"resourceType":"Patient","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9000000009"}],"name":[{"family":"Smith","given":["Jane"]}],"gender":"female","birthDate":"1970-01-01"}`

func TestCreate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		tests := []struct {
			name, path, body string
			headers          []string
			wantStatus       int
			wantIssue        string
		}{
			{"valid patient", "/fhir/Patient", patientJSON, nil, 201, ""},
			{"id in body is ignored", "/fhir/Patient", `{"resourceType":"Patient","id":"mine"}`, nil, 201, ""},
			{"type mismatch", "/fhir/Observation", patientJSON, nil, 400, "invalid"},
			{"no resourceType", "/fhir/Patient", `{"name":[]}`, nil, 400, "required"},
			{"unknown type", "/fhir/Patients", patientJSON, nil, 404, "not-supported"},
			{"abstract type", "/fhir/DomainResource", `{"resourceType":"DomainResource"}`, nil, 404, "not-supported"},
			{"malformed JSON", "/fhir/Patient", `{"resourceType":"Patient",}`, nil, 400, "structure"},
			{"duplicate member", "/fhir/Patient", `{"resourceType":"Patient","gender":"male","gender":"female"}`, nil, 400, "structure"},
			{"array body", "/fhir/Patient", `[1]`, nil, 400, "invalid"},
			{"XML content type", "/fhir/Patient", `<Patient xmlns="http://hl7.org/fhir"/>`, []string{"Content-Type", "application/fhir+xml"}, 415, "not-supported"},
			{"text content type", "/fhir/Patient", patientJSON, []string{"Content-Type", "text/plain"}, 415, "not-supported"},
			{"latin-1 charset", "/fhir/Patient", patientJSON, []string{"Content-Type", "application/fhir+json; charset=iso-8859-1"}, 415, "not-supported"},
			{"plain JSON content type", "/fhir/Patient", patientJSON, []string{"Content-Type", "application/json"}, 201, ""},
			{"accepts XML only", "/fhir/Patient", patientJSON, []string{"Accept", "application/fhir+xml"}, 406, "not-supported"},
			{"_format xml", "/fhir/Patient?_format=xml", patientJSON, nil, 406, "not-supported"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				resp := srv.do(t, "POST", tt.path, tt.body, tt.headers...)
				if resp.Status != tt.wantStatus || resp.IssueCode() != tt.wantIssue {
					t.Fatalf("POST %s = %d %q, want %d %q\n%s", tt.path, resp.Status, resp.IssueCode(), tt.wantStatus, tt.wantIssue, resp.Body)
				}
				if tt.wantStatus != 201 {
					return
				}
				m := resp.JSON(t)
				id, _ := m["id"].(string)
				meta, _ := m["meta"].(map[string]any)
				if id == "" || id == "mine" || meta["versionId"] != "1" || meta["lastUpdated"] == nil {
					t.Errorf("created body id=%q meta=%v, want a server id and version 1", id, meta)
				}
				if loc := resp.Header.Get("Location"); !strings.HasSuffix(loc, "/fhir/Patient/"+id+"/_history/1") {
					t.Errorf("Location = %q, want .../fhir/Patient/%s/_history/1", loc, id)
				}
				if et := resp.Header.Get("ETag"); et != `W/"1"` {
					t.Errorf(`ETag = %q, want W/"1"`, et)
				}
				if _, err := http.ParseTime(resp.Header.Get("Last-Modified")); err != nil {
					t.Errorf("Last-Modified %q: %v", resp.Header.Get("Last-Modified"), err)
				}
			})
		}
	})
}

// TestCreateIDsInTimeOrder: ids the server assigns are version 7 UUIDs,
// later ones sorting after earlier ones, so that new rows land together at
// the end of the database's indexes.
func TestCreateIDsInTimeOrder(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		prev := ""
		for range 3 {
			id := srv.create(t, "Patient", patientJSON).ID
			if len(id) != 36 || id[14] != '7' || id <= prev {
				t.Fatalf("POST /fhir/Patient assigned id %q after %q; want a version 7 UUID after the last", id, prev)
			}
			prev = id
			time.Sleep(2 * time.Millisecond)
		}
		// A conditional update that matches nothing, with no id in the
		// body, creates with an id from the same source.
		resp := srv.do(t, "PUT", "/fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9434765919",
			`{"resourceType":"Patient","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9434765919"}]}`)
		if resp.Status != http.StatusCreated {
			t.Fatalf("conditional update matching nothing = %d, want 201\n%s", resp.Status, resp.Body)
		}
		if id, _ := resp.JSON(t)["id"].(string); len(id) != 36 || id[14] != '7' || id <= prev {
			t.Errorf("conditional update assigned id %q after %q; want a version 7 UUID after the last", id, prev)
		}
	})
}

func TestMalformedJSONNamesPosition(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		resp := srv.do(t, "POST", "/fhir/Patient", "{\n  \"resourceType\": \"Patient\",\n  \"gender\": male\n}")
		if resp.Status != 400 || !strings.Contains(string(resp.Body), "line 3") {
			t.Errorf("POST malformed = %d %s, want 400 naming line 3", resp.Status, resp.Body)
		}
	})
}

func TestBodyLimit(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		big := `{"resourceType":"Patient","name":[{"text":"` + strings.Repeat("x", 33<<20) + `"}]}`
		resp := srv.do(t, "POST", "/fhir/Patient", big)
		if resp.Status != http.StatusRequestEntityTooLarge || resp.IssueCode() != "too-long" {
			t.Errorf("POST 33 MiB = %d %q, want 413 too-long", resp.Status, resp.IssueCode())
		}
	})
}

func TestRead(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		p := srv.create(t, "Patient", patientJSON)
		gone := srv.create(t, "Patient", patientJSON)
		if r := srv.do(t, "DELETE", "/fhir/Patient/"+gone.ID, ""); r.Status != 204 {
			t.Fatalf("DELETE = %d", r.Status)
		}
		lastMod := p.resp.Header.Get("Last-Modified")
		tests := []struct {
			name, path string
			headers    []string
			wantStatus int
			wantIssue  string
		}{
			{"current", "/fhir/Patient/" + p.ID, nil, 200, ""},
			{"unknown id", "/fhir/Patient/nope", nil, 404, "not-found"},
			{"wrong type", "/fhir/Observation/" + p.ID, nil, 404, "not-found"},
			{"unknown type", "/fhir/Nonsense/" + p.ID, nil, 404, "not-supported"},
			{"bad id", "/fhir/Patient/has_underscore", nil, 400, "value"},
			{"overlong id", "/fhir/Patient/" + strings.Repeat("a", 65), nil, 400, "value"},
			{"deleted", "/fhir/Patient/" + gone.ID, nil, 410, "deleted"},
			{"if-none-match current", "/fhir/Patient/" + p.ID, []string{"If-None-Match", `W/"1"`}, 304, ""},
			{"if-none-match other", "/fhir/Patient/" + p.ID, []string{"If-None-Match", `W/"7"`}, 200, ""},
			{"if-modified-since same", "/fhir/Patient/" + p.ID, []string{"If-Modified-Since", lastMod}, 304, ""},
			{"if-modified-since earlier", "/fhir/Patient/" + p.ID, []string{"If-Modified-Since", "Mon, 01 Jan 2001 00:00:00 GMT"}, 200, ""},
			{"vread 1", "/fhir/Patient/" + p.ID + "/_history/1", nil, 200, ""},
			{"vread 2 of 1", "/fhir/Patient/" + p.ID + "/_history/2", nil, 404, "not-found"},
			{"vread bad version", "/fhir/Patient/" + p.ID + "/_history/x", nil, 400, "value"},
			{"vread deletion", "/fhir/Patient/" + gone.ID + "/_history/2", nil, 410, "deleted"},
			{"vread before deletion", "/fhir/Patient/" + gone.ID + "/_history/1", nil, 200, ""},
			{"accept xml", "/fhir/Patient/" + p.ID, []string{"Accept", "application/fhir+xml"}, 406, "not-supported"},
			{"accept json", "/fhir/Patient/" + p.ID, []string{"Accept", "application/fhir+json;q=0.9, application/fhir+xml;q=1"}, 200, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				resp := srv.do(t, "GET", tt.path, "", tt.headers...)
				if resp.Status != tt.wantStatus || resp.IssueCode() != tt.wantIssue {
					t.Fatalf("GET %s = %d %q, want %d %q\n%s", tt.path, resp.Status, resp.IssueCode(), tt.wantStatus, tt.wantIssue, resp.Body)
				}
				if tt.wantStatus == 200 && resp.Header.Get("ETag") == "" {
					t.Errorf("GET %s has no ETag", tt.path)
				}
			})
		}
		if r := srv.do(t, "GET", "/fhir/Patient/"+gone.ID, ""); r.Header.Get("ETag") != `W/"2"` {
			t.Errorf(`410 ETag = %q, want W/"2" (the deletion)`, r.Header.Get("ETag"))
		}
		if r := srv.do(t, "GET", "/fhir/Patient/"+p.ID+"?_pretty=true", ""); !strings.Contains(string(r.Body), "\n  \"resourceType\": \"Patient\"") {
			t.Errorf("_pretty=true body not indented:\n%s", r.Body)
		}
	})
}

func TestUpdate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		p := srv.create(t, "Patient", patientJSON)
		body := func(id string) string {
			return `{"resourceType":"Patient","id":"` + id + `","gender":"male"}`
		}
		tests := []struct {
			name, path, body string
			headers          []string
			wantStatus       int
			wantIssue        string
			wantVersion      string
		}{
			{"update", "/fhir/Patient/" + p.ID, body(p.ID), nil, 200, "", "2"},
			{"if-match current", "/fhir/Patient/" + p.ID, body(p.ID), []string{"If-Match", `W/"2"`}, 200, "", "3"},
			{"if-match stale", "/fhir/Patient/" + p.ID, body(p.ID), []string{"If-Match", `W/"1"`}, 412, "conflict", ""},
			{"if-match garbage", "/fhir/Patient/" + p.ID, body(p.ID), []string{"If-Match", `later`}, 400, "value", ""},
			{"create with client id", "/fhir/Patient/client-chosen-1", body("client-chosen-1"), nil, 201, "", "1"},
			{"id mismatch", "/fhir/Patient/" + p.ID, body("other"), nil, 400, "invalid", ""},
			{"id missing", "/fhir/Patient/" + p.ID, `{"resourceType":"Patient"}`, nil, 400, "required", ""},
			{"type mismatch", "/fhir/Observation/" + p.ID, body(p.ID), nil, 400, "invalid", ""},
			{"bad id", "/fhir/Patient/a_b", body("a_b"), nil, 400, "value", ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				resp := srv.do(t, "PUT", tt.path, tt.body, tt.headers...)
				if resp.Status != tt.wantStatus || resp.IssueCode() != tt.wantIssue {
					t.Fatalf("PUT %s = %d %q, want %d %q\n%s", tt.path, resp.Status, resp.IssueCode(), tt.wantStatus, tt.wantIssue, resp.Body)
				}
				if tt.wantVersion != "" {
					meta := resp.JSON(t)["meta"].(map[string]any)
					if meta["versionId"] != tt.wantVersion {
						t.Errorf("versionId = %v, want %s", meta["versionId"], tt.wantVersion)
					}
				}
			})
		}
		// A refused update changed nothing.
		if r := srv.do(t, "GET", "/fhir/Patient/"+p.ID, ""); r.Header.Get("ETag") != `W/"3"` {
			t.Errorf(`after refusals ETag = %q, want W/"3"`, r.Header.Get("ETag"))
		}
	})
}

func TestConcurrentIfMatch(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		p := srv.create(t, "Patient", patientJSON)
		const n = 10
		statuses := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				body := fmt.Sprintf(`{"resourceType":"Patient","id":%q,"name":[{"family":"Writer%d"}]}`, p.ID, i)
				statuses[i] = srv.do(t, "PUT", "/fhir/Patient/"+p.ID, body, "If-Match", `W/"1"`).Status
			})
		}
		wg.Wait()
		ok := 0
		for _, s := range statuses {
			switch s {
			case 200:
				ok++
			case 412:
			default:
				t.Errorf("concurrent PUT status %d, want 200 or 412", s)
			}
		}
		if ok != 1 {
			t.Errorf("%d of %d concurrent If-Match updates won, want exactly 1 (statuses %v)", ok, n, statuses)
		}
	})
}

func TestPrefer(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		tests := []struct {
			prefer   string
			wantBody string // a substring; "" for an empty body
		}{
			{"return=minimal", ""},
			{"return=representation", `"resourceType":"Patient"`},
			{"return=OperationOutcome", `"resourceType":"OperationOutcome"`},
			{"", `"resourceType":"Patient"`},
		}
		for _, tt := range tests {
			resp := srv.do(t, "POST", "/fhir/Patient", patientJSON, "Prefer", tt.prefer)
			if resp.Status != 201 || resp.Header.Get("Location") == "" {
				t.Errorf("Prefer %q: status %d, Location %q", tt.prefer, resp.Status, resp.Header.Get("Location"))
			}
			if tt.wantBody == "" && len(resp.Body) != 0 || !strings.Contains(string(resp.Body), tt.wantBody) {
				t.Errorf("Prefer %q: body %s, want %q", tt.prefer, resp.Body, tt.wantBody)
			}
		}
	})
}

func TestDelete(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		p := srv.create(t, "Patient", patientJSON)
		tests := []struct {
			name, path string
			headers    []string
			wantStatus int
		}{
			{"stale if-match", "/fhir/Patient/" + p.ID, []string{"If-Match", `W/"9"`}, 412},
			{"delete", "/fhir/Patient/" + p.ID, nil, 204},
			{"again", "/fhir/Patient/" + p.ID, nil, 204},
			{"never existed", "/fhir/Patient/never", nil, 204},
			{"unknown type", "/fhir/Nonsense/x", nil, 404},
		}
		for _, tt := range tests {
			if r := srv.do(t, "DELETE", tt.path, "", tt.headers...); r.Status != tt.wantStatus {
				t.Errorf("%s: DELETE %s = %d, want %d\n%s", tt.name, tt.path, r.Status, tt.wantStatus, r.Body)
			}
		}
		if r := srv.do(t, "GET", "/fhir/Patient/"+p.ID, ""); r.Status != 410 {
			t.Errorf("GET after delete = %d, want 410", r.Status)
		}
		// Recreating a deleted resource by update gives version 3 and 201.
		r := srv.do(t, "PUT", "/fhir/Patient/"+p.ID, `{"resourceType":"Patient","id":"`+p.ID+`"}`)
		if r.Status != 201 || r.Header.Get("ETag") != `W/"3"` {
			t.Errorf("PUT after delete = %d %s, want 201 W/\"3\"", r.Status, r.Header.Get("ETag"))
		}
	})
}

func TestHistory(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		p := srv.create(t, "Patient", patientJSON)
		for i := range 4 {
			body := fmt.Sprintf(`{"resourceType":"Patient","id":%q,"name":[{"family":"V%d"}]}`, p.ID, i+2)
			if r := srv.do(t, "PUT", "/fhir/Patient/"+p.ID, body); r.Status != 200 {
				t.Fatalf("PUT = %d", r.Status)
			}
		}
		srv.do(t, "DELETE", "/fhir/Patient/"+p.ID, "")
		srv.create(t, "Observation", `{"resourceType":"Observation","status":"final","code":{"text":"BP"}}`)

		versions := func(r *response) []string {
			var out []string
			for _, e := range r.JSON(t)["entry"].([]any) {
				resp := e.(map[string]any)["response"].(map[string]any)
				req := e.(map[string]any)["request"].(map[string]any)
				out = append(out, fmt.Sprint(req["method"], " ", resp["etag"]))
			}
			return out
		}
		r := srv.do(t, "GET", "/fhir/Patient/"+p.ID+"/_history", "")
		if r.Status != 200 || r.JSON(t)["type"] != "history" {
			t.Fatalf("instance history = %d %s", r.Status, r.Body)
		}
		got := strings.Join(versions(r), ", ")
		want := `DELETE W/"6", PUT W/"5", PUT W/"4", PUT W/"3", PUT W/"2", POST W/"1"`
		if got != want {
			t.Errorf("instance history = %s\nwant %s", got, want)
		}
		// Paging: 2 per page, following next links, while another write lands.
		var all []string
		next := "/fhir/Patient/" + p.ID + "/_history?_count=2"
		for page := 0; next != ""; page++ {
			r := srv.do(t, "GET", next, "")
			if r.Status != 200 {
				t.Fatalf("GET %s = %d %s", next, r.Status, r.Body)
			}
			all = append(all, versions(r)...)
			next = ""
			for _, l := range r.JSON(t)["link"].([]any) {
				if l.(map[string]any)["relation"] == "next" {
					next = strings.TrimPrefix(l.(map[string]any)["url"].(string), srv.URL)
				}
			}
			if page == 0 {
				srv.do(t, "PUT", "/fhir/Patient/"+p.ID, `{"resourceType":"Patient","id":"`+p.ID+`"}`)
			}
		}
		if strings.Join(all, ", ") != want {
			t.Errorf("paged history = %s\nwant %s", strings.Join(all, ", "), want)
		}
		if n := len(srv.do(t, "GET", "/fhir/Observation/_history", "").JSON(t)["entry"].([]any)); n != 1 {
			t.Errorf("type history of Observation has %d entries, want 1", n)
		}
		if n := len(srv.do(t, "GET", "/fhir/_history", "").JSON(t)["entry"].([]any)); n != 8 {
			t.Errorf("system history has %d entries, want 8", n)
		}
		future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		if e := srv.do(t, "GET", "/fhir/_history?_since="+future, "").JSON(t)["entry"]; e != nil && len(e.([]any)) != 0 {
			t.Errorf("history _since the future has %d entries, want 0", len(e.([]any)))
		}
		bad := []struct{ query, param string }{
			{"_since=yesterday", "_since"},
			{"_since=2024-01-01", "_since"},
			{"_count=-1", "_count"},
			{"_at=soon", "_at"},
			{"_cursor=abc", "_cursor"},
			{"name=smith", "name"},
		}
		for _, b := range bad {
			r := srv.do(t, "GET", "/fhir/_history?"+b.query, "")
			if r.Status != 400 || len(r.Expressions()) == 0 || r.Expressions()[0] != b.param {
				t.Errorf("GET _history?%s = %d %v, want 400 naming %s", b.query, r.Status, r.Expressions(), b.param)
			}
		}
		if r := srv.do(t, "GET", "/fhir/Patient/never/_history", ""); r.Status != 404 {
			t.Errorf("history of unknown resource = %d, want 404", r.Status)
		}
	})
}

func TestCapabilities(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		r := srv.do(t, "GET", "/fhir/metadata", "")
		m := r.JSON(t)
		if r.Status != 200 || m["resourceType"] != "CapabilityStatement" || m["fhirVersion"] != "4.0.1" {
			t.Fatalf("metadata = %d %v %v", r.Status, m["resourceType"], m["fhirVersion"])
		}
		rest := m["rest"].([]any)[0].(map[string]any)
		resources := rest["resource"].([]any)
		if len(resources) != 146 {
			t.Errorf("CapabilityStatement lists %d resource types, want 146", len(resources))
		}
		for _, f := range m["format"].([]any) {
			if strings.Contains(f.(string), "xml") {
				t.Errorf("CapabilityStatement claims format %s", f)
			}
		}
	})
}

func TestUnsupportedRoutes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		for _, c := range []struct{ method, path string }{
			{"PATCH", "/fhir/Patient/x"},
			{"GET", "/fhir/Patient/x/$nonsense"},
			{"POST", "/fhir/Patient/$nonsense"},
		} {
			r := srv.do(t, c.method, c.path, `{}`)
			if r.Status < 400 || r.Status >= 500 || r.IssueCode() == "" {
				t.Errorf("%s %s = %d %s, want a 4xx OperationOutcome", c.method, c.path, r.Status, r.Body)
			}
		}
	})
}

func TestBreakGlassOperation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		p := srv.create(t, "Patient", patientJSON)
		params := `{"resourceType":"Parameters","parameter":[{"name":"reason","valueString":"unconscious in the emergency department"}]}`
		r := srv.do(t, "POST", "/fhir/Patient/"+p.ID+"/$break-glass", params)
		if r.Status != 200 || !strings.Contains(string(r.Body), `"name":"until"`) {
			t.Errorf("$break-glass = %d %s", r.Status, r.Body)
		}
		if r := srv.do(t, "POST", "/fhir/Patient/"+p.ID+"/$break-glass", `{"resourceType":"Parameters"}`); r.Status != 400 {
			t.Errorf("$break-glass without a reason = %d, want 400", r.Status)
		}
		if r := srv.do(t, "POST", "/fhir/Patient/nobody/$break-glass", params); r.Status != 404 {
			t.Errorf("$break-glass of an unknown patient = %d, want 404", r.Status)
		}
	})
}
