package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"sharedcare/internal/server"
	"sharedcare/internal/store"
)

// newBulkServer is the whole stack with bulk data on, its workers running
// until the test ends.
func newBulkServer(t testing.TB, name string, db store.Store) *testServer {
	t.Helper()
	srv := server.New(server.Options{Store: db, InsecureNoAuth: true, ExportDir: t.TempDir(), ImportFrom: []string{"http://127.0.0.1"}})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { srv.RunWorkers(ctx) })
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.Close()
		cancel()
		wg.Wait()
	})
	return &testServer{Server: hs, backend: name}
}

func forEachBulkBackend(t *testing.T, fn func(t *testing.T, srv *testServer)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			fn(t, newBulkServer(t, b.name, b.open(t)))
		})
	}
}

// manifest is a completion manifest, export or import.
type manifest struct {
	TransactionTime     string `json:"transactionTime"`
	Request             string `json:"request"`
	RequiresAccessToken bool   `json:"requiresAccessToken"`
	Output              []struct {
		Type, URL, InputURL string
		Count               int
	} `json:"output"`
	Deleted []struct {
		Type, URL string
		Count     int
	} `json:"deleted"`
	Error []struct {
		Type, URL, InputURL string
		Count               int
	} `json:"error"`
}

// kickOff sends a kick-off and returns its status URL (a path).
func (s *testServer) kickOff(t testing.TB, method, path, body string) string {
	t.Helper()
	resp := s.do(t, method, path, body, "Prefer", "respond-async", "Accept", "application/fhir+json")
	if resp.Status != http.StatusAccepted {
		t.Fatalf("%s %s = %d, want 202\n%s", method, path, resp.Status, resp.Body)
	}
	loc := resp.Header.Get("Content-Location")
	if !strings.HasPrefix(loc, s.URL+"/fhir/$bulk-status?job=") {
		t.Fatalf("%s %s: Content-Location %q, want the status URL", method, path, loc)
	}
	return strings.TrimPrefix(loc, s.URL)
}

// await polls a status URL until the job finishes, and returns the
// final answer.
func (s *testServer) await(t testing.TB, status string) *response {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp := s.do(t, "GET", status, "")
		if resp.Status != http.StatusAccepted {
			return resp
		}
		if resp.Header.Get("X-Progress") == "" || resp.Header.Get("Retry-After") == "" {
			t.Errorf("in-progress status without X-Progress and Retry-After: %v", resp.Header)
		}
		if time.Now().After(deadline) {
			t.Fatalf("job at %s still running after 2 minutes: %s", status, resp.Header.Get("X-Progress"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *testServer) manifest(t testing.TB, status string) *manifest {
	t.Helper()
	resp := s.await(t, status)
	if resp.Status != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET %s = %d %s, want 200 application/json\n%s", status, resp.Status, resp.Header.Get("Content-Type"), resp.Body)
	}
	var m manifest
	if err := json.Unmarshal(resp.Body, &m); err != nil {
		t.Fatalf("manifest: %v\n%s", err, resp.Body)
	}
	return &m
}

// lines downloads an NDJSON file and returns its resources.
func (s *testServer) lines(t testing.TB, fileURL string) []map[string]any {
	t.Helper()
	resp := s.do(t, "GET", strings.TrimPrefix(fileURL, s.URL), "")
	if resp.Status != http.StatusOK || resp.Header.Get("Content-Type") != "application/fhir+ndjson" {
		t.Fatalf("GET %s = %d %s, want 200 application/fhir+ndjson", fileURL, resp.Status, resp.Header.Get("Content-Type"))
	}
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(resp.Body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s: a line is not JSON: %v", fileURL, err)
		}
		out = append(out, m)
	}
	return out
}

// exported returns "Type/id" of everything an export wrote, sorted, and
// checks each file's count.
func (s *testServer) exported(t testing.TB, m *manifest) []string {
	t.Helper()
	var got []string
	for _, o := range m.Output {
		rs := s.lines(t, o.URL)
		if len(rs) != o.Count {
			t.Errorf("%s: %d lines, manifest says %d", o.URL, len(rs), o.Count)
		}
		for _, r := range rs {
			if r["resourceType"] != o.Type {
				t.Errorf("%s holds a %v", o.URL, r["resourceType"])
			}
			got = append(got, fmt.Sprintf("%s/%s", r["resourceType"], r["id"]))
		}
	}
	slices.Sort(got)
	return got
}

// practice makes two patients with observations, a practitioner and an
// organisation they refer to, and a group of the first patient.
func (s *testServer) practice(t testing.TB) (p1, p2 string) {
	t.Helper()
	s.do(t, "PUT", "/fhir/Organization/org1", `{"resourceType":"Organization","id":"org1","name":"Riverside Surgery"}`)
	s.do(t, "PUT", "/fhir/Practitioner/gp1", `{"resourceType":"Practitioner","id":"gp1","name":[{"family":"Hughes"}]}`)
	s.do(t, "PUT", "/fhir/Practitioner/gp2", `{"resourceType":"Practitioner","id":"gp2","name":[{"family":"Unused"}]}`)
	for i, id := range []string{"p1", "p2"} {
		if r := s.do(t, "PUT", "/fhir/Patient/"+id, `{"resourceType":"Patient","id":"`+id+`","name":[{"family":"F`+id+`"}],"generalPractitioner":[{"reference":"Practitioner/gp1"},{"reference":"Organization/org1"}]}`); r.Status >= 300 {
			t.Fatalf("PUT Patient/%s = %d %s", id, r.Status, r.Body)
		}
		for j := range 3 {
			status := []string{"final", "preliminary", "final"}[j]
			body := fmt.Sprintf(`{"resourceType":"Observation","id":"o%d%d","status":"%s","code":{"text":"bp"},"subject":{"reference":"Patient/%s"},"performer":[{"reference":"Practitioner/gp1"}]}`, i+1, j, status, id)
			if r := s.do(t, "PUT", fmt.Sprintf("/fhir/Observation/o%d%d", i+1, j), body); r.Status >= 300 {
				t.Fatalf("PUT Observation = %d %s", r.Status, r.Body)
			}
		}
	}
	s.do(t, "PUT", "/fhir/Group/g1", `{"resourceType":"Group","id":"g1","type":"person","actual":true,"member":[{"entity":{"reference":"Patient/p1"}}]}`)
	return "p1", "p2"
}

func TestBulkExport(t *testing.T) {
	forEachBulkBackend(t, func(t *testing.T, srv *testServer) {
		srv.practice(t)
		tests := []struct {
			name, method, path, body string
			want                     []string
		}{
			{"system, two types", "GET", "/fhir/$export?_type=Patient,Practitioner", "",
				[]string{"Patient/p1", "Patient/p2", "Practitioner/gp1", "Practitioner/gp2"}},
			{"system, _typeFilter", "GET", "/fhir/$export?_type=Observation&_typeFilter=Observation%3Fstatus%3Dpreliminary", "",
				[]string{"Observation/o11", "Observation/o21"}},
			{"all patients: compartments and what they refer to", "GET", "/fhir/Patient/$export", "",
				[]string{"Group/g1", "Observation/o10", "Observation/o11", "Observation/o12", "Observation/o20", "Observation/o21", "Observation/o22",
					"Organization/org1", "Patient/p1", "Patient/p2", "Practitioner/gp1"}},
			// The Group itself is in its member's compartment (Group.member).
			{"group", "GET", "/fhir/Group/g1/$export?_outputFormat=application%2Ffhir%2Bndjson", "",
				[]string{"Group/g1", "Observation/o10", "Observation/o11", "Observation/o12", "Organization/org1", "Patient/p1", "Practitioner/gp1"}},
			{"group, _type", "GET", "/fhir/Group/g1/$export?_type=Patient", "", []string{"Patient/p1"}},
			{"patients by POST, one patient", "POST", "/fhir/Patient/$export",
				`{"resourceType":"Parameters","parameter":[{"name":"_type","valueString":"Patient,Observation"},{"name":"patient","valueReference":{"reference":"Patient/p2"}}]}`,
				[]string{"Observation/o20", "Observation/o21", "Observation/o22", "Patient/p2"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				m := srv.manifest(t, srv.kickOff(t, tt.method, tt.path, tt.body))
				if got := srv.exported(t, m); !slices.Equal(got, tt.want) {
					t.Errorf("%s %s exported\n %v\nwant\n %v", tt.method, tt.path, got, tt.want)
				}
				if !m.RequiresAccessToken || m.TransactionTime == "" || !strings.HasSuffix(m.Request, strings.TrimPrefix(tt.path, "/fhir")) || m.Error == nil {
					t.Errorf("manifest = %+v: want requiresAccessToken, transactionTime, the request and an error array", m)
				}
			})
		}

		t.Run("since, with deletions", func(t *testing.T) {
			first := srv.manifest(t, srv.kickOff(t, "GET", "/fhir/$export?_type=Observation", ""))
			since := first.TransactionTime
			srv.do(t, "PUT", "/fhir/Observation/o10", `{"resourceType":"Observation","id":"o10","status":"amended","code":{"text":"bp"},"subject":{"reference":"Patient/p1"}}`)
			srv.do(t, "DELETE", "/fhir/Observation/o12", "")
			m := srv.manifest(t, srv.kickOff(t, "GET", "/fhir/$export?_type=Observation&_since="+strings.ReplaceAll(since, "+", "%2B"), ""))
			if got := srv.exported(t, m); !slices.Equal(got, []string{"Observation/o10"}) {
				t.Errorf("export since %s = %v, want the one changed", since, got)
			}
			if len(m.Deleted) != 1 || m.Deleted[0].Type != "Bundle" || m.Deleted[0].Count != 1 {
				t.Fatalf("deleted = %+v, want one Bundle", m.Deleted)
			}
			del := srv.lines(t, m.Deleted[0].URL)
			entry := del[0]["entry"].([]any)[0].(map[string]any)["request"].(map[string]any)
			if del[0]["type"] != "transaction" || entry["method"] != "DELETE" || entry["url"] != "Observation/o12" {
				t.Errorf("deleted line = %v, want a transaction DELETE of Observation/o12", del[0])
			}
		})

		t.Run("cancel", func(t *testing.T) {
			status := srv.kickOff(t, "GET", "/fhir/$export?_type=Patient", "")
			srv.await(t, status)
			if r := srv.do(t, "DELETE", status, ""); r.Status != http.StatusAccepted {
				t.Fatalf("DELETE %s = %d, want 202", status, r.Status)
			}
			if r := srv.do(t, "GET", status, ""); r.Status != http.StatusNotFound || r.IssueCode() != "not-found" {
				t.Errorf("GET %s after DELETE = %d %q, want 404 not-found", status, r.Status, r.IssueCode())
			}
		})

		t.Run("refusals", func(t *testing.T) {
			for _, tc := range []struct{ path, issue string }{
				{"/fhir/$export?_outputFormat=text/csv", "not-supported"},
				{"/fhir/$export?_since=yesterday", "value"},
				{"/fhir/$export?_type=Patients", "value"},
				{"/fhir/$export?_elements=id", "not-supported"},
				{"/fhir/$export?_type=Patient&_typeFilter=Observation%3Fstatus%3Dfinal", "value"},
				{"/fhir/Group/nope/$export", "not-found"},
				{"/fhir/$bulk-status?job=nope", "not-found"},
				{"/fhir/$bulk-file?job=nope&file=Patient.ndjson", "not-found"},
			} {
				r := srv.do(t, "GET", tc.path, "", "Prefer", "respond-async")
				if r.Status < 400 || r.IssueCode() != tc.issue {
					t.Errorf("GET %s = %d %q, want 4xx %q\n%s", tc.path, r.Status, r.IssueCode(), tc.issue, r.Body)
				}
			}
		})
	})
}

func TestEverything(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		srv.practice(t)
		page := func(path string) (ids []string, next string) {
			r := srv.do(t, "GET", path, "")
			if r.Status != 200 {
				t.Fatalf("GET %s = %d %s", path, r.Status, r.Body)
			}
			var b struct {
				Link  []struct{ Relation, URL string }
				Entry []struct {
					Resource map[string]any
					Search   struct{ Mode string }
				}
			}
			json.Unmarshal(r.Body, &b)
			for _, e := range b.Entry {
				ids = append(ids, fmt.Sprintf("%s/%s:%s", e.Resource["resourceType"], e.Resource["id"], e.Search.Mode))
			}
			for _, l := range b.Link {
				if l.Relation == "next" {
					next = strings.TrimPrefix(l.URL, srv.URL)
				}
			}
			return ids, next
		}
		all, next := page("/fhir/Patient/p1/$everything")
		want := []string{"Patient/p1:match", "Group/g1:match", "Observation/o10:match", "Observation/o11:match", "Observation/o12:match", "Organization/org1:include", "Practitioner/gp1:include"}
		if !slices.Equal(all, want) || next != "" {
			t.Errorf("$everything = %v next %q, want %v and no next page", all, next, want)
		}
		// Two at a time: every match once, in the same order.
		var paged []string
		path := "/fhir/Patient/p1/$everything?_count=2"
		for n := 0; path != "" && n < 10; n++ {
			ids, next := page(path)
			for _, id := range ids {
				if strings.HasSuffix(id, ":match") {
					paged = append(paged, id)
				}
			}
			path = next
		}
		if !slices.Equal(paged, want[:5]) {
			t.Errorf("$everything by twos = %v, want %v", paged, want[:5])
		}
		if ids, _ := page("/fhir/Patient/p1/$everything?_type=Observation"); len(ids) != 4 || ids[0] != "Observation/o10:match" {
			t.Errorf("$everything?_type=Observation = %v, want three Observations and the practitioner", ids)
		}
		if r := srv.do(t, "GET", "/fhir/Patient/nobody/$everything", ""); r.Status != 404 {
			t.Errorf("$everything of an unknown patient = %d, want 404", r.Status)
		}
	})
}

// ndjsonServer serves files from memory, honouring ranges.
func ndjsonServer(t testing.TB, files map[string]string) *httptest.Server {
	t.Helper()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := files[strings.TrimPrefix(r.URL.Path, "/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/fhir+ndjson")
		http.ServeContent(w, r, "", time.Time{}, strings.NewReader(body))
	}))
	t.Cleanup(hs.Close)
	return hs
}

func TestBulkImport(t *testing.T) {
	forEachBulkBackend(t, func(t *testing.T, srv *testServer) {
		files := ndjsonServer(t, map[string]string{
			"Patient.ndjson": `{"resourceType":"Patient","id":"i1","meta":{"versionId":"4","lastUpdated":"2020-05-06T07:08:09.123Z"},"name":[{"family":"Kept"}]}
{"resourceType":"Patient","id":"i2","name":[{"family":"NoMeta"}]}
{"resourceType":"Patient","id":"i3", this is not JSON
{"resourceType":"Patient","id":"i4","gender":"sometimes"}

{"resourceType":"Observation","id":"wrong-file","status":"final","code":{"text":"x"}}
{"resourceType":"Patient","id":"i5","name":[{"family":"Last"}]}`,
			"Observation.ndjson": `{"resourceType":"Observation","id":"io1","status":"final","code":{"text":"bp"},"subject":{"reference":"Patient/i1"}}` + "\n",
		})
		manifestJSON := fmt.Sprintf(`{"inputFormat":"application/fhir+ndjson","inputSource":"https://old.example.org/fhir","storageDetail":{"type":"https"},
			"input":[{"type":"Patient","url":"%s/Patient.ndjson"},{"type":"Observation","url":"%s/Observation.ndjson"}]}`, files.URL, files.URL)
		run := func() *manifest {
			r := srv.do(t, "POST", "/fhir/$import", manifestJSON, "Prefer", "respond-async", "Content-Type", "application/json")
			if r.Status != http.StatusAccepted {
				t.Fatalf("POST $import = %d %s", r.Status, r.Body)
			}
			return srv.manifest(t, strings.TrimPrefix(r.Header.Get("Content-Location"), srv.URL))
		}
		m := run()
		if len(m.Output) != 2 || m.Output[0].Count != 3 || m.Output[1].Count != 1 {
			t.Errorf("import output = %+v, want 3 Patients and 1 Observation", m.Output)
		}
		if len(m.Error) != 1 || m.Error[0].Count != 3 || m.Error[0].InputURL != files.URL+"/Patient.ndjson" {
			t.Fatalf("import errors = %+v, want 3 rejected in the Patient input", m.Error)
		}
		var diags []string
		for _, oo := range srv.lines(t, m.Error[0].URL) {
			if oo["resourceType"] != "OperationOutcome" {
				t.Errorf("error line is a %v", oo["resourceType"])
			}
			is := oo["issue"].([]any)[0].(map[string]any)
			diags = append(diags, fmt.Sprint(is["diagnostics"]))
		}
		if len(diags) != 3 || !strings.Contains(diags[0], "line 3") || !strings.Contains(diags[1], "line 4") || !strings.Contains(diags[2], "line 5") {
			t.Errorf("rejections = %q, want lines 3 (not JSON), 4 (bad gender) and 5 (an Observation), blank line skipped", diags)
		}
		r := srv.do(t, "GET", "/fhir/Patient/i1", "")
		meta, _ := r.JSON(t)["meta"].(map[string]any)
		if r.Status != 200 || meta["versionId"] != "4" || meta["lastUpdated"] != "2020-05-06T07:08:09.123Z" {
			t.Errorf("imported Patient/i1 = %d meta %v, want the source's version 4 and lastUpdated", r.Status, meta)
		}
		if r := srv.do(t, "GET", "/fhir/Patient/i5", ""); r.Status != 200 {
			t.Errorf("Patient/i5 after a bad line = %d, want it imported", r.Status)
		}
		// Again: one copy, every version as it was.
		m = run()
		if m.Output[0].Count != 3 {
			t.Errorf("second import output = %+v", m.Output)
		}
		h := srv.do(t, "GET", "/fhir/Patient/i2/_history", "").JSON(t)
		if n := len(h["entry"].([]any)); n != 1 {
			t.Errorf("Patient/i2 has %d versions after importing it twice, want 1", n)
		}
		if r := srv.do(t, "GET", "/fhir/Patient?_count=100&_summary=count", ""); r.JSON(t)["total"] != float64(3) {
			t.Errorf("Patients after two imports: %s, want 3", r.Body)
		}

		for _, tc := range []struct{ body, issue string }{
			{`{"inputFormat":"text/csv","input":[{"type":"Patient","url":"https://x.example/p"}]}`, "not-supported"},
			{`{"inputFormat":"application/fhir+ndjson","input":[]}`, "required"},
			{`{"inputFormat":"application/fhir+ndjson","input":[{"type":"Patient","url":"file:///etc/passwd"}]}`, "not-supported"},
			// The cloud's metadata service, loopback and private networks are
			// not fetched unless the operator allows them (-import-from).
			{`{"inputFormat":"application/fhir+ndjson","input":[{"type":"Patient","url":"http://169.254.169.254/latest/meta-data/"}]}`, "forbidden"},
			{`{"inputFormat":"application/fhir+ndjson","input":[{"type":"Patient","url":"http://localhost:5432/p"}]}`, "forbidden"},
			{`{"inputFormat":"application/fhir+ndjson","input":[{"type":"Patient","url":"https://10.0.0.8/p.ndjson"}]}`, "forbidden"},
			{`{"inputFormat":"application/fhir+ndjson","input":[{"type":"Patient","url":"http://[::1]:8080/p"}]}`, "forbidden"},
			{`{"inputFormat":"application/fhir+ndjson","input":[{"type":"Patients","url":"https://x.example/p"}]}`, "value"},
			{`[1,2]`, "structure"},
		} {
			r := srv.do(t, "POST", "/fhir/$import", tc.body, "Content-Type", "application/json")
			if r.Status != 400 || r.IssueCode() != tc.issue {
				t.Errorf("POST $import %s = %d %q, want 400 %q", tc.body, r.Status, r.IssueCode(), tc.issue)
			}
		}
	})
}

func TestCapabilitiesListBulk(t *testing.T) {
	srv := newBulkServer(t, "sqlite", openSQLite(t))
	body := string(srv.do(t, "GET", "/fhir/metadata", "").Body)
	for _, want := range []string{
		`"instantiates":["http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data"]`,
		`http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export`,
		`http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export`,
		`http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export`,
		`http://hl7.org/fhir/OperationDefinition/Patient-everything`,
		`"name":"import"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("CapabilityStatement lacks %s", want)
		}
	}
}
