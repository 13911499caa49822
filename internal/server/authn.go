package server

import (
	"context"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"sharedcare/internal/api"
	"sharedcare/internal/auth"
	"sharedcare/internal/outcome"
)

// authenticate puts the Principal of each /fhir request in its context:
// from its bearer token, or auth.DevPrincipal when authentication is off.
// GET /fhir/metadata needs no token (clients discover the security there).
// A request made in-process that already carries a Principal (LoadDemo)
// keeps it: a request from the network never does.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := auth.FromContext(r.Context()); ok {
			next.ServeHTTP(w, r)
			return
		}
		if r.URL.Path == "/fhir/metadata" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			next.ServeHTTP(w, r)
			return
		}
		var p *auth.Principal
		if s.insecure {
			p = auth.DevPrincipal()
		} else {
			var err error
			if p, err = s.auth.Authenticate(r); err != nil {
				e, ok := outcome.As(err)
				if !ok {
					s.log.ErrorContext(r.Context(), "authentication failed", "route", "/fhir", "req_id", api.RequestID(r.Context()), "err", err)
					e = outcome.New(http.StatusInternalServerError, outcome.CodeException, "", "the server could not check the access token")
				}
				for k, v := range e.Headers {
					w.Header().Set(k, v)
				}
				api.WriteOutcome(w, r, e.Status, e.Issues)
				return
			}
		}
		p.Address = remoteHost(r)
		next.ServeHTTP(w, r.WithContext(auth.NewContext(r.Context(), p)))
	})
}

func remoteHost(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

func (s *Server) warnInsecure(ctx context.Context) {
	s.log.WarnContext(ctx, "AUTHENTICATION IS OFF (--insecure-no-auth): anyone who can reach this server can read and change every record")
}

// securityHeaders sets the headers every response carries: no MIME
// sniffing, no referrer, no framing, and HSTS on TLS. Pages that need more
// than "default-src 'none'" (the sign-in pages) set their own policy.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Frame-Options", "DENY")
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}

// cors answers browsers' cross-origin requests from the allowed origins
// (https://fetch.spec.whatwg.org/#http-cors-protocol). Bearer tokens, not
// cookies, authenticate these requests, so credentials are never allowed.
type cors struct {
	any     bool
	origins []string
}

func newCORS(origins []string) *cors {
	c := &cors{}
	for _, o := range origins {
		o = strings.TrimSuffix(strings.TrimSpace(o), "/")
		switch o {
		case "":
		case "*":
			c.any = true
		default:
			c.origins = append(c.origins, o)
		}
	}
	return c
}

const (
	corsMethods = "GET, HEAD, POST, PUT, PATCH, DELETE"
	corsHeaders = "Authorization, Content-Type, Accept, If-Match, If-None-Match, If-Modified-Since, If-None-Exist, Prefer, X-Request-Id"
	corsExpose  = "Location, Content-Location, ETag, Last-Modified, WWW-Authenticate, X-Request-Id"
	corsMaxAge  = 600
)

func (c *cors) allowed(origin string) bool {
	return origin != "" && (c.any || slices.Contains(c.origins, origin))
}

func (c *cors) wrap(next http.Handler) http.Handler {
	if !c.any && len(c.origins) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		h := w.Header()
		h.Add("Vary", "Origin")
		if !c.allowed(origin) {
			next.ServeHTTP(w, r)
			return
		}
		h.Set("Access-Control-Allow-Origin", origin)
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" { // a preflight
			h.Set("Access-Control-Allow-Methods", corsMethods)
			h.Set("Access-Control-Allow-Headers", corsHeaders)
			h.Set("Access-Control-Max-Age", strconv.Itoa(corsMaxAge))
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.Set("Access-Control-Expose-Headers", corsExpose)
		next.ServeHTTP(w, r)
	})
}
