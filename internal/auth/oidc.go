package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"sharedcare/internal/outcome"
)

// externalAlgs are the signature algorithms accepted from the external
// provider: asymmetric ones only (NHS CIS2 signs with RS512).
var externalAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512, jose.ES256, jose.ES384, jose.ES512}

// roleScopes are what a user signed in through the external provider may
// do: the provider says who they are, not which SMART scopes they have,
// so their role decides and the access rules do the rest.
var roleScopes = map[Kind]string{
	Clinician: "user/*.cruds openid fhirUser",
	Admin:     "user/*.cruds openid fhirUser",
	Patient:   "patient/*.rs openid fhirUser",
}

// verifyExternal checks a token of the external OpenID Connect provider
// (signature by a key of its discovered JWKS, iss, aud, exp, nbf) and maps
// its identifying claim to a local user.
func (s *Server) verifyExternal(ctx context.Context, raw string) (*Principal, error) {
	tok, err := jwt.ParseSigned(raw, externalAlgs)
	if err != nil || len(tok.Headers) != 1 {
		return nil, errMalformed
	}
	key, err := s.oidc.key(ctx, s, tok.Headers[0].KeyID)
	if errors.Is(err, errUnknownKey) {
		return nil, errSignature
	} else if err != nil {
		s.log.WarnContext(ctx, "external identity provider keys unavailable", "err", err)
		return nil, outcome.Unavailable(30, "the identity provider's keys could not be fetched")
	}
	var std jwt.Claims
	var extra map[string]any
	if err := tok.Claims(key.Key, &std, &extra); err != nil {
		return nil, errSignature
	}
	if err := s.checkTimes(std, time.Minute); err != nil {
		return nil, err
	}
	if std.Issuer != s.opts.OIDC.Issuer {
		return nil, errIssuer
	}
	if !std.Audience.Contains(s.opts.OIDC.Audience) {
		return nil, errAudience
	}
	value := claimString(extra[s.opts.OIDC.Claim])
	if value == "" {
		return nil, errClaims
	}
	id, err := s.rec.GetRecord(ctx, kindExternal, value)
	if errors.Is(err, errNotFound) {
		return nil, errNoUser
	} else if err != nil {
		return nil, err
	}
	u, err := s.User(ctx, string(id))
	if errors.Is(err, errNotFound) || (err == nil && u.Disabled) {
		return nil, errNoUser
	} else if err != nil {
		return nil, err
	}
	scopes, _ := ParseScopes(roleScopes[u.Role])
	client := claimString(extra["azp"])
	if client == "" {
		client = s.opts.OIDC.Audience
	}
	p := principalFor(u, client, scopes, "")
	p.TokenID = std.ID
	p.Expires = std.Expiry.Time()
	return p, nil
}

// claimString reads a string or number claim (an NHS number may come as
// either).
func claimString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return fmt.Sprintf("%.0f", v)
	case json.Number:
		return v.String()
	}
	return ""
}
