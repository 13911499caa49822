package load

import (
	"context"
	"net/url"

	"sharedcare/internal/nhs"
)

// opSignIn names the step of signing in, from the first request to the
// last answer.
const opSignIn = "sign-in"

// signIn is what the clinician app does today when c signs in: it reads
// the server's CapabilityStatement, finds c's Practitioner by the SDS user
// id their smartcard presents, then c's roles and the organisations they
// work for, one after the other because each answer says what to ask next.
//
// The server has no authentication yet. When it has SMART on FHIR, this is
// the one function to change: first a token request (OAuth2 client
// credentials against a token URL), the token kept in u.token, which every
// later request of u then carries as a bearer token; the requests below
// stay as they are.
func (rn *run) signIn(ctx context.Context, u *user, c *clinician) bool {
	return rn.page(ctx, u, opSignIn, signInRequests(c), 1)
}

// signInRequests are the requests of c's sign-in, in order.
func signInRequests(c *clinician) []request {
	q := url.QueryEscape
	return []request{
		{"metadata", "metadata"},
		{"Practitioner?identifier=SDS user id", "Practitioner?identifier=" + q(nhs.SDSUserIDSystem+"|"+c.sdsUserID)},
		{"PractitionerRole?practitioner&_include=organization", "PractitionerRole?practitioner=" + q("Practitioner/"+c.practitionerID) + "&_include=PractitionerRole:organization"},
	}
}
