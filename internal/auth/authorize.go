package auth

import (
	"bytes"
	"context"
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

//go:embed pages/*.html
var pageFiles embed.FS

var builtinPages = template.Must(template.ParseFS(pageFiles, "pages/*.html"))

const (
	requestTTL = 10 * time.Minute // to sign in and decide
	codeTTL    = time.Minute      // from redirect to token request
	launchTTL  = 10 * time.Minute
	cookieName = "sharedcare_authz"
)

// authRequest is an authorisation request between the app's redirect to
// /oauth2/authorize and the user's decision; it lives in Records, so any
// node can carry on with it.
type authRequest struct {
	ClientID    string    `json:"client_id"`
	RedirectURI string    `json:"redirect_uri"`
	State       string    `json:"state"`
	Scope       string    `json:"scope"` // what may be granted: asked for, within the client's
	Challenge   string    `json:"code_challenge"`
	Nonce       string    `json:"nonce,omitempty"`
	Launch      *launch   `json:"launch,omitempty"` // EHR launch context
	CSRF        string    `json:"csrf"`
	Browser     string    `json:"browser"` // SHA-256 of the browser's cookie
	UserID      string    `json:"user_id,omitempty"`
	AuthTime    time.Time `json:"auth_time"`
	Expires     time.Time `json:"expires"`
}

// authCode is what an authorisation code stands for.
type authCode struct {
	ClientID    string    `json:"client_id"`
	RedirectURI string    `json:"redirect_uri"`
	Challenge   string    `json:"code_challenge"`
	UserID      string    `json:"user_id"`
	Scope       string    `json:"scope"`
	Patient     string    `json:"patient,omitempty"`
	Nonce       string    `json:"nonce,omitempty"`
	AuthTime    time.Time `json:"auth_time"`
	Expires     time.Time `json:"expires"`
}

// launch is an EHR launch context that /oauth2/launch issued.
type launch struct {
	Patient string    `json:"patient"`
	UserID  string    `json:"user_id"` // who launched: only they may sign in with it
	Expires time.Time `json:"expires"`
}

// page is the data every sign-in template gets.
type page struct {
	Title, Error, Action, Request, CSRF string
	ClientName, UserName, Username      string
	Scopes                              []string // described for people
	AskPatient                          bool
}

// authorize handles GET /oauth2/authorize (RFC 6749 §4.1.1 with PKCE, RFC
// 7636, as SMART App Launch profiles it). Until the client and redirect
// URI are known good, errors are shown here and never redirected, so the
// endpoint cannot be used as an open redirect.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	for k, v := range q {
		if len(v) > 1 {
			s.errorPage(w, r, http.StatusBadRequest, fmt.Sprintf("The request repeats the parameter %q.", k))
			return
		}
	}
	c, err := s.Client(ctx, q.Get("client_id"))
	if errors.Is(err, errNotFound) {
		s.errorPage(w, r, http.StatusBadRequest, "The app is not registered with this server.")
		return
	} else if err != nil {
		s.failPage(w, r, err)
		return
	}
	redirect := q.Get("redirect_uri")
	if !c.redirectAllowed(redirect) {
		s.errorPage(w, r, http.StatusBadRequest, "The app asked to return to an address it has not registered.")
		return
	}
	state := q.Get("state")
	fail := func(code, desc string) { redirectError(w, r, redirect, state, code, desc) }
	switch {
	case q.Get("response_type") != "code":
		fail("unsupported_response_type", "response_type must be code")
		return
	case state == "":
		fail("invalid_request", "state is required")
		return
	case q.Get("code_challenge_method") != "S256":
		fail("invalid_request", "PKCE is required, with code_challenge_method S256")
		return
	case !validChallenge(q.Get("code_challenge")):
		fail("invalid_request", "code_challenge must be the base64url SHA-256 of the verifier (43 characters)")
		return
	case strings.TrimSuffix(q.Get("aud"), "/") != s.fhirBase(r):
		fail("invalid_request", "aud must be this server's FHIR base URL, "+s.fhirBase(r))
		return
	}
	asked, err := ParseScopes(q.Get("scope"))
	if err != nil {
		fail("invalid_scope", err.Error())
		return
	}
	allowed, _ := ParseScopes(c.Scopes)
	var grant Scopes
	for _, sc := range asked.Within(allowed) {
		if sc.Known() && sc.Context != SystemContext {
			grant = append(grant, sc)
		}
	}
	if len(grant) == 0 {
		fail("invalid_scope", "none of the scopes asked for can be granted to this app")
		return
	}
	req := &authRequest{ClientID: c.ID, RedirectURI: redirect, State: state, Scope: grant.String(),
		Challenge: q.Get("code_challenge"), Nonce: q.Get("nonce"), CSRF: randomToken(24), Expires: s.now().Add(requestTTL)}
	if id := q.Get("launch"); id != "" {
		var l launch
		// Records' own expiry uses the database's clock; each record also
		// carries its expiry by ours, which decides.
		if err := getJSON(ctx, s.rec, kindLaunch, id, &l); errors.Is(err, errNotFound) || (err == nil && !s.now().Before(l.Expires)) {
			fail("invalid_request", "the launch context is unknown or has expired")
			return
		} else if err != nil {
			s.failPage(w, r, err)
			return
		}
		req.Launch = &l
	}
	req.Browser = hashKey(s.browserCookie(w, r))
	id := randomToken(24)
	if err := putJSON(ctx, s.rec, kindRequest, id, req, req.Expires); err != nil {
		s.failPage(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "login", page{Title: "Sign in", Action: "/oauth2/login", Request: id, CSRF: req.CSRF, ClientName: c.Name}, "")
}

// login handles POST /oauth2/login: the sign-in form.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, req, c, ok := s.pendingRequest(w, r)
	if !ok {
		return
	}
	username := r.PostForm.Get("username")
	pg := page{Title: "Sign in", Action: "/oauth2/login", Request: id, CSRF: req.CSRF, ClientName: c.Name, Username: username}
	ip := clientIP(r)
	limited, err := s.limited(ctx, userKey(username), "ip:"+ip)
	if err != nil {
		s.failPage(w, r, err)
		return
	}
	if limited {
		pg.Error = "There have been too many attempts to sign in. Wait 15 minutes, then try again."
		s.render(w, r, http.StatusTooManyRequests, "login", pg, "")
		return
	}
	u, err := s.checkCredentials(ctx, username, r.PostForm.Get("password"))
	if err != nil {
		s.failPage(w, r, err)
		return
	}
	if u == nil {
		if err := s.failed(ctx, userKey(username), "ip:"+ip); err != nil {
			s.failPage(w, r, err)
			return
		}
		pg.Error = "The user name or password is not right." // the same whether or not the user exists
		s.render(w, r, http.StatusUnauthorized, "login", pg, "")
		return
	}
	if err := s.succeeded(ctx, userKey(username)); err != nil {
		s.failPage(w, r, err)
		return
	}
	if req.Launch != nil && req.Launch.UserID != u.ID {
		s.rec.DeleteRecord(ctx, kindRequest, id)
		redirectError(w, r, req.RedirectURI, req.State, "access_denied", "the app was launched by another user")
		return
	}
	req.UserID, req.AuthTime, req.CSRF = u.ID, s.now().UTC(), randomToken(24) // a new token for the next form
	if err := putJSON(ctx, s.rec, kindRequest, id, req, req.Expires); err != nil {
		s.failPage(w, r, err)
		return
	}
	grant, _ := ParseScopes(req.Scope)
	askPatient := u.Role != Patient && req.Launch == nil && grant.Has(ScopeLaunchPatient)
	s.render(w, r, http.StatusOK, "consent", page{Title: "Allow " + c.Name, Action: "/oauth2/consent", Request: id, CSRF: req.CSRF,
		ClientName: c.Name, UserName: u.Name, Scopes: describeScopes(grant, u.Role), AskPatient: askPatient}, formTarget(req.RedirectURI))
}

// consent handles POST /oauth2/consent: the user's decision.
func (s *Server) consent(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, req, _, ok := s.pendingRequest(w, r)
	if !ok {
		return
	}
	if req.UserID == "" {
		s.errorPage(w, r, http.StatusForbidden, "Sign in first.")
		return
	}
	if err := s.rec.DeleteRecord(ctx, kindRequest, id); err != nil { // one decision per request
		s.failPage(w, r, err)
		return
	}
	if r.PostForm.Get("decision") != "allow" {
		redirectError(w, r, req.RedirectURI, req.State, "access_denied", "the user did not allow the app")
		return
	}
	u, err := s.User(ctx, req.UserID)
	if err != nil {
		s.failPage(w, r, err)
		return
	}
	grant, _ := ParseScopes(req.Scope)
	patient := ""
	switch {
	case u.Role == Patient:
		patient = u.PatientID()
	case req.Launch != nil:
		patient = req.Launch.Patient
	case grant.Has(ScopeLaunchPatient):
		patient = strings.TrimPrefix(strings.TrimSpace(r.PostForm.Get("patient")), "Patient/")
		if patient != "" && !validRef("Patient/"+patient) {
			redirectError(w, r, req.RedirectURI, req.State, "invalid_request", "the patient id is not a FHIR id")
			return
		}
	}
	grant = contextScopes(grant, patient, req.Launch != nil)
	code := randomToken(32)
	ac := authCode{ClientID: req.ClientID, RedirectURI: req.RedirectURI, Challenge: req.Challenge, UserID: u.ID,
		Scope: grant.String(), Patient: patient, Nonce: req.Nonce, AuthTime: req.AuthTime, Expires: s.now().Add(codeTTL)}
	if err := putJSON(ctx, s.rec, kindCode, hashKey(code), ac, ac.Expires); err != nil {
		s.failPage(w, r, err)
		return
	}
	redirectWith(w, r, req.RedirectURI, url.Values{"code": {code}, "state": {req.State}})
}

// contextScopes drops what the launch context cannot support: patient
// scopes and launch/patient without a patient, launch without a launch.
func contextScopes(grant Scopes, patient string, launched bool) Scopes {
	var out Scopes
	for _, sc := range grant {
		switch {
		case sc.Context == PatientContext && patient == "":
		case sc.Name == ScopeLaunchPatient && patient == "":
		case sc.Name == ScopeLaunch && !launched:
		default:
			out = append(out, sc)
		}
	}
	return out
}

// pendingRequest reads the form of a sign-in step and the request it
// continues. The request must come from the browser that started it (its
// cookie) with the form's CSRF token; otherwise it answers with an error
// page and ok is false.
func (s *Server) pendingRequest(w http.ResponseWriter, r *http.Request) (id string, req *authRequest, c *Client, ok bool) {
	ctx := r.Context()
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, r, http.StatusBadRequest, "The form could not be read.")
		return "", nil, nil, false
	}
	id = r.PostForm.Get("request")
	req = &authRequest{}
	err := getJSON(ctx, s.rec, kindRequest, id, req)
	if err != nil && !errors.Is(err, errNotFound) {
		s.failPage(w, r, err)
		return "", nil, nil, false
	}
	cookie, _ := r.Cookie(cookieName)
	if err != nil || cookie == nil || !s.now().Before(req.Expires) ||
		subtle.ConstantTimeCompare([]byte(hashKey(cookie.Value)), []byte(req.Browser)) != 1 ||
		subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(req.CSRF)) != 1 {
		s.errorPage(w, r, http.StatusForbidden, "This sign-in form has expired, or was not sent from the browser it was shown in.")
		return "", nil, nil, false
	}
	c, err = s.Client(ctx, req.ClientID)
	if err != nil {
		s.failPage(w, r, err)
		return "", nil, nil, false
	}
	return id, req, c, true
}

// checkCredentials returns the user whose password this is, or nil. It
// takes as long for an unknown user as for a known one.
func (s *Server) checkCredentials(ctx context.Context, username, password string) (*User, error) {
	u, err := s.UserByName(ctx, username)
	switch {
	case errors.Is(err, errNotFound):
		verifyPassword(dummyHash, password)
		return nil, nil
	case err != nil:
		return nil, err
	case u.PasswordHash == "":
		verifyPassword(dummyHash, password)
		return nil, nil
	}
	if !verifyPassword(u.PasswordHash, password) || u.Disabled {
		return nil, nil
	}
	return u, nil
}

// browserCookie returns the browser's sign-in cookie, setting a new one
// when it has none. It binds a sign-in form to the browser it was shown
// in, so that a form posted from elsewhere (login CSRF) fails.
func (s *Server) browserCookie(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(cookieName); err == nil && len(c.Value) == 43 {
		return c.Value
	}
	v := randomToken(32)
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: v, Path: "/oauth2/", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteLaxMode, MaxAge: int(requestTTL / time.Second)})
	return v
}

// render writes a sign-in page. formTo is an origin the page's form may
// lead to besides this one (the app's redirect URI, after consent).
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, data page, formTo string) {
	var b bytes.Buffer
	if err := s.pages.ExecuteTemplate(&b, name, data); err != nil {
		s.log.ErrorContext(r.Context(), "sign-in page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self' "+formTo+"; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s.render(w, r, status, "error", page{Title: "Sign-in problem", Error: msg}, "")
}

// failPage answers a failure of ours (the database) without detail.
func (s *Server) failPage(w http.ResponseWriter, r *http.Request, err error) {
	s.log.ErrorContext(r.Context(), "sign-in failed", "route", r.Method+" "+r.URL.Path, "err", err)
	s.errorPage(w, r, http.StatusInternalServerError, "Something went wrong on our side.")
}

// formTarget is the CSP form-action source for a redirect URI.
func formTarget(redirect string) string {
	u, err := url.Parse(redirect)
	if err != nil {
		return ""
	}
	if u.Scheme == "http" || u.Scheme == "https" {
		return u.Scheme + "://" + u.Host
	}
	return u.Scheme + ":"
}

// redirectWith sends the browser to the registered redirect URI with
// params added to its query.
func redirectWith(w http.ResponseWriter, r *http.Request, redirect string, params url.Values) {
	u, _ := url.Parse(redirect) // checked when the client was registered
	q := u.Query()
	for k, v := range params {
		if len(v) > 0 && v[0] != "" {
			q[k] = v
		}
	}
	u.RawQuery = q.Encode()
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

func redirectError(w http.ResponseWriter, r *http.Request, redirect, state, code, desc string) {
	redirectWith(w, r, redirect, url.Values{"error": {code}, "error_description": {desc}, "state": {state}})
}

// validChallenge reports whether c looks like an S256 code challenge.
func validChallenge(c string) bool {
	if len(c) != 43 {
		return false
	}
	for i := 0; i < len(c); i++ {
		ch := c[i]
		if !(ch >= 'A' && ch <= 'Z' || ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_') {
			return false
		}
	}
	return true
}

// userKey is the rate-limit counter of a user name. It is hashed: people
// type passwords into the user name field, and counters should not keep
// them.
func userKey(username string) string { return "user:" + hashKey(strings.ToLower(username)) }

// clientIP is the address a request came from, for rate limits. Behind a
// proxy it is the proxy's: X-Forwarded-For is not trusted.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// describeScopes says in words what each scope lets the app do.
func describeScopes(ss Scopes, role Kind) []string {
	var out []string
	for _, sc := range ss {
		out = append(out, describeScope(sc, role))
	}
	return out
}

func describeScope(sc Scope, role Kind) string {
	switch sc.Name {
	case ScopeOpenID, ScopeProfile:
		return "know who you are"
	case ScopeFHIRUser:
		return "know which record is yours (your " + map[bool]string{true: "Patient", false: "Practitioner"}[role == Patient] + " record)"
	case ScopeLaunch, ScopeLaunchPatient:
		return "know which patient's record is open"
	case ScopeOfflineAccess:
		return "keep access when you are not using it, until you withdraw it"
	case ScopeOnlineAccess:
		return "keep access while you are signed in"
	}
	if !sc.Resource() {
		return sc.Name
	}
	var verbs []string
	for op, verb := range []string{"create", "read", "change", "delete", "search"} {
		if sc.Ops.Has(Op(op)) {
			verbs = append(verbs, verb)
		}
	}
	what := "all kinds of records"
	if sc.Type != "*" {
		what = sc.Type + " records"
	}
	whose := map[Context]string{PatientContext: "of the patient in context", UserContext: "that you can see", SystemContext: "on this server"}[sc.Context]
	if sc.Context == PatientContext && role == Patient {
		whose = "in your record"
	}
	d := strings.Join(verbs, ", ") + " " + what + " " + whose
	if sc.Params != nil {
		d += " (only those matching " + sc.Params.Encode() + ")"
	}
	return strings.ToUpper(d[:1]) + d[1:]
}
