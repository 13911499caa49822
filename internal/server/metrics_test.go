package server_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"sharedcare/internal/server"
	"sharedcare/internal/store/sqlite"
)

func TestMetrics(t *testing.T) {
	db, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "m.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	hs := httptest.NewServer(server.New(server.Options{Store: db}))
	defer hs.Close()
	for _, p := range []string{"/fhir/metadata", "/fhir/Patient/none"} {
		resp, err := http.Get(hs.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	resp, err := http.Get(hs.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"process_resident_memory_bytes ", "sharedcare_database_bytes ", `sharedcare_http_responses_total{class="2xx"} 1`, `sharedcare_http_responses_total{class="4xx"} 1`, "sharedcare_http_shed_total 0", "sharedcare_store_commits_total ", "sharedcare_store_committed_writes_total ",
		"# TYPE sharedcare_http_request_duration_seconds histogram", `sharedcare_http_request_duration_seconds_bucket{le="10"} 2`,
		`sharedcare_http_request_duration_seconds_bucket{le="+Inf"} 2`, "sharedcare_http_request_duration_seconds_count 2\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %q:\n%s", want, b)
		}
	}
}
