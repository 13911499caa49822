package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"sharedcare/internal/auth"
	"sharedcare/internal/outcome"
	"sharedcare/internal/record"
)

const (
	sessionCookie = "sharedcare_session"
	signinCookie  = "sharedcare_signin"
	signinTTL     = 10 * time.Minute // from /signin to /callback, as auth's own sign-in
	// refreshEarly refreshes an access token this long before it expires,
	// so that a page never runs on one that expires mid-request.
	refreshEarly = 30 * time.Second
	// seenEvery bounds how often a session's last use is written: a write
	// per page view would cost an fsync each.
	seenEvery = time.Minute
)

// scopes each app asks for. online_access gives a refresh token that
// lives while the user is signed in (12 hours), so that the session
// outlives the 15-minute access tokens without storing a password.
var appScopes = map[app]string{
	appPatient:   "openid fhirUser online_access patient/*.cruds",
	appClinician: "openid fhirUser online_access user/*.cruds",
}

// clientScopes are all the apps' client may be granted.
const clientScopes = "openid fhirUser online_access patient/*.cruds user/*.cruds"

// session is a signed-in browser, kept server-side (record.PutSession)
// under the SHA-256 of its cookie: the tokens never reach the browser, and
// the database holds no cookie that would open the session.
type session struct {
	App          app       `json:"app"`
	Name         string    `json:"name"`
	Access       string    `json:"access"`
	Refresh      string    `json:"refresh"`
	AccessExpiry time.Time `json:"access_expiry"`
	ClientID     string    `json:"client_id"`
	Issuer       string    `json:"issuer"` // the origin it signed in at, whose token endpoint refreshes it
	CSRF         string    `json:"csrf"`
	Created      time.Time `json:"created"`
	Seen         time.Time `json:"seen"`

	key       string
	principal *auth.Principal
}

func (s *session) checkCSRF(r *http.Request) bool {
	got := r.PostFormValue("csrf")
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.CSRF)) == 1
}

// pending is a sign-in between /signin and /callback.
type pending struct {
	App      app    `json:"app"`
	State    string `json:"state"`
	Verifier string `json:"verifier"`
	Redirect string `json:"redirect"`
	ClientID string `json:"client_id"`
	Next     string `json:"next"`
	Browser  string `json:"browser"` // SHA-256 of the sign-in cookie
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashKey(prefix, secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return prefix + hex.EncodeToString(sum[:])
}

// origin is the public origin of the apps for r: Options.Origin, or the
// request's own when it is a loopback host.
func (h *Handler) origin(r *http.Request) (string, error) {
	if h.opts.Origin != "" {
		return h.opts.Origin, nil
	}
	host := r.Host
	if hn, _, err := net.SplitHostPort(host); err == nil {
		host = hn
	}
	host = strings.Trim(host, "[]")
	if host != "localhost" && host != "127.0.0.1" && host != "::1" {
		return "", errors.New("set -issuer (SHAREDCARE_ISSUER) to sign in to the web apps at a host other than localhost")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host, nil
}

// client returns the id of the apps' OAuth client for redirect, registering
// it on first use: a public client (PKCE) with one redirect URI, whose id
// is derived from that URI so that every node, and every restart, finds
// the same one.
func (h *Handler) client(ctx context.Context, redirect string) (string, error) {
	if id, ok := h.clients.Load(redirect); ok {
		return id.(string), nil
	}
	sum := sha256.Sum256([]byte(redirect + " " + clientScopes))
	id := "sharedcare-web-" + hex.EncodeToString(sum[:6])
	_, _, err := h.auth.RegisterClient(ctx, auth.NewClient{ID: id, Name: "sharedcare (this website)", RedirectURIs: []string{redirect},
		Public: true, Scopes: clientScopes})
	if err != nil && !errors.Is(err, auth.ErrExists) {
		return "", fmt.Errorf("register the web client: %w", err)
	}
	h.clients.Store(redirect, id)
	return id, nil
}

// signin handles GET /signin?app=patient|clinician: it starts the
// authorisation code flow with PKCE and sends the browser to the sign-in
// page of the authorisation server.
func (h *Handler) signin(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	a := app(r.URL.Query().Get("app"))
	if _, ok := appScopes[a]; !ok {
		a = appPatient
	}
	origin, err := h.origin(r)
	if err != nil {
		h.render(w, r, http.StatusBadRequest, "error", &view{Title: "Sign-in is not set up", D: errorData{Message: err.Error()}})
		return
	}
	redirect := origin + "/callback"
	clientID, err := h.client(ctx, redirect)
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	browser := randomToken()
	p := pending{App: a, State: randomToken(), Verifier: randomToken(), Redirect: redirect, ClientID: clientID,
		Next: safeNext(r.URL.Query().Get("next"), a), Browser: hashKey("", browser)}
	b, _ := json.Marshal(p)
	if err := h.rec.PutSession(ctx, hashKey("signin|", p.State), b, h.now().Add(signinTTL)); err != nil {
		h.fail(w, r, nil, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: signinCookie, Value: browser, Path: "/callback", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteLaxMode, MaxAge: int(signinTTL / time.Second)})
	challenge := sha256.Sum256([]byte(p.Verifier))
	q := url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirect}, "scope": {appScopes[a]},
		"state": {p.State}, "aud": {h.fhirBase(origin)}, "code_challenge": {base64.RawURLEncoding.EncodeToString(challenge[:])},
		"code_challenge_method": {"S256"}}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, "/oauth2/authorize?"+q.Encode(), http.StatusSeeOther)
}

func (h *Handler) fhirBase(origin string) string {
	if h.opts.FHIRBase != "" {
		return h.opts.FHIRBase
	}
	return origin + "/fhir"
}

// safeNext keeps a post-sign-in destination only if it is a page of the
// app itself, so that sign-in is no open redirect.
func safeNext(next string, a app) string {
	prefix := "/" + string(a) + "/"
	if strings.HasPrefix(next, prefix) && !strings.Contains(next, "//") && !strings.Contains(next, `\`) {
		return next
	}
	return prefix
}

// tokenResponse is the token endpoint's answer.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int    `json:"expires_in"`
	Error        string `json:"error"`
	Description  string `json:"error_description"`
}

// callback handles GET /callback: the authorisation server's answer. The
// code is redeemed in-process at the token endpoint, as any client would
// redeem it, and the tokens go into a new server-side session.
func (h *Handler) callback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	var p pending
	key := hashKey("signin|", q.Get("state"))
	b, err := h.rec.Session(ctx, key)
	c, cerr := r.Cookie(signinCookie)
	if err == nil {
		err = json.Unmarshal(b, &p)
	}
	if err != nil || cerr != nil || subtle.ConstantTimeCompare([]byte(hashKey("", c.Value)), []byte(p.Browser)) != 1 {
		if err != nil && !errors.Is(err, record.ErrNoSession) {
			h.fail(w, r, nil, err)
			return
		}
		h.render(w, r, http.StatusBadRequest, "error", &view{Title: "Sign-in did not finish", D: errorData{
			Message: "The sign-in took too long, or was started in another browser. Try again.", SignIn: string(appPatient)}})
		return
	}
	h.rec.DeleteSession(ctx, key) // one use
	http.SetCookie(w, &http.Cookie{Name: signinCookie, Path: "/callback", MaxAge: -1, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
	if e := q.Get("error"); e != "" {
		msg := "You did not allow the service to use your record, so you are not signed in."
		if e != "access_denied" {
			msg = "The sign-in did not work. Try again."
		}
		h.render(w, r, http.StatusForbidden, "error", &view{Title: "You are not signed in", D: errorData{Message: msg, SignIn: string(p.App)}})
		return
	}
	origin := strings.TrimSuffix(p.Redirect, "/callback")
	tr, err := h.tokenRequest(r, origin, url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")},
		"redirect_uri": {p.Redirect}, "client_id": {p.ClientID}, "code_verifier": {p.Verifier}})
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	if tr.Error != "" {
		h.render(w, r, http.StatusBadRequest, "error", &view{Title: "Sign-in did not finish", D: errorData{
			Message: "The sign-in could not be completed. Try again.", SignIn: string(p.App)}})
		return
	}
	now := h.now()
	s := &session{App: p.App, Access: tr.AccessToken, Refresh: tr.RefreshToken, AccessExpiry: now.Add(time.Duration(tr.ExpiresIn) * time.Second),
		ClientID: p.ClientID, Issuer: origin, CSRF: randomToken(), Created: now, Seen: now}
	pr, err := h.verify(r, s)
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	s.Name = pr.Name
	want := map[app]auth.Kind{appPatient: auth.Patient, appClinician: auth.Clinician}[p.App]
	if pr.Kind != want {
		// Signed in to the other app: use that one, with its scopes.
		h.revoke(r, s)
		other := appClinician
		if pr.Kind == auth.Patient {
			other = appPatient
		} else if pr.Kind != auth.Clinician {
			h.render(w, r, http.StatusForbidden, "error", &view{Title: "This service is for patients and clinicians", D: errorData{
				Message: "Your account is not a patient's or a clinician's."}})
			return
		}
		http.Redirect(w, r, "/signin?app="+string(other), http.StatusSeeOther)
		return
	}
	cookie := randomToken()
	s.key = hashKey("session|", cookie)
	if err := h.save(ctx, s); err != nil {
		h.fail(w, r, nil, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: cookie, Path: "/", HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, p.Next, http.StatusSeeOther)
}

// save stores s until it would expire by idleness or age.
func (h *Handler) save(ctx context.Context, s *session) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return h.rec.PutSession(ctx, s.key, b, h.expiry(s))
}

func (h *Handler) expiry(s *session) time.Time {
	idle, age := s.Seen.Add(h.opts.IdleTimeout), s.Created.Add(h.opts.MaxAge)
	if idle.Before(age) {
		return idle
	}
	return age
}

// session returns the request's session with its Principal, or nil when
// there is none (or it has expired, or its tokens were revoked).
func (h *Handler) session(w http.ResponseWriter, r *http.Request) (*session, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil, nil
	}
	key := hashKey("session|", c.Value)
	s, err := h.load(r.Context(), key)
	if s == nil || err != nil {
		return nil, err
	}
	now := h.now()
	if !now.Before(h.expiry(s)) {
		h.rec.DeleteSession(r.Context(), key)
		return nil, nil
	}
	if now.Add(refreshEarly).After(s.AccessExpiry) {
		if s, err = h.refreshTokens(r, key); s == nil || err != nil {
			return nil, err
		}
	}
	pr, err := h.verify(r, s)
	if err != nil {
		if _, ok := outcome.As(err); ok {
			h.rec.DeleteSession(r.Context(), key) // revoked or refused: sign in again
			return nil, nil
		}
		return nil, err
	}
	s.principal = pr
	if now.Sub(s.Seen) >= seenEvery {
		s.Seen = now
		if err := h.save(r.Context(), s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (h *Handler) load(ctx context.Context, key string) (*session, error) {
	b, err := h.rec.Session(ctx, key)
	if errors.Is(err, record.ErrNoSession) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	s := &session{key: key}
	if err := json.Unmarshal(b, s); err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	return s, nil
}

// refreshTokens renews the session's access token with its refresh token,
// one request of the session at a time: a refresh token is single-use, and
// spending it twice would revoke the sign-in.
func (h *Handler) refreshTokens(r *http.Request, key string) (*session, error) {
	unlock := h.refresh.lock(key)
	defer unlock()
	s, err := h.load(r.Context(), key) // another request may have refreshed it meanwhile
	if s == nil || err != nil {
		return nil, err
	}
	if !h.now().Add(refreshEarly).After(s.AccessExpiry) {
		return s, nil
	}
	tr, err := h.tokenRequest(r, s.Issuer, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {s.Refresh}, "client_id": {s.ClientID}})
	if err != nil {
		return nil, err
	}
	if tr.Error != "" || tr.RefreshToken == "" {
		h.rec.DeleteSession(r.Context(), key)
		return nil, nil
	}
	s.Access, s.Refresh = tr.AccessToken, tr.RefreshToken
	s.AccessExpiry = h.now().Add(time.Duration(tr.ExpiresIn) * time.Second)
	return s, h.save(r.Context(), s)
}

// tokenRequest posts form to the token endpoint in-process, as a request
// to origin (whose issuer the tokens carry).
func (h *Handler) tokenRequest(r *http.Request, origin string, form url.Values) (*tokenResponse, error) {
	rec := h.oauthCall(r, origin, "/oauth2/token", form)
	var tr tokenResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &tr); err != nil {
		return nil, fmt.Errorf("token endpoint: status %d: %w", rec.Code, err)
	}
	if rec.Code >= 500 {
		return nil, fmt.Errorf("token endpoint: status %d: %s", rec.Code, tr.Error)
	}
	return &tr, nil
}

func (h *Handler) oauthCall(r *http.Request, origin, path string, form url.Values) *httptest.ResponseRecorder {
	u, _ := url.Parse(origin)
	req := httptest.NewRequestWithContext(r.Context(), http.MethodPost, origin+path, strings.NewReader(form.Encode()))
	req.Host = u.Host
	req.RemoteAddr = r.RemoteAddr
	req.TLS = nil
	if u.Scheme == "https" {
		req.TLS = r.TLS
		if req.TLS == nil {
			req.TLS = &tlsState
		}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	h.oauth.ServeHTTP(rec, req)
	return rec
}

// verify checks the session's access token as the FHIR API checks a bearer
// token, and returns its Principal.
func (h *Handler) verify(r *http.Request, s *session) (*auth.Principal, error) {
	u, _ := url.Parse(s.Issuer)
	req := r.Clone(r.Context())
	req.Host = u.Host
	if u.Scheme == "https" && req.TLS == nil {
		req.TLS = &tlsState
	} else if u.Scheme == "http" {
		req.TLS = nil
	}
	req.Header.Set("Authorization", "Bearer "+s.Access)
	p, err := h.auth.Authenticate(req)
	if err != nil {
		return nil, err
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		p.Address = host
	} else {
		p.Address = r.RemoteAddr
	}
	return p, nil
}

// revoke ends the session's sign-in at the authorisation server: its
// refresh token, and with it every access token of the sign-in.
func (h *Handler) revoke(r *http.Request, s *session) {
	if s.Refresh != "" {
		h.oauthCall(r, s.Issuer, "/oauth2/revoke", url.Values{"token": {s.Refresh}, "client_id": {s.ClientID}})
	}
	h.oauthCall(r, s.Issuer, "/oauth2/revoke", url.Values{"token": {s.Access}, "client_id": {s.ClientID}})
}

// signout handles POST /signout: the tokens are revoked, the session
// forgotten, and the browser told to drop the pages it cached.
func (h *Handler) signout(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	s, err := h.session(w, r)
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	if s != nil {
		if !s.checkCSRF(r) {
			h.render(w, r, http.StatusForbidden, "error", &view{Title: "This form has expired", s: s, D: errorData{
				Message: "Go back, reload the page and try again."}})
			return
		}
		h.revoke(r, s)
		if err := h.rec.DeleteSession(r.Context(), s.key); err != nil {
			h.fail(w, r, nil, err)
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Path: "/", MaxAge: -1, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
	w.Header().Set("Clear-Site-Data", `"cache"`)
	h.render(w, r, http.StatusOK, "signedout", &view{Title: "You have signed out"})
}

// tlsState marks an in-process request as made over TLS, so that the
// authorisation server derives an https issuer for it.
var tlsState tls.ConnectionState
