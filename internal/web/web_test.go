package web_test

import (
	"compress/gzip"
	"context"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"sharedcare/internal/auth"
	"sharedcare/internal/server"
	"sharedcare/internal/store/sqlite"
	"sharedcare/internal/synth"
)

// clock is a settable time for the server under test: auth and the web
// sessions both read it.
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

// site is the whole server, with the demo practice, on SQLite.
type site struct {
	*httptest.Server
	clock     *clock
	demo      *synth.DemoPopulation
	passwords map[string]string // by user name
}

// newSite starts a site of its own, for a test that moves its clock.
func newSite(t testing.TB) *site {
	t.Helper()
	s, stop, err := startSite(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return s
}

// The site most tests share: loading the demo takes a second or two (ten
// under -race), and the tests touch different patients, or only add to a
// record, so they can share it. TestMain stops it.
var shared struct {
	once sync.Once
	site *site
	stop func()
	err  error
}

func sharedSite(t *testing.T) *site {
	t.Helper()
	shared.once.Do(func() {
		dir, err := os.MkdirTemp("", "sharedcare-web-test-")
		if err != nil {
			shared.err = err
			return
		}
		var stop func()
		shared.site, stop, shared.err = startSite(dir)
		shared.stop = func() {
			if stop != nil {
				stop()
			}
			os.RemoveAll(dir)
		}
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.site
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.stop != nil {
		shared.stop()
	}
	os.Exit(code)
}

func startSite(dir string) (*site, func(), error) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(dir, "web.db")})
	if err != nil {
		return nil, nil, err
	}
	c := &clock{t: time.Now()}
	srv := server.New(server.Options{Store: db, Auth: auth.Options{Now: c.now}})
	demo, err := srv.LoadDemo(ctx, time.Now())
	if err == nil {
		var logins []server.DemoLogin
		if logins, err = srv.DemoUsers(ctx, demo); err == nil {
			s := &site{Server: httptest.NewServer(srv), clock: c, demo: demo, passwords: map[string]string{}}
			for _, l := range logins {
				s.passwords[l.Username] = l.Password
			}
			// A clinician of another organisation, who sees an opted-out
			// patient's record only through break-glass.
			_, err = srv.Auth().CreateUser(ctx, auth.NewUser{Username: "hospital.doctor", Password: "hospital-doctor-password-1", Name: "Dr Hospital",
				Role: auth.Clinician, FHIRUser: "Practitioner/" + demo.Clinician.PractitionerID, Organization: "Organization/test-hospital"})
			if err == nil {
				s.passwords["hospital.doctor"] = "hospital-doctor-password-1"
				return s, func() { s.Close(); db.Close() }, nil
			}
			s.Close()
		}
	}
	db.Close()
	return nil, nil, err
}

// browser is a user's browser: a cookie jar, following redirects.
type browser struct {
	t *testing.T
	s *site
	c *http.Client
}

func (s *site) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, s: s, c: &http.Client{Jar: jar}}
}

type page struct {
	status int
	url    string
	body   string
	header http.Header
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, url: resp.Request.URL.String(), body: string(body), header: resp.Header}
}

func (b *browser) get(path string) page {
	req, _ := http.NewRequest(http.MethodGet, b.s.URL+path, nil)
	return b.do(req)
}

func (b *browser) post(path string, form url.Values) page {
	req, _ := http.NewRequest(http.MethodPost, b.s.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var (
	requestRe = regexp.MustCompile(`name="request" value="([^"]+)"`)
	csrfRe    = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
)

func field(t *testing.T, re *regexp.Regexp, body string) string {
	t.Helper()
	m := re.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no %s in page:\n%s", re, body)
	}
	return html.UnescapeString(m[1])
}

// signIn goes through the whole sign-in: the app's redirect to the
// authorisation server, its sign-in and consent pages, and back.
func (b *browser) signIn(app, user string) page {
	b.t.Helper()
	p := b.get("/signin?app=" + app)
	if p.status != http.StatusOK || !strings.Contains(p.body, "Sign in") {
		b.t.Fatalf("GET /signin?app=%s = %d at %s, want the sign-in page", app, p.status, p.url)
	}
	p = b.post("/oauth2/login", url.Values{"request": {field(b.t, requestRe, p.body)}, "csrf": {field(b.t, csrfRe, p.body)},
		"username": {user}, "password": {b.s.passwords[user]}})
	if p.status != http.StatusOK {
		b.t.Fatalf("POST /oauth2/login as %s = %d:\n%s", user, p.status, mainOf(p.body))
	}
	return b.post("/oauth2/consent", url.Values{"request": {field(b.t, requestRe, p.body)}, "csrf": {field(b.t, csrfRe, p.body)}, "decision": {"allow"}})
}

func (b *browser) csrf(path string) string {
	b.t.Helper()
	return field(b.t, csrfRe, b.get(path).body)
}

func signedIn(t *testing.T, s *site, app, user string) *browser {
	t.Helper()
	b := s.browser(t)
	p := b.signIn(app, user)
	if p.status != http.StatusOK || !strings.HasSuffix(p.url, "/"+app+"/") {
		t.Fatalf("sign in as %s: %d at %s, want 200 at /%s/:\n%s", user, p.status, p.url, app, mainOf(p.body))
	}
	return b
}

func TestPagesRender(t *testing.T) {
	t.Parallel()
	s := sharedSite(t)
	margaret, other := s.demo.Patients[0], s.demo.Patients[1]
	pat := signedIn(t, s, "patient", "margaret.thompson")
	gp := signedIn(t, s, "clinician", "sarah.hughes")
	base := "/clinician/patients/" + margaret.ID
	tests := []struct {
		who      *browser
		path     string
		want     string // text the page must hold
		wantCode int
	}{
		{pat, "/patient/", "Type 2 diabetes mellitus", 200},
		{pat, "/patient/results/59261-8", "<svg class=\"sc-chart\"", 200},
		{pat, "/patient/results/85354-9", "Systolic", 200},
		{pat, "/patient/audit", "Who has looked at your record", 200},
		{pat, "/patient/sharing", "Do you want to share your record?", 200},
		{pat, "/patient/appointments", "Diabetes review", 200},
		{pat, "/patient/help", "What do you need help with?", 200},
		{pat, "/patient/results/no-such-test", "Page not found", 404},
		{gp, "/clinician/", "Diabetes review", 200},
		{gp, "/clinician/patients?nhs=" + margaret.NHSNumber, spaced(margaret.NHSNumber), 200},
		{gp, "/clinician/patients?name=" + strings.Fields(other.Name)[1], other.Name, 200},
		{gp, "/clinician/patients?birthdate=" + url.QueryEscape(reformat(margaret.BirthDate)), spaced(margaret.NHSNumber), 200},
		{gp, "/clinician/patients?nhs=123", "Enter a valid 10-digit NHS number", 400},
		{gp, base, "Recorded by", 200},
		{gp, base + "/results/59261-8", "All results", 200},
		{gp, base + "/consultation", "Reason for consultation", 200},
		{gp, "/clinician/inbox", "Results inbox", 200},
		{gp, "/clinician/appointments", "Diabetes review", 200},
		{gp, "/clinician/requests", "Online consultation requests", 200},
		{gp, "/clinician/patients/no-such-patient", "Page not found", 404},
	}
	for _, tt := range tests {
		p := tt.who.get(tt.path)
		if p.status != tt.wantCode || !strings.Contains(p.body, tt.want) {
			t.Errorf("GET %s = %d, want %d with %q:\n%s", tt.path, p.status, tt.wantCode, tt.want, mainOf(p.body))
		}
		if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("GET %s: Content-Security-Policy %q, want scripts from self only", tt.path, csp)
		}
	}
}

// mainOf is the main part of a page, for failure messages.
func mainOf(body string) string {
	if i := strings.Index(body, `<main`); i >= 0 {
		body = body[i:]
	}
	if len(body) > 1500 {
		body = body[:1500]
	}
	return body
}

func spaced(n string) string { return n[:3] + " " + n[3:6] + " " + n[6:] }

func reformat(iso string) string {
	t, _ := time.Parse("2006-01-02", iso)
	return t.Format("2/1/2006")
}

// TestAccessByURL: the pages apply record's rules, so changing an id in
// the URL shows nothing that the user could not see through the API.
func TestAccessByURL(t *testing.T) {
	t.Parallel()
	s := sharedSite(t)
	margaret, david := s.demo.Patients[0], s.demo.Patients[1]
	gp := signedIn(t, s, "clinician", "sarah.hughes")
	// A document of David's, found as his GP.
	rec := gp.get("/clinician/patients/" + david.ID)
	m := regexp.MustCompile(`/clinician/patients/` + david.ID + `/documents/([0-9a-f-]+)`).FindStringSubmatch(rec.body)
	if m == nil {
		t.Fatalf("no document link on David's record:\n%s", mainOf(rec.body))
	}
	pat := signedIn(t, s, "patient", "margaret.thompson")
	tests := []struct {
		path     string
		wantCode int
		wantURL  string // where the browser ends up
	}{
		{"/patient/documents/" + m[1], http.StatusNotFound, "/patient/documents/" + m[1]},
		{"/clinician/patients/" + david.ID, http.StatusOK, "/patient/"}, // the other app: sent home
		{"/clinician/patients/" + margaret.ID + "/documents/" + m[1], http.StatusOK, "/patient/"},
	}
	for _, tt := range tests {
		p := pat.get(tt.path)
		if p.status != tt.wantCode || !strings.HasSuffix(p.url, tt.wantURL) || strings.Contains(p.body, david.Name) {
			t.Errorf("patient GET %s = %d at %s, want %d at %s without David's name", tt.path, p.status, p.url, tt.wantCode, tt.wantURL)
		}
	}
	// Signed out, every page asks to sign in.
	anon := s.browser(t)
	anon.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, path := range []string{"/patient/", "/clinician/patients/" + david.ID} {
		p := anon.get(path)
		if p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/signin?") {
			t.Errorf("signed-out GET %s = %d to %q, want 303 to /signin", path, p.status, p.header.Get("Location"))
		}
	}
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	s := sharedSite(t)
	pat := signedIn(t, s, "patient", "david.brown")
	token := pat.csrf("/patient/sharing")
	for _, tt := range []struct {
		name, csrf string
		wantCode   int
	}{
		{"none", "", http.StatusForbidden},
		{"wrong", "x" + token, http.StatusForbidden},
		{"right", token, http.StatusOK}, // 303, followed to the page
	} {
		p := pat.post("/patient/sharing", url.Values{"csrf": {tt.csrf}, "share": {"yes"}})
		if p.status != tt.wantCode {
			t.Errorf("POST /patient/sharing with %s CSRF token = %d, want %d", tt.name, p.status, tt.wantCode)
		}
	}
	// Another user's token is no good either.
	other := signedIn(t, s, "patient", "shabana.begum")
	if p := other.post("/patient/sharing", url.Values{"csrf": {token}, "share": {"no"}}); p.status != http.StatusForbidden {
		t.Errorf("POST /patient/sharing with another session's token = %d, want 403", p.status)
	}
}

func TestSessionExpiry(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	pat := signedIn(t, s, "patient", "margaret.thompson")
	// Past the 15-minute access token: the session refreshes it.
	for i := 0; i < 3; i++ {
		s.clock.add(14 * time.Minute)
		if p := pat.get("/patient/"); p.status != http.StatusOK || !strings.HasSuffix(p.url, "/patient/") {
			t.Fatalf("GET /patient/ after %d min = %d at %s, want the page (token refreshed)", 14*(i+1), p.status, p.url)
		}
	}
	// Idle for more than 30 minutes: signed out.
	s.clock.add(31 * time.Minute)
	if p := pat.get("/patient/"); !strings.Contains(p.url, "/oauth2/authorize") {
		t.Errorf("GET /patient/ after 31 idle minutes ended at %s, want the sign-in page", p.url)
	}
	// Signing out ends the session at once.
	pat = signedIn(t, s, "patient", "margaret.thompson")
	p := pat.post("/signout", url.Values{"csrf": {pat.csrf("/patient/")}})
	if p.status != http.StatusOK || p.header.Get("Clear-Site-Data") == "" {
		t.Errorf("POST /signout = %d, Clear-Site-Data %q; want 200 clearing the cache", p.status, p.header.Get("Clear-Site-Data"))
	}
	if p := pat.get("/patient/"); !strings.Contains(p.url, "/oauth2/authorize") {
		t.Errorf("GET /patient/ after signing out ended at %s, want the sign-in page", p.url)
	}
}

func TestConsultation(t *testing.T) {
	t.Parallel()
	s := sharedSite(t)
	margaret := s.demo.Patients[0]
	gp := signedIn(t, s, "clinician", "sarah.hughes")
	path := "/clinician/patients/" + margaret.ID + "/consultation"
	token := gp.csrf(path)
	bad := url.Values{"csrf": {token}, "date": {"31/02/2026"}, "reason": {"Dizziness"}, "bp-systolic": {"12a"}, "bp-diastolic": {"80"},
		"obs-code": {"8867-4"}, "obs-value": {"fast"}, "med-name": {"Amlodipine 2.5mg tablets"}, "med-dose": {"One a day"}, "med-quantity": {"lots"}}
	p := gp.post(path, bad)
	if p.status != http.StatusBadRequest {
		t.Fatalf("POST consultation with bad values = %d, want 400", p.status)
	}
	// Each error is next to its field (the record's FHIRPath locations,
	// mapped back) and in the summary.
	for _, id := range []string{"date", "bp-systolic", "obs-value", "med-quantity"} {
		if !strings.Contains(p.body, `id="`+id+`-error"`) || !strings.Contains(p.body, `href="#`+id+`"`) {
			t.Errorf("POST consultation: no error shown for %s:\n%s", id, mainOf(p.body))
		}
	}
	if p := gp.post(path, url.Values{"csrf": {token}}); !strings.Contains(p.body, `id="reason-error"`) {
		t.Errorf("POST empty consultation: no error for reason")
	}
	good := url.Values{"csrf": {token}, "date": {time.Now().Format("2/1/2006")}, "reason": {"Dizziness on standing"},
		"problem": {"Postural hypotension"}, "problem-code": {"28651003"}, "problem-list": {"yes"},
		"bp-systolic": {"104"}, "bp-diastolic": {"62"}, "med-name": {"Fludrocortisone 100microgram tablets"}, "med-dose": {"One tablet each morning"},
		"med-quantity": {"28"}, "med-unit": {"tablet"}}
	p = gp.post(path, good)
	if p.status != http.StatusOK || !strings.Contains(p.url, "saved=consultation") || !strings.Contains(p.body, "Postural hypotension") {
		t.Fatalf("POST good consultation = %d at %s, want the record with the new problem:\n%s", p.status, p.url, mainOf(p.body))
	}
	// The patient sees it, recorded by the practice.
	pat := signedIn(t, s, "patient", "margaret.thompson")
	sum := pat.get("/patient/")
	for _, want := range []string{"Postural hypotension", "Fludrocortisone 100microgram tablets", "104/62 mmHg", "Riverside Medical Practice"} {
		if !strings.Contains(sum.body, want) {
			t.Errorf("patient summary after the consultation lacks %q", want)
		}
	}
	// And who looked: the GP.
	if a := pat.get("/patient/audit"); !strings.Contains(a.body, "Dr Sarah Hughes") {
		t.Errorf("patient's audit page does not show the GP who looked")
	}
}

func TestOnlineConsultation(t *testing.T) {
	t.Parallel()
	s := sharedSite(t)
	pat := signedIn(t, s, "patient", "shabana.begum")
	token := pat.csrf("/patient/help")
	if p := pat.post("/patient/help", url.Values{"csrf": {token}}); p.status != http.StatusBadRequest ||
		!strings.Contains(p.body, `id="problem-error"`) || !strings.Contains(p.body, `id="duration-error"`) {
		t.Errorf("POST empty help form = %d, want 400 with errors by the fields", p.status)
	}
	p := pat.post("/patient/help", url.Values{"csrf": {token}, "problem": {"My feet tingle at night"}, "duration": {"weeks"}, "want": {"call"}})
	if p.status != http.StatusOK || !strings.Contains(p.body, "has been sent") || !strings.Contains(p.body, "My feet tingle at night") {
		t.Fatalf("POST help = %d at %s, want the sent notice and the request listed:\n%s", p.status, p.url, mainOf(p.body))
	}
	gp := signedIn(t, s, "clinician", "sarah.hughes")
	list := gp.get("/clinician/requests")
	m := regexp.MustCompile(`href="(/clinician/requests/[0-9a-f-]+)"`).FindStringSubmatch(list.body)
	if m == nil || !strings.Contains(list.body, "Shabana Begum") {
		t.Fatalf("clinician's request list lacks Shabana's request:\n%s", mainOf(list.body))
	}
	rq := gp.get(m[1])
	if !strings.Contains(rq.body, "My feet tingle at night") || !strings.Contains(rq.body, "A phone call") {
		t.Errorf("GET %s lacks the patient's answers", m[1])
	}
	p = gp.post(m[1], url.Values{"csrf": {field(t, csrfRe, rq.body)}, "decision": {"accepted"}, "note": {"Call booked for tomorrow"}})
	if p.status != http.StatusOK || !strings.Contains(p.body, "Status: <strong>accepted</strong>") {
		t.Errorf("triage POST %s = %d, want the request accepted:\n%s", m[1], p.status, mainOf(p.body))
	}
}

func TestSharingAndBreakGlass(t *testing.T) {
	t.Parallel()
	s := newSite(t) // break-glass lasts hours: a site of its own, so that it can run again
	shabana := s.demo.Patients[2]
	pat := signedIn(t, s, "patient", "shabana.begum")
	p := pat.post("/patient/sharing", url.Values{"csrf": {pat.csrf("/patient/sharing")}, "share": {"no"}})
	if !strings.Contains(p.body, "not to share") {
		t.Fatalf("after opting out the sharing page says:\n%s", mainOf(p.body))
	}
	path := "/clinician/patients/" + shabana.ID
	gp := signedIn(t, s, "clinician", "hospital.doctor")
	rec := gp.get(path)
	if !strings.Contains(rec.body, "Part of this record is not shared") {
		t.Fatalf("another organisation's view of an opted-out record shows no withheld warning:\n%s", mainOf(rec.body))
	}
	token := field(t, csrfRe, rec.body)
	if p := gp.post(path+"/break-glass", url.Values{"csrf": {token}, "reason": {"short"}}); p.status != http.StatusBadRequest || !strings.Contains(p.body, `id="reason-error"`) {
		t.Errorf("break-glass with a short reason = %d, want 400 with the error by the field", p.status)
	}
	p = gp.post(path+"/break-glass", url.Values{"csrf": {token}, "reason": {"Collapsed in surgery, needs her medication history"}})
	if p.status != http.StatusOK || strings.Contains(p.body, "Part of this record is not shared") || !strings.Contains(p.body, "Emergency access is on") {
		t.Errorf("after break-glass the record = %d, still withheld or no notice:\n%s", p.status, mainOf(p.body))
	}
	if a := pat.get("/patient/audit"); !strings.Contains(a.body, "Emergency access") {
		t.Errorf("patient's audit page does not show the emergency access")
	}
}

// TestLightPages: assets are compressed and cached for a year under hashed
// names; pages carry ETags and answer 304 when unchanged.
func TestLightPages(t *testing.T) {
	t.Parallel()
	s := sharedSite(t)
	pat := signedIn(t, s, "patient", "david.brown") // whose summary no other test changes
	home := pat.get("/patient/")
	css := regexp.MustCompile(`href="(/static/style\.[0-9a-f]+\.css)"`).FindStringSubmatch(home.body)
	if css == nil {
		t.Fatal("no stylesheet link")
	}
	req, _ := http.NewRequest(http.MethodGet, s.URL+css[1], nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: not gzip: %v", css[1], err)
	}
	body, _ := io.ReadAll(zr)
	resp.Body.Close()
	if resp.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") || !strings.Contains(string(body), ".nhsuk-header") {
		t.Errorf("GET %s: encoding %q, cache %q; want gzip, immutable, the design system", css[1], resp.Header.Get("Content-Encoding"), resp.Header.Get("Cache-Control"))
	}
	etag := home.header.Get("ETag")
	req, _ = http.NewRequest(http.MethodGet, s.URL+"/patient/", nil)
	req.Header.Set("If-None-Match", etag)
	if p := pat.do(req); p.status != http.StatusNotModified {
		t.Errorf("GET /patient/ with If-None-Match %s = %d, want 304", etag, p.status)
	}
	if p := pat.get("/"); p.status != http.StatusOK || !strings.HasSuffix(p.url, "/patient/") {
		t.Errorf("GET / signed in = %d at %s, want the patient's app", p.status, p.url)
	}
	if p := s.browser(t).get("/"); !strings.Contains(p.body, "Sign in to your record") {
		t.Errorf("GET / signed out lacks the sign-in links")
	}
}

func TestNavCurrent(t *testing.T) {
	t.Parallel()
	s := sharedSite(t)
	gp := signedIn(t, s, "clinician", "sarah.hughes")
	current := regexp.MustCompile(`<a href="([^"]+)" aria-current="page">`)
	for path, want := range map[string]string{
		"/clinician/":                  "/clinician/",
		"/clinician/patients":          "/clinician/patients",
		"/clinician/patients?name=ab":  "/clinician/patients",
		"/clinician/requests?status=x": "/clinician/requests",
	} {
		m := current.FindAllStringSubmatch(gp.get(path).body, -1)
		if len(m) != 1 || m[0][1] != want {
			t.Errorf("GET %s: current menu items %v, want only %s", path, m, want)
		}
	}
}

func TestFormBodyBounded(t *testing.T) {
	t.Parallel()
	s := sharedSite(t)
	pat := signedIn(t, s, "patient", "margaret.thompson")
	big := url.Values{"csrf": {pat.csrf("/patient/help")}, "problem": {strings.Repeat("a", 100<<10)}, "duration": {"days"}, "want": {"call"}}
	if p := pat.post("/patient/help", big); p.status != http.StatusForbidden {
		t.Errorf("POST /patient/help with a 100 KB body = %d, want 403 (the form is not read past 64 KB)", p.status)
	}
}
