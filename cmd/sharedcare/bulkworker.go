package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"

	"sharedcare/internal/bulk"
	"sharedcare/internal/record"
	"sharedcare/internal/store"
	"sharedcare/internal/store/postgres"
	"sharedcare/internal/store/sqlite"
)

// bulkWorker returns how serve starts a worker process for an export
// (bulk.Options.Worker): this program's bulk-worker command, on the same
// database; nil when exports run in the server's process.
func bulkWorker(cfg *serveConfig, log *slog.Logger) func(ctx context.Context) *exec.Cmd {
	if !cfg.BulkProcess || cfg.ExportDir == "" {
		return nil
	}
	name, err := os.Executable()
	exe := name
	if err != nil {
		log.Warn("exports will run in the server's process: its program file is unknown", "err", err)
		return nil
	}
	if _, err := os.Stat("/proc/self/exe"); err == nil {
		// Linux: this very program, even once an upgrade has replaced its
		// file, so that a worker is never of another version than its
		// server.
		exe = "/proc/self/exe"
	}
	return func(ctx context.Context) *exec.Cmd {
		cmd := exec.CommandContext(ctx, exe, "bulk-worker", "-log-level", cfg.LogLevel)
		cmd.Args[0] = name // as ps shows it
		if cfg.LogFormat != "" {
			cmd.Args = append(cmd.Args, "-log-format", cfg.LogFormat)
		}
		// By the environment, so that the database's password is not on
		// its command line for anyone to see.
		cmd.Env = append(os.Environ(), "SHAREDCARE_DATA="+cfg.DataDir, "SHAREDCARE_DATABASE_URL="+cfg.DatabaseURL)
		return cmd
	}
}

// runBulkWorker runs one export that serve hands it (bulk.Work): it reads
// the database itself, and relays the writes the export makes to serve
// over standard output, reading the answers on standard input. serve
// starts it; it is not for running by hand.
func runBulkWorker(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bulk-worker", flag.ContinueOnError)
	data := fs.String("data", envOr("SHAREDCARE_DATA", "data"), "folder of the embedded database (env SHAREDCARE_DATA)")
	var databaseURL string
	databaseFlag(fs, &databaseURL, "PostgreSQL URL (postgres://...); empty: embedded SQLite in -data")
	logFormat := fs.String("log-format", envOr("SHAREDCARE_LOG_FORMAT", ""), "text or json (env SHAREDCARE_LOG_FORMAT)")
	logLevel := fs.String("log-level", envOr("SHAREDCARE_LOG_LEVEL", "info"), "debug, info, warn or error (env SHAREDCARE_LOG_LEVEL)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, err := newLogger(*logFormat, *logLevel)
	if err != nil {
		return err
	}
	log = log.With("process", "bulk-worker", "pid", os.Getpid())
	// serve stops a worker with SIGTERM; it then saves where it got to.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	var st store.Store
	if databaseURL != "" {
		st, err = postgres.Open(ctx, postgres.Options{URL: databaseURL, Log: log})
	} else {
		st, err = sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(*data, "sharedcare.db"), Reader: true, ReadCacheBytes: -1, Log: log})
	}
	if err != nil {
		return fmt.Errorf("opening the database: %w", err)
	}
	defer st.Close()
	rec := record.NewRelayed(st, os.Stdin, os.Stdout, record.Options{Log: log})
	return bulk.Work(ctx, rec, os.Getenv(bulk.HelloEnv), log)
}
