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
	"os/user"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"

	"sharedcare/internal/auth"
	"sharedcare/internal/bulk"
	"sharedcare/internal/fhir"
	"sharedcare/internal/record"
	"sharedcare/internal/validate"
)

// importConfig is the effective configuration of import.
type importConfig struct {
	Store  serveConfig
	Type   string   // the type of inputs whose names do not say
	Errors string   // folder for the rejected resources' OperationOutcomes
	Inputs []string // files, folders and URLs as given
}

func importFlags(args []string, stderr io.Writer) (*importConfig, error) {
	cfg := &importConfig{Store: serveConfig{Synchronous: "FULL", exclusive: true}}
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: sharedcare import [flags] FILE|DIR|URL ...

Imports FHIR NDJSON (one resource per line, one type per file, as
'sharedcare generate -format ndjson' and bulk exports write) into the
database serve uses, through the same checks as the API: every resource
is validated, and rejected ones are reported as OperationOutcome NDJSON
without stopping the rest. Ids, meta.versionId and meta.lastUpdated are
kept where the files give them. Importing the same files again changes
nothing, and an interrupted import run again resumes at the last line it
committed.

A FILE or URL is named for its type (Patient.ndjson, Patient.2.ndjson);
a DIR contributes its *.ndjson files. The import writes directly to the
database, as admin does: on SQLite stop serve first (one process may
write an SQLite database); on PostgreSQL it may run beside the servers.
To load a running server from another machine use its $import, or
'sharedcare migrate'.

flags:
`)
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.Store.DataDir, "data", envOr("SHAREDCARE_DATA", "data"), "folder of the embedded database (env SHAREDCARE_DATA)")
	databaseFlag(fs, &cfg.Store.DatabaseURL, "PostgreSQL URL; empty: SQLite in -data")
	fs.StringVar(&cfg.Type, "type", envOr("SHAREDCARE_IMPORT_TYPE", ""), "resource type of inputs whose file name does not start with one (env SHAREDCARE_IMPORT_TYPE)")
	fs.StringVar(&cfg.Errors, "errors", envOr("SHAREDCARE_IMPORT_ERRORS", ""), "folder for the OperationOutcome files of rejected resources; empty: -data/imports (env SHAREDCARE_IMPORT_ERRORS)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	cfg.Inputs = fs.Args()
	if len(cfg.Inputs) == 0 {
		fs.Usage()
		return nil, errors.New("name at least one FILE, DIR or URL to import")
	}
	if cfg.Type != "" && !fhir.IsResourceType(cfg.Type) {
		return nil, fmt.Errorf("-type (SHAREDCARE_IMPORT_TYPE) %q is not a FHIR R4 resource type", cfg.Type)
	}
	if cfg.Errors == "" {
		cfg.Errors = filepath.Join(cfg.Store.DataDir, "imports")
	}
	return cfg, nil
}

// importInputs turns the command's arguments into inputs, each with its
// type: from -type, else the file name's first dotted part.
func importInputs(args []string, typ string) ([]bulk.Input, error) {
	var out []bulk.Input
	add := func(loc, name string) error {
		t := typ
		if first, _, _ := strings.Cut(name, "."); fhir.IsResourceType(first) {
			t = first
		}
		if t == "" {
			return fmt.Errorf("%s: the name does not start with a resource type (Patient.ndjson); give -type", loc)
		}
		out = append(out, bulk.Input{Type: t, URL: loc})
		return nil
	}
	for _, a := range args {
		if u, err := url.Parse(a); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
			if err := add(a, filepath.Base(u.Path)); err != nil {
				return nil, err
			}
			continue
		}
		abs, err := filepath.Abs(a)
		if err != nil {
			return nil, err
		}
		fi, err := os.Stat(abs)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			if err := add(abs, fi.Name()); err != nil {
				return nil, err
			}
			continue
		}
		files, err := filepath.Glob(filepath.Join(abs, "*.ndjson"))
		if err != nil {
			return nil, err
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("%s holds no .ndjson files", a)
		}
		slices.Sort(files)
		for _, f := range files {
			if err := add(f, filepath.Base(f)); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// runImport is `sharedcare import`.
func runImport(ctx context.Context, args []string) error {
	cfg, err := importFlags(args, os.Stderr)
	if err != nil {
		return err
	}
	inputs, err := importInputs(cfg.Inputs, cfg.Type)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	// An import parses, validates and indexes many short-lived values and
	// keeps a few batches: collecting less often gave about 40% more
	// resources/s on 2 cores (docs/PERFORMANCE.md, Bulk data), memory still
	// flat in the size of the import. GOGC, when set, wins.
	if _, ok := os.LookupEnv("GOGC"); !ok {
		debug.SetGCPercent(400)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("component", "import")
	db, where, err := openStore(ctx, &cfg.Store, log)
	if err != nil {
		return err
	}
	defer db.Close()
	rec := record.New(record.Options{Store: db, Validator: validate.New(validate.Options{Invariants: validate.NewFHIRPathInvariants()}), Log: log})
	svc := bulk.New(bulk.Options{Record: rec, Dir: cfg.Errors, AllowFiles: true, Log: log})
	// The command runs as the operator: a system principal that may write
	// everything, recorded as such in every AuditEvent.
	name := "sharedcare import (command line)"
	if u, err := user.Current(); err == nil {
		name += " by " + u.Username
	}
	scopes, _ := auth.ParseScopes("system/*.cruds")
	ctx = auth.NewContext(ctx, &auth.Principal{Kind: auth.System, Subject: "sharedcare-import", Name: name, Scopes: scopes, Address: "local"})
	var key strings.Builder
	for _, in := range inputs {
		key.WriteString(in.Type + " " + in.URL + "\n")
	}
	log.Info("importing", "database", where, "inputs", len(inputs))
	began := time.Now()
	sum, err := svc.ImportLocal(ctx, key.String(), &bulk.ImportRequest{InputFormat: "application/fhir+ndjson", Inputs: inputs})
	if err != nil {
		if ctx.Err() != nil {
			return errors.New("interrupted; run the same command again to resume where it stopped")
		}
		return err
	}
	secs := time.Since(began).Seconds()
	n := sum.Written + sum.Unchanged
	fmt.Printf("imported %d resources (%d new or changed, %d already there), %d rejected, in %.1fs (%.0f/s)%s\n",
		n, sum.Written, sum.Unchanged, sum.Errors, secs, float64(n)/max(secs, 1e-9), map[bool]string{true: ", resumed", false: ""}[sum.Resumed])
	for _, f := range sum.ErrorFiles {
		fmt.Printf("rejected resources: %s\n", f)
	}
	if sum.Errors > 0 {
		return fmt.Errorf("%d resources were rejected", sum.Errors)
	}
	return nil
}
