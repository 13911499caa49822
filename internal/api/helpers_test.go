package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"sharedcare/internal/server"
	"sharedcare/internal/store"
	"sharedcare/internal/store/sqlite"
)

// testServer is the whole HTTP stack on real storage.
type testServer struct {
	*httptest.Server
	backend string
}

// backends lists the storage backends the API tests run on.
var backends = []struct {
	name string
	open func(t testing.TB) store.Store
}{
	{"sqlite", openSQLite},
	{"postgres", openPostgres},
}

func openSQLite(t testing.TB) store.Store {
	t.Helper()
	db, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "test.db"), Exclusive: true}) // as serve opens it
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// forEachBackend runs fn against a fresh server on each backend.
func forEachBackend(t *testing.T, fn func(t *testing.T, srv *testServer)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			fn(t, newTestServer(t, b.name, b.open(t)))
		})
	}
}

func newTestServer(t testing.TB, name string, db store.Store) *testServer {
	// The API tests run as the Dev principal, through the same code path as
	// serve --insecure-no-auth; tokens are tested in internal/auth and
	// internal/server.
	srv := server.New(server.Options{Store: db, InsecureNoAuth: true})
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return &testServer{Server: hs, backend: name}
}

// response is a finished HTTP exchange.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic map.
func (r *response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response body is not JSON: %v\n%s", err, r.Body)
	}
	return m
}

// IssueCode returns the first OperationOutcome issue's code, "" if none.
func (r *response) IssueCode() string {
	var oo struct {
		ResourceType string `json:"resourceType"`
		Issue        []struct {
			Severity, Code string
		} `json:"issue"`
	}
	if json.Unmarshal(r.Body, &oo) != nil || oo.ResourceType != "OperationOutcome" {
		return ""
	}
	for _, is := range oo.Issue {
		if is.Severity == "error" || is.Severity == "fatal" {
			return is.Code
		}
	}
	return ""
}

// Expressions lists the OperationOutcome's issue locations.
func (r *response) Expressions() []string {
	var oo struct {
		Issue []struct {
			Expression []string `json:"expression"`
		} `json:"issue"`
	}
	json.Unmarshal(r.Body, &oo)
	var out []string
	for _, is := range oo.Issue {
		out = append(out, is.Expression...)
	}
	return out
}

// do sends a request; headers come in name, value pairs.
func (s *testServer) do(t testing.TB, method, path, body string, headers ...string) *response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// created is a resource the test made.
type created struct {
	ID   string
	Body string
	resp *response
}

// create POSTs body and fails the test unless it gets 201.
func (s *testServer) create(t testing.TB, typ, body string) *created {
	t.Helper()
	resp := s.do(t, "POST", "/fhir/"+typ, body)
	if resp.Status != http.StatusCreated {
		t.Fatalf("POST /fhir/%s = %d, want 201\n%s", typ, resp.Status, resp.Body)
	}
	m := resp.JSON(t)
	return &created{ID: m["id"].(string), Body: string(resp.Body), resp: resp}
}

func compact(t testing.TB, s string) string {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
