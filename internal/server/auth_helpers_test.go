package server_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"sharedcare/internal/auth"
	"sharedcare/internal/server"
	"sharedcare/internal/store"
	"sharedcare/internal/store/sqlite"
)

// clock is a settable time for the servers under test.
type clock struct {
	mu sync.Mutex // guards t
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// authServer is the whole stack with authentication on, on SQLite.
type authServer struct {
	*httptest.Server
	srv   *server.Server
	db    store.Store
	clock *clock
}

func openDB(t testing.TB) store.Store {
	t.Helper()
	db, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "auth.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newAuthServer(t testing.TB, db store.Store, opts server.Options) *authServer {
	t.Helper()
	c := &clock{t: time.Now()}
	if opts.Auth.Now == nil {
		opts.Auth.Now = c.now
	}
	opts.Store = db
	srv := server.New(opts)
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return &authServer{Server: hs, srv: srv, db: db, clock: c}
}

func (s *authServer) auth() *auth.Server { return s.srv.Auth() }

// backend registers a backend service with an RSA key and returns a
// function making client assertions for it.
type backend struct {
	id  string
	key *rsa.PrivateKey
	kid string
}

func (s *authServer) newBackend(t testing.TB, scopes string) *backend {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{key: key, kid: "k1"}
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: b.kid, Algorithm: "RS384", Use: "sig"}}}
	jwks, _ := json.Marshal(set)
	c, _, err := s.auth().RegisterClient(context.Background(), auth.NewClient{Name: "Lab system", JWKS: jwks, Scopes: scopes})
	if err != nil {
		t.Fatal(err)
	}
	b.id = c.ID
	return b
}

// assertion signs a client assertion; edit changes its claims first.
func (b *backend) assertion(t testing.TB, aud string, now time.Time, edit func(*jwt.Claims)) string {
	t.Helper()
	c := jwt.Claims{Issuer: b.id, Subject: b.id, Audience: jwt.Audience{aud}, Expiry: jwt.NewNumericDate(now.Add(4 * time.Minute)),
		ID: randomID()}
	if edit != nil {
		edit(&c)
	}
	return signJWT(t, jose.RS384, b.key, b.kid, c)
}

func signJWT(t testing.TB, alg jose.SignatureAlgorithm, key crypto.Signer, kid string, claims any) string {
	t.Helper()
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	s, err := jwt.Signed(sig).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func randomID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// systemToken gets a backend services token.
func (s *authServer) systemToken(t testing.TB, b *backend, scope string) string {
	t.Helper()
	resp := s.postForm(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {scope},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {b.assertion(t, s.URL+"/oauth2/token", s.clock.now(), nil)}})
	if resp.status != 200 {
		t.Fatalf("client_credentials = %d %s", resp.status, resp.body)
	}
	return resp.json(t)["access_token"].(string)
}

type httpResp struct {
	status int
	header http.Header
	body   string
}

func (r *httpResp) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, r.body)
	}
	return m
}

func doReq(t testing.TB, c *http.Client, req *http.Request) *httpResp {
	t.Helper()
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return &httpResp{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func (s *authServer) postForm(t testing.TB, path string, form url.Values, headers ...string) *httpResp {
	t.Helper()
	req, _ := http.NewRequest("POST", s.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return doReq(t, nil, req)
}

// get sends GET path with a bearer token ("" for none).
func (s *authServer) get(t testing.TB, path, token string) *httpResp {
	t.Helper()
	req, _ := http.NewRequest("GET", s.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return doReq(t, nil, req)
}

func (s *authServer) send(t testing.TB, method, path, token, body string) *httpResp {
	t.Helper()
	req, _ := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/fhir+json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return doReq(t, nil, req)
}

// browser is a user agent with cookies that stops at redirects away from
// the server, as a browser handing the code to an app would.
type browser struct {
	*http.Client
	t testing.TB
}

func newBrowser(t testing.TB) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{Client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}, t: t}
}

func (b *browser) get(u string) *httpResp {
	req, _ := http.NewRequest("GET", u, nil)
	return doReq(b.t, b.Client, req)
}

func (b *browser) post(u string, form url.Values) *httpResp {
	req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return doReq(b.t, b.Client, req)
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="([a-z]+)" value="([^"]*)">`)

// hidden returns the hidden fields of the page's form.
func hidden(page string) url.Values {
	v := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(page, -1) {
		v.Set(m[1], html.UnescapeString(m[2]))
	}
	return v
}

// signIn drives the pages from an authorisation URL to the redirect back
// to the app, allowing the request; it returns the redirect's query.
func (b *browser) signIn(base, authURL, username, password string, extra url.Values) url.Values {
	b.t.Helper()
	login := b.get(authURL)
	if login.status != 200 || !strings.Contains(login.body, `name="password"`) {
		b.t.Fatalf("GET authorize = %d, want the sign-in page:\n%s", login.status, login.body)
	}
	form := hidden(login.body)
	form.Set("username", username)
	form.Set("password", password)
	consent := b.post(base+"/oauth2/login", form)
	if consent.status != 200 || !strings.Contains(consent.body, `value="allow"`) {
		b.t.Fatalf("POST login = %d, want the consent page:\n%s", consent.status, consent.body)
	}
	form = hidden(consent.body)
	form.Set("decision", "allow")
	for k, v := range extra {
		form[k] = v
	}
	back := b.post(base+"/oauth2/consent", form)
	if back.status != http.StatusSeeOther {
		b.t.Fatalf("POST consent = %d, want 303:\n%s", back.status, back.body)
	}
	u, err := url.Parse(back.header.Get("Location"))
	if err != nil {
		b.t.Fatal(err)
	}
	return u.Query()
}

const testPassword = "correct horse battery staple"

func (s *authServer) createUser(t testing.TB, nu auth.NewUser) *auth.User {
	t.Helper()
	if nu.Password == "" && nu.ExternalID == "" {
		nu.Password = testPassword
	}
	u, err := s.auth().CreateUser(context.Background(), nu)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (s *authServer) publicClient(t testing.TB, redirect, scopes string) *auth.Client {
	t.Helper()
	c, _, err := s.auth().RegisterClient(context.Background(), auth.NewClient{Name: "Test app", RedirectURIs: []string{redirect}, Public: true, Scopes: scopes})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
