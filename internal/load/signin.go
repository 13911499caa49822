package load

import (
	"context"
	"net/url"

	"sharedcare/internal/nhs"
)

// opSignIn names the step of signing in, from the first request to the
// last answer.
const opSignIn = "sign-in"

// signIn is what the clinician app does when c signs in: with
// Credentials, it first gets a token (OAuth2 client credentials, kept in
// u.token for every later request of u); then it reads the server's
// CapabilityStatement, finds c's Practitioner by the SDS user id their
// smartcard presents, then c's roles and the organisations they work for,
// one after the other because each answer says what to ask next. It
// returns the step's class: the clinician goes on only after classOK.
//
// A clinician signs in to the app as a person (SMART App Launch, with a
// smartcard), not as a backend service; client credentials stand in for
// that here because they need no browser, and cost the server the same
// token issue and checks.
func (rn *run) signIn(ctx context.Context, u *user, c *clinician) class {
	reqs := signInRequests(c)
	if rn.opts.Credentials != nil {
		reqs = append([]request{{op: opToken, do: rn.requestToken}}, reqs...)
	}
	return rn.page(ctx, u, opSignIn, reqs, 1)
}

// signInRequests are the requests of c's sign-in, in order.
func signInRequests(c *clinician) []request {
	q := url.QueryEscape
	return []request{
		{op: "metadata", path: "metadata"},
		{op: "Practitioner?identifier=SDS user id", path: "Practitioner?identifier=" + q(nhs.SDSUserIDSystem+"|"+c.sdsUserID)},
		{op: "PractitionerRole?practitioner&_include=organization", path: "PractitionerRole?practitioner=" + q("Practitioner/"+c.practitionerID) + "&_include=PractitionerRole:organization"},
	}
}
