package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"sharedcare/internal/auth"
	"sharedcare/internal/server"
)

// segments splits a compact JWS and decodes its header and payload.
func segments(t testing.TB, tok string) (header, payload map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %q", tok)
	}
	for i, dst := range []*map[string]any{&header, &payload} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatal(err)
		}
	}
	return header, payload
}

func enc(t testing.TB, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// TestBearerTokens checks that /fhir refuses every token it should, with
// a 401 OperationOutcome and a Bearer challenge, and takes a good one.
func TestBearerTokens(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	s := newAuthServer(t, db, server.Options{})
	b := s.newBackend(t, "system/*.cruds")
	good := s.systemToken(t, b, "system/*.rs")
	header, payload := segments(t, good)
	kid := header["kid"].(string)
	parts := strings.Split(good, ".")

	// Tokens from other servers over the same database, so signed by the
	// same key, but with another issuer, audience or clock.
	tokenFrom := func(opts server.Options, skew time.Duration) string {
		o := newAuthServer(t, db, opts)
		o.clock.add(skew)
		iss := opts.Auth.Issuer
		if iss == "" {
			iss = o.URL
		}
		resp := o.postForm(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"system/*.rs"},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
			"client_assertion":      {b.assertion(t, iss+"/oauth2/token", o.clock.now(), nil)}})
		if resp.status != 200 {
			t.Fatalf("token from the other server = %d %s", resp.status, resp.body)
		}
		return resp.json(t)["access_token"].(string)
	}
	otherIssuer := tokenFrom(server.Options{Auth: auth.Options{Issuer: "https://other.example", FHIRBase: s.URL + "/fhir"}}, 0)
	otherAudience := tokenFrom(server.Options{Auth: auth.Options{Issuer: s.URL, FHIRBase: "https://other.example/fhir"}}, 0)
	future := tokenFrom(server.Options{Auth: auth.Options{Issuer: s.URL, FHIRBase: s.URL + "/fhir"}}, time.Hour)

	myKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signWith := func(kid string) string {
		sig, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: myKey}, (&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", kid))
		tok, err := jwt.Signed(sig).Claims(payload).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	// alg "none": the same claims, no signature.
	none := enc(t, map[string]any{"alg": "none", "typ": "at+jwt", "kid": kid}) + "." + parts[1] + "."
	// HS256 keyed with our public key (the classic algorithm confusion).
	jwks := s.get(t, "/oauth2/jwks", "").json(t)
	keyJSON, _ := json.Marshal(jwks["keys"].([]any)[0])
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(keyJSON); err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(jwk.Key)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	hsInput := enc(t, map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": kid}) + "." + parts[1]
	mac := hmac.New(sha256.New, pemKey)
	mac.Write([]byte(hsInput))
	hs256 := hsInput + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	// A payload with more scopes, under the original signature.
	tampered := payload
	tampered["scope"] = "system/*.cruds"
	tamperedTok := parts[0] + "." + enc(t, tampered) + "." + parts[2]

	tests := []struct {
		name, token string
		want        int
	}{
		{"good", good, 200},
		{"none given", "", 401},
		{"garbage", "not.a.jwt", 401},
		{"alg none", none, 401},
		{"HS256 keyed with the public key", hs256, 401},
		{"tampered payload", tamperedTok, 401},
		{"forged signature with our kid", signWith(kid), 401},
		{"unknown kid", signWith("not-a-key-of-ours"), 401},
		{"wrong issuer", otherIssuer, 401},
		{"wrong audience", otherAudience, 401},
		{"not yet valid", future, 401},
	}
	for _, tt := range tests {
		resp := s.get(t, "/fhir/Patient?_count=1", tt.token)
		if resp.status != tt.want {
			t.Errorf("%s: GET /fhir/Patient = %d, want %d\n%s", tt.name, resp.status, tt.want, resp.body)
			continue
		}
		if tt.want != 401 {
			continue
		}
		challenge := resp.header.Get("WWW-Authenticate")
		if !strings.HasPrefix(challenge, "Bearer ") || (tt.token != "" && !strings.Contains(challenge, `error="invalid_token"`)) {
			t.Errorf("%s: WWW-Authenticate = %q, want a Bearer challenge (invalid_token when a token was given)", tt.name, challenge)
		}
		if !strings.Contains(resp.body, `"OperationOutcome"`) {
			t.Errorf("%s: body is not an OperationOutcome: %s", tt.name, resp.body)
		}
	}

	// Expired: the clock moves past the token's 15 minutes.
	s.clock.add(16 * time.Minute)
	resp := s.get(t, "/fhir/Patient?_count=1", good)
	if resp.status != 401 || !strings.Contains(resp.body, `"expired"`) {
		t.Errorf("expired token: GET = %d %s, want 401 with issue code expired", resp.status, resp.body)
	}
}

// TestMetadataAdvertisesSMART: the CapabilityStatement needs no token and
// says where to get one.
func TestMetadataAdvertisesSMART(t *testing.T) {
	t.Parallel()
	s := newAuthServer(t, openDB(t), server.Options{})
	resp := s.get(t, "/fhir/metadata", "")
	if resp.status != 200 {
		t.Fatalf("GET /fhir/metadata without a token = %d", resp.status)
	}
	var cs struct {
		Rest []struct {
			Security struct {
				Extension []struct {
					URL       string `json:"url"`
					Extension []struct {
						URL      string `json:"url"`
						ValueURI string `json:"valueUri"`
					} `json:"extension"`
				} `json:"extension"`
				Service []struct {
					Coding []struct{ Code string } `json:"coding"`
				} `json:"service"`
			} `json:"security"`
		} `json:"rest"`
	}
	if err := json.Unmarshal([]byte(resp.body), &cs); err != nil || len(cs.Rest) != 1 {
		t.Fatalf("metadata: %v %s", err, resp.body)
	}
	sec := cs.Rest[0].Security
	if len(sec.Service) != 1 || sec.Service[0].Coding[0].Code != "SMART-on-FHIR" {
		t.Errorf("rest.security.service = %+v, want SMART-on-FHIR", sec.Service)
	}
	uris := map[string]string{}
	for _, e := range sec.Extension {
		if e.URL == "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris" {
			for _, x := range e.Extension {
				uris[x.URL] = x.ValueURI
			}
		}
	}
	if uris["authorize"] != s.URL+"/oauth2/authorize" || uris["token"] != s.URL+"/oauth2/token" {
		t.Errorf("oauth-uris = %v, want absolute authorize and token URLs on %s", uris, s.URL)
	}
}

// TestInsecureNoAuth: with authentication off, a request without a token
// runs as the Dev principal.
func TestInsecureNoAuth(t *testing.T) {
	t.Parallel()
	s := newAuthServer(t, openDB(t), server.Options{InsecureNoAuth: true})
	if resp := s.send(t, "POST", "/fhir/Patient", "", patientJSON); resp.status != 201 {
		t.Errorf("POST /fhir/Patient without a token, auth off = %d %s, want 201", resp.status, resp.body)
	}
}

// TestBackendServices checks the client assertions SMART Backend Services
// refuses, and accepts an ES384 key served from a JWKS URL.
func TestBackendServices(t *testing.T) {
	t.Parallel()
	s := newAuthServer(t, openDB(t), server.Options{})
	b := s.newBackend(t, "system/*.rs")
	endpoint := s.URL + "/oauth2/token"
	grant := func(assertion, scope string) *httpResp {
		return s.postForm(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {scope},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion}})
	}
	now := s.clock.now()
	replayed := b.assertion(t, endpoint, now, nil)
	if resp := grant(replayed, "system/Patient.rs"); resp.status != 200 || resp.json(t)["scope"] != "system/Patient.rs" {
		t.Fatalf("first use of an assertion = %d %s", resp.status, resp.body)
	}
	es384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	tests := []struct {
		name, assertion, scope, wantErr string
	}{
		{"replayed jti", replayed, "system/*.rs", "invalid_client"},
		{"wrong aud", b.assertion(t, s.URL+"/fhir", now, nil), "system/*.rs", "invalid_client"},
		{"exp too far ahead", b.assertion(t, endpoint, now, func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(now.Add(10 * time.Minute)) }), "system/*.rs", "invalid_client"},
		{"expired", b.assertion(t, endpoint, now, func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(now.Add(-time.Minute)) }), "system/*.rs", "invalid_client"},
		{"no exp", b.assertion(t, endpoint, now, func(c *jwt.Claims) { c.Expiry = nil }), "system/*.rs", "invalid_client"},
		{"no jti", b.assertion(t, endpoint, now, func(c *jwt.Claims) { c.ID = "" }), "system/*.rs", "invalid_client"},
		{"iss is not sub", b.assertion(t, endpoint, now, func(c *jwt.Claims) { c.Subject = "someone-else" }), "system/*.rs", "invalid_client"},
		{"signed by another key", signJWT(t, jose.ES384, es384, b.kid, jwt.Claims{Issuer: b.id, Subject: b.id, Audience: jwt.Audience{endpoint},
			Expiry: jwt.NewNumericDate(now.Add(time.Minute)), ID: randomID()}), "system/*.rs", "invalid_client"},
		{"RS256 is not a SMART assertion algorithm", signJWT(t, jose.RS256, b.key, b.kid, jwt.Claims{Issuer: b.id, Subject: b.id, Audience: jwt.Audience{endpoint},
			Expiry: jwt.NewNumericDate(now.Add(time.Minute)), ID: randomID()}), "system/*.rs", "invalid_client"},
		{"user scopes", b.assertion(t, endpoint, now, nil), "user/*.rs", "invalid_scope"},
		{"beyond the client's scopes", b.assertion(t, endpoint, now, nil), "system/*.cruds", "invalid_scope"},
	}
	for _, tt := range tests {
		resp := grant(tt.assertion, tt.scope)
		if resp.status == 200 || resp.json(t)["error"] != tt.wantErr {
			t.Errorf("%s: token = %d %s, want error %s", tt.name, resp.status, resp.body, tt.wantErr)
		}
	}

	// A client whose keys are at a JWKS URL, with ES384.
	jwksSrv := newJWKSServer(t, jose.JSONWebKey{Key: &es384.PublicKey, KeyID: "ec1", Algorithm: "ES384", Use: "sig"})
	c, _, err := s.auth().RegisterClient(context.Background(), auth.NewClient{Name: "Pathology", JWKSURL: jwksSrv.URL + "/jwks", Scopes: "system/Observation.cruds"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		a := signJWT(t, jose.ES384, es384, "ec1", jwt.Claims{Issuer: c.ID, Subject: c.ID, Audience: jwt.Audience{endpoint},
			Expiry: jwt.NewNumericDate(now.Add(time.Minute)), ID: randomID()})
		if resp := grant(a, ""); resp.status != 200 || resp.json(t)["scope"] != "system/Observation.cruds" {
			t.Errorf("ES384 assertion %d with keys from a JWKS URL = %d %s", i, resp.status, resp.body)
		}
	}
	if n := jwksSrv.fetches(); n != 1 {
		t.Errorf("the JWKS URL was fetched %d times for 3 assertions, want 1 (cached)", n)
	}
}
