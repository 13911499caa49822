// Command sharedcare is the shared electronic patient record: a FHIR R4
// server and the tools around it. Each subcommand lives in a file of its own.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
)

// command is one subcommand: it parses its own flags from args.
type command struct {
	summary string
	run     func(ctx context.Context, args []string) error
}

var commands = map[string]command{
	"serve":       {"run the FHIR server and web apps", runServe},
	"generate":    {"write synthetic UK patients as FHIR bundles or NDJSON", runGenerate},
	"load":        {"drive a server with synthetic clinicians and report latency, errors and memory", runLoad},
	"audit":       {"verify the audit trail's hash chain (audit verify)", runAudit},
	"admin":       {"create users, register OAuth clients, rotate the signing key", runAdmin},
	"import":      {"import FHIR NDJSON files into the database, resumably", runImport},
	"migrate":     {"move a practice or group from one FHIR server to another and verify it", runMigrate},
	"bulk-worker": {"run one export for serve, which starts it (not run by hand)", runBulkWorker},
}

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		usage()
		os.Exit(2)
	}
	cmd, ok := commands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "sharedcare: unknown command %q\n\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	if err := cmd.run(context.Background(), os.Args[2:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintf(os.Stderr, "sharedcare %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: sharedcare COMMAND [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(os.Stderr, "\nRun 'sharedcare COMMAND -h' for a command's flags; every flag has a SHAREDCARE_* environment twin.")
}

// databaseFlag registers -database, the PostgreSQL URL, and -database-url,
// the name it had first, on one variable.
func databaseFlag(fs *flag.FlagSet, dst *string, usage string) {
	def := envOr("SHAREDCARE_DATABASE_URL", "")
	fs.StringVar(dst, "database", def, usage+" (env SHAREDCARE_DATABASE_URL)")
	fs.StringVar(dst, "database-url", def, "the same as -database (env SHAREDCARE_DATABASE_URL)")
}

// envOr returns the environment variable's value, or def when it is unset.
func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}
