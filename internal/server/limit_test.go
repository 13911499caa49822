package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestLimiter fills the one read slot with a request that blocks, then
// checks who else gets in: another read is shed with 503, Retry-After and
// an OperationOutcome; writes, sign-in and health checks have slots of
// their own.
func TestLimiter(t *testing.T) {
	release := make(chan struct{})
	inside := make(chan struct{}, 1)
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("block") != "" {
			inside <- struct{}{}
			<-release
		}
		w.WriteHeader(http.StatusOK)
	})
	l := newLimiter(1, 0, 10*time.Millisecond, &metrics{}, next)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		l.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/fhir/Patient/a?block=1", nil))
	}()
	<-inside
	tests := []struct {
		method, path string
		want         int
	}{
		{"GET", "/fhir/Patient/b", http.StatusServiceUnavailable},
		{"POST", "/fhir/Patient/_search", http.StatusServiceUnavailable},
		{"POST", "/fhir/Patient/$validate", http.StatusServiceUnavailable},
		{"GET", "/app/", http.StatusServiceUnavailable},
		{"POST", "/fhir/Patient", http.StatusOK},
		{"PUT", "/fhir/Patient/b", http.StatusOK},
		{"PATCH", "/fhir/Patient/b", http.StatusOK},
		{"DELETE", "/fhir/Patient/b", http.StatusOK},
		{"POST", "/fhir", http.StatusOK},
		{"POST", "/oauth2/token", http.StatusOK},
		{"GET", "/healthz", http.StatusOK},
	}
	for _, tt := range tests {
		w := httptest.NewRecorder()
		l.ServeHTTP(w, httptest.NewRequest(tt.method, tt.path, nil))
		if w.Code != tt.want {
			t.Errorf("%s %s = %d, want %d", tt.method, tt.path, w.Code, tt.want)
		}
		if w.Code == http.StatusServiceUnavailable && (w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), `"throttled"`)) {
			t.Errorf("%s %s shed without Retry-After or a throttled OperationOutcome: %v %s", tt.method, tt.path, w.Header(), w.Body)
		}
	}
	close(release)
	wg.Wait()
	w := httptest.NewRecorder()
	l.ServeHTTP(w, httptest.NewRequest("GET", "/fhir/Patient/b", nil))
	if w.Code != http.StatusOK {
		t.Errorf("read after the slot was freed = %d, want 200", w.Code)
	}
}

// TestLimiterWritesBounded: writes have four slots per read slot, and are
// shed past them like reads.
func TestLimiterWritesBounded(t *testing.T) {
	release := make(chan struct{})
	inside := make(chan struct{}, 8)
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inside <- struct{}{}
		<-release
		w.WriteHeader(http.StatusCreated)
	})
	l := newLimiter(1, 0, 10*time.Millisecond, &metrics{}, next)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/fhir/Patient", nil))
		}()
		<-inside
	}
	w := httptest.NewRecorder()
	l.ServeHTTP(w, httptest.NewRequest("POST", "/fhir/Patient", nil))
	if w.Code != http.StatusServiceUnavailable {
		t.Errorf("fifth write with four write slots = %d, want 503", w.Code)
	}
	close(release)
	wg.Wait()
}
