package api_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

func txBundle(typ string, entries ...string) string {
	return `{"resourceType":"Bundle","type":"` + typ + `","entry":[` + strings.Join(entries, ",") + `]}`
}

func postEntry(fullURL, resource string) string {
	return `{"fullUrl":"` + fullURL + `","resource":` + resource + `,"request":{"method":"POST","url":"` + resourceType(resource) + `"}}`
}

func resourceType(res string) string {
	_, rest, _ := strings.Cut(res, `"resourceType":"`)
	t, _, _ := strings.Cut(rest, `"`)
	return t
}

// entryResponses returns each response entry's status and location.
func entryResponses(t *testing.T, r *response) (statuses, locations []string) {
	t.Helper()
	for _, e := range r.JSON(t)["entry"].([]any) {
		resp := e.(map[string]any)["response"].(map[string]any)
		statuses = append(statuses, fmt.Sprint(resp["status"]))
		loc, _ := resp["location"].(string)
		locations = append(locations, loc)
	}
	return statuses, locations
}

func searchCount(t *testing.T, srv *testServer, query string) int {
	t.Helper()
	r := srv.do(t, "GET", "/fhir/"+query, "")
	if r.Status != 200 {
		t.Fatalf("GET %s = %d %s", query, r.Status, r.Body)
	}
	m, _ := bundleIDs(t, r)
	return len(m)
}

func TestTransaction(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		body := txBundle("transaction",
			postEntry("urn:uuid:11111111-1111-4111-8111-111111111111", `{"resourceType":"Patient","name":[{"family":"Txone"}],"identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9000000025"}]}`),
			postEntry("urn:uuid:22222222-2222-4222-8222-222222222222", `{"resourceType":"Observation","status":"final","code":{"text":"weight"},"subject":{"reference":"urn:uuid:11111111-1111-4111-8111-111111111111"}}`),
		)
		r := srv.do(t, "POST", "/fhir", body)
		if r.Status != 200 || r.JSON(t)["type"] != "transaction-response" {
			t.Fatalf("transaction = %d\n%s", r.Status, r.Body)
		}
		statuses, locs := entryResponses(t, r)
		if statuses[0] != "201 Created" || statuses[1] != "201 Created" || !strings.HasPrefix(locs[0], "Patient/") {
			t.Fatalf("statuses %v locations %v", statuses, locs)
		}
		patientID := strings.Split(locs[0], "/")[1]
		obs := srv.do(t, "GET", "/fhir/"+strings.TrimSuffix(locs[1], "/_history/1"), "")
		if !strings.Contains(string(obs.Body), `"reference":"Patient/`+patientID+`"`) {
			t.Errorf("urn:uuid reference not rewritten: %s", obs.Body)
		}
		// The rewritten reference is indexed.
		if n := searchCount(t, srv, "Observation?subject=Patient/"+patientID); n != 1 {
			t.Errorf("Observation?subject=Patient/%s found %d, want 1", patientID, n)
		}

		// A conditional create that matches, and a conditional reference.
		body = txBundle("transaction",
			`{"fullUrl":"urn:uuid:33333333-3333-4333-8333-333333333333","resource":{"resourceType":"Patient","name":[{"family":"Ignored"}]},"request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=https://fhir.nhs.uk/Id/nhs-number|9000000025"}}`,
			postEntry("urn:uuid:44444444-4444-4444-8444-444444444444", `{"resourceType":"Condition","subject":{"reference":"urn:uuid:33333333-3333-4333-8333-333333333333"},"code":{"text":"asthma"}}`),
			postEntry("urn:uuid:55555555-5555-4555-8555-555555555555", `{"resourceType":"Condition","subject":{"reference":"Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9000000025"},"code":{"text":"eczema"}}`),
		)
		r = srv.do(t, "POST", "/fhir", body)
		statuses, locs = entryResponses(t, r)
		if r.Status != 200 || statuses[0] != "200 OK" || locs[0] != "Patient/"+patientID+"/_history/1" {
			t.Fatalf("conditional create in transaction = %d %v %v\n%s", r.Status, statuses, locs, r.Body)
		}
		if n := searchCount(t, srv, "Condition?subject=Patient/"+patientID); n != 2 {
			t.Errorf("conditions referencing the matched patient = %d, want 2", n)
		}
		if n := searchCount(t, srv, "Patient?family=ignored"); n != 0 {
			t.Errorf("the matched conditional create still created a patient")
		}
	})
}

func TestTransactionAtomic(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		existing := srv.create(t, "Patient", `{"resourceType":"Patient","name":[{"family":"Keep"}]}`)
		tests := []struct {
			name, body string
			wantStatus int
			wantExpr   string
		}{
			{"invalid resource", txBundle("transaction",
				postEntry("urn:uuid:a1", `{"resourceType":"Patient","name":[{"family":"Atomic"}]}`),
				postEntry("urn:uuid:a2", `{"resourceType":"Observation","status":"done","code":{"text":"x"}}`)),
				400, "Bundle.entry[1].resource.status"},
			{"stale If-Match", txBundle("transaction",
				postEntry("urn:uuid:b1", `{"resourceType":"Patient","name":[{"family":"Atomic"}]}`),
				`{"resource":{"resourceType":"Patient","id":"`+existing.ID+`"},"request":{"method":"PUT","url":"Patient/`+existing.ID+`","ifMatch":"W/\"7\""}}`),
				412, ""},
			{"dangling urn:uuid", txBundle("transaction",
				postEntry("urn:uuid:c1", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"urn:uuid:nowhere"}}`)),
				400, "Bundle.entry[0].resource.subject.reference"},
			{"dangling urn:uuid in a list", txBundle("transaction",
				postEntry("urn:uuid:c2", `{"resourceType":"Patient","name":[{"family":"Listed"}]}`),
				postEntry("urn:uuid:c3", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"urn:uuid:c2"},"performer":[{"reference":"urn:uuid:c2"},{"reference":"urn:uuid:nowhere"}]}`)),
				400, "Bundle.entry[1].resource.performer[1].reference"},
			{"duplicate fullUrl", txBundle("transaction",
				postEntry("urn:uuid:d1", `{"resourceType":"Patient"}`), postEntry("urn:uuid:d1", `{"resourceType":"Patient"}`)),
				400, "Bundle.entry[1].fullUrl"},
			{"bad method", txBundle("transaction", `{"resource":{"resourceType":"Patient"},"request":{"method":"FETCH","url":"Patient"}}`),
				400, "Bundle.entry[0].request.method"},
			{"no request", txBundle("transaction", `{"resource":{"resourceType":"Patient"}}`), 400, "Bundle.entry[0].request"},
			{"bad url", txBundle("transaction", `{"resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Nonsense"}}`),
				400, "Bundle.entry[0].request.url"},
			{"not a bundle", `{"resourceType":"Patient"}`, 400, "resourceType"},
			{"wrong bundle type", `{"resourceType":"Bundle","type":"collection"}`, 400, "Bundle.type"},
		}
		for _, tt := range tests {
			r := srv.do(t, "POST", "/fhir", tt.body)
			exprs := r.Expressions()
			if r.Status != tt.wantStatus || (tt.wantExpr != "" && (len(exprs) == 0 || exprs[0] != tt.wantExpr)) {
				t.Errorf("%s: transaction = %d %v, want %d %s\n%s", tt.name, r.Status, exprs, tt.wantStatus, tt.wantExpr, r.Body)
			}
		}
		if n := searchCount(t, srv, "Patient?family=atomic"); n != 0 {
			t.Errorf("failed transactions stored %d patients", n)
		}
		if r := srv.do(t, "GET", "/fhir/Patient/"+existing.ID, ""); r.Header.Get("ETag") != `W/"1"` {
			t.Errorf("failed transaction changed the existing patient: ETag %s", r.Header.Get("ETag"))
		}
	})
}

func TestTransactionOrderAndGets(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		old := srv.create(t, "Patient", `{"resourceType":"Patient","name":[{"family":"Old"}]}`)
		body := txBundle("transaction",
			`{"request":{"method":"GET","url":"Patient?family=old"}}`,
			`{"resource":{"resourceType":"Patient","id":"fixed-1","name":[{"family":"Put"}]},"request":{"method":"PUT","url":"Patient/fixed-1"}}`,
			postEntry("urn:uuid:e1", `{"resourceType":"Patient","name":[{"family":"Posted"}]}`),
			`{"request":{"method":"DELETE","url":"Patient/`+old.ID+`"}}`,
		)
		r := srv.do(t, "POST", "/fhir", body)
		statuses, _ := entryResponses(t, r)
		want := []string{"200 OK", "201 Created", "201 Created", "204 No Content"}
		if r.Status != 200 || strings.Join(statuses, ",") != strings.Join(want, ",") {
			t.Fatalf("transaction = %d %v, want %v\n%s", r.Status, statuses, want, r.Body)
		}
		// GETs run after the writes: the deleted patient is gone from the search.
		get := r.JSON(t)["entry"].([]any)[0].(map[string]any)["resource"].(map[string]any)
		if get["resourceType"] != "Bundle" || get["total"] != float64(0) {
			t.Errorf("GET in transaction = %v, want an empty searchset", get)
		}
		if r := srv.do(t, "GET", "/fhir/Patient/"+old.ID, ""); r.Status != 410 {
			t.Errorf("deleted in transaction: GET = %d, want 410", r.Status)
		}
	})
}

func TestBatch(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		p := srv.create(t, "Patient", patientJSON)
		body := txBundle("batch",
			postEntry("urn:uuid:f1", `{"resourceType":"Patient","name":[{"family":"Batched"}]}`),
			postEntry("urn:uuid:f2", `{"resourceType":"Observation","status":"nonsense","code":{"text":"x"}}`),
			`{"request":{"method":"GET","url":"Patient/`+p.ID+`"}}`,
			`{"request":{"method":"GET","url":"Patient/missing"}}`,
			`{"resource":{"resourceType":"Patient"}}`,
		)
		r := srv.do(t, "POST", "/fhir", body)
		statuses, _ := entryResponses(t, r)
		want := []string{"201 Created", "400 Bad Request", "200 OK", "404 Not Found", "400 Bad Request"}
		if r.Status != 200 || r.JSON(t)["type"] != "batch-response" || strings.Join(statuses, ",") != strings.Join(want, ",") {
			t.Fatalf("batch = %d %v, want %v\n%s", r.Status, statuses, want, r.Body)
		}
		if n := searchCount(t, srv, "Patient?family=batched"); n != 1 {
			t.Errorf("batch stored %d patients, want 1 despite the failed entry", n)
		}
	})
}

func TestConditionalCreate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		body := `{"resourceType":"Patient","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9000000033"}]}`
		ine := "identifier=https://fhir.nhs.uk/Id/nhs-number|9000000033"
		first := srv.do(t, "POST", "/fhir/Patient", body, "If-None-Exist", ine)
		second := srv.do(t, "POST", "/fhir/Patient", body, "If-None-Exist", ine)
		if first.Status != 201 || second.Status != 200 || first.JSON(t)["id"] != second.JSON(t)["id"] {
			t.Errorf("conditional creates = %d %v, %d %v; want 201 then 200 with the same id", first.Status, first.JSON(t)["id"], second.Status, second.JSON(t)["id"])
		}
		srv.create(t, "Patient", body) // now two match
		if r := srv.do(t, "POST", "/fhir/Patient", body, "If-None-Exist", ine); r.Status != 412 {
			t.Errorf("conditional create with two matches = %d, want 412", r.Status)
		}
		if r := srv.do(t, "POST", "/fhir/Patient", body, "If-None-Exist", "nonsense=1"); r.Status != 400 {
			t.Errorf("conditional create with bad criteria = %d, want 400", r.Status)
		}
	})
}

func TestConditionalCreateRace(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		body := `{"resourceType":"Patient","identifier":[{"system":"urn:test","value":"race"}]}`
		var wg sync.WaitGroup
		statuses := make([]int, 8)
		for i := range statuses {
			wg.Go(func() {
				statuses[i] = srv.do(t, "POST", "/fhir/Patient", body, "If-None-Exist", "identifier=urn:test|race").Status
			})
		}
		wg.Wait()
		created := 0
		for _, s := range statuses {
			switch s {
			case 201:
				created++
			case 200, 409:
			default:
				t.Errorf("status %d", s)
			}
		}
		if n := searchCount(t, srv, "Patient?identifier=urn:test|race"); n != 1 || created != 1 {
			t.Errorf("8 racing conditional creates made %d patients (%d said 201), want 1; statuses %v", n, created, statuses)
		}
	})
}

func TestConditionalUpdateDelete(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		q := "identifier=urn:test|cu1"
		body := `{"resourceType":"Patient","identifier":[{"system":"urn:test","value":"cu1"}],"gender":"male"}`
		r1 := srv.do(t, "PUT", "/fhir/Patient?"+q, body)
		r2 := srv.do(t, "PUT", "/fhir/Patient?"+q, strings.Replace(body, "male", "female", 1))
		if r1.Status != 201 || r2.Status != 200 || r2.Header.Get("ETag") != `W/"2"` || r1.JSON(t)["id"] != r2.JSON(t)["id"] {
			t.Fatalf("conditional updates = %d, %d %s", r1.Status, r2.Status, r2.Header.Get("ETag"))
		}
		if r := srv.do(t, "PUT", "/fhir/Patient?"+q, `{"resourceType":"Patient","id":"other","identifier":[{"system":"urn:test","value":"cu1"}]}`); r.Status != 400 {
			t.Errorf("conditional update with another id = %d, want 400", r.Status)
		}
		if r := srv.do(t, "PUT", "/fhir/Patient", body); r.Status != 400 {
			t.Errorf("PUT without id or criteria = %d, want 400", r.Status)
		}
		srv.create(t, "Patient", `{"resourceType":"Patient","identifier":[{"system":"urn:test","value":"two"}]}`)
		srv.create(t, "Patient", `{"resourceType":"Patient","identifier":[{"system":"urn:test","value":"two"}]}`)
		if r := srv.do(t, "PUT", "/fhir/Patient?identifier=urn:test|two", body); r.Status != 412 {
			t.Errorf("conditional update with two matches = %d, want 412", r.Status)
		}
		if r := srv.do(t, "DELETE", "/fhir/Patient?identifier=urn:test|two", ""); r.Status != 412 {
			t.Errorf("conditional delete with two matches = %d, want 412", r.Status)
		}
		if r := srv.do(t, "DELETE", "/fhir/Patient?"+q, ""); r.Status != 204 {
			t.Errorf("conditional delete = %d, want 204", r.Status)
		}
		if n := searchCount(t, srv, "Patient?"+q); n != 0 {
			t.Errorf("after conditional delete %d match", n)
		}
		if r := srv.do(t, "DELETE", "/fhir/Patient?"+q, ""); r.Status != 204 {
			t.Errorf("conditional delete of nothing = %d, want 204", r.Status)
		}
	})
}

func TestLargeTransaction(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		var entries []string
		for i := range 1000 {
			entries = append(entries, postEntry(fmt.Sprintf("urn:uuid:00000000-0000-4000-8000-%012d", i),
				fmt.Sprintf(`{"resourceType":"Patient","name":[{"family":"Bulk","given":["G%d"]}]}`, i)))
		}
		bad := append(append([]string{}, entries...), postEntry("urn:uuid:bad", `{"resourceType":"Patient","gender":"unknown-gender"}`))
		if r := srv.do(t, "POST", "/fhir", txBundle("transaction", bad...)); r.Status != 400 {
			t.Fatalf("1001-entry transaction with a bad last entry = %d, want 400", r.Status)
		}
		if n := searchCount(t, srv, "Patient?family=bulk&_summary=count"); n != 0 {
			t.Fatalf("a failed 1001-entry transaction stored resources")
		}
		r := srv.do(t, "POST", "/fhir", txBundle("transaction", entries...))
		if r.Status != 200 {
			t.Fatalf("1000-entry transaction = %d %s", r.Status, r.Body[:min(500, len(r.Body))])
		}
		m := srv.do(t, "GET", "/fhir/Patient?family=bulk&_summary=count", "").JSON(t)
		if m["total"] != float64(1000) {
			t.Errorf("after a 1000-entry transaction, total = %v", m["total"])
		}
	})
}
