package server

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestBusyCountsInteractiveRequests checks what bulk jobs yield to:
// a request being served, but not a health check, metrics or a download
// of bulk output, and nothing once the request has been answered.
func TestBusyCountsInteractiveRequests(t *testing.T) {
	a := &metrics{}
	var during bool
	h := a.count(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { during = a.busy() }))
	for _, c := range []struct {
		path string
		busy bool
	}{
		{"/fhir/Patient/123", true},
		{"/fhir/Observation?patient=123", true},
		{"/patient/", true},
		{"/healthz", false},
		{"/metrics", false},
		{"/fhir/$bulk-file?job=j&file=Observation.ndjson", false},
	} {
		during = !c.busy
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", c.path, nil))
		if during != c.busy {
			t.Errorf("GET %s: busy while served = %v, want %v", c.path, during, c.busy)
		}
		if a.busy() {
			t.Errorf("GET %s: still busy after the answer", c.path)
		}
	}
}
