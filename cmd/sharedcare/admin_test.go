package main

import (
	"context"
	"path/filepath"
	"testing"

	"sharedcare/internal/auth"
	"sharedcare/internal/store/sqlite"
)

// TestAdmin creates users and a client with the admin subcommands and
// finds them in the database serve would open.
func TestAdmin(t *testing.T) {
	t.Setenv("SHAREDCARE_ADMIN_PASSWORD", "a long enough password")
	dir := t.TempDir()
	ctx := context.Background()
	for _, args := range [][]string{
		{"create-user", "-data", dir, "-role", "admin", "-username", "root"},
		{"create-user", "-data", dir, "-role", "patient", "-username", "margaret", "-patient", "Patient/p1"},
		{"create-user", "-data", dir, "-role", "clinician", "-username", "sarah", "-practitioner", "Practitioner/gp1", "-organization", "Organization/o1"},
		{"register-client", "-data", dir, "-name", "App", "-public", "-redirect-uri", "http://localhost:3000/cb", "-scopes", "patient/*.rs"},
		{"rotate-key", "-data", dir},
	} {
		if err := runAdmin(ctx, args); err != nil {
			t.Fatalf("admin %v: %v", args, err)
		}
	}
	for _, args := range [][]string{
		{"create-user", "-data", dir, "-role", "admin", "-username", "ROOT"},                    // taken, in any case
		{"create-user", "-data", dir, "-role", "clinician", "-username", "x"},                   // no Practitioner
		{"create-user", "-data", dir, "-role", "superuser", "-username", "y"},                   // no such role
		{"register-client", "-data", dir, "-name", "App", "-public", "-scopes", "patient/*.rs"}, // public without redirect
	} {
		if err := runAdmin(ctx, args); err == nil {
			t.Errorf("admin %v succeeded, want an error", args)
		}
	}
	t.Setenv("SHAREDCARE_ADMIN_PASSWORD", "short")
	if err := runAdmin(ctx, []string{"create-user", "-data", dir, "-role", "admin", "-username", "weak"}); err == nil {
		t.Error("create-user with a short password succeeded")
	}

	db, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(dir, "sharedcare.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a := auth.New(auth.Options{Records: db})
	u, err := a.UserByName(ctx, "Margaret")
	if err != nil || u.Role != auth.Patient || u.PatientID() != "p1" {
		t.Errorf("UserByName(Margaret) = %+v, %v; want the patient user of Patient/p1", u, err)
	}
	u, err = a.UserByName(ctx, "sarah")
	if err != nil || u.Role != auth.Clinician || u.Organization != "Organization/o1" {
		t.Errorf("UserByName(sarah) = %+v, %v; want the clinician at Organization/o1", u, err)
	}
}
