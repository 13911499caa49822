package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"golang.org/x/term"

	"sharedcare/internal/auth"
	"sharedcare/internal/nhs"
	"sharedcare/internal/store"
)

const adminUsage = `usage: sharedcare admin SUBCOMMAND [flags]

  create-user      --role admin|clinician|patient --username NAME [--name "Display Name"]
                   clinician: --practitioner Practitioner/ID [--practitioner-role PractitionerRole/ID]
                   patient:   --patient Patient/ID
                   [--external-id VALUE] (the external provider's claim for this user)
                   the password is read from SHAREDCARE_ADMIN_PASSWORD, or stdin, or asked for
  set-password     --username NAME (the password as for create-user)
  register-client  --name NAME --scopes "..." [--redirect-uri URI ...] [--public]
                   [--jwks-url URL | --jwks-file FILE] (backend services) [--client-id ID]
  rotate-key       make a new token signing key; the old one verifies until its tokens expire

Each opens the database serve uses (-data DIR or -database-url URL).`

// runAdmin is `sharedcare admin`: users, clients and keys, on the same
// database as serve.
func runAdmin(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, adminUsage)
		return flag.ErrHelp
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("admin "+sub, flag.ContinueOnError)
	cfg := &serveConfig{Synchronous: "FULL"}
	fs.StringVar(&cfg.DataDir, "data", envOr("SHAREDCARE_DATA", "data"), "folder of the embedded database (env SHAREDCARE_DATA)")
	databaseFlag(fs, &cfg.DatabaseURL, "PostgreSQL URL")
	var run func(ctx context.Context, db store.Store, a *auth.Server) error
	switch sub {
	case "create-user":
		run = createUserFlags(fs)
	case "set-password":
		username := fs.String("username", "", "the user's sign-in name")
		run = func(ctx context.Context, db store.Store, a *auth.Server) error {
			pw, err := readPassword()
			if err != nil {
				return err
			}
			if err := a.SetPassword(ctx, *username, pw); err != nil {
				return fmt.Errorf("user %q: %w", *username, err)
			}
			fmt.Printf("password of %s changed\n", *username)
			return nil
		}
	case "register-client":
		run = registerClientFlags(fs)
	case "rotate-key":
		run = func(ctx context.Context, db store.Store, a *auth.Server) error {
			kid, err := a.RotateKey(ctx)
			if err != nil {
				return err
			}
			fmt.Printf("new signing key %s; running servers use it within 15 seconds\n", kid)
			return nil
		}
	default:
		fmt.Fprintln(os.Stderr, adminUsage)
		return fmt.Errorf("unknown admin subcommand %q", sub)
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	db, _, err := openStore(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer db.Close()
	return run(ctx, db, auth.New(auth.Options{Records: db}))
}

// repeated is a flag that may be given more than once.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, " ") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

func createUserFlags(fs *flag.FlagSet) func(context.Context, store.Store, *auth.Server) error {
	role := fs.String("role", "", "admin, clinician or patient")
	var nu auth.NewUser
	fs.StringVar(&nu.Username, "username", "", "sign-in name")
	fs.StringVar(&nu.Name, "name", "", "display name; default: from the Practitioner or Patient, else the user name")
	practitioner := fs.String("practitioner", "", "clinician: their Practitioner/ID")
	fs.StringVar(&nu.PractitionerRole, "practitioner-role", "", "clinician: their PractitionerRole/ID, whose organization places them")
	fs.StringVar(&nu.Organization, "organization", "", "clinician: Organization/ID; default: the PractitionerRole's")
	patient := fs.String("patient", "", "patient: their Patient/ID")
	fs.StringVar(&nu.ExternalID, "external-id", "", "the value of the external provider's identifying claim (-oidc-claim) for this user, e.g. an SDS user id or NHS number")
	return func(ctx context.Context, db store.Store, a *auth.Server) error {
		k, ok := auth.ParseKind(*role)
		if !ok || (k != auth.Admin && k != auth.Clinician && k != auth.Patient) {
			return fmt.Errorf("-role %q: want admin, clinician or patient", *role)
		}
		nu.Role = k
		switch k {
		case auth.Clinician:
			nu.FHIRUser = *practitioner
			if err := placeClinician(ctx, db, &nu); err != nil {
				return err
			}
		case auth.Patient:
			nu.FHIRUser = "Patient/" + strings.TrimPrefix(*patient, "Patient/")
			if nu.Name == "" {
				nu.Name = resourceName(ctx, db, nu.FHIRUser)
			}
		}
		pw, err := readPassword()
		if err != nil {
			return err
		}
		nu.Password = pw
		u, err := a.CreateUser(ctx, nu)
		if err != nil {
			return err
		}
		fmt.Printf("created %s %s (id %s)", u.Role, u.Username, u.ID)
		if u.FHIRUser != "" {
			fmt.Printf(" as %s", u.FHIRUser)
		}
		if u.Organization != "" {
			fmt.Printf(" at %s %s", u.Organization, u.ODSCode)
		}
		fmt.Println()
		return nil
	}
}

// placeClinician fills in the clinician's name, organisation and its ODS
// code from their Practitioner, PractitionerRole and Organization.
func placeClinician(ctx context.Context, db store.Store, nu *auth.NewUser) error {
	if nu.Name == "" {
		nu.Name = resourceName(ctx, db, nu.FHIRUser)
	}
	if nu.PractitionerRole != "" && nu.Organization == "" {
		var role struct {
			Organization struct{ Reference string } `json:"organization"`
		}
		if err := readResource(ctx, db, nu.PractitionerRole, &role); err != nil {
			return fmt.Errorf("-practitioner-role %s: %w", nu.PractitionerRole, err)
		}
		nu.Organization = role.Organization.Reference
	}
	if nu.Organization != "" {
		var org struct {
			Identifier []struct{ System, Value string } `json:"identifier"`
		}
		if err := readResource(ctx, db, nu.Organization, &org); err == nil {
			for _, id := range org.Identifier {
				if id.System == nhs.ODSSystem {
					nu.ODSCode = id.Value
				}
			}
		}
	}
	return nil
}

func readResource(ctx context.Context, db store.Store, ref string, v any) error {
	typ, id, _ := strings.Cut(ref, "/")
	ver, err := db.Read(ctx, typ, id)
	if err != nil {
		return err
	}
	return json.Unmarshal(ver.Body, v)
}

// resourceName is "Sarah Hughes" from a Practitioner or Patient's first
// name, or "" when it cannot be read.
func resourceName(ctx context.Context, db store.Store, ref string) string {
	var r struct {
		Name []struct {
			Prefix, Given []string
			Family        string
		} `json:"name"`
	}
	if readResource(ctx, db, ref, &r) != nil || len(r.Name) == 0 {
		return ""
	}
	n := r.Name[0]
	return strings.Join(append(append(append([]string{}, n.Prefix...), n.Given...), n.Family), " ")
}

func registerClientFlags(fs *flag.FlagSet) func(context.Context, store.Store, *auth.Server) error {
	var nc auth.NewClient
	var redirects repeated
	fs.StringVar(&nc.ID, "client-id", "", "the client id; default: generated")
	fs.StringVar(&nc.Name, "name", "", "the app's name, shown when users are asked to allow it")
	fs.Var(&redirects, "redirect-uri", "a redirect URI, exactly as the app sends it (repeat for more)")
	fs.BoolVar(&nc.Public, "public", false, "a public client (browser or mobile app): no secret, PKCE")
	fs.StringVar(&nc.JWKSURL, "jwks-url", "", "backend service: the URL of its JSON Web Key Set")
	jwksFile := fs.String("jwks-file", "", "backend service: a file holding its JSON Web Key Set")
	fs.StringVar(&nc.Scopes, "scopes", "", `the most this client may be granted, e.g. "launch/patient patient/*.rs openid fhirUser offline_access" or "system/*.rs"`)
	return func(ctx context.Context, db store.Store, a *auth.Server) error {
		nc.RedirectURIs = redirects
		if *jwksFile != "" {
			b, err := os.ReadFile(*jwksFile)
			if err != nil {
				return fmt.Errorf("-jwks-file: %w", err)
			}
			nc.JWKS = b
		}
		c, secret, err := a.RegisterClient(ctx, nc)
		if err != nil {
			return err
		}
		fmt.Printf("client_id: %s\n", c.ID)
		if secret != "" {
			fmt.Printf("client_secret: %s\n(shown this once; it is stored hashed)\n", secret)
		}
		return nil
	}
}

// readPassword takes the password from SHAREDCARE_ADMIN_PASSWORD, from
// the terminal (asked twice, not echoed), or from the first line of stdin.
func readPassword() (string, error) {
	if pw, ok := os.LookupEnv("SHAREDCARE_ADMIN_PASSWORD"); ok {
		return pw, nil
	}
	fd := int(os.Stdin.Fd())
	if term.IsTerminal(fd) {
		fmt.Fprint(os.Stderr, "Password: ")
		a, err := term.ReadPassword(fd)
		fmt.Fprintln(os.Stderr)
		if err != nil {
			return "", err
		}
		fmt.Fprint(os.Stderr, "Again: ")
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(os.Stderr)
		if err != nil {
			return "", err
		}
		if string(a) != string(b) {
			return "", errors.New("the passwords differ")
		}
		return string(a), nil
	}
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	if line = strings.TrimRight(line, "\r\n"); line == "" {
		return "", errors.New("no password: set SHAREDCARE_ADMIN_PASSWORD or pass it on stdin")
	}
	return line, nil
}
