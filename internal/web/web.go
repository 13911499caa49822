package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // pages show times in Europe/London whatever the host has

	"sharedcare/internal/auth"
	"sharedcare/internal/outcome"
	"sharedcare/internal/record"
)

// Options configure a Handler. Record and Auth are required; zero values
// of the rest are working defaults.
type Options struct {
	Record *record.Service
	Auth   *auth.Server
	// Origin is the public origin of the apps, such as
	// "https://ehr.example.nhs.uk": where the sign-in returns to. "" takes
	// it from each request, which is allowed for loopback hosts only
	// (development), so that a forged Host cannot register a redirect.
	Origin string
	// FHIRBase is the aud of the apps' tokens; "" means Origin + "/fhir".
	FHIRBase string
	// IdleTimeout ends a session unused this long; 0 means 30 minutes.
	// MaxAge ends any session this long after sign-in; 0 means 12 hours,
	// the life of an online_access refresh token.
	IdleTimeout, MaxAge time.Duration
	Now                 func() time.Time
	Log                 *slog.Logger
}

// Handler serves the apps. It is safe for concurrent use.
type Handler struct {
	rec      *record.Service
	auth     *auth.Server
	oauth    http.Handler // the authorisation server's endpoints, called in-process
	opts     Options
	now      func() time.Time
	log      *slog.Logger
	mux      *http.ServeMux
	pages    map[string]*template.Template
	assets   *assets
	london   *time.Location
	clients  sync.Map // redirect URI → client id registered for it
	refresh  keyedMutex
	orgNames nameCache
}

//go:embed templates/*.html
var templateFiles embed.FS

// New returns a Handler. It does no I/O: the OAuth client is registered
// on the first sign-in.
func New(opts Options) *Handler {
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 30 * time.Minute
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = 12 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	opts.Origin = strings.TrimSuffix(opts.Origin, "/")
	opts.FHIRBase = strings.TrimSuffix(opts.FHIRBase, "/")
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		london = time.UTC
	}
	h := &Handler{rec: opts.Record, auth: opts.Auth, oauth: opts.Auth.Handler(), opts: opts, now: opts.Now, log: opts.Log,
		assets: loadAssets(), london: london}
	h.pages = h.parsePages()
	h.routes()
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func (h *Handler) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /{$}", h.home)
	m.HandleFunc("GET /signin", h.signin)
	m.HandleFunc("GET /callback", h.callback)
	m.HandleFunc("POST /signout", h.signout)
	m.HandleFunc("GET /static/{name}", h.assets.serve)
	m.HandleFunc("GET /favicon.ico", h.assets.favicon)

	p := func(pattern string, fn pageFunc) { m.Handle(pattern, h.page(appPatient, fn)) }
	p("GET /patient/{$}", h.patientSummary)
	p("GET /patient/results/{code}", h.patientResult)
	p("GET /patient/documents/{id}", h.patientDocument)
	p("GET /patient/audit", h.patientAudit)
	p("GET /patient/sharing", h.patientSharing)
	p("POST /patient/sharing", h.patientSharingPost)
	p("GET /patient/appointments", h.patientAppointments)
	p("GET /patient/help", h.patientHelp)
	p("POST /patient/help", h.patientHelpPost)

	c := func(pattern string, fn pageFunc) { m.Handle(pattern, h.page(appClinician, fn)) }
	c("GET /clinician/{$}", h.clinicianHome)
	c("GET /clinician/patients", h.clinicianFind)
	c("GET /clinician/patients/{id}", h.clinicianRecord)
	c("POST /clinician/patients/{id}/break-glass", h.clinicianBreakGlass)
	c("GET /clinician/patients/{id}/results/{code}", h.clinicianResult)
	c("GET /clinician/patients/{id}/documents/{doc}", h.clinicianDocument)
	c("GET /clinician/patients/{id}/consultation", h.consultation)
	c("POST /clinician/patients/{id}/consultation", h.consultationPost)
	c("GET /clinician/inbox", h.clinicianInbox)
	c("GET /clinician/appointments", h.clinicianAppointments)
	c("GET /clinician/requests", h.clinicianRequests)
	c("GET /clinician/requests/{id}", h.clinicianRequest)
	c("POST /clinician/requests/{id}", h.clinicianRequestPost)

	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.render(w, r, http.StatusNotFound, "error", &view{Title: "Page not found", D: errorData{
			Message: "If you typed the web address, check it is correct. If you pasted it, check you copied all of it."}})
	})
	h.mux = m
}

// app is which of the two apps a page belongs to, and so who may use it.
type app string

const (
	appPatient   app = "patient"
	appClinician app = "clinician"
)

// pageFunc serves one page for a signed-in user; its context carries the
// user's Principal.
type pageFunc func(w http.ResponseWriter, r *http.Request, s *session) error

// maxForm bounds the body of a form: the longest, an online consultation
// request, is a few kilobytes.
const maxForm = 64 << 10

// page wraps a pageFunc: it finds the session (or sends the browser to
// sign in), checks that the user belongs in this app, enforces the CSRF
// token on every POST, puts the Principal in the context and renders any
// error as a page.
func (h *Handler) page(a app, fn pageFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := h.session(w, r)
		if err != nil {
			h.fail(w, r, nil, err)
			return
		}
		if s == nil {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/signin?app="+string(a)+"&next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			h.render(w, r, http.StatusForbidden, "error", &view{Title: "You have been signed out", D: errorData{
				Message: "You were signed out because you had not used the service for a while. Sign in again, then try once more.", SignIn: string(a)}})
			return
		}
		if s.App != a {
			http.Redirect(w, r, "/"+string(s.App)+"/", http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		}
		if r.Method == http.MethodPost && !s.checkCSRF(r) {
			h.render(w, r, http.StatusForbidden, "error", &view{Title: "This form has expired", s: s, D: errorData{
				Message: "The form was not sent from this service, or it is out of date. Go back, reload the page and try again."}})
			return
		}
		ctx := auth.NewContext(r.Context(), s.principal)
		if err := fn(w, r.WithContext(ctx), s); err != nil {
			h.fail(w, r, s, err)
		}
	})
}

// fail renders an error as a page: what the user can act on from an
// *outcome.Error, and nothing but an apology for anything else.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, s *session, err error) {
	v := &view{s: s}
	status := http.StatusInternalServerError
	if e, ok := outcome.As(err); ok && e.Status < 500 {
		status = e.Status
		switch status {
		case http.StatusNotFound, http.StatusGone:
			v.Title, v.D = "Page not found", errorData{Message: "This record is not there, or it is not one you can see."}
		case http.StatusUnauthorized:
			v.Title, v.D = "Sign in again", errorData{Message: "Your sign-in has ended.", SignIn: string(appPatient)}
		case http.StatusForbidden:
			msg := "You cannot see or change this."
			if len(e.Issues) > 0 && e.Issues[0].Diagnostics != "" {
				msg = e.Issues[0].Diagnostics
			}
			v.Title, v.D = "You cannot do this", errorData{Message: msg}
		default:
			msg := "The request could not be completed. Go back and try again."
			if len(e.Issues) > 0 && e.Issues[0].Diagnostics != "" {
				msg = e.Issues[0].Diagnostics // for this user, about their own request
			}
			v.Title, v.D = "There is a problem", errorData{Message: msg}
		}
	} else {
		if ok {
			status = e.Status
		}
		h.log.ErrorContext(r.Context(), "page failed", "route", r.Pattern, "status", status, "err", err)
		v.Title, v.D = "Sorry, there is a problem with the service", errorData{Message: "Try again later."}
	}
	h.render(w, r, status, "error", v)
}

type errorData struct {
	Message string
	SignIn  string // the app to offer to sign in to, if any
}

// view is what every template gets: the layout's needs, and the page's own
// data in D.
type view struct {
	Title  string
	Back   *link
	Errors []fieldError // shown in an error summary and next to their fields
	Notice string       // a success message
	D      any

	s      *session
	App    app
	User   string
	CSRF   string
	Nav    []link
	Assets *assets
}

type link struct {
	Href, Text string
	Current    bool
}

// fieldError is a validation error for the field with id Field ("" for
// the form as a whole).
type fieldError struct {
	Field, Message string
}

// ErrorFor returns the message for field, for the templates.
func (v *view) ErrorFor(field string) string {
	for _, e := range v.Errors {
		if e.Field == field {
			return e.Message
		}
	}
	return ""
}

// input is a text field for the "input" template.
type input struct {
	ID, Label, Value, Hint, Class, Error string
}

func field(v *view, id, label, value, hint, class string) input {
	return input{ID: id, Label: label, Value: value, Hint: hint, Class: class, Error: v.ErrorFor(id)}
}

func (h *Handler) parsePages() map[string]*template.Template {
	funcs := template.FuncMap{
		"nhs":   formatNHSNumber,
		"field": field,
	}
	base := template.Must(template.New("").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html"))
	names, _ := fs.Glob(templateFiles, "templates/*.html")
	out := map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		out[name] = template.Must(template.Must(base.Clone()).ParseFS(templateFiles, n))
	}
	return out
}

// render writes page name with v. Pages are private to the user and
// revalidated on every use (no-cache), with an ETag over their bytes, so a
// page seen before costs a 304 and a few hundred bytes on a slow link.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, v *view) {
	v.Assets = h.assets
	if s := v.s; s != nil {
		v.App, v.User, v.CSRF = s.App, s.Name, s.CSRF
		v.Nav = navFor(s.App, r.URL.Path)
	}
	var b bytes.Buffer
	if err := h.pages[name].ExecuteTemplate(&b, "layout", v); err != nil {
		h.log.ErrorContext(r.Context(), "page template", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	sum := sha256.Sum256(b.Bytes())
	etag := `W/"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`
	hd := w.Header()
	setPageHeaders(hd)
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "private, no-cache")
	hd.Set("ETag", etag)
	hd.Add("Vary", "Cookie")
	if status == http.StatusOK && r.Method == http.MethodGet && etagMatch(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// setPageHeaders sets the content security policy of the apps' pages:
// their own styles, scripts and images only, no inline script, forms that
// post only here.
func setPageHeaders(hd http.Header) {
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; connect-src 'self'; "+
		"form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
}

func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == strings.TrimPrefix(etag, "W/") {
			return true
		}
	}
	return false
}

func navFor(a app, path string) []link {
	var ls []link
	switch a {
	case appPatient:
		ls = []link{{Href: "/patient/", Text: "My record"}, {Href: "/patient/appointments", Text: "Appointments"},
			{Href: "/patient/help", Text: "Ask for help"}, {Href: "/patient/sharing", Text: "Sharing"}, {Href: "/patient/audit", Text: "Who looked"}}
	case appClinician:
		ls = []link{{Href: "/clinician/", Text: "Today"}, {Href: "/clinician/patients", Text: "Find a patient"},
			{Href: "/clinician/inbox", Text: "Results inbox"}, {Href: "/clinician/requests", Text: "Online requests"}}
	}
	// The current item is the longest link the path starts with: the app's
	// home for pages no other item covers.
	best := -1
	for i, l := range ls {
		if strings.HasPrefix(path, l.Href) && (best < 0 || len(l.Href) > len(ls[best].Href)) {
			best = i
		}
	}
	if best >= 0 {
		ls[best].Current = true
	}
	return ls
}

// home is the front door: where to sign in, or the signed-in user's app.
func (h *Handler) home(w http.ResponseWriter, r *http.Request) {
	s, err := h.session(w, r)
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	if s != nil {
		http.Redirect(w, r, "/"+string(s.App)+"/", http.StatusSeeOther)
		return
	}
	h.render(w, r, http.StatusOK, "home", &view{Title: "sharedcare"})
}

// keyedMutex serialises work per key (a session's token refresh), so that
// two requests of one session do not both spend its refresh token.
type keyedMutex struct {
	mu    sync.Mutex // guards locks
	locks map[string]*keyLock
}

type keyLock struct {
	sync.Mutex
	users int
}

func (k *keyedMutex) lock(key string) func() {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*keyLock{}
	}
	l := k.locks[key]
	if l == nil {
		l = &keyLock{}
		k.locks[key] = l
	}
	l.users++
	k.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		k.mu.Lock()
		if l.users--; l.users == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}

// nameCache remembers organisation names for "recorded by", for ten
// minutes: they are directory data that every signed-in user may read.
type nameCache struct {
	mu sync.Mutex // guards m
	m  map[string]cachedName
}

type cachedName struct {
	name  string
	until time.Time
}

func (c *nameCache) get(ref string, now time.Time) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.m[ref]
	return n.name, ok && now.Before(n.until)
}

func (c *nameCache) put(ref, name string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) > 10000 {
		c.m = map[string]cachedName{}
	}
	c.m[ref] = cachedName{name: name, until: now.Add(10 * time.Minute)}
}
