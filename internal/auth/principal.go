package auth

import (
	"context"
	"time"
)

// Kind is what sort of party a Principal is.
type Kind uint8

// Kinds of principal. The zero Kind is no principal at all and is never
// put in a context.
const (
	Patient   Kind = iota + 1 // a patient (or their proxy) signed in as themselves
	Clinician                 // a member of staff, acting for an organisation
	Admin                     // an administrator of this server
	System                    // a backend service, authenticated as an OAuth client
	Dev                       // anyone, when authentication is turned off (serve --insecure-no-auth)
)

var kindNames = [...]string{Patient: "patient", Clinician: "clinician", Admin: "admin", System: "system", Dev: "dev"}

// String returns the kind's lower-case name, as audit records it:
// patient, clinician, admin, system or dev.
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "unknown"
}

// ParseKind is the inverse of Kind.String.
func ParseKind(s string) (Kind, bool) {
	for k, n := range kindNames {
		if n != "" && n == s {
			return Kind(k), true
		}
	}
	return 0, false
}

// Principal is who a request acts as: the signed-in user or the calling
// system, with the app they use and the SMART scopes they were granted.
// It is built once per request from a verified token and never changed
// afterwards, so it may be shared between goroutines.
type Principal struct {
	Kind    Kind
	Subject string // stable user id, or client id for System
	Name    string // display, for audit ("Dr Sarah Hughes")
	// FHIRUser is the FHIR resource the user is ("Practitioner/123",
	// "Patient/456"); "" for System and Dev.
	FHIRUser string
	// PatientID is, for a Patient user, their own Patient id; for an app
	// launched in a patient's context (SMART launch/patient), that patient;
	// otherwise "".
	PatientID string
	// Organization is the clinician's organisation as "Organization/<id>"
	// (from their PractitionerRole); "" otherwise. ODSCode is its ODS code
	// when known.
	Organization string
	ODSCode      string
	ClientID     string    // the OAuth client (app) acting
	Scopes       Scopes    // the SMART scopes granted
	TokenID      string    // the access token's jti, for audit and revocation
	Expires      time.Time // when the token stops being valid; zero for Dev
	// Address is the network address the request came from, for audit;
	// the middleware that builds the Principal for a request sets it.
	Address string
}

// DevPrincipal is the principal every request runs as when authentication
// is turned off: it holds every scope in every context.
func DevPrincipal() *Principal {
	scopes, _ := ParseScopes("user/*.cruds patient/*.cruds system/*.cruds")
	return &Principal{Kind: Dev, Subject: "dev", Name: "Development user (authentication off)", Scopes: scopes}
}

type principalKey struct{}

// NewContext returns a copy of ctx that carries p.
func NewContext(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the Principal that NewContext put in ctx. ok is false
// when there is none, which the access rules treat as no access at all.
func FromContext(ctx context.Context) (p *Principal, ok bool) {
	p, ok = ctx.Value(principalKey{}).(*Principal)
	return p, ok && p != nil
}
