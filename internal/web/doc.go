// Package web serves the patient and clinician apps: server-rendered HTML
// (html/template) in the NHS.UK design system, light enough for a copper
// line, with a little plain JavaScript on top that no page needs.
//
// The apps sign people in through the server's own OAuth 2.0 / SMART
// authorisation server as a first-party client (authorisation code with
// PKCE), keep the tokens in a server-side session, and run each page
// request as the session's auth.Principal: every read and write goes
// through record, under the same access rules and audit as the FHIR API.
//
// It imports internal/record, internal/search, internal/fhir,
// internal/outcome, internal/auth and internal/nhs; never store, access or
// audit, nor another face.
package web
