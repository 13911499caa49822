package auth

import (
	"encoding/json"
	"net/http"
)

// maxForm bounds the body of every OAuth request.
const maxForm = 64 << 10

// Handler serves the OAuth 2.0 and SMART endpoints:
//
//	GET  /oauth2/authorize     sign-in and consent pages (POST /oauth2/login, /oauth2/consent)
//	POST /oauth2/token         authorization_code, refresh_token, client_credentials
//	POST /oauth2/introspect    RFC 7662
//	POST /oauth2/revoke        RFC 7009
//	POST /oauth2/launch        an EHR launch id bound to a patient
//	GET  /oauth2/jwks          the public signing keys
//	GET  /.well-known/smart-configuration (also under /fhir), /.well-known/openid-configuration
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oauth2/authorize", s.authorize)
	mux.HandleFunc("POST /oauth2/login", s.login)
	mux.HandleFunc("POST /oauth2/consent", s.consent)
	mux.HandleFunc("POST /oauth2/token", s.token)
	mux.HandleFunc("POST /oauth2/introspect", s.introspect)
	mux.HandleFunc("POST /oauth2/revoke", s.revokeToken)
	mux.HandleFunc("POST /oauth2/launch", s.launchContext)
	mux.HandleFunc("GET /oauth2/jwks", s.serveJWKS)
	mux.HandleFunc("GET /.well-known/smart-configuration", s.smartConfiguration)
	mux.HandleFunc("GET /fhir/.well-known/smart-configuration", s.smartConfiguration)
	mux.HandleFunc("GET /.well-known/openid-configuration", s.openIDConfiguration)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		mux.ServeHTTP(w, r)
	})
}

// Endpoints are the URLs of the authorisation server on r's issuer, for
// the CapabilityStatement and discovery.
type Endpoints struct {
	Authorize, Token, Introspect, Revoke, JWKS string
}

// EndpointsFor returns the endpoints as seen by r; with Options.Issuer set
// they are the same for every request.
func (s *Server) EndpointsFor(r *http.Request) Endpoints {
	return s.endpoints(s.issuer(r))
}

// ConfiguredEndpoints returns the endpoints under Options.Issuer, or
// paths relative to the host when it is not set.
func (s *Server) ConfiguredEndpoints() Endpoints { return s.endpoints(s.opts.Issuer) }

func (s *Server) endpoints(iss string) Endpoints {
	return Endpoints{Authorize: iss + "/oauth2/authorize", Token: iss + "/oauth2/token", Introspect: iss + "/oauth2/introspect",
		Revoke: iss + "/oauth2/revoke", JWKS: iss + "/oauth2/jwks"}
}

func (s *Server) serveJWKS(w http.ResponseWriter, r *http.Request) {
	set, err := s.JWKS(r.Context())
	if err != nil {
		s.writeOAuthError(w, r, err)
		return
	}
	b, _ := json.Marshal(set)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Write(b)
}

var supportedScopes = []string{"openid", "fhirUser", "profile", "launch", "launch/patient", "offline_access", "online_access",
	"patient/*.rs", "patient/*.cruds", "user/*.rs", "user/*.cruds", "system/*.rs", "system/*.cruds",
	"patient/*.read", "patient/*.write", "user/*.read", "user/*.write", "system/*.read", "system/*.write"}

// smartConfiguration answers SMART discovery
// (https://hl7.org/fhir/smart-app-launch/conformance.html).
func (s *Server) smartConfiguration(w http.ResponseWriter, r *http.Request) {
	iss := s.issuer(r)
	e := s.endpoints(iss)
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                iss,
		"jwks_uri":                              e.JWKS,
		"authorization_endpoint":                e.Authorize,
		"token_endpoint":                        e.Token,
		"introspection_endpoint":                e.Introspect,
		"revocation_endpoint":                   e.Revoke,
		"grant_types_supported":                 []string{"authorization_code", "refresh_token", "client_credentials"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post", "private_key_jwt", "none"},
		"token_endpoint_auth_signing_alg_values_supported": []string{"RS384", "ES384"},
		"scopes_supported":                 supportedScopes,
		"response_types_supported":         []string{"code"},
		"code_challenge_methods_supported": []string{"S256"},
		"capabilities": []string{"launch-ehr", "launch-standalone", "client-public", "client-confidential-symmetric",
			"client-confidential-asymmetric", "sso-openid-connect", "context-ehr-patient", "context-standalone-patient",
			"permission-offline", "permission-online", "permission-patient", "permission-user", "permission-v1", "permission-v2"},
	})
}

// openIDConfiguration answers OpenID Connect discovery.
func (s *Server) openIDConfiguration(w http.ResponseWriter, r *http.Request) {
	iss := s.issuer(r)
	e := s.endpoints(iss)
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                iss,
		"authorization_endpoint":                e.Authorize,
		"token_endpoint":                        e.Token,
		"jwks_uri":                              e.JWKS,
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"ES256"},
		"scopes_supported":                      []string{"openid", "fhirUser", "profile", "offline_access"},
		"claims_supported":                      []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "fhirUser", "name"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post", "private_key_jwt", "none"},
		"code_challenge_methods_supported":      []string{"S256"},
	})
}
