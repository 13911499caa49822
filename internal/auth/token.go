package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"sharedcare/internal/outcome"
)

// accessTokenType is the JWT typ of access tokens (RFC 9068), so that an
// id_token, signed by the same key, is never taken for one.
const (
	accessTokenType = "at+jwt"
	idTokenTTL      = 15 * time.Minute
	maxTokenBytes   = 16 << 10
	clockLeeway     = 30 * time.Second // between this server's nodes
)

// tokenClaims are an access token's claims beyond the registered ones.
type tokenClaims struct {
	jwt.Claims
	ClientID     string `json:"client_id"`
	Scope        string `json:"scope"`
	Kind         string `json:"kind"`
	Name         string `json:"name,omitempty"`
	FHIRUser     string `json:"fhirUser,omitempty"`
	Patient      string `json:"patient,omitempty"`
	Organization string `json:"organization,omitempty"`
	ODSCode      string `json:"ods_code,omitempty"`
	SessionID    string `json:"sid,omitempty"`
}

// signer returns a go-jose signer with the active key.
func (s *Server) signer(ctx context.Context, typ string) (jose.Signer, error) {
	sk, err := s.activeKey(ctx)
	if err != nil {
		return nil, err
	}
	opts := (&jose.SignerOptions{}).WithType(jose.ContentType(typ)).WithHeader(jose.HeaderKey("kid"), sk.KID)
	return jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: sk.priv}, opts)
}

// issueAccess signs an access token for p, valid at aud, and fills in
// p.TokenID and p.Expires. sid names the refresh token family it belongs
// to, "" if none.
func (s *Server) issueAccess(ctx context.Context, p *Principal, iss, aud, sid string) (string, error) {
	now := s.now()
	p.TokenID = randomToken(16)
	p.Expires = now.Add(s.opts.TokenTTL).Truncate(time.Second)
	c := tokenClaims{
		Claims: jwt.Claims{Issuer: iss, Subject: p.Subject, Audience: jwt.Audience{aud}, Expiry: jwt.NewNumericDate(p.Expires),
			NotBefore: jwt.NewNumericDate(now), IssuedAt: jwt.NewNumericDate(now), ID: p.TokenID},
		ClientID: p.ClientID, Scope: p.Scopes.String(), Kind: p.Kind.String(), Name: p.Name, FHIRUser: p.FHIRUser,
		Patient: p.PatientID, Organization: p.Organization, ODSCode: p.ODSCode, SessionID: sid,
	}
	sig, err := s.signer(ctx, accessTokenType)
	if err != nil {
		return "", err
	}
	return jwt.Signed(sig).Claims(c).Serialize()
}

// tokenError is why a bearer token was refused. Its text goes to the
// client in WWW-Authenticate and the OperationOutcome, so it never says
// more than which check failed.
type tokenError string

func (e tokenError) Error() string { return string(e) }

const (
	errMalformed = tokenError("the token is not a well-formed signed JWT")
	errSignature = tokenError("the token's signature does not verify")
	errExpired   = tokenError("the token has expired")
	errNotYet    = tokenError("the token is not valid yet")
	errIssuer    = tokenError("the token was issued by someone else")
	errAudience  = tokenError("the token is for another audience")
	errRevoked   = tokenError("the token has been revoked")
	errClaims    = tokenError("the token lacks required claims")
	errNoUser    = tokenError("the token's user is not known here")
)

// verifyAccess checks one of our access tokens, issued by iss for aud,
// and returns its Principal. Only ES256 with a kid of ours is accepted,
// which refuses alg "none", HMAC made with our public key, and foreign keys.
func (s *Server) verifyAccess(ctx context.Context, raw, iss, aud string) (*Principal, error) {
	if len(raw) > maxTokenBytes {
		return nil, errMalformed
	}
	if p, hit, err := s.verified.get(raw, iss, aud, s); hit {
		return p, err
	}
	p, sid, err := s.verifyAccessUncached(ctx, raw, iss, aud)
	if err == nil {
		s.verified.put(raw, cachedToken{p: p, sid: sid, iss: iss, aud: aud})
		cp := *p
		p = &cp
	}
	return p, err
}

func (s *Server) verifyAccessUncached(ctx context.Context, raw, iss, aud string) (*Principal, string, error) {
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil || len(tok.Headers) != 1 {
		return nil, "", errMalformed
	}
	h := tok.Headers[0]
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !strings.EqualFold(typ, accessTokenType) {
		return nil, "", errMalformed
	}
	pub, err := s.publicKey(ctx, h.KeyID)
	if errors.Is(err, errUnknownKey) {
		return nil, "", errSignature
	} else if err != nil {
		return nil, "", err
	}
	var c tokenClaims
	if err := tok.Claims(pub, &c); err != nil {
		return nil, "", errSignature
	}
	if err := s.checkTimes(c.Claims, clockLeeway); err != nil {
		return nil, "", err
	}
	if c.Issuer != iss {
		return nil, "", errIssuer
	}
	if len(c.Audience) != 1 || c.Audience[0] != aud {
		return nil, "", errAudience
	}
	kind, ok := ParseKind(c.Kind)
	if !ok || kind == Dev || c.Subject == "" || c.ID == "" || c.ClientID == "" {
		return nil, "", errClaims
	}
	if s.revoke.has(c.ID) || (c.SessionID != "" && s.revoke.has(c.SessionID)) {
		return nil, "", errRevoked
	}
	scopes, err := ParseScopes(c.Scope)
	if err != nil {
		return nil, "", errClaims
	}
	return &Principal{Kind: kind, Subject: c.Subject, Name: c.Name, FHIRUser: c.FHIRUser, PatientID: c.Patient,
		Organization: c.Organization, ODSCode: c.ODSCode, ClientID: c.ClientID, Scopes: scopes, TokenID: c.ID,
		Expires: c.Expiry.Time()}, c.SessionID, nil
}

// checkTimes requires exp and checks exp, nbf and iat against now with
// leeway.
func (s *Server) checkTimes(c jwt.Claims, leeway time.Duration) error {
	now := s.now()
	switch {
	case c.Expiry == nil:
		return errClaims
	case !now.Before(c.Expiry.Time().Add(leeway)):
		return errExpired
	case c.NotBefore != nil && now.Add(leeway).Before(c.NotBefore.Time()):
		return errNotYet
	case c.IssuedAt != nil && now.Add(leeway).Before(c.IssuedAt.Time()):
		return errNotYet
	}
	return nil
}

// Authenticate returns the Principal of r's bearer token: one of this
// server's access tokens, or a token of the trusted external OpenID
// Connect provider. A missing or refused token is a 401 *outcome.Error
// carrying a WWW-Authenticate header (RFC 6750 §3); other errors are
// failures to check it (the database did not answer).
func (s *Server) Authenticate(r *http.Request) (*Principal, error) {
	raw, ok := bearer(r)
	if !ok {
		return nil, unauthorized("", "this request needs an access token: Authorization: Bearer ...")
	}
	p, err := s.verifyBearer(r, raw)
	var te tokenError
	if errors.As(err, &te) {
		return nil, unauthorized("invalid_token", string(te))
	}
	return p, err
}

func (s *Server) verifyBearer(r *http.Request, raw string) (*Principal, error) {
	if s.oidc != nil {
		if iss, ok := unverifiedIssuer(raw); ok && iss == s.opts.OIDC.Issuer {
			return s.verifyExternal(r.Context(), raw)
		}
	}
	return s.verifyAccess(r.Context(), raw, s.issuer(r), s.fhirBase(r))
}

// bearer returns the token of an "Authorization: Bearer" header.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// unauthorized is the 401 for a missing (code "") or refused token.
func unauthorized(code, msg string) *outcome.Error {
	challenge := `Bearer realm="sharedcare"`
	issue := outcome.CodeLogin
	if code != "" {
		challenge += fmt.Sprintf(`, error=%q, error_description=%q`, code, msg)
		if msg == string(errExpired) {
			issue = "expired"
		}
	}
	e := outcome.New(http.StatusUnauthorized, issue, "", msg)
	e.Headers = map[string]string{"WWW-Authenticate": challenge}
	return e
}

// tokenCache remembers the Principals of tokens that verified, so that a
// client sending the same token again costs a map lookup instead of an
// ECDSA verification (about 100 µs here). An entry is used only while its
// token is unexpired and neither it nor its session is revoked; each
// caller gets its own copy of the Principal.
type tokenCache struct {
	mu sync.Mutex // guards m
	m  map[string]cachedToken
}

type cachedToken struct {
	p             *Principal
	sid, iss, aud string // the session, and the issuer and audience it was checked for
}

// maxCachedTokens bounds the cache (a few MB); when full, an arbitrary
// tenth of it is dropped.
const maxCachedTokens = 10000

func (tc *tokenCache) get(raw, iss, aud string, s *Server) (p *Principal, hit bool, err error) {
	tc.mu.Lock()
	e, ok := tc.m[raw]
	tc.mu.Unlock()
	if !ok || e.iss != iss || e.aud != aud {
		return nil, false, nil
	}
	if !s.now().Before(e.p.Expires.Add(clockLeeway)) {
		return nil, true, errExpired
	}
	if s.revoke.has(e.p.TokenID) || (e.sid != "" && s.revoke.has(e.sid)) {
		return nil, true, errRevoked
	}
	cp := *e.p
	return &cp, true, nil
}

func (tc *tokenCache) put(raw string, e cachedToken) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if tc.m == nil {
		tc.m = map[string]cachedToken{}
	}
	if len(tc.m) >= maxCachedTokens {
		n := 0
		for k := range tc.m {
			delete(tc.m, k)
			if n++; n >= maxCachedTokens/10 {
				break
			}
		}
	}
	tc.m[raw] = e
}

// revocations is this node's copy of the revoked access token ids and
// session ids, so that checking a token needs no database read; Run reads
// the others' revocations every 15 s.
type revocations struct {
	mu  sync.RWMutex         // guards ids
	ids map[string]time.Time // jti or sid → when the revocation can be forgotten
}

func (rv *revocations) has(id string) bool {
	rv.mu.RLock()
	defer rv.mu.RUnlock()
	_, ok := rv.ids[id]
	return ok
}

func (rv *revocations) add(id string, until time.Time) {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	if rv.ids == nil {
		rv.ids = map[string]time.Time{}
	}
	rv.ids[id] = until
}

// revokeID revokes an access token id or a session id until until, when
// every token carrying it has expired.
func (s *Server) revokeID(ctx context.Context, id string, until time.Time) error {
	s.revoke.add(id, until)
	return s.rec.PutRecord(ctx, kindRevoked, id, []byte("1"), until)
}

// syncRevocations replaces this node's revoked set with the database's.
func (s *Server) syncRevocations(ctx context.Context) error {
	ids := map[string]time.Time{}
	now := s.now()
	err := s.rec.ListRecords(ctx, kindRevoked, func(key string, _ []byte) error {
		ids[key] = now.Add(s.opts.TokenTTL)
		return nil
	})
	if err != nil {
		return err
	}
	s.revoke.mu.Lock()
	defer s.revoke.mu.Unlock()
	for id, until := range s.revoke.ids { // keep local ones the list may not show yet
		if _, ok := ids[id]; !ok && until.After(now) {
			ids[id] = until
		}
	}
	s.revoke.ids = ids
	return nil
}

// unverifiedIssuer reads a JWT's iss without checking anything, only to
// choose which issuer's keys will check it.
func unverifiedIssuer(raw string) (string, bool) {
	if len(raw) > maxTokenBytes {
		return "", false
	}
	tok, err := jwt.ParseSigned(raw, externalAlgs)
	if err != nil {
		return "", false
	}
	var c jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&c); err != nil {
		return "", false
	}
	return c.Issuer, c.Issuer != ""
}
