package auth

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sharedcare/internal/store/sqlite"
)

func newTestServer(t testing.TB) *Server {
	t.Helper()
	db, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "auth.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return New(Options{Records: db})
}

const (
	testIss = "https://ehr.example.nhs.uk"
	testAud = "https://ehr.example.nhs.uk/fhir"
)

// typicalToken is a clinician's token as the SMART flow issues it.
func typicalToken(t testing.TB, s *Server, sid string) (string, *Principal) {
	t.Helper()
	scopes, _ := ParseScopes("launch patient/*.rs user/*.cruds openid fhirUser offline_access")
	p := &Principal{Kind: Clinician, Subject: "u-8f3k2", Name: "Dr Sarah Hughes", FHIRUser: "Practitioner/c598947c-4643-572e-834b-0c3b94da8df0",
		PatientID: "4bd725c4-fc43-5855-b9fa-8e91dcda2d02", Organization: "Organization/78e7ca66-43ee-57bb-b909-c832d645ccd7", ODSCode: "B86999",
		ClientID: "clinician-web", Scopes: scopes}
	tok, err := s.issueAccess(context.Background(), p, testIss, testAud, sid)
	if err != nil {
		t.Fatal(err)
	}
	return tok, p
}

func TestAccessTokenRoundTrip(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	tok, want := typicalToken(t, s, "fam-1")
	got, err := s.verifyAccess(context.Background(), tok, testIss, testAud)
	if err != nil {
		t.Fatalf("verifyAccess(issued token): %v", err)
	}
	if got.Kind != want.Kind || got.Subject != want.Subject || got.FHIRUser != want.FHIRUser || got.PatientID != want.PatientID ||
		got.Organization != want.Organization || got.ODSCode != want.ODSCode || got.ClientID != want.ClientID ||
		got.Scopes.String() != want.Scopes.String() || got.TokenID != want.TokenID || !got.Expires.Equal(want.Expires) {
		t.Errorf("verifyAccess = %+v\nwant %+v", got, want)
	}
	if err := s.revokeID(context.Background(), "fam-1", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.verifyAccess(context.Background(), tok, testIss, testAud); err != errRevoked {
		t.Errorf("verifyAccess (cached) after its session was revoked: %v, want %v", err, errRevoked)
	}
	if _, _, err := s.verifyAccessUncached(context.Background(), tok, testIss, testAud); err != errRevoked {
		t.Errorf("verifyAccess after its session was revoked: %v, want %v", err, errRevoked)
	}
	// Cached Principals are copies: a caller's change stays its own.
	tok2, _ := typicalToken(t, s, "fam-2")
	a, err := s.verifyAccess(context.Background(), tok2, testIss, testAud)
	if err != nil {
		t.Fatal(err)
	}
	a.Address = "10.0.0.1"
	if b, _ := s.verifyAccess(context.Background(), tok2, testIss, testAud); b == a || b.Address != "" {
		t.Errorf("verifyAccess returned a shared Principal")
	}
}

func TestPasswordHash(t *testing.T) {
	t.Parallel()
	h, err := HashPassword("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("HashPassword = %q, want argon2id PHC with OWASP parameters", h)
	}
	for pw, want := range map[string]bool{"correct horse battery staple": true, "correct horse battery stapl": false, "": false,
		strings.Repeat("x", maxPassword+1): false} {
		if got := verifyPassword(h, pw); got != want {
			t.Errorf("verifyPassword(%.20q) = %v, want %v", pw, got, want)
		}
	}
	if _, err := HashPassword("short"); err == nil {
		t.Error("HashPassword(short) succeeded")
	}
	if _, err := comparePassword(dummyHash, "x"); err != nil {
		t.Errorf("dummyHash does not parse: %v", err)
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=1,t=1,p=1$AA$AA", "$argon2id$v=19$m=9999999,t=1,p=1$AA$AA", "$argon2id$v=19$m=8,t=1,p=1$!!$AA"} {
		if verifyPassword(bad, "x") {
			t.Errorf("verifyPassword(%q) = true", bad)
		}
	}
}

// FuzzVerifyAccess: no input panics the token check, and nothing but an
// issued token is accepted.
func FuzzVerifyAccess(f *testing.F) {
	s := newTestServer(f)
	tok, _ := typicalToken(f, s, "fam-1")
	parts := strings.Split(tok, ".")
	f.Add(tok)
	f.Add(parts[0] + "." + parts[1] + ".")
	f.Add("eyJhbGciOiJub25lIn0." + parts[1] + ".")
	f.Add(parts[0] + ".e30." + parts[2])
	f.Add("a.b.c")
	f.Add("")
	f.Fuzz(func(t *testing.T, raw string) {
		p, err := s.verifyAccess(context.Background(), raw, testIss, testAud)
		if err == nil && raw != tok {
			t.Fatalf("verifyAccess accepted %q as %+v", raw, p)
		}
	})
}

// BenchmarkVerifyAccessFirst is the cost of checking a typical bearer
// token the first time: parse, ES256 verify, claims, scopes.
func BenchmarkVerifyAccessFirst(b *testing.B) {
	s := newTestServer(b)
	tok, _ := typicalToken(b, s, "fam-1")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := s.verifyAccessUncached(ctx, tok, testIss, testAud); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyAccess is the cost of checking a token seen before, as
// on every request of a client after its first.
func BenchmarkVerifyAccess(b *testing.B) {
	s := newTestServer(b)
	tok, _ := typicalToken(b, s, "fam-1")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.verifyAccess(ctx, tok, testIss, testAud); err != nil {
			b.Fatal(err)
		}
	}
}
