package load

import (
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
	"strings"
	"time"
)

// Credentials sign virtual users in with OAuth2 client credentials, as a
// SMART Backend Service (https://hl7.org/fhir/smart-app-launch/backend-services.html):
// each user asks the token endpoint for its own access token with an
// ES384-signed client assertion (private_key_jwt), then sends it as a
// bearer token. The client must be registered with the key's JWKS (see
// JWKS) and system scopes.
type Credentials struct {
	TokenURL string
	ClientID string
	Key      *ecdsa.PrivateKey // P-384
	// KeyID is the assertion's kid; "" means the key's RFC 7638 thumbprint,
	// which is the kid JWKS writes.
	KeyID string
	// Scope is what to ask for; "" asks for everything the client may have.
	Scope string
}

// opToken names the token request.
const opToken = "POST /oauth2/token (client_credentials)"

// tokenMargin is how long before its expiry a token is replaced.
const tokenMargin = 30 * time.Second

func (c *Credentials) check() error {
	switch {
	case c.TokenURL == "" || c.ClientID == "":
		return errors.New("credentials need a token URL and a client id")
	case c.Key == nil || c.Key.Curve != elliptic.P384():
		return errors.New("credentials need a P-384 private key, for ES384")
	}
	return nil
}

// assertion signs a client assertion for one token request: iss = sub =
// the client id, aud = the token endpoint, a fresh jti, four minutes to
// live (RFC 7523; the server takes at most five).
func (c *Credentials) assertion(now time.Time) (string, error) {
	kid := c.KeyID
	if kid == "" {
		kid = thumbprint(&c.Key.PublicKey)
	}
	jti := make([]byte, 16)
	rand.Read(jti)
	header, _ := json.Marshal(map[string]string{"alg": "ES384", "typ": "JWT", "kid": kid})
	claims, _ := json.Marshal(map[string]any{
		"iss": c.ClientID, "sub": c.ClientID, "aud": c.TokenURL, "jti": hex.EncodeToString(jti),
		"iat": now.Unix(), "exp": now.Add(4 * time.Minute).Unix(),
	})
	b64 := base64.RawURLEncoding.EncodeToString
	signing := b64(header) + "." + b64(claims)
	digest := sha512.Sum384([]byte(signing))
	r, s, err := ecdsa.Sign(rand.Reader, c.Key, digest[:])
	if err != nil {
		return "", err
	}
	// JWS wants r and s as two fixed-size big-endian numbers (RFC 7518 §3.4).
	sig := make([]byte, 96)
	r.FillBytes(sig[:48])
	s.FillBytes(sig[48:])
	return signing + "." + b64(sig), nil
}

// form is the body of a token request.
func (c *Credentials) form(now time.Time) (url.Values, error) {
	a, err := c.assertion(now)
	if err != nil {
		return nil, err
	}
	form := url.Values{
		"grant_type":            {"client_credentials"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {a},
	}
	if c.Scope != "" {
		form.Set("scope", c.Scope)
	}
	return form, nil
}

// tokenResponse is the part of a token endpoint's answer the tool uses.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int    `json:"expires_in"`
}

// requestToken gets u a token and records the request. It never retries.
func (rn *run) requestToken(ctx context.Context, u *user) result {
	cr := rn.opts.Credentials
	form, err := cr.form(time.Now())
	if err != nil {
		rn.rec.record(opToken, kindRequest, rn.rec.now(), classTransport, 0, "assertion: "+err.Error())
		return result{class: classTransport}
	}
	var tok tokenResponse
	sent := time.Now()
	r := rn.c.send(ctx, u, opToken, http.MethodPost, cr.TokenURL, "application/x-www-form-urlencoded", []byte(form.Encode()),
		func(body io.Reader) error { return json.NewDecoder(body).Decode(&tok) })
	if r.ok() {
		u.token = tok.AccessToken
		u.expires = sent.Add(time.Duration(tok.ExpiresIn) * time.Second)
	}
	return r
}

// ensureToken gets u a token when credentials are set and it has none
// that lasts a while yet; false when that failed.
func (rn *run) ensureToken(ctx context.Context, u *user) bool {
	if rn.opts.Credentials == nil || u.token != "" && time.Until(u.expires) > tokenMargin {
		return true
	}
	return rn.requestToken(ctx, u).ok()
}

// JWKS returns the JSON Web Key Set of key's public half, with the kid
// Credentials use by default, to register the client with.
func JWKS(key *ecdsa.PrivateKey) ([]byte, error) {
	x, y, err := coordinates(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	return json.MarshalIndent(map[string]any{"keys": []map[string]string{{
		"kty": "EC", "crv": "P-384", "x": x, "y": y, "kid": thumbprint(&key.PublicKey), "alg": "ES384", "use": "sig",
	}}}, "", "  ")
}

// thumbprint is the RFC 7638 SHA-256 thumbprint of a P-384 public key.
func thumbprint(pub *ecdsa.PublicKey) string {
	x, y, err := coordinates(pub)
	if err != nil {
		return ""
	}
	// The required members in lexicographic order, no whitespace (RFC 7638 §3.2).
	sum := sha256.Sum256([]byte(`{"crv":"P-384","kty":"EC","x":"` + x + `","y":"` + y + `"}`))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// coordinates returns the public point's x and y, base64url.
func coordinates(pub *ecdsa.PublicKey) (x, y string, err error) {
	k, err := pub.ECDH()
	if err != nil {
		return "", "", err
	}
	b := k.Bytes() // 0x04 || X || Y, 48 bytes each on P-384
	if len(b) != 97 || !strings.HasPrefix(string(b), "\x04") {
		return "", "", fmt.Errorf("not an uncompressed P-384 point")
	}
	return base64.RawURLEncoding.EncodeToString(b[1:49]), base64.RawURLEncoding.EncodeToString(b[49:]), nil
}
