package server_test

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"sharedcare/internal/auth"
	"sharedcare/internal/server"
)

const appRedirect = "https://app.example/cb"

// authQuery is a good authorisation request for client; edit changes it.
func (s *authServer) authQuery(client, challenge string, edit func(url.Values)) string {
	q := url.Values{"response_type": {"code"}, "client_id": {client}, "redirect_uri": {appRedirect}, "scope": {"patient/*.rs openid"},
		"state": {"xyz"}, "aud": {s.URL + "/fhir"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	if edit != nil {
		edit(q)
	}
	return s.URL + "/oauth2/authorize?" + q.Encode()
}

func challengeOf(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// TestAuthorizeRefusals: a request whose client or redirect URI is not
// registered gets an error page and never a redirect (no open redirect);
// other faults go back to the app as errors.
func TestAuthorizeRefusals(t *testing.T) {
	t.Parallel()
	s := newAuthServer(t, openDB(t), server.Options{})
	c := s.publicClient(t, appRedirect, "patient/*.rs openid")
	ch := challengeOf(oauth2.GenerateVerifier())
	pages := []struct {
		name string
		edit func(url.Values)
	}{
		{"unknown client", func(q url.Values) { q.Set("client_id", "nope") }},
		{"no redirect_uri", func(q url.Values) { q.Del("redirect_uri") }},
		{"another host", func(q url.Values) { q.Set("redirect_uri", "https://evil.example/cb") }},
		{"a host that starts the same", func(q url.Values) { q.Set("redirect_uri", "https://app.example.evil.example/cb") }},
		{"another path", func(q url.Values) { q.Set("redirect_uri", "https://app.example/cb/../evil") }},
		{"added query", func(q url.Values) { q.Set("redirect_uri", appRedirect+"?next=https://evil.example") }},
		{"http instead of https", func(q url.Values) { q.Set("redirect_uri", "http://app.example/cb") }},
		{"repeated redirect_uri", func(q url.Values) { q["redirect_uri"] = []string{appRedirect, "https://evil.example/cb"} }},
	}
	for _, tt := range pages {
		resp := newBrowser(t).get(s.authQuery(c.ID, ch, tt.edit))
		if resp.status != 400 || resp.header.Get("Location") != "" || !strings.Contains(resp.body, "<h1>") {
			t.Errorf("%s: authorize = %d Location %q, want a 400 page and no redirect", tt.name, resp.status, resp.header.Get("Location"))
		}
	}
	back := []struct {
		name, wantErr string
		edit          func(url.Values)
	}{
		{"plain PKCE", "invalid_request", func(q url.Values) { q.Set("code_challenge_method", "plain") }},
		{"no PKCE", "invalid_request", func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") }},
		{"no state", "invalid_request", func(q url.Values) { q.Del("state") }},
		{"implicit flow", "unsupported_response_type", func(q url.Values) { q.Set("response_type", "token") }},
		{"wrong aud", "invalid_request", func(q url.Values) { q.Set("aud", "https://other.example/fhir") }},
		{"no grantable scope", "invalid_scope", func(q url.Values) { q.Set("scope", "user/*.cruds") }},
		{"malformed scope", "invalid_scope", func(q url.Values) { q.Set("scope", "patient/Observation.sr") }},
		{"unknown launch", "invalid_request", func(q url.Values) { q.Set("launch", "nope") }},
	}
	for _, tt := range back {
		resp := newBrowser(t).get(s.authQuery(c.ID, ch, tt.edit))
		loc, _ := url.Parse(resp.header.Get("Location"))
		if resp.status != http.StatusSeeOther || !strings.HasPrefix(loc.String(), appRedirect+"?") || loc.Query().Get("error") != tt.wantErr {
			t.Errorf("%s: authorize = %d %q, want a redirect to the app with error %s", tt.name, resp.status, loc, tt.wantErr)
		}
	}
}

// TestCodeExchangeRefusals: a code goes to its client, with its redirect
// URI and its PKCE verifier, once.
func TestCodeExchangeRefusals(t *testing.T) {
	t.Parallel()
	s := newAuthServer(t, openDB(t), server.Options{})
	c := s.publicClient(t, appRedirect, "patient/*.rs openid")
	other := s.publicClient(t, appRedirect, "patient/*.rs openid")
	s.createUser(t, auth.NewUser{Username: "pat", Role: auth.Patient, FHIRUser: "Patient/p1"})
	verifier := oauth2.GenerateVerifier()
	code := func() string {
		return newBrowser(t).signIn(s.URL, s.authQuery(c.ID, challengeOf(verifier), nil), "pat", testPassword, nil).Get("code")
	}
	exchange := func(code, client, redirect, verifier string) *httpResp {
		return s.postForm(t, "/oauth2/token", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {client},
			"redirect_uri": {redirect}, "code_verifier": {verifier}})
	}
	tests := []struct {
		name                     string
		client, redirect, verify string
	}{
		{"wrong verifier", c.ID, appRedirect, oauth2.GenerateVerifier()},
		{"no verifier", c.ID, appRedirect, ""},
		{"challenge as verifier", c.ID, appRedirect, challengeOf(verifier)},
		{"redirect_uri mismatch", c.ID, "https://app.example/other", verifier},
		{"another client", other.ID, appRedirect, verifier},
	}
	for _, tt := range tests {
		resp := exchange(code(), tt.client, tt.redirect, tt.verify)
		if resp.status != 400 || resp.json(t)["error"] != "invalid_grant" {
			t.Errorf("%s: token = %d %s, want 400 invalid_grant", tt.name, resp.status, resp.body)
		}
	}
	good := code()
	if resp := exchange(good, c.ID, appRedirect, verifier); resp.status != 200 || resp.json(t)["patient"] != "p1" {
		t.Errorf("good exchange = %d %s, want 200 with patient p1", resp.status, resp.body)
	}
	if resp := exchange(good, c.ID, appRedirect, verifier); resp.status != 400 {
		t.Errorf("second exchange of a code = %d, want 400", resp.status)
	}
	stale := code()
	s.clock.add(2 * time.Minute)
	if resp := exchange(stale, c.ID, appRedirect, verifier); resp.status != 400 {
		t.Errorf("exchange of a code two minutes old = %d, want 400", resp.status)
	}
}

// TestSignInForm: the form is bound to the browser that was shown it
// (login CSRF), sign-in failures say nothing about which part was wrong,
// and failures are rate-limited per user.
func TestSignInForm(t *testing.T) {
	t.Parallel()
	s := newAuthServer(t, openDB(t), server.Options{})
	c := s.publicClient(t, appRedirect, "patient/*.rs openid")
	s.createUser(t, auth.NewUser{Username: "pat", Role: auth.Patient, FHIRUser: "Patient/p1"})
	b := newBrowser(t)
	login := b.get(s.authQuery(c.ID, challengeOf(oauth2.GenerateVerifier()), nil))
	form := hidden(login.body)
	form.Set("username", "pat")
	form.Set("password", testPassword)

	// Headers of the page.
	for h, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY", "Cache-Control": "no-store"} {
		if got := login.header.Get(h); got != want {
			t.Errorf("sign-in page %s = %q, want %q", h, got, want)
		}
	}
	if csp := login.header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("sign-in page CSP = %q", csp)
	}
	if login.header.Get("Strict-Transport-Security") != "" {
		t.Error("HSTS sent over plain HTTP")
	}

	wrongCSRF := url.Values{}
	for k, v := range form {
		wrongCSRF[k] = v
	}
	wrongCSRF.Set("csrf", "forged")
	if resp := b.post(s.URL+"/oauth2/login", wrongCSRF); resp.status != 403 {
		t.Errorf("login with a forged CSRF token = %d, want 403", resp.status)
	}
	if resp := newBrowser(t).post(s.URL+"/oauth2/login", form); resp.status != 403 {
		t.Errorf("login form posted from another browser (no cookie) = %d, want 403", resp.status)
	}
	consent := hidden(login.body)
	consent.Set("decision", "allow")
	if resp := b.post(s.URL+"/oauth2/consent", consent); resp.status != 403 {
		t.Errorf("consent before signing in = %d, want 403", resp.status)
	}

	// Wrong passwords, for a known and an unknown user, read the same.
	attempt := func(user, password string) *httpResp {
		f := url.Values{}
		for k, v := range form {
			f[k] = v
		}
		f.Set("username", user)
		f.Set("password", password)
		return b.post(s.URL+"/oauth2/login", f)
	}
	known, unknown := attempt("pat", "wrong password!"), attempt("nobody", "wrong password!")
	if known.status != 401 || unknown.status != 401 || errorText(known.body) != errorText(unknown.body) {
		t.Errorf("wrong password = %d %q; unknown user = %d %q; want the same 401", known.status, errorText(known.body), unknown.status, errorText(unknown.body))
	}
	for range 4 {
		attempt("pat", "wrong password!")
	}
	if resp := attempt("pat", testPassword); resp.status != 429 {
		t.Errorf("the right password after 5 failures = %d, want 429", resp.status)
	}
	if resp := attempt("nobody", "wrong password!"); resp.status != 401 {
		t.Errorf("another user name while pat is locked = %d, want 401", resp.status)
	}
	s.clock.add(16 * time.Minute)
	b2 := newBrowser(t)
	if q := b2.signIn(s.URL, s.authQuery(c.ID, challengeOf(oauth2.GenerateVerifier()), nil), "pat", testPassword, nil); q.Get("code") == "" {
		t.Errorf("sign-in after the window = %v, want a code", q)
	}
}

func errorText(page string) string {
	i := strings.Index(page, `role="alert"`)
	if i < 0 {
		return ""
	}
	j := strings.Index(page[i:], "</p>")
	return page[i : i+j]
}

// TestRevokeAndIntrospect: introspection reports tokens active until they
// are revoked; revoked access tokens stop working at once.
func TestRevokeAndIntrospect(t *testing.T) {
	t.Parallel()
	s := newAuthServer(t, openDB(t), server.Options{})
	b := s.newBackend(t, "system/*.rs")
	admin, secret, err := s.auth().RegisterClient(t.Context(), auth.NewClient{Name: "Resource server", RedirectURIs: []string{appRedirect}, Scopes: "user/*.rs"})
	if err != nil {
		t.Fatal(err)
	}
	tok := s.systemToken(t, b, "system/*.rs")
	introspect := func(token string, headers ...string) *httpResp {
		return s.postForm(t, "/oauth2/introspect", url.Values{"token": {token}}, headers...)
	}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(admin.ID)+":"+url.QueryEscape(secret)))
	if resp := introspect(tok); resp.status != 401 {
		t.Errorf("introspect without client authentication = %d, want 401", resp.status)
	}
	if resp := introspect(tok, "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(admin.ID+":wrong"))); resp.status != 401 {
		t.Errorf("introspect with a wrong secret = %d, want 401", resp.status)
	}
	if m := introspect(tok, "Authorization", basic).json(t); m["active"] != true || m["client_id"] != b.id || m["scope"] != "system/*.rs" {
		t.Errorf("introspect a good token = %v, want active with its client and scope", m)
	}
	if m := introspect("garbage", "Authorization", basic).json(t); m["active"] != false {
		t.Errorf("introspect garbage = %v, want inactive", m)
	}

	// Another client cannot revoke the token; its own client can.
	revoke := func(form url.Values) int {
		form.Set("token", tok)
		return s.postForm(t, "/oauth2/revoke", form).status
	}
	if got := revoke(url.Values{"client_id": {admin.ID}, "client_secret": {secret}}); got != 200 {
		t.Errorf("revoke by another client = %d, want 200 (and no effect)", got)
	}
	if got := s.get(t, "/fhir/Patient?_count=1", tok).status; got != 200 {
		t.Errorf("token after another client's revocation attempt = %d, want 200", got)
	}
	if got := revoke(url.Values{"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion": {b.assertion(t, s.URL+"/oauth2/token", s.clock.now(), nil)}}); got != 200 {
		t.Errorf("revoke by its client = %d, want 200", got)
	}
	if got := s.get(t, "/fhir/Patient?_count=1", tok).status; got != 401 {
		t.Errorf("revoked token = %d, want 401", got)
	}
	if m := introspect(tok, "Authorization", basic).json(t); m["active"] != false {
		t.Errorf("introspect a revoked token = %v, want inactive", m)
	}
}

// TestCORSAndTLS: preflights from allowed origins are answered, others
// are not; HSTS is sent over TLS.
func TestCORSAndTLS(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	srv := server.New(server.Options{Store: db, CORSOrigins: []string{"https://app.example"}})
	hs := httptest.NewTLSServer(srv)
	t.Cleanup(hs.Close)
	preflight := func(path, origin string) *http.Response {
		req, _ := http.NewRequest("OPTIONS", hs.URL+path, nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
		resp, err := hs.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for _, path := range []string{"/fhir/Patient", "/oauth2/token"} {
		resp := preflight(path, "https://app.example")
		if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example" ||
			!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
			t.Errorf("preflight %s from an allowed origin = %d %v", path, resp.StatusCode, resp.Header)
		}
		if resp := preflight(path, "https://evil.example"); resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("preflight %s from another origin allowed it", path)
		}
	}
	req, _ := http.NewRequest("GET", hs.URL+"/fhir/metadata", nil)
	req.Header.Set("Origin", "https://app.example")
	resp, err := hs.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example" || !strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "ETag") {
		t.Errorf("GET metadata from an allowed origin: CORS headers %v", resp.Header)
	}
	if !strings.HasPrefix(resp.Header.Get("Strict-Transport-Security"), "max-age=") {
		t.Errorf("Strict-Transport-Security over TLS = %q", resp.Header.Get("Strict-Transport-Security"))
	}
}
