package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"syscall"

	"sharedcare/internal/migrate"
)

// migrateConfig is the effective configuration of migrate.
type migrateConfig struct {
	Options migrate.Options
	Report  string // markdown report file; "" for standard output
	JSON    string // JSON report file; "" for none
}

// endpointFlags are one server's flags: its base and how to sign in.
type endpointFlags struct {
	base, token, clientID, clientKey, tokenURL, scope *string
}

func addEndpointFlags(fs *flag.FlagSet, side, env, scope string) *endpointFlags {
	return &endpointFlags{
		base:      fs.String(side, envOr("SHAREDCARE_MIGRATE_"+env, ""), "FHIR base URL of the "+side+" server (env SHAREDCARE_MIGRATE_"+env+")"),
		token:     fs.String(side+"-token", envOr("SHAREDCARE_"+env+"_TOKEN", ""), "bearer token for the "+side+" server (env SHAREDCARE_"+env+"_TOKEN)"),
		clientID:  fs.String(side+"-client-id", envOr("SHAREDCARE_"+env+"_CLIENT_ID", ""), "SMART backend service client id at the "+side+" server, instead of a token (env SHAREDCARE_"+env+"_CLIENT_ID)"),
		clientKey: fs.String(side+"-client-key", envOr("SHAREDCARE_"+env+"_CLIENT_KEY", ""), "PEM file of the P-384 key the client is registered with (env SHAREDCARE_"+env+"_CLIENT_KEY)"),
		tokenURL:  fs.String(side+"-token-url", envOr("SHAREDCARE_"+env+"_TOKEN_URL", ""), "token endpoint; empty: from the server's .well-known/smart-configuration (env SHAREDCARE_"+env+"_TOKEN_URL)"),
		scope:     fs.String(side+"-scope", envOr("SHAREDCARE_"+env+"_SCOPE", scope), "scopes to ask the "+side+" server for (env SHAREDCARE_"+env+"_SCOPE)"),
	}
}

func (e *endpointFlags) endpoint(side string) (migrate.Endpoint, error) {
	ep := migrate.Endpoint{Base: *e.base, Token: *e.token}
	if u, err := url.Parse(ep.Base); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return ep, fmt.Errorf("-%s %q: want the server's FHIR base URL, such as https://ehr.example.nhs.uk/fhir", side, ep.Base)
	}
	if *e.clientID != "" {
		if *e.token != "" {
			return ep, fmt.Errorf("-%s-token and -%s-client-id: give one", side, side)
		}
		key, err := readClientKey(*e.clientKey)
		if err != nil {
			return ep, fmt.Errorf("-%s-client-key %q: %w", side, *e.clientKey, err)
		}
		ep.Credentials = &migrate.Credentials{TokenURL: *e.tokenURL, ClientID: *e.clientID, Key: key, Scope: *e.scope}
	}
	return ep, nil
}

func migrateFlags(args []string, stderr io.Writer) (*migrateConfig, error) {
	cfg := &migrateConfig{}
	o := &cfg.Options
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: sharedcare migrate -from URL -to URL (-organization ID | -group ID) [flags]

Moves a GP practice (an Organization and the patients registered with
it) or a Group's members, with their whole records and the practitioners,
organisations and medications those refer to, from one FHIR R4 server to
another: by Bulk Data $export and $import where the servers offer them
(the target fetches the files from this machine, at -serve), by paged
search and batch PUTs where they do not. Then it reads the same scope
back from the target and compares each type's count and every resource's
content hash (canonical JSON without meta.versionId, lastUpdated and
source), and prints a report; the exit status is 1 unless every
resource matched.

The state folder keeps the migration's progress and files: after an
interruption, run the same command again to go on.

Both servers need a sign-in: a bearer token, or a SMART backend service
client with a P-384 key (make one and its JWKS to register with
'sharedcare load -client-key KEY.pem -print-jwks', then at a sharedcare
server 'sharedcare admin register-client -jwks-file ... -scopes "system/*.cruds"').

flags:
`)
		fs.PrintDefaults()
	}
	from := addEndpointFlags(fs, "from", "FROM", "system/*.rs")
	to := addEndpointFlags(fs, "to", "TO", "system/*.cruds")
	fs.StringVar(&o.Organization, "organization", envOr("SHAREDCARE_MIGRATE_ORGANIZATION", ""), "id of the practice's Organization at the source (env SHAREDCARE_MIGRATE_ORGANIZATION)")
	fs.StringVar(&o.Group, "group", envOr("SHAREDCARE_MIGRATE_GROUP", ""), "id of a Group at the source whose members to move, instead (env SHAREDCARE_MIGRATE_GROUP)")
	fs.StringVar(&o.StateDir, "state", envOr("SHAREDCARE_MIGRATE_STATE", "migration"), "folder of the migration's state and files; the same folder resumes it (env SHAREDCARE_MIGRATE_STATE)")
	fs.StringVar(&o.Serve, "serve", envOr("SHAREDCARE_MIGRATE_SERVE", "127.0.0.1:0"), "address to serve the files on for the target's $import (env SHAREDCARE_MIGRATE_SERVE)")
	fs.StringVar(&o.ServeURL, "serve-url", envOr("SHAREDCARE_MIGRATE_SERVE_URL", ""), "URL by which the target reaches -serve; empty: http://ADDR (env SHAREDCARE_MIGRATE_SERVE_URL)")
	fs.BoolVar(&o.Search, "search", envOr("SHAREDCARE_MIGRATE_SEARCH", "") == "true", "read by paged search and write by batch PUTs even where bulk data is offered (env SHAREDCARE_MIGRATE_SEARCH=true)")
	fs.StringVar(&cfg.Report, "report", envOr("SHAREDCARE_MIGRATE_REPORT", ""), "write the report (markdown) to this file; empty: standard output (env SHAREDCARE_MIGRATE_REPORT)")
	fs.StringVar(&cfg.JSON, "json", envOr("SHAREDCARE_MIGRATE_JSON", ""), "also write the report as JSON to this file (env SHAREDCARE_MIGRATE_JSON)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	if o.From, err = from.endpoint("from"); err != nil {
		return nil, err
	}
	if o.To, err = to.endpoint("to"); err != nil {
		return nil, err
	}
	if (o.Organization == "") == (o.Group == "") {
		return nil, errors.New("give -organization ID or -group ID: the practice or group to move")
	}
	return cfg, nil
}

// runMigrate is `sharedcare migrate`.
func runMigrate(ctx context.Context, args []string) error {
	cfg, err := migrateFlags(args, os.Stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg.Options.Log = log
	cfg.Options.Phase = func(p string) { log.Info("phase", "component", "migrate", "phase", p) }
	r, err := migrate.Run(ctx, cfg.Options)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted; run the same command again to go on from %s", cfg.Options.StateDir)
		}
		return err
	}
	md := r.Markdown()
	if cfg.Report == "" {
		fmt.Print(md)
	} else if err := os.WriteFile(cfg.Report, []byte(md), 0o644); err != nil {
		return err
	}
	if cfg.JSON != "" {
		if err := os.WriteFile(cfg.JSON, r.JSON(), 0o644); err != nil {
			return err
		}
	}
	if !r.OK {
		return errors.New("the target does not hold what the source does; see the report")
	}
	return nil
}
