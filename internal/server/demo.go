package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"sharedcare/internal/auth"
	"sharedcare/internal/synth"
)

// LoadDemo loads the demo population through the FHIR API, as any client
// would load it: one transaction per Bundle. A database that already holds
// the demo practice is left as it is, so restarting with --demo keeps
// whatever was done to the demo records meanwhile; the day of until gets
// its appointment list either way. It returns the
// population, whose people the caller can name to the user.
func (s *Server) LoadDemo(ctx context.Context, until time.Time) (*synth.DemoPopulation, error) {
	demo, err := synth.Demo(until)
	if err != nil {
		return nil, fmt.Errorf("demo population: %w", err)
	}
	if _, err := s.store.Read(ctx, "Organization", demo.Practice.ID); err != nil {
		for i, b := range demo.Bundles {
			if err := s.postDemo(ctx, b); err != nil {
				return nil, fmt.Errorf("demo bundle %d of %d: %w", i+1, len(demo.Bundles), err)
			}
		}
	}
	if err := s.loadDemoAppointments(ctx, demo, until); err != nil {
		return nil, fmt.Errorf("demo appointments: %w", err)
	}
	return demo, nil
}

// DemoLogin is a demo user created by DemoUsers, with the password to
// sign in with.
type DemoLogin struct {
	Username, Password, Name string
	Role                     auth.Kind
	FHIRUser                 string
}

// demoPatientUsers is how many of the demo patients get a user.
const demoPatientUsers = 3

// DemoUsers creates users for the demo clinician and the first demo
// patients, each with a random password, and returns those it created:
// their passwords exist nowhere else (they are stored hashed), so a
// restart returns none and the caller prints what it gets.
func (s *Server) DemoUsers(ctx context.Context, demo *synth.DemoPopulation) ([]DemoLogin, error) {
	c := demo.Clinician
	users := []auth.NewUser{{Username: demoUsername(c.Name), Name: c.Name, Role: auth.Clinician, FHIRUser: "Practitioner/" + c.PractitionerID,
		PractitionerRole: "PractitionerRole/" + c.PractitionerRoleID, Organization: "Organization/" + c.OrganizationID,
		ODSCode: demo.Practice.ODSCode, ExternalID: c.SDSUserID}}
	for _, p := range demo.Patients[:min(demoPatientUsers, len(demo.Patients))] {
		users = append(users, auth.NewUser{Username: demoUsername(p.Name), Name: p.Name, Role: auth.Patient, FHIRUser: "Patient/" + p.ID, ExternalID: p.NHSNumber})
	}
	var out []DemoLogin
	for _, nu := range users {
		nu.Password = rand.Text() // 26 characters, 130 bits
		_, err := s.auth.CreateUser(ctx, nu)
		if errors.Is(err, auth.ErrExists) {
			continue
		} else if err != nil {
			return out, fmt.Errorf("demo user %s: %w", nu.Username, err)
		}
		out = append(out, DemoLogin{Username: nu.Username, Password: nu.Password, Name: nu.Name, Role: nu.Role, FHIRUser: nu.FHIRUser})
	}
	return out, nil
}

// demoUsername is "sarah.hughes" for "Dr Sarah Hughes".
func demoUsername(name string) string {
	f := strings.Fields(strings.ToLower(name))
	if len(f) > 1 && strings.HasSuffix(f[0], "dr") {
		f = f[1:]
	}
	return strings.Join(f, ".")
}

// loader is who the demo is loaded as: the server itself, as a backend
// service.
var loader = &auth.Principal{Kind: auth.System, Subject: "sharedcare-demo", Name: "sharedcare demo loader", ClientID: "sharedcare",
	Scopes: auth.Scopes{{Name: "system/*.cruds", Context: auth.SystemContext, Type: "*", Ops: auth.AllOps}}}

// bufferedResponse keeps a response written in-process.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }
func (b *bufferedResponse) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}
func (b *bufferedResponse) Write(p []byte) (int, error) {
	b.WriteHeader(http.StatusOK)
	return b.body.Write(p)
}
