package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// User is someone who signs in: a clinician, a patient or an administrator.
type User struct {
	ID       string `json:"id"` // stable, random; the sub of their tokens
	Username string `json:"username"`
	Role     Kind   `json:"role"` // Patient, Clinician or Admin
	Name     string `json:"name"` // for display and audit
	// FHIRUser is the resource the user is: "Practitioner/..." for a
	// clinician, "Patient/..." for a patient; "" for an administrator
	// without one.
	FHIRUser string `json:"fhirUser,omitempty"`
	// PractitionerRole, Organization and ODSCode place a clinician:
	// "PractitionerRole/...", "Organization/..." and its ODS code.
	PractitionerRole string `json:"practitionerRole,omitempty"`
	Organization     string `json:"organization,omitempty"`
	ODSCode          string `json:"odsCode,omitempty"`
	// ExternalID is the value of the external provider's identifying
	// claim (OIDCOptions.Claim) for this user, such as an SDS user id.
	ExternalID   string    `json:"externalId,omitempty"`
	PasswordHash string    `json:"passwordHash,omitempty"` // argon2id; "" signs in only through the external provider
	Disabled     bool      `json:"disabled,omitempty"`
	Created      time.Time `json:"created"`
}

// PatientID is the id of a patient user's own Patient, "" otherwise.
func (u *User) PatientID() string {
	if id, ok := strings.CutPrefix(u.FHIRUser, "Patient/"); ok && u.Role == Patient {
		return id
	}
	return ""
}

// ErrExists is returned when creating a user or client whose name is taken.
var ErrExists = errors.New("already exists")

// NewUser describes a user to create.
type NewUser struct {
	Username, Password, Name string
	Role                     Kind
	FHIRUser                 string // Practitioner/... for a clinician, Patient/... for a patient
	PractitionerRole         string
	Organization, ODSCode    string
	ExternalID               string
}

// CreateUser stores a new user with an argon2id hash of nu.Password; an
// empty password makes a user who can sign in only through the external
// provider, by ExternalID. It returns ErrExists when the user name, or the
// external id, is taken.
func (s *Server) CreateUser(ctx context.Context, nu NewUser) (*User, error) {
	if err := checkUsername(nu.Username); err != nil {
		return nil, err
	}
	switch nu.Role {
	case Clinician:
		if !strings.HasPrefix(nu.FHIRUser, "Practitioner/") || !validRef(nu.FHIRUser) {
			return nil, errors.New("a clinician needs their Practitioner (Practitioner/<id>)")
		}
		if nu.PractitionerRole != "" && (!strings.HasPrefix(nu.PractitionerRole, "PractitionerRole/") || !validRef(nu.PractitionerRole)) {
			return nil, errors.New("practitioner role: want PractitionerRole/<id>")
		}
		if nu.Organization != "" && (!strings.HasPrefix(nu.Organization, "Organization/") || !validRef(nu.Organization)) {
			return nil, errors.New("organization: want Organization/<id>")
		}
	case Patient:
		if !strings.HasPrefix(nu.FHIRUser, "Patient/") || !validRef(nu.FHIRUser) {
			return nil, errors.New("a patient user needs their Patient (Patient/<id>)")
		}
	case Admin:
		if nu.FHIRUser != "" && !validRef(nu.FHIRUser) {
			return nil, errors.New("fhir user: want Type/<id>")
		}
	default:
		return nil, fmt.Errorf("role %s: want clinician, patient or admin", nu.Role)
	}
	if nu.Password == "" && nu.ExternalID == "" {
		return nil, errors.New("a user needs a password or an external id to sign in with")
	}
	u := &User{ID: randomToken(12), Username: nu.Username, Role: nu.Role, Name: nu.Name, FHIRUser: nu.FHIRUser,
		PractitionerRole: nu.PractitionerRole, Organization: nu.Organization, ODSCode: nu.ODSCode,
		ExternalID: nu.ExternalID, Created: s.now().UTC()}
	if u.Name == "" {
		u.Name = u.Username
	}
	if nu.Password != "" {
		h, err := HashPassword(nu.Password)
		if err != nil {
			return nil, err
		}
		u.PasswordHash = h
	}
	key := strings.ToLower(u.Username)
	if _, err := s.rec.GetRecord(ctx, kindUsername, key); err == nil {
		return nil, fmt.Errorf("user %q: %w", u.Username, ErrExists)
	} else if !errors.Is(err, errNotFound) {
		return nil, err
	}
	if u.ExternalID != "" {
		if _, err := s.rec.GetRecord(ctx, kindExternal, u.ExternalID); err == nil {
			return nil, fmt.Errorf("external id of %q: %w", u.Username, ErrExists)
		} else if !errors.Is(err, errNotFound) {
			return nil, err
		}
	}
	if err := putJSON(ctx, s.rec, kindUser, u.ID, u, time.Time{}); err != nil {
		return nil, err
	}
	if err := s.rec.PutRecord(ctx, kindUsername, key, []byte(u.ID), time.Time{}); err != nil {
		return nil, err
	}
	if u.ExternalID != "" {
		if err := s.rec.PutRecord(ctx, kindExternal, u.ExternalID, []byte(u.ID), time.Time{}); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// SetPassword replaces a user's password.
func (s *Server) SetPassword(ctx context.Context, username, password string) error {
	u, err := s.UserByName(ctx, username)
	if err != nil {
		return err
	}
	if u.PasswordHash, err = HashPassword(password); err != nil {
		return err
	}
	return putJSON(ctx, s.rec, kindUser, u.ID, u, time.Time{})
}

// UserByName returns the user signing in as username (any case), or an
// error wrapping store.ErrNotFound.
func (s *Server) UserByName(ctx context.Context, username string) (*User, error) {
	id, err := s.rec.GetRecord(ctx, kindUsername, strings.ToLower(username))
	if err != nil {
		return nil, err
	}
	return s.User(ctx, string(id))
}

// User returns the user with id, or an error wrapping store.ErrNotFound.
func (s *Server) User(ctx context.Context, id string) (*User, error) {
	var u User
	if err := getJSON(ctx, s.rec, kindUser, id, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// Users calls fn for every user.
func (s *Server) Users(ctx context.Context, fn func(*User) error) error {
	return s.rec.ListRecords(ctx, kindUser, func(_ string, b []byte) error {
		var u User
		if err := json.Unmarshal(b, &u); err != nil {
			return err
		}
		return fn(&u)
	})
}

// principalFor is the Principal of u using client with scopes; patient is
// the patient in context ("" for none).
func principalFor(u *User, clientID string, scopes Scopes, patient string) *Principal {
	p := &Principal{Kind: u.Role, Subject: u.ID, Name: u.Name, FHIRUser: u.FHIRUser, ClientID: clientID, Scopes: scopes,
		Organization: u.Organization, ODSCode: u.ODSCode, PatientID: patient}
	if u.Role == Patient {
		p.PatientID = u.PatientID() // a patient's context is always themselves
	}
	return p
}

func checkUsername(name string) error {
	if name == "" || len(name) > 128 {
		return errors.New("username: want 1 to 128 characters")
	}
	for _, r := range name {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return errors.New("username: no spaces or control characters")
		}
	}
	return nil
}

// validRef reports whether ref is Type/id with a FHIR id.
func validRef(ref string) bool {
	typ, id, ok := strings.Cut(ref, "/")
	if !ok || typ == "" || id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
