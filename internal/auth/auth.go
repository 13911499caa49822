package auth

import (
	"context"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// Options configure a Server. Zero values are working defaults, except
// Records, which is required.
type Options struct {
	Records Records
	// Issuer is the public origin of this server, such as
	// "https://ehr.example.nhs.uk": the iss of its tokens, and the base of
	// /oauth2/... . "" derives it from each request's scheme and Host,
	// which suits development only: tokens then verify only at the host
	// they were issued at.
	Issuer string
	// FHIRBase is the public FHIR base URL, the aud of access tokens and
	// the aud a SMART app must ask for; "" means Issuer + "/fhir".
	FHIRBase string
	// TokenTTL is how long an access token lives; 0 means 15 minutes.
	TokenTTL time.Duration
	// RefreshTTL is how long an offline_access refresh token lives
	// unused; 0 means 30 days. online_access ones live 12 hours.
	RefreshTTL time.Duration
	// OIDC, when its Issuer is set, makes bearer tokens of that external
	// OpenID Connect provider (NHS CIS2, NHS login) valid too.
	OIDC OIDCOptions
	// Pages replaces the sign-in pages: a template set defining "login",
	// "consent" and "error" (see pages/*.html for the data they get).
	// nil means the plain built-in pages.
	Pages *template.Template
	// HTTPClient fetches JWKS and discovery documents; nil means a client
	// with a 10 s timeout.
	HTTPClient *http.Client
	Log        *slog.Logger
	Now        func() time.Time
}

// OIDCOptions configure trust in an external OpenID Connect provider.
type OIDCOptions struct {
	// Issuer is the provider's issuer URL; its discovery document is at
	// Issuer + "/.well-known/openid-configuration".
	Issuer string
	// Audience is the aud its tokens must carry: this server's client id
	// at the provider.
	Audience string
	// Claim names the token claim that identifies the local user (whose
	// ExternalID equals it); "" means "sub". NHS CIS2 and NHS login
	// deployments may choose an SDS user id or an NHS number claim.
	Claim string
}

// Server is the authorisation server and token checker. It is safe for
// concurrent use; its state beyond caches lives in Records, so several
// nodes over one database share users, clients, tokens and counters.
type Server struct {
	opts     Options
	rec      Records
	log      *slog.Logger
	now      func() time.Time
	http     *http.Client
	pages    *template.Template
	keys     keyring
	revoke   revocations
	verified tokenCache
	oidc     *remoteKeys // nil without an external provider
	jwks     jwksCache   // clients' JWKS URLs
}

// New returns a Server over opts.Records. It does no I/O: signing keys are
// read, or created on first start, when first needed.
func New(opts Options) *Server {
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = 15 * time.Minute
	}
	if opts.RefreshTTL <= 0 {
		opts.RefreshTTL = 30 * 24 * time.Hour
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	opts.Issuer = strings.TrimSuffix(opts.Issuer, "/")
	opts.FHIRBase = strings.TrimSuffix(opts.FHIRBase, "/")
	if opts.OIDC.Claim == "" {
		opts.OIDC.Claim = "sub"
	}
	opts.OIDC.Issuer = strings.TrimSuffix(opts.OIDC.Issuer, "/")
	s := &Server{opts: opts, rec: opts.Records, log: opts.Log, now: opts.Now, http: opts.HTTPClient, pages: opts.Pages}
	if s.pages == nil {
		s.pages = builtinPages
	}
	s.jwks.urls = map[string]*remoteKeys{}
	if opts.OIDC.Issuer != "" {
		s.oidc = &remoteKeys{discovery: opts.OIDC.Issuer + "/.well-known/openid-configuration", issuer: opts.OIDC.Issuer}
	}
	return s
}

// issuer is the iss of tokens issued or accepted on r.
func (s *Server) issuer(r *http.Request) string {
	if s.opts.Issuer != "" {
		return s.opts.Issuer
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// fhirBase is the aud of access tokens issued or accepted on r.
func (s *Server) fhirBase(r *http.Request) string {
	if s.opts.FHIRBase != "" {
		return s.opts.FHIRBase
	}
	return s.issuer(r) + "/fhir"
}

// Run keeps this node's caches in step with the others' until ctx ends:
// at once and then every 15 s it reads the revoked tokens, and the
// signing keys again, so a
// revocation or key rotation on another node applies here within that.
func (s *Server) Run(ctx context.Context) {
	t := time.NewTicker(15 * time.Second)
	defer t.Stop()
	for first := true; ; first = false {
		if !first {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
		if err := s.syncRevocations(ctx); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "reading revoked tokens", "err", err)
		}
		if first {
			continue // keys are read when first needed
		}
		s.keys.mu.Lock()
		if err := s.loadKeys(ctx); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "reading signing keys", "err", err)
		}
		s.keys.mu.Unlock()
	}
}
