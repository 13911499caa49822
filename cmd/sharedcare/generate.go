package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"sharedcare/internal/nhs"
	"sharedcare/internal/synth"
)

// generateConfig is the effective configuration of generate.
type generateConfig struct {
	Patients int
	Start    int
	Format   string // bundle | ndjson
	Out      string // a directory, or "-" for standard output
	Options  synth.Options
}

// generateFlags parses generate's flags; usage and flag errors go to stderr.
func generateFlags(args []string, stderr io.Writer) (*generateConfig, error) {
	cfg := generateConfig{}
	fs := flag.NewFlagSet("generate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: sharedcare generate [flags]

Writes synthetic patients of English general practice as FHIR R4: either
transaction Bundles (the shared practices, hospitals and clinicians first,
then one Bundle per patient, each a set of PUTs) or NDJSON files, one per
resource type, for Bulk Data $import. Patient i depends only on -seed and i,
so -start and -patients cut a population into shards that together equal
the whole; write NDJSON shards to separate directories.

flags:
`)
		fs.PrintDefaults()
	}
	patients := fs.String("patients", envOr("SHAREDCARE_PATIENTS", "10"), "how many patients (env SHAREDCARE_PATIENTS)")
	seed := fs.String("seed", envOr("SHAREDCARE_SEED", "0"), "selects the population; the same seed gives the same bytes (env SHAREDCARE_SEED)")
	start := fs.String("start", envOr("SHAREDCARE_START", "0"), "index of the first patient, to shard or resume (env SHAREDCARE_START)")
	fs.StringVar(&cfg.Format, "format", envOr("SHAREDCARE_FORMAT", "bundle"), "bundle or ndjson (env SHAREDCARE_FORMAT)")
	fs.StringVar(&cfg.Out, "out", envOr("SHAREDCARE_OUT", "-"), "output directory; - writes bundles to standard output, one per line (env SHAREDCARE_OUT)")
	practices := fs.String("practices", envOr("SHAREDCARE_PRACTICES", "10"), "how many GP practices patients are registered with (env SHAREDCARE_PRACTICES)")
	historyYears := fs.String("history-years", envOr("SHAREDCARE_HISTORY_YEARS", "10"), "years of history per patient; resources grow in proportion (env SHAREDCARE_HISTORY_YEARS)")
	until := fs.String("until", envOr("SHAREDCARE_UNTIL", synth.DefaultUntil.Format(time.DateOnly)), "day the histories end, YYYY-MM-DD (env SHAREDCARE_UNTIL)")
	workers := fs.String("workers", envOr("SHAREDCARE_WORKERS", strconv.Itoa(runtime.GOMAXPROCS(0))), "goroutines generating (env SHAREDCARE_WORKERS)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	count := func(s, flag, env string, lo, hi int) (int, error) {
		n, err := strconv.Atoi(s)
		if err != nil || n < lo || n > hi {
			return 0, fmt.Errorf("-%s (%s) %q: want a whole number from %d to %d", flag, env, s, lo, hi)
		}
		return n, nil
	}
	if cfg.Patients, err = count(*patients, "patients", "SHAREDCARE_PATIENTS", 0, nhs.TestNumbers); err != nil {
		return nil, err
	}
	if cfg.Start, err = count(*start, "start", "SHAREDCARE_START", 0, nhs.TestNumbers-cfg.Patients); err != nil {
		return nil, err
	}
	if cfg.Options.Seed, err = strconv.ParseUint(*seed, 10, 64); err != nil {
		return nil, fmt.Errorf("-seed (SHAREDCARE_SEED) %q: want a whole number from 0 to %d", *seed, uint64(1<<64-1))
	}
	if cfg.Options.Practices, err = count(*practices, "practices", "SHAREDCARE_PRACTICES", 1, synth.MaxPractices); err != nil {
		return nil, err
	}
	if cfg.Options.HistoryYears, err = count(*historyYears, "history-years", "SHAREDCARE_HISTORY_YEARS", 1, synth.MaxHistoryYears); err != nil {
		return nil, err
	}
	if cfg.Options.Workers, err = count(*workers, "workers", "SHAREDCARE_WORKERS", 1, 1024); err != nil {
		return nil, err
	}
	if cfg.Options.Until, err = time.Parse(time.DateOnly, *until); err != nil {
		return nil, fmt.Errorf("-until (SHAREDCARE_UNTIL) %q: want a date, YYYY-MM-DD", *until)
	}
	switch {
	case cfg.Format != "bundle" && cfg.Format != "ndjson":
		return nil, fmt.Errorf("-format (SHAREDCARE_FORMAT) %q: want bundle or ndjson", cfg.Format)
	case cfg.Out == "":
		return nil, errors.New("-out (SHAREDCARE_OUT) is empty: want a directory, or - for standard output")
	case cfg.Out == "-" && cfg.Format == "ndjson":
		return nil, errors.New("-out (SHAREDCARE_OUT) -: NDJSON is one file per resource type, so it needs a directory")
	}
	return &cfg, nil
}

// runGenerate writes a synthetic population. The summary goes to standard
// error; standard output carries only data.
func runGenerate(ctx context.Context, args []string) error {
	cfg, err := generateFlags(args, os.Stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Generation allocates many small, short-lived values and keeps little:
	// collecting less often gave 40% more patients/s on 2 cores for about
	// 140 MB of memory instead of 50 MB, still flat in the number of
	// patients. GOGC, when set, wins.
	if _, ok := os.LookupEnv("GOGC"); !ok {
		debug.SetGCPercent(400)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("component", "generate")
	return generate(ctx, cfg, os.Stdout, log)
}

func generate(ctx context.Context, cfg *generateConfig, stdout io.Writer, log *slog.Logger) error {
	g, err := synth.New(cfg.Options)
	if err != nil {
		return err
	}
	opts := g.Options()
	log.Info("generating", "patients", cfg.Patients, "start", cfg.Start, "seed", opts.Seed, "format", cfg.Format,
		"out", cfg.Out, "practices", opts.Practices, "history_years", opts.HistoryYears,
		"until", opts.Until.Format(time.DateOnly), "workers", opts.Workers)
	began := time.Now()
	var n stats
	switch {
	case cfg.Out == "-":
		err = writeBundleStream(ctx, g, cfg, stdout, &n)
	case cfg.Format == "bundle":
		err = writeBundleDir(ctx, g, cfg, &n)
	default:
		err = writeNDJSONDir(ctx, g, cfg, &n)
	}
	if err != nil {
		return err
	}
	secs := time.Since(began).Seconds()
	attrs := []any{"patients", cfg.Patients, "bytes", n.bytes, "dur_ms", int64(secs * 1000),
		"patients_per_s", int(float64(cfg.Patients) / max(secs, 1e-9))}
	if cfg.Format == "ndjson" {
		attrs = append(attrs, "resources", n.resources)
	}
	log.Info("generated", attrs...)
	return nil
}

type stats struct {
	resources int // NDJSON lines
	bytes     int64
}

// writeBundleStream writes each Bundle as one line: newline-delimited JSON
// that a loader can read a bundle at a time.
func writeBundleStream(ctx context.Context, g *synth.Generator, cfg *generateConfig, w io.Writer, n *stats) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	err := g.Bundles(ctx, cfg.Start, cfg.Patients, func(_ int, b []byte) error {
		n.bytes += int64(len(b)) + 1
		bw.Write(b)
		return bw.WriteByte('\n') // a write error sticks in bw; Flush reports it
	})
	if err != nil {
		return err
	}
	return bw.Flush()
}

// writeBundleDir writes shared.json and one patient-NNNNNNN.json per
// patient, named by index, so a resumed run rewrites whole files.
func writeBundleDir(ctx context.Context, g *synth.Generator, cfg *generateConfig, n *stats) error {
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return err
	}
	return g.Bundles(ctx, cfg.Start, cfg.Patients, func(i int, b []byte) error {
		name := "shared.json"
		if i >= 0 {
			name = fmt.Sprintf("patient-%07d.json", i)
		}
		n.bytes += int64(len(b))
		return os.WriteFile(filepath.Join(cfg.Out, name), b, 0o644)
	})
}

// writeNDJSONDir writes <Type>.ndjson files, replacing any there.
func writeNDJSONDir(ctx context.Context, g *synth.Generator, cfg *generateConfig, n *stats) (err error) {
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return err
	}
	type file struct {
		f *os.File
		w *bufio.Writer
	}
	files := map[string]*file{}
	defer func() {
		for _, f := range files {
			if ferr := f.w.Flush(); err == nil {
				err = ferr
			}
			if cerr := f.f.Close(); err == nil {
				err = cerr
			}
		}
	}()
	return g.NDJSON(ctx, cfg.Start, cfg.Patients, func(typ string, lines []byte) error {
		f := files[typ]
		if f == nil {
			osf, err := os.Create(filepath.Join(cfg.Out, typ+".ndjson"))
			if err != nil {
				return err
			}
			f = &file{osf, bufio.NewWriterSize(osf, 256<<10)}
			files[typ] = f
		}
		n.bytes += int64(len(lines))
		for _, c := range lines {
			if c == '\n' {
				n.resources++
			}
		}
		_, err := f.w.Write(lines)
		return err
	})
}
