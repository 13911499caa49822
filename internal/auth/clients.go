package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Client is an app or system registered to get tokens.
type Client struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"` // shown on the consent page
	RedirectURIs []string `json:"redirectUris,omitempty"`
	// Public clients (a browser or mobile app) have no secret and must use
	// PKCE; the others authenticate at the token endpoint with a secret
	// or, when they have a JWKS, with a signed assertion (private_key_jwt).
	Public     bool            `json:"public,omitempty"`
	SecretHash string          `json:"secretHash,omitempty"` // SHA-256 of the generated secret, hex
	JWKSURL    string          `json:"jwksUrl,omitempty"`
	JWKS       json.RawMessage `json:"jwks,omitempty"`
	// Scopes are the most the client may be granted; requests beyond them
	// are narrowed to them.
	Scopes  string    `json:"scopes"`
	Created time.Time `json:"created"`
}

// NewClient describes a client to register.
type NewClient struct {
	ID           string // "" generates one
	Name         string
	RedirectURIs []string
	Public       bool
	JWKSURL      string
	JWKS         []byte // a JSON Web Key Set, for backend services
	Scopes       string
}

// RegisterClient stores a new client. A confidential client without a
// JWKS gets a generated secret, returned once and stored only as a hash.
func (s *Server) RegisterClient(ctx context.Context, nc NewClient) (c *Client, secret string, err error) {
	if nc.Name == "" {
		return nil, "", errors.New("a client needs a name")
	}
	if _, err := ParseScopes(nc.Scopes); err != nil || strings.TrimSpace(nc.Scopes) == "" {
		return nil, "", fmt.Errorf("scopes %q: want SMART scopes, such as \"launch/patient patient/*.rs openid fhirUser\"", nc.Scopes)
	}
	for _, u := range nc.RedirectURIs {
		if err := checkRedirectURI(u); err != nil {
			return nil, "", err
		}
	}
	asymmetric := nc.JWKSURL != "" || len(nc.JWKS) > 0
	switch {
	case nc.Public && asymmetric:
		return nil, "", errors.New("a public client has no keys: drop --public or the JWKS")
	case nc.Public && len(nc.RedirectURIs) == 0:
		return nil, "", errors.New("a public client needs a redirect URI")
	case nc.JWKSURL != "" && len(nc.JWKS) > 0:
		return nil, "", errors.New("give a JWKS URL or a JWKS, not both")
	}
	if nc.JWKSURL != "" {
		if u, err := url.Parse(nc.JWKSURL); err != nil || (u.Scheme != "https" && !loopback(u)) {
			return nil, "", fmt.Errorf("JWKS URL %q: want https (http only on loopback)", nc.JWKSURL)
		}
	}
	if len(nc.JWKS) > 0 {
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(nc.JWKS, &set); err != nil || len(set.Keys) == 0 {
			return nil, "", errors.New("JWKS: want a JSON Web Key Set with at least one key")
		}
		for _, k := range set.Keys {
			if !k.IsPublic() || k.KeyID == "" {
				return nil, "", errors.New("JWKS: want public keys, each with a kid")
			}
		}
	}
	c = &Client{ID: nc.ID, Name: nc.Name, RedirectURIs: nc.RedirectURIs, Public: nc.Public, JWKSURL: nc.JWKSURL,
		JWKS: nc.JWKS, Scopes: nc.Scopes, Created: s.now().UTC()}
	if c.ID == "" {
		c.ID = randomToken(12)
	}
	if _, err := s.rec.GetRecord(ctx, kindClient, c.ID); err == nil {
		return nil, "", fmt.Errorf("client %q: %w", c.ID, ErrExists)
	} else if !errors.Is(err, errNotFound) {
		return nil, "", err
	}
	if !c.Public && !asymmetric {
		secret = randomToken(32)
		c.SecretHash = hashKey(secret)
	}
	if err := putJSON(ctx, s.rec, kindClient, c.ID, c, time.Time{}); err != nil {
		return nil, "", err
	}
	return c, secret, nil
}

// Client returns the registered client id, or an error wrapping
// store.ErrNotFound.
func (s *Server) Client(ctx context.Context, id string) (*Client, error) {
	if id == "" || len(id) > 256 {
		return nil, errNotFound
	}
	var c Client
	if err := getJSON(ctx, s.rec, kindClient, id, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// checkRedirectURI allows absolute URIs without fragments: https, http
// only on loopback (RFC 8252 §7.3), or a private-use scheme of a native
// app (com.example.app:/callback).
func checkRedirectURI(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("redirect URI %q: want an absolute URI without a fragment", raw)
	}
	switch {
	case u.Scheme == "https" && u.Host != "":
	case u.Scheme == "http" && loopback(u):
	case u.Scheme != "http" && u.Scheme != "https" && strings.Contains(u.Scheme, ".") && u.Opaque == "":
	default:
		return fmt.Errorf("redirect URI %q: want https, http on loopback, or a reverse-domain scheme", raw)
	}
	return nil
}

func loopback(u *url.URL) bool {
	h := u.Hostname()
	return h == "localhost" || h == "127.0.0.1" || h == "::1"
}

// redirectAllowed reports whether uri is exactly one registered for c
// (RFC 6749 §3.1.2.3: simple string comparison), so that the code never
// goes anywhere else.
func (c *Client) redirectAllowed(uri string) bool { return slices.Contains(c.RedirectURIs, uri) }

// asymmetric reports whether c authenticates with private_key_jwt.
func (c *Client) asymmetric() bool { return c.JWKSURL != "" || len(c.JWKS) > 0 }

// oauthError is an error answer of the token, introspection and revocation
// endpoints (RFC 6749 §5.2) or an error redirect of the authorisation
// endpoint (§4.1.2.1).
type oauthError struct {
	Status      int
	Code        string // invalid_request, invalid_client, invalid_grant ...
	Description string // for the client; never includes secrets
}

func (e *oauthError) Error() string { return e.Code + ": " + e.Description }

func oauthErr(status int, code, format string, args ...any) *oauthError {
	return &oauthError{Status: status, Code: code, Description: fmt.Sprintf(format, args...)}
}

const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// assertionAlgs are the client assertion algorithms SMART Backend Services
// names (https://hl7.org/fhir/smart-app-launch/backend-services.html).
var assertionAlgs = []jose.SignatureAlgorithm{jose.RS384, jose.ES384}

// authenticateClient identifies the client of a token, introspection or
// revocation request: by a secret (HTTP Basic or client_secret_post), by a
// signed assertion (private_key_jwt), or, for a public client, by
// client_id alone. Any failure is the same invalid_client answer.
func (s *Server) authenticateClient(r *http.Request, endpoint string) (*Client, error) {
	ctx := r.Context()
	bad := oauthErr(http.StatusUnauthorized, "invalid_client", "client authentication failed")
	id, secret, basic := r.BasicAuth()
	if basic {
		var err1, err2 error
		id, err1 = url.QueryUnescape(id) // RFC 6749 §2.3.1 form-encodes them
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil {
			return nil, bad
		}
	} else if r.PostForm.Has("client_secret") {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if typ := r.PostForm.Get("client_assertion_type"); typ != "" || r.PostForm.Has("client_assertion") {
		if basic || secret != "" || typ != assertionType {
			return nil, bad
		}
		c, err := s.verifyAssertion(ctx, r.PostForm.Get("client_assertion"), r.PostForm.Get("client_id"), endpoint)
		if err != nil {
			var oe *oauthError
			if errors.As(err, &oe) {
				return nil, err
			}
			s.log.InfoContext(ctx, "client assertion refused", "err", err)
			return nil, bad
		}
		return c, nil
	}
	if !basic && secret == "" {
		id = r.PostForm.Get("client_id")
	}
	c, err := s.Client(ctx, id)
	if errors.Is(err, errNotFound) {
		return nil, bad
	} else if err != nil {
		return nil, err
	}
	switch {
	case c.Public && (basic || secret != ""):
		return nil, bad
	case c.Public:
		return c, nil
	case c.SecretHash == "": // asymmetric: must assert
		return nil, bad
	}
	got := sha256.Sum256([]byte(secret))
	want, _ := hex.DecodeString(c.SecretHash)
	if subtle.ConstantTimeCompare(got[:], want) != 1 {
		return nil, bad
	}
	return c, nil
}

// verifyAssertion checks a private_key_jwt client assertion: RS384 or
// ES384, signed by a key of the client's JWKS, iss = sub = the client id,
// aud = our token endpoint, expiring within five minutes, with a jti not
// seen before.
func (s *Server) verifyAssertion(ctx context.Context, raw, clientID, endpoint string) (*Client, error) {
	if len(raw) > maxTokenBytes {
		return nil, errors.New("assertion too long")
	}
	tok, err := jwt.ParseSigned(raw, assertionAlgs)
	if err != nil || len(tok.Headers) != 1 {
		return nil, fmt.Errorf("assertion: %w", err)
	}
	var unverified jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&unverified); err != nil {
		return nil, err
	}
	if unverified.Issuer == "" || unverified.Issuer != unverified.Subject || (clientID != "" && clientID != unverified.Issuer) {
		return nil, errors.New("assertion: iss and sub must both be the client id")
	}
	c, err := s.Client(ctx, unverified.Issuer)
	if err != nil {
		return nil, fmt.Errorf("assertion: client: %w", err)
	}
	if !c.asymmetric() {
		return nil, errors.New("assertion: the client has no keys")
	}
	kid := tok.Headers[0].KeyID
	key, err := s.clientKey(ctx, c, kid)
	if err != nil {
		return nil, err
	}
	var claims jwt.Claims
	if err := tok.Claims(key.Key, &claims); err != nil {
		return nil, fmt.Errorf("assertion: %w", err)
	}
	if err := s.checkTimes(claims, 0); err != nil {
		return nil, fmt.Errorf("assertion: %w", err)
	}
	if claims.Expiry.Time().After(s.now().Add(5 * time.Minute)) {
		return nil, errors.New("assertion: exp more than five minutes ahead")
	}
	if len(claims.Audience) != 1 || claims.Audience[0] != endpoint {
		return nil, errors.New("assertion: aud is not this token endpoint")
	}
	if claims.ID == "" {
		return nil, errors.New("assertion: no jti")
	}
	fresh, err := s.claimOnce(ctx, kindAssertion, c.ID+"|"+claims.ID, claims.Expiry.Time().Add(time.Minute))
	if err != nil {
		return nil, err
	}
	if !fresh {
		return nil, oauthErr(http.StatusUnauthorized, "invalid_client", "client assertion replayed (jti seen before)")
	}
	return c, nil
}

// clientKey finds kid in the client's JWKS.
func (s *Server) clientKey(ctx context.Context, c *Client, kid string) (*jose.JSONWebKey, error) {
	if kid == "" {
		return nil, errors.New("assertion: no kid")
	}
	if len(c.JWKS) > 0 {
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(c.JWKS, &set); err != nil {
			return nil, err
		}
		if keys := set.Key(kid); len(keys) > 0 && keys[0].IsPublic() {
			return &keys[0], nil
		}
		return nil, errors.New("assertion: unknown kid")
	}
	rk := s.jwks.get(c.JWKSURL)
	return rk.key(ctx, s, kid)
}

// jwksCache holds the fetched JWKS of clients' JWKS URLs.
type jwksCache struct {
	mu   sync.Mutex             // guards urls
	urls map[string]*remoteKeys // by URL
}

func (jc *jwksCache) get(u string) *remoteKeys {
	jc.mu.Lock()
	defer jc.mu.Unlock()
	rk := jc.urls[u]
	if rk == nil {
		rk = &remoteKeys{jwksURL: u}
		jc.urls[u] = rk
	}
	return rk
}

// remoteKeys is a JWKS fetched over HTTP and kept until it expires (by
// Cache-Control max-age, between 5 minutes and a day; an hour without
// one). An unknown kid fetches it again, at most once a minute. With
// discovery set, the JWKS URL comes from that OpenID Connect discovery
// document, whose issuer must be issuer.
type remoteKeys struct {
	discovery, issuer string
	mu                sync.Mutex // guards the fields below; held while fetching, so one fetch serves all waiting
	jwksURL           string
	keys              jose.JSONWebKeySet
	expires, fetched  time.Time
}

const (
	maxRemoteBody = 1 << 20
	refetchEvery  = time.Minute
)

func (rk *remoteKeys) key(ctx context.Context, s *Server, kid string) (*jose.JSONWebKey, error) {
	rk.mu.Lock()
	defer rk.mu.Unlock()
	now := s.now()
	find := func() *jose.JSONWebKey {
		if keys := rk.keys.Key(kid); len(keys) > 0 && keys[0].IsPublic() {
			return &keys[0]
		}
		return nil
	}
	if k := find(); k != nil && now.Before(rk.expires) {
		return k, nil
	}
	if !rk.fetched.IsZero() && now.Sub(rk.fetched) < refetchEvery && now.Before(rk.expires) {
		return nil, errUnknownKey
	}
	if err := rk.fetch(ctx, s); err != nil {
		return nil, err
	}
	if k := find(); k != nil {
		return k, nil
	}
	return nil, errUnknownKey
}

func (rk *remoteKeys) fetch(ctx context.Context, s *Server) error {
	rk.fetched = s.now()
	if rk.discovery != "" {
		var doc struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
		}
		if _, err := getRemoteJSON(ctx, s.http, rk.discovery, &doc); err != nil {
			return err
		}
		if strings.TrimSuffix(doc.Issuer, "/") != rk.issuer || doc.JWKSURI == "" {
			return fmt.Errorf("discovery %s: issuer %q is not the configured one, or no jwks_uri", rk.discovery, doc.Issuer)
		}
		rk.jwksURL = doc.JWKSURI
	}
	var set jose.JSONWebKeySet
	maxAge, err := getRemoteJSON(ctx, s.http, rk.jwksURL, &set)
	if err != nil {
		return err
	}
	rk.keys = set
	rk.expires = s.now().Add(maxAge)
	return nil
}

// getRemoteJSON GETs u into v and returns how long it may be cached.
func getRemoteJSON(ctx context.Context, hc *http.Client, u string, v any) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("fetch %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("fetch %s: status %d", u, resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxRemoteBody))
	if err != nil {
		return 0, fmt.Errorf("fetch %s: %w", u, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return 0, fmt.Errorf("fetch %s: %w", u, err)
	}
	maxAge := time.Hour
	for _, d := range strings.Split(resp.Header.Get("Cache-Control"), ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(d), "max-age="); ok {
			if n, err := strconv.Atoi(v); err == nil {
				maxAge = time.Duration(n) * time.Second
			}
		}
	}
	return min(max(maxAge, 5*time.Minute), 24*time.Hour), nil
}
