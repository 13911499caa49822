package server

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestBusyCountsInteractiveRequests checks what bulk jobs yield to:
// a request being served, but not a health check, metrics, a poll of a
// job's status or a download of its output, and nothing once the request
// has been answered.
func TestBusyCountsInteractiveRequests(t *testing.T) {
	a := &metrics{}
	var during bool
	h := a.count(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { during = a.Busy() }))
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
		{"/fhir/$bulk-status?job=j", false},
	} {
		during = !c.busy
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", c.path, nil))
		if during != c.busy {
			t.Errorf("GET %s: busy while served = %v, want %v", c.path, during, c.busy)
		}
		if a.Busy() {
			t.Errorf("GET %s: still busy after the answer", c.path)
		}
	}
}

// TestQuietAfterInteractiveRequests checks when bulk jobs may work
// unpaced: on a server that has served nothing, or nothing interactive
// for the time asked, and never while a request is being served.
func TestQuietAfterInteractiveRequests(t *testing.T) {
	a := &metrics{}
	if !a.Quiet(time.Hour) {
		t.Error("a server that has served nothing is not quiet")
	}
	var during bool
	h := a.count(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { during = a.Quiet(0) }))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/metrics", nil))
	if !a.Quiet(time.Hour) {
		t.Error("a scrape of /metrics ended the quiet")
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/fhir/Patient/123", nil))
	if during {
		t.Error("quiet while a read was being served")
	}
	if a.Quiet(time.Hour) {
		t.Error("quiet for an hour just after a read")
	}
	if !a.Quiet(0) {
		t.Error("not quiet for 0 after the read ended")
	}
}
