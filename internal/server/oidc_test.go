package server_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"sharedcare/internal/auth"
	"sharedcare/internal/server"
)

// jwksServer serves a JSON Web Key Set and counts its fetches; with
// discovery on, it is a tiny OpenID Connect issuer.
type jwksServer struct {
	*httptest.Server
	mu sync.Mutex // guards n
	n  int
}

func (j *jwksServer) fetches() int { j.mu.Lock(); defer j.mu.Unlock(); return j.n }

func newJWKSServer(t testing.TB, keys ...jose.JSONWebKey) *jwksServer {
	j := &jwksServer{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		j.mu.Lock()
		j.n++
		j.mu.Unlock()
		w.Header().Set("Cache-Control", "max-age=3600")
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: keys})
	})
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"issuer": j.URL, "jwks_uri": j.URL + "/jwks"})
	})
	j.Server = httptest.NewServer(mux)
	t.Cleanup(j.Close)
	return j
}

// TestExternalOIDC trusts a tiny OpenID Connect issuer, as a deployment
// trusts NHS CIS2: its tokens map to local users by a claim.
func TestExternalOIDC(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	idp := newJWKSServer(t, jose.JSONWebKey{Key: &key.PublicKey, KeyID: "cis2-1", Algorithm: "RS512", Use: "sig"})
	s := newAuthServer(t, openDB(t), server.Options{Auth: auth.Options{OIDC: auth.OIDCOptions{Issuer: idp.URL, Audience: "sharedcare-client", Claim: "uid"}}})
	s.createUser(t, auth.NewUser{Username: "sarah", Name: "Dr Sarah Hughes", Role: auth.Clinician, FHIRUser: "Practitioner/gp1", ExternalID: "555123456789"})
	other, _ := rsa.GenerateKey(rand.Reader, 2048)

	type claims struct {
		jwt.Claims
		UID string `json:"uid,omitempty"`
	}
	now := s.clock.now()
	token := func(signer *rsa.PrivateKey, edit func(*claims)) string {
		c := claims{Claims: jwt.Claims{Issuer: idp.URL, Subject: "cis2-subject", Audience: jwt.Audience{"sharedcare-client"},
			Expiry: jwt.NewNumericDate(now.Add(time.Hour)), IssuedAt: jwt.NewNumericDate(now), ID: randomID()}, UID: "555123456789"}
		if edit != nil {
			edit(&c)
		}
		return signJWT(t, jose.RS512, signer, "cis2-1", c)
	}
	tests := []struct {
		name  string
		token string
		want  bool // accepted
	}{
		{"good", token(key, nil), true},
		{"good again (cached keys)", token(key, nil), true},
		{"wrong audience", token(key, func(c *claims) { c.Audience = jwt.Audience{"someone-else"} }), false},
		{"expired", token(key, func(c *claims) { c.Expiry = jwt.NewNumericDate(now.Add(-time.Hour)) }), false},
		{"unknown user", token(key, func(c *claims) { c.UID = "999" }), false},
		{"no claim", token(key, func(c *claims) { c.UID = "" }), false},
		{"signed by another key", token(other, nil), false},
	}
	for _, tt := range tests {
		resp := s.get(t, "/fhir/Patient/nobody", tt.token)
		if got := resp.status != 401; got != tt.want {
			t.Errorf("%s: GET with an external token = %d, want accepted %v\n%s", tt.name, resp.status, tt.want, resp.body)
		}
	}
	if n := idp.fetches(); n > 2 {
		t.Errorf("the provider's JWKS was fetched %d times, want it cached (at most one refetch for the unknown key)", n)
	}
}
