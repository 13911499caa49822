package server_test

import (
	"net/http"
	"strings"
	"testing"

	"sharedcare/internal/server"
)

// TestBulkNeedsSystemScopes: a backend service whose token does not read
// a type cannot export it; the job of one client is not another's to see.
func TestBulkNeedsSystemScopes(t *testing.T) {
	t.Parallel()
	s := newAuthServer(t, openDB(t), server.Options{ExportDir: t.TempDir()})
	lab := s.newBackend(t, "system/Observation.cruds")
	labToken := s.systemToken(t, lab, "system/Observation.cruds")
	reader := s.newBackend(t, "system/*.rs")
	readerToken := s.systemToken(t, reader, "system/*.rs")
	kick := func(path, token string) *httpResp {
		t.Helper()
		req, _ := http.NewRequest("GET", s.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Prefer", "respond-async")
		return doReq(t, nil, req)
	}
	tests := []struct {
		name, path, token string
		want              int
	}{
		{"no system/Patient read", "/fhir/$export?_type=Patient", labToken, http.StatusForbidden},
		{"patient level: the compartment types the scopes read", "/fhir/Patient/$export", labToken, http.StatusAccepted},
		{"patient level, _type it cannot read", "/fhir/Patient/$export?_type=Condition", labToken, http.StatusForbidden},
		{"without _type: the types the scopes read", "/fhir/$export", labToken, http.StatusAccepted},
		{"system/*.rs", "/fhir/$export?_type=Patient", readerToken, http.StatusAccepted},
		{"no token", "/fhir/$export", "", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		resp := kick(tt.path, tt.token)
		if resp.status != tt.want {
			t.Errorf("%s: GET %s = %d, want %d\n%s", tt.name, tt.path, resp.status, tt.want, resp.body)
		}
	}
	// The reader's job is not the lab's to see or cancel.
	resp := kick("/fhir/$export?_type=Patient", readerToken)
	status := strings.TrimPrefix(resp.header.Get("Content-Location"), s.URL)
	if got := s.get(t, status, labToken); got.status != http.StatusNotFound {
		t.Errorf("another client's GET %s = %d, want 404", status, got.status)
	}
	if got := s.send(t, "DELETE", status, labToken, ""); got.status != http.StatusNotFound {
		t.Errorf("another client's DELETE %s = %d, want 404", status, got.status)
	}
	if got := s.get(t, status, readerToken); got.status != http.StatusAccepted && got.status != http.StatusOK {
		t.Errorf("the owner's GET %s = %d, want 202 or 200", status, got.status)
	}
	// An import needs create and update: a read-only token may not.
	imp := s.send(t, "POST", "/fhir/$import", readerToken, `{"inputFormat":"application/fhir+ndjson","input":[{"type":"Patient","url":"https://x.example/p.ndjson"}]}`)
	if imp.status != http.StatusForbidden {
		t.Errorf("POST $import with system/*.rs = %d, want 403\n%s", imp.status, imp.body)
	}
}
