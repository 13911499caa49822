// Package auth says who a request is: it runs the SMART on FHIR / OAuth 2.0
// authorisation server (authorisation code with PKCE, refresh tokens,
// backend services, introspection, revocation, discovery), signs and checks
// access tokens, trusts an external OpenID Connect provider, keeps users,
// clients and keys, and puts the resulting Principal in the request context
// for the access rules to decide on.
//
// It keeps its own data (users, clients, refresh tokens, signing keys,
// replay caches, login counters) in the store's Records, through the small
// Records interface it declares. It imports internal/store, internal/fhir,
// internal/outcome and internal/nhs, and nothing above them.
package auth
