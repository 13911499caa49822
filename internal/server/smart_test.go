package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"sharedcare/internal/auth"
	"sharedcare/internal/server"
)

const patientJSON = `{"resourceType":"Patient","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9000000009"}],"name":[{"family":"Thompson","given":["Margaret"]}]}`

// TestSMARTStandaloneLaunch drives a standalone patient launch with
// golang.org/x/oauth2 as the app: discovery, authorisation with PKCE,
// sign-in and consent, code exchange, a FHIR read with the token, and
// refresh token rotation with reuse detection.
func TestSMARTStandaloneLaunch(t *testing.T) {
	t.Parallel()
	s := newAuthServer(t, openDB(t), server.Options{})
	ctx := context.Background()
	loader := s.newBackend(t, "system/*.cruds")
	sys := s.systemToken(t, loader, "system/Patient.cruds")
	created := s.send(t, "PUT", "/fhir/Patient/margaret", sys, strings.Replace(patientJSON, `"Patient",`, `"Patient","id":"margaret",`, 1))
	if created.status != 201 {
		t.Fatalf("PUT Patient with a system token = %d %s", created.status, created.body)
	}
	s.createUser(t, auth.NewUser{Username: "margaret", Name: "Margaret Thompson", Role: auth.Patient, FHIRUser: "Patient/margaret"})
	const redirect = "http://127.0.0.1:9999/callback"
	client := s.publicClient(t, redirect, "launch/patient patient/*.rs openid fhirUser offline_access")

	// Discovery.
	conf := s.get(t, "/fhir/.well-known/smart-configuration", "").json(t)
	cfg := &oauth2.Config{ClientID: client.ID, RedirectURL: redirect,
		Endpoint: oauth2.Endpoint{AuthURL: conf["authorization_endpoint"].(string), TokenURL: conf["token_endpoint"].(string), AuthStyle: oauth2.AuthStyleInParams},
		Scopes:   []string{"launch/patient", "patient/*.rs", "openid", "fhirUser", "offline_access", "user/*.cruds"}}
	if got := conf["code_challenge_methods_supported"]; len(got.([]any)) != 1 || got.([]any)[0] != "S256" {
		t.Errorf("code_challenge_methods_supported = %v, want [S256]", got)
	}

	verifier := oauth2.GenerateVerifier()
	authURL := cfg.AuthCodeURL("st4te", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("aud", s.URL+"/fhir"))
	back := newBrowser(t).signIn(s.URL, authURL, "margaret", testPassword, nil)
	if back.Get("state") != "st4te" || back.Get("code") == "" {
		t.Fatalf("redirect back = %v, want a code and state st4te", back)
	}
	tok, err := cfg.Exchange(ctx, back.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	if got := tok.Extra("patient"); got != "margaret" {
		t.Errorf("token response patient = %v, want margaret", got)
	}
	if got := tok.Extra("scope"); got != "launch/patient patient/*.rs openid fhirUser offline_access" {
		t.Errorf("token response scope = %q, want what the client may have, without user/*.cruds", got)
	}
	if tok.RefreshToken == "" || tok.Extra("id_token") == nil {
		t.Errorf("token response lacks refresh_token or id_token: %+v", tok)
	}

	hc := cfg.Client(ctx, tok)
	resp, err := hc.Get(s.URL + "/fhir/Patient/margaret")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET Patient/margaret with the app's token = %d, want 200", resp.StatusCode)
	}

	// The code works once.
	if _, err := cfg.Exchange(ctx, back.Get("code"), oauth2.VerifierOption(verifier)); err == nil {
		t.Error("second Exchange of the same code succeeded")
	}

	// Refresh rotates: the new refresh token works, the old one is refused,
	// and its reuse revokes the family, new tokens included.
	old := tok.RefreshToken
	tok2, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: old}).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if tok2.RefreshToken == "" || tok2.RefreshToken == old || tok2.AccessToken == tok.AccessToken {
		t.Fatalf("refresh did not rotate: %+v", tok2)
	}
	if got := s.get(t, "/fhir/Patient/margaret", tok2.AccessToken).status; got != 200 {
		t.Errorf("GET with the refreshed access token = %d, want 200", got)
	}
	if _, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: old}).Token(); err == nil {
		t.Fatal("the used refresh token was accepted again")
	}
	if _, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok2.RefreshToken}).Token(); err == nil {
		t.Error("after reuse of its predecessor, the newest refresh token still works")
	}
	if got := s.get(t, "/fhir/Patient/margaret", tok2.AccessToken); got.status != 401 || !strings.Contains(got.header.Get("WWW-Authenticate"), "invalid_token") {
		t.Errorf("GET with an access token of a revoked family = %d %q, want 401 invalid_token", got.status, got.header.Get("WWW-Authenticate"))
	}
}

// TestEHRLaunch: the clinician's app asks for a launch id bound to a
// patient; the SMART app launched with it gets that patient in context,
// and only the clinician who launched may use it.
func TestEHRLaunch(t *testing.T) {
	t.Parallel()
	s := newAuthServer(t, openDB(t), server.Options{})
	ctx := context.Background()
	s.createUser(t, auth.NewUser{Username: "sarah", Name: "Dr Sarah Hughes", Role: auth.Clinician, FHIRUser: "Practitioner/gp1",
		PractitionerRole: "PractitionerRole/gp1-role", Organization: "Organization/practice", ODSCode: "B86001"})
	s.createUser(t, auth.NewUser{Username: "other", Name: "Dr Other", Role: auth.Clinician, FHIRUser: "Practitioner/gp2"})
	const redirect = "https://app.example/cb"
	ehr := s.publicClient(t, "https://ehr.example/cb", "user/*.cruds openid fhirUser")
	app := s.publicClient(t, redirect, "launch patient/*.rs user/*.rs openid fhirUser")

	// The clinician signs in to the EHR app.
	ehrCfg := &oauth2.Config{ClientID: ehr.ID, RedirectURL: "https://ehr.example/cb", Scopes: []string{"user/*.cruds", "openid", "fhirUser"},
		Endpoint: oauth2.Endpoint{AuthURL: s.URL + "/oauth2/authorize", TokenURL: s.URL + "/oauth2/token", AuthStyle: oauth2.AuthStyleInParams}}
	v := oauth2.GenerateVerifier()
	back := newBrowser(t).signIn(s.URL, ehrCfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v), oauth2.SetAuthURLParam("aud", s.URL+"/fhir")), "sarah", testPassword, nil)
	ehrTok, err := ehrCfg.Exchange(ctx, back.Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	launched := s.postForm(t, "/oauth2/launch", url.Values{"patient": {"Patient/p42"}}, "Authorization", "Bearer "+ehrTok.AccessToken)
	if launched.status != 200 {
		t.Fatalf("POST /oauth2/launch = %d %s", launched.status, launched.body)
	}
	launchID := launched.json(t)["launch"].(string)
	if got := s.postForm(t, "/oauth2/launch", url.Values{"patient": {"p42"}}); got.status != 401 {
		t.Errorf("POST /oauth2/launch without a token = %d, want 401", got.status)
	}

	appCfg := &oauth2.Config{ClientID: app.ID, RedirectURL: redirect, Scopes: []string{"launch", "patient/*.rs", "openid", "fhirUser"},
		Endpoint: oauth2.Endpoint{AuthURL: s.URL + "/oauth2/authorize", TokenURL: s.URL + "/oauth2/token", AuthStyle: oauth2.AuthStyleInParams}}
	v = oauth2.GenerateVerifier()
	authURL := appCfg.AuthCodeURL("s2", oauth2.S256ChallengeOption(v), oauth2.SetAuthURLParam("aud", s.URL+"/fhir"), oauth2.SetAuthURLParam("launch", launchID))
	back = newBrowser(t).signIn(s.URL, authURL, "sarah", testPassword, nil)
	tok, err := appCfg.Exchange(ctx, back.Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	if tok.Extra("patient") != "p42" || tok.Extra("scope") != "launch patient/*.rs openid fhirUser" {
		t.Errorf("EHR launch token: patient %v scope %v, want p42 and the launch scopes", tok.Extra("patient"), tok.Extra("scope"))
	}

	// Another clinician cannot use Sarah's launch.
	b := newBrowser(t)
	login := b.get(authURL)
	form := hidden(login.body)
	form.Set("username", "other")
	form.Set("password", testPassword)
	got := b.post(s.URL+"/oauth2/login", form)
	if loc := got.header.Get("Location"); got.status != 303 || !strings.Contains(loc, "error=access_denied") {
		t.Errorf("sign-in by another clinician with Sarah's launch = %d %s, want a redirect with access_denied", got.status, loc)
	}
	_ = http.StatusOK
}
