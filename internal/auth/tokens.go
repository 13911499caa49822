package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"
)

// refreshToken is what a refresh token stands for. Each use replaces it
// with a new one of the same family; a used one presented again means it
// was stolen, and the whole family is revoked (OAuth 2.0 Security BCP,
// refresh token rotation).
type refreshToken struct {
	Family   string    `json:"family"`
	ClientID string    `json:"client_id"`
	UserID   string    `json:"user_id"`
	Scope    string    `json:"scope"`
	Patient  string    `json:"patient,omitempty"`
	Used     bool      `json:"used,omitempty"`
	Issued   time.Time `json:"issued"`
	Expires  time.Time `json:"expires"`
}

// family is one chain of rotated refresh tokens: one sign-in of one app.
type family struct {
	ClientID string    `json:"client_id"`
	UserID   string    `json:"user_id"`
	Revoked  bool      `json:"revoked,omitempty"`
	Expires  time.Time `json:"expires"`
}

// tokenResponse is the token endpoint's answer (RFC 6749 §5.1 and SMART's
// launch context).
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	Scope        string `json:"scope"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
	Patient      string `json:"patient,omitempty"`
}

// token handles POST /oauth2/token.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.writeOAuthError(w, r, oauthErr(http.StatusBadRequest, "invalid_request", "the form could not be read"))
		return
	}
	for k, v := range r.PostForm {
		if len(v) > 1 {
			s.writeOAuthError(w, r, oauthErr(http.StatusBadRequest, "invalid_request", "repeated parameter %s", k))
			return
		}
	}
	c, err := s.authenticateClient(r, s.issuer(r)+"/oauth2/token")
	if err != nil {
		s.writeOAuthError(w, r, err)
		return
	}
	var resp *tokenResponse
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		resp, err = s.exchangeCode(r, c)
	case "refresh_token":
		resp, err = s.refresh(r, c)
	case "client_credentials":
		resp, err = s.clientCredentials(r, c)
	default:
		err = oauthErr(http.StatusBadRequest, "unsupported_grant_type", "grant_type must be authorization_code, refresh_token or client_credentials")
	}
	if err != nil {
		s.writeOAuthError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// exchangeCode redeems an authorisation code (RFC 6749 §4.1.3, RFC 7636
// §4.6): once, by the client it was issued to, with the same redirect
// URI and the PKCE verifier of the challenge.
func (s *Server) exchangeCode(r *http.Request, c *Client) (*tokenResponse, error) {
	ctx := r.Context()
	bad := oauthErr(http.StatusBadRequest, "invalid_grant", "the code is unknown, used, expired, or was issued for another client or redirect URI")
	var ac authCode
	if err := s.take(ctx, kindCode, hashKey(r.PostForm.Get("code")), &ac); errors.Is(err, errNotFound) {
		return nil, bad
	} else if err != nil {
		return nil, err
	}
	if ac.ClientID != c.ID || ac.RedirectURI != r.PostForm.Get("redirect_uri") || !s.now().Before(ac.Expires) {
		return nil, bad
	}
	verifier := r.PostForm.Get("code_verifier")
	sum := sha256.Sum256([]byte(verifier))
	if len(verifier) < 43 || len(verifier) > 128 ||
		subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(ac.Challenge)) != 1 {
		return nil, oauthErr(http.StatusBadRequest, "invalid_grant", "code_verifier does not match the code_challenge")
	}
	u, err := s.activeUser(ctx, ac.UserID)
	if err != nil {
		return nil, err
	}
	scopes, _ := ParseScopes(ac.Scope)
	return s.issue(r, c, u, scopes, ac.Patient, "", ac.Nonce, ac.AuthTime)
}

// activeUser returns the user unless they have gone or been disabled.
func (s *Server) activeUser(ctx context.Context, id string) (*User, error) {
	u, err := s.User(ctx, id)
	if errors.Is(err, errNotFound) || (err == nil && u.Disabled) {
		return nil, oauthErr(http.StatusBadRequest, "invalid_grant", "the user can no longer sign in")
	}
	return u, err
}

// issue makes the token response for u using c: an access token, a
// refresh token for offline_access or online_access (in family, or a new
// family when it is ""), and an id_token for openid.
func (s *Server) issue(r *http.Request, c *Client, u *User, scopes Scopes, patient, fam, nonce string, authTime time.Time) (*tokenResponse, error) {
	ctx := r.Context()
	now := s.now()
	var refresh string
	if scopes.Has(ScopeOfflineAccess) || scopes.Has(ScopeOnlineAccess) {
		ttl := s.opts.RefreshTTL
		if !scopes.Has(ScopeOfflineAccess) {
			ttl = 12 * time.Hour
		}
		if fam == "" {
			fam = randomToken(16)
		}
		f := family{ClientID: c.ID, UserID: u.ID, Expires: now.Add(ttl)}
		if err := putJSON(ctx, s.rec, kindFamily, fam, f, f.Expires); err != nil {
			return nil, err
		}
		refresh = randomToken(32)
		rt := refreshToken{Family: fam, ClientID: c.ID, UserID: u.ID, Scope: scopes.String(), Patient: patient, Issued: now, Expires: now.Add(ttl)}
		if err := putJSON(ctx, s.rec, kindRefresh, hashKey(refresh), rt, rt.Expires); err != nil {
			return nil, err
		}
	}
	p := principalFor(u, c.ID, scopes, patient)
	access, err := s.issueAccess(ctx, p, s.issuer(r), s.fhirBase(r), fam)
	if err != nil {
		return nil, err
	}
	resp := &tokenResponse{AccessToken: access, TokenType: "Bearer", ExpiresIn: int(s.opts.TokenTTL / time.Second),
		Scope: scopes.String(), RefreshToken: refresh, Patient: p.PatientID}
	if scopes.Has(ScopeOpenID) {
		if resp.IDToken, err = s.idToken(r, c, u, scopes, nonce, authTime); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// idToken is the OpenID Connect id_token, with SMART's fhirUser claim (an
// absolute URL of the user's FHIR resource) when fhirUser was granted.
func (s *Server) idToken(r *http.Request, c *Client, u *User, scopes Scopes, nonce string, authTime time.Time) (string, error) {
	now := s.now()
	claims := struct {
		jwt.Claims
		AuthTime int64  `json:"auth_time,omitempty"`
		Nonce    string `json:"nonce,omitempty"`
		FHIRUser string `json:"fhirUser,omitempty"`
		Name     string `json:"name,omitempty"`
	}{Claims: jwt.Claims{Issuer: s.issuer(r), Subject: u.ID, Audience: jwt.Audience{c.ID}, Expiry: jwt.NewNumericDate(now.Add(idTokenTTL)),
		IssuedAt: jwt.NewNumericDate(now)}, Nonce: nonce}
	if !authTime.IsZero() {
		claims.AuthTime = authTime.Unix()
	}
	if scopes.Has(ScopeFHIRUser) && u.FHIRUser != "" {
		claims.FHIRUser = s.fhirBase(r) + "/" + u.FHIRUser
	}
	if scopes.Has(ScopeProfile) || scopes.Has(ScopeFHIRUser) {
		claims.Name = u.Name
	}
	sig, err := s.signer(r.Context(), "JWT")
	if err != nil {
		return "", err
	}
	return jwt.Signed(sig).Claims(claims).Serialize()
}

// refresh redeems a refresh token (RFC 6749 §6), rotating it.
func (s *Server) refresh(r *http.Request, c *Client) (*tokenResponse, error) {
	ctx := r.Context()
	rt, err := s.useRefresh(ctx, r.PostForm.Get("refresh_token"), c)
	if err != nil {
		return nil, err
	}
	u, err := s.activeUser(ctx, rt.UserID)
	if err != nil {
		return nil, err
	}
	scopes, _ := ParseScopes(rt.Scope)
	if asked := r.PostForm.Get("scope"); asked != "" {
		narrow, err := ParseScopes(asked)
		if err != nil {
			return nil, oauthErr(http.StatusBadRequest, "invalid_scope", "%s", err.Error())
		}
		if len(narrow.Within(scopes)) != len(narrow) {
			return nil, oauthErr(http.StatusBadRequest, "invalid_scope", "a refresh can only narrow the scopes granted")
		}
		scopes = narrow
	}
	return s.issue(r, c, u, scopes, rt.Patient, rt.Family, "", time.Time{})
}

// useRefresh marks a refresh token used and returns it. A token used
// before revokes its family: whoever holds the newer one is told to sign
// in again, and so is the thief.
func (s *Server) useRefresh(ctx context.Context, token string, c *Client) (*refreshToken, error) {
	bad := oauthErr(http.StatusBadRequest, "invalid_grant", "the refresh token is unknown, expired or revoked")
	key := hashKey(token)
	var rt refreshToken
	if err := getJSON(ctx, s.rec, kindRefresh, key, &rt); errors.Is(err, errNotFound) {
		return nil, bad
	} else if err != nil {
		return nil, err
	}
	if rt.ClientID != c.ID || !s.now().Before(rt.Expires) {
		return nil, bad
	}
	var f family
	if err := getJSON(ctx, s.rec, kindFamily, rt.Family, &f); errors.Is(err, errNotFound) {
		return nil, bad
	} else if err != nil {
		return nil, err
	}
	if f.Revoked || !s.now().Before(f.Expires) {
		return nil, bad
	}
	// Marking the token used is one atomic claim, so that two exchanges
	// racing on different nodes cannot both succeed.
	first, err := s.claimOnce(ctx, kindUsed, key, rt.Expires)
	if err != nil {
		return nil, err
	}
	if rt.Used || !first {
		s.log.WarnContext(ctx, "refresh token reused: revoking its family", "client_id", c.ID, "sid", rt.Family)
		return nil, errors.Join(bad, s.revokeFamily(ctx, rt.Family, f))
	}
	return &rt, nil
}

// revokeFamily revokes every refresh token of a family and the access
// tokens issued with them.
func (s *Server) revokeFamily(ctx context.Context, fam string, f family) error {
	f.Revoked = true
	if err := putJSON(ctx, s.rec, kindFamily, fam, f, f.Expires); err != nil {
		return err
	}
	return s.revokeID(ctx, fam, s.now().Add(s.opts.TokenTTL+clockLeeway))
}

// clientCredentials is SMART Backend Services: a client that proved
// itself with a signed assertion gets system scopes.
func (s *Server) clientCredentials(r *http.Request, c *Client) (*tokenResponse, error) {
	if !c.asymmetric() || r.PostForm.Get("client_assertion") == "" {
		return nil, oauthErr(http.StatusBadRequest, "unauthorized_client", "client_credentials needs a client registered with a JWKS, authenticating with private_key_jwt")
	}
	allowed, _ := ParseScopes(c.Scopes)
	asked, err := ParseScopes(r.PostForm.Get("scope"))
	if err != nil {
		return nil, oauthErr(http.StatusBadRequest, "invalid_scope", "%s", err.Error())
	}
	if len(asked) == 0 {
		asked = allowed
	}
	var grant Scopes
	for _, sc := range asked.Within(allowed) {
		if sc.Context == SystemContext {
			grant = append(grant, sc)
		}
	}
	if len(grant) == 0 {
		return nil, oauthErr(http.StatusBadRequest, "invalid_scope", "none of the scopes asked for can be granted: backend services get system/ scopes")
	}
	p := &Principal{Kind: System, Subject: c.ID, Name: c.Name, ClientID: c.ID, Scopes: grant}
	access, err := s.issueAccess(r.Context(), p, s.issuer(r), s.fhirBase(r), "")
	if err != nil {
		return nil, err
	}
	return &tokenResponse{AccessToken: access, TokenType: "Bearer", ExpiresIn: int(s.opts.TokenTTL / time.Second), Scope: grant.String()}, nil
}

// introspect handles POST /oauth2/introspect (RFC 7662). The caller is a
// confidential client, or bears an access token of an administrator or a
// backend service.
func (s *Server) introspect(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.writeOAuthError(w, r, oauthErr(http.StatusBadRequest, "invalid_request", "the form could not be read"))
		return
	}
	if p, err := s.Authenticate(r); err == nil {
		if p.Kind != Admin && p.Kind != System {
			s.writeOAuthError(w, r, oauthErr(http.StatusForbidden, "insufficient_scope", "introspection is for administrators and backend services"))
			return
		}
	} else if c, err := s.authenticateClient(r, s.issuer(r)+"/oauth2/token"); err != nil {
		s.writeOAuthError(w, r, err)
		return
	} else if c.Public {
		s.writeOAuthError(w, r, oauthErr(http.StatusUnauthorized, "invalid_client", "public clients cannot introspect"))
		return
	}
	ctx := r.Context()
	tok := r.PostForm.Get("token")
	inactive := map[string]any{"active": false}
	if p, err := s.verifyAccess(ctx, tok, s.issuer(r), s.fhirBase(r)); err == nil {
		resp := map[string]any{"active": true, "token_type": "Bearer", "scope": p.Scopes.String(), "client_id": p.ClientID,
			"sub": p.Subject, "exp": p.Expires.Unix(), "iss": s.issuer(r), "aud": s.fhirBase(r), "jti": p.TokenID}
		if p.PatientID != "" {
			resp["patient"] = p.PatientID
		}
		if p.FHIRUser != "" {
			resp["fhirUser"] = s.fhirBase(r) + "/" + p.FHIRUser
		}
		writeJSON(w, http.StatusOK, resp)
		return
	}
	var rt refreshToken
	if err := getJSON(ctx, s.rec, kindRefresh, hashKey(tok), &rt); err == nil && !rt.Used && s.now().Before(rt.Expires) && !s.refreshUsed(ctx, hashKey(tok)) {
		var f family
		if err := getJSON(ctx, s.rec, kindFamily, rt.Family, &f); err == nil && !f.Revoked {
			writeJSON(w, http.StatusOK, map[string]any{"active": true, "token_type": "refresh_token", "scope": rt.Scope,
				"client_id": rt.ClientID, "sub": rt.UserID, "exp": rt.Expires.Unix(), "iss": s.issuer(r)})
			return
		}
	}
	writeJSON(w, http.StatusOK, inactive)
}

// revoke handles POST /oauth2/revoke (RFC 7009): a client revokes one of
// its refresh tokens (and with it the family) or access tokens. Unknown
// tokens get the same 200, so that the answer tells nothing.
func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.writeOAuthError(w, r, oauthErr(http.StatusBadRequest, "invalid_request", "the form could not be read"))
		return
	}
	c, err := s.authenticateClient(r, s.issuer(r)+"/oauth2/token")
	if err != nil {
		s.writeOAuthError(w, r, err)
		return
	}
	ctx := r.Context()
	tok := r.PostForm.Get("token")
	var rt refreshToken
	switch err := getJSON(ctx, s.rec, kindRefresh, hashKey(tok), &rt); {
	case err == nil && rt.ClientID == c.ID:
		var f family
		if err := getJSON(ctx, s.rec, kindFamily, rt.Family, &f); err == nil {
			err = s.revokeFamily(ctx, rt.Family, f)
		}
		if err != nil && !errors.Is(err, errNotFound) {
			s.writeOAuthError(w, r, err)
			return
		}
	case err != nil && !errors.Is(err, errNotFound):
		s.writeOAuthError(w, r, err)
		return
	default:
		p, err := s.verifyAccess(ctx, tok, s.issuer(r), s.fhirBase(r))
		if err == nil && p.ClientID == c.ID {
			if err := s.revokeID(ctx, p.TokenID, p.Expires.Add(clockLeeway)); err != nil {
				s.writeOAuthError(w, r, err)
				return
			}
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// launchContext handles POST /oauth2/launch: a clinician's app (the
// clinician web app, acting as the EHR) asks for a launch id bound to a
// patient, to pass to a SMART app as its launch parameter. Only the
// clinician who asked can sign in with it.
func (s *Server) launchContext(w http.ResponseWriter, r *http.Request) {
	p, err := s.Authenticate(r)
	if err != nil {
		s.writeOAuthError(w, r, oauthErr(http.StatusUnauthorized, "invalid_token", "a clinician's bearer token is required"))
		return
	}
	if p.Kind != Clinician && p.Kind != Admin {
		s.writeOAuthError(w, r, oauthErr(http.StatusForbidden, "insufficient_scope", "only clinicians launch apps"))
		return
	}
	patient := r.FormValue("patient")
	if r.Header.Get("Content-Type") == "application/json" {
		var body struct {
			Patient string `json:"patient"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			s.writeOAuthError(w, r, oauthErr(http.StatusBadRequest, "invalid_request", "the body is not JSON"))
			return
		}
		patient = body.Patient
	}
	patient = strings.TrimPrefix(patient, "Patient/")
	if !validRef("Patient/" + patient) {
		s.writeOAuthError(w, r, oauthErr(http.StatusBadRequest, "invalid_request", "patient: want a Patient id"))
		return
	}
	id := randomToken(24)
	l := launch{Patient: patient, UserID: p.Subject, Expires: s.now().Add(launchTTL)}
	if err := putJSON(r.Context(), s.rec, kindLaunch, id, l, l.Expires); err != nil {
		s.writeOAuthError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"launch": id, "expires_in": int(launchTTL / time.Second)})
}

// writeOAuthError answers an OAuth error as JSON (RFC 6749 §5.2); an error
// that is not an *oauthError is ours, logged and answered as server_error.
func (s *Server) writeOAuthError(w http.ResponseWriter, r *http.Request, err error) {
	var oe *oauthError
	if !errors.As(err, &oe) {
		s.log.ErrorContext(r.Context(), "oauth request failed", "route", r.Method+" "+r.URL.Path, "err", err)
		oe = oauthErr(http.StatusInternalServerError, "server_error", "the server could not do this")
	}
	if oe.Status == http.StatusUnauthorized && oe.Code == "invalid_client" {
		w.Header().Set("WWW-Authenticate", `Basic realm="sharedcare"`)
	}
	writeJSON(w, oe.Status, map[string]string{"error": oe.Code, "error_description": oe.Description})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	w.Write(b)
}

// refreshUsed reports whether the refresh token with this key has been
// exchanged already.
func (s *Server) refreshUsed(ctx context.Context, key string) bool {
	_, err := s.rec.GetRecord(ctx, kindUsed, key)
	return err == nil
}
