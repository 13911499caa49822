package migrate

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Endpoint is one FHIR server and how to sign in to it.
type Endpoint struct {
	// Base is the FHIR base URL, such as https://ehr.example.nhs.uk/fhir.
	Base string
	// Token is a bearer token to send as it is; or
	Token string
	// Credentials sign in as a SMART Backend Service.
	Credentials *Credentials
}

// Credentials get access tokens with OAuth 2.0 client credentials and an
// ES384-signed client assertion (private_key_jwt), as a SMART Backend
// Service does (https://hl7.org/fhir/smart-app-launch/backend-services.html).
// The client must be registered at the server with the key's public half
// and the system scopes the migration needs (system/*.rs at the source,
// system/*.cruds at the target).
type Credentials struct {
	// TokenURL is the token endpoint; "" finds it in the server's
	// .well-known/smart-configuration.
	TokenURL string
	ClientID string
	Key      *ecdsa.PrivateKey // P-384
	// Scope is what to ask for; "" asks for what the client may have.
	Scope string
}

// client speaks HTTP to one server: it signs requests, and waits and
// tries again when the server sheds load (429, 503 with Retry-After).
type client struct {
	ep Endpoint
	hc *http.Client

	mu      sync.Mutex // guards token and expires
	token   string
	expires time.Time
}

func newClient(ep Endpoint, hc *http.Client) *client {
	ep.Base = strings.TrimSuffix(ep.Base, "/")
	return &client{ep: ep, hc: hc, token: ep.Token}
}

// errStatus is an answer a request did not want.
type errStatus struct {
	Method, URL string
	Status      int
	Body        string // the start of the body: an OperationOutcome's diagnostics
}

func (e *errStatus) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.URL, e.Status, e.Body)
}

// maxTries bounds the attempts of one request the server keeps shedding.
const maxTries = 8

// do sends a request (body may be nil) and returns the response to a
// caller who must close it. Relative URLs are on the base.
func (c *client) do(ctx context.Context, method, u string, body []byte, header http.Header) (*http.Response, error) {
	if !strings.Contains(u, "://") {
		u = c.ep.Base + "/" + strings.TrimPrefix(u, "/")
	}
	refreshed := false
	for try := 1; ; try++ {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, u, rd)
		if err != nil {
			return nil, err
		}
		for k, v := range header {
			req.Header[k] = v
		}
		if req.Header.Get("Accept") == "" {
			req.Header.Set("Accept", "application/fhir+json")
		}
		tok, err := c.bearer(ctx, false)
		if err != nil {
			return nil, err
		}
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := c.hc.Do(req)
		if err != nil {
			return nil, err
		}
		switch {
		case resp.StatusCode == http.StatusUnauthorized && c.ep.Credentials != nil && !refreshed:
			resp.Body.Close()
			refreshed = true
			if _, err := c.bearer(ctx, true); err != nil {
				return nil, err
			}
			continue
		case (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) && try < maxTries:
			wait := retryAfter(resp.Header.Get("Retry-After"), time.Duration(try)*time.Second)
			resp.Body.Close()
			if err := sleep(ctx, wait); err != nil {
				return nil, err
			}
			continue
		}
		return resp, nil
	}
}

// retryAfter reads a Retry-After header in seconds or as a date, within
// reason; def when it is absent.
func retryAfter(h string, def time.Duration) time.Duration {
	if n, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && n >= 0 {
		return min(time.Duration(n)*time.Second, time.Minute)
	}
	if t, err := http.ParseTime(h); err == nil {
		return min(max(time.Until(t), 0), time.Minute)
	}
	return def
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// check returns an *errStatus unless resp has one of the statuses, and
// closes the body when it does not.
func check(resp *http.Response, want ...int) error {
	for _, w := range want {
		if resp.StatusCode == w {
			return nil
		}
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
	resp.Body.Close()
	return &errStatus{Method: resp.Request.Method, URL: redact(resp.Request.URL), Status: resp.StatusCode, Body: diagnostics(b)}
}

// diagnostics is what an error body says, briefly.
func diagnostics(b []byte) string {
	var oo struct {
		Issue []struct{ Diagnostics string }
	}
	if json.Unmarshal(b, &oo) == nil && len(oo.Issue) > 0 && oo.Issue[0].Diagnostics != "" {
		return oo.Issue[0].Diagnostics
	}
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

func redact(u *url.URL) string {
	c := *u
	c.RawQuery, c.User = "", nil
	return c.String()
}

// getJSON GETs u and decodes its JSON body into v.
func (c *client) getJSON(ctx context.Context, u string, v any) error {
	resp, err := c.do(ctx, http.MethodGet, u, nil, nil)
	if err != nil {
		return err
	}
	if err := check(resp, http.StatusOK); err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

// tokenMargin is how long before its expiry a token is replaced.
const tokenMargin = 30 * time.Second

// bearer returns the token to send: the given one, or one from the
// credentials, fetched when there is none, it is about to expire, or
// renew is set.
func (c *client) bearer(ctx context.Context, renew bool) (string, error) {
	cr := c.ep.Credentials
	c.mu.Lock()
	defer c.mu.Unlock()
	if cr == nil || (!renew && c.token != "" && time.Until(c.expires) > tokenMargin) {
		return c.token, nil
	}
	if cr.TokenURL == "" {
		var conf struct {
			TokenEndpoint string `json:"token_endpoint"`
		}
		resp, err := c.hc.Get(c.ep.Base + "/.well-known/smart-configuration")
		if err != nil {
			return "", fmt.Errorf("SMART configuration of %s: %w", c.ep.Base, err)
		}
		err = json.NewDecoder(resp.Body).Decode(&conf)
		resp.Body.Close()
		if err != nil || conf.TokenEndpoint == "" {
			return "", fmt.Errorf("SMART configuration of %s names no token endpoint", c.ep.Base)
		}
		cr.TokenURL = conf.TokenEndpoint
	}
	assertion, err := cr.assertion(time.Now())
	if err != nil {
		return "", err
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_assertion": {assertion},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}}
	if cr.Scope != "" {
		form.Set("scope", cr.Scope)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cr.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("token from %s: %w", cr.TokenURL, err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
		Error       string `json:"error"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	if resp.StatusCode != http.StatusOK || tok.AccessToken == "" {
		return "", fmt.Errorf("token from %s: %d %s", cr.TokenURL, resp.StatusCode, tok.Error)
	}
	c.token, c.expires = tok.AccessToken, time.Now().Add(time.Duration(tok.ExpiresIn)*time.Second)
	return c.token, nil
}

// assertion signs a client assertion (RFC 7523): iss = sub = the client,
// aud = the token endpoint, a fresh jti, four minutes to live.
func (cr *Credentials) assertion(now time.Time) (string, error) {
	if cr.Key == nil || cr.Key.Curve != elliptic.P384() {
		return "", errors.New("client credentials need a P-384 key, for ES384")
	}
	jti := make([]byte, 16)
	rand.Read(jti)
	header, _ := json.Marshal(map[string]string{"alg": "ES384", "typ": "JWT", "kid": Thumbprint(&cr.Key.PublicKey)})
	claims, _ := json.Marshal(map[string]any{"iss": cr.ClientID, "sub": cr.ClientID, "aud": cr.TokenURL,
		"jti": hex.EncodeToString(jti), "iat": now.Unix(), "exp": now.Add(4 * time.Minute).Unix()})
	b64 := base64.RawURLEncoding.EncodeToString
	signing := b64(header) + "." + b64(claims)
	digest := sha512.Sum384([]byte(signing))
	r, s, err := ecdsa.Sign(rand.Reader, cr.Key, digest[:])
	if err != nil {
		return "", err
	}
	sig := make([]byte, 96) // r and s, 48 bytes each (RFC 7518 §3.4)
	r.FillBytes(sig[:48])
	s.FillBytes(sig[48:])
	return signing + "." + b64(sig), nil
}

// Thumbprint is the RFC 7638 thumbprint of a P-384 public key: the kid
// its JWKS gives it.
func Thumbprint(k *ecdsa.PublicKey) string {
	b64 := base64.RawURLEncoding.EncodeToString
	x, y := make([]byte, 48), make([]byte, 48)
	k.X.FillBytes(x)
	k.Y.FillBytes(y)
	sum := sha256.Sum256([]byte(`{"crv":"P-384","kty":"EC","x":"` + b64(x) + `","y":"` + b64(y) + `"}`))
	return b64(sum[:])
}

// JWKS is the public half of key as a JWK Set, to register the client with.
func JWKS(k *ecdsa.PublicKey) []byte {
	b64 := base64.RawURLEncoding.EncodeToString
	x, y := make([]byte, 48), make([]byte, 48)
	k.X.FillBytes(x)
	k.Y.FillBytes(y)
	b, _ := json.MarshalIndent(map[string]any{"keys": []map[string]string{{"kty": "EC", "crv": "P-384", "x": b64(x), "y": b64(y),
		"kid": Thumbprint(k), "alg": "ES384", "use": "sig"}}}, "", "  ")
	return b
}
