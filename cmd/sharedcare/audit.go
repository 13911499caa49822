package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"sharedcare/internal/access"
	"sharedcare/internal/audit"
	"sharedcare/internal/store"
)

// runAudit is `sharedcare audit verify`: it checks every link of the audit
// trail's hash chain and prints the head, which an operator can keep
// elsewhere to detect a truncated tail later.
func runAudit(ctx context.Context, args []string) error {
	if len(args) == 0 || (args[0] != "verify" && args[0] != "review") {
		return errors.New("usage: sharedcare audit verify|review [-data DIR | -database-url URL] [-days N]")
	}
	fs := flag.NewFlagSet("audit "+args[0], flag.ContinueOnError)
	cfg := &serveConfig{Synchronous: "FULL"}
	fs.StringVar(&cfg.DataDir, "data", envOr("SHAREDCARE_DATA", "data"), "folder of the embedded database (env SHAREDCARE_DATA)")
	databaseFlag(fs, &cfg.DatabaseURL, "PostgreSQL URL")
	days := fs.Int("days", 30, "review: how many days back to list break-glass uses")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	db, where, err := openStore(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer db.Close()
	if args[0] == "review" {
		return reviewBreakGlass(ctx, db, time.Now().AddDate(0, 0, -*days))
	}
	var head []byte
	var last int64
	n, err := audit.Verify(ctx, auditHead{db, &head, &last})
	if err != nil {
		return fmt.Errorf("%s: %d events checked: %w", where, n, err)
	}
	fmt.Fprintf(os.Stdout, "audit trail of %s: %d events, every link verified\nhead: event %d, hash %s\n", where, n, last, hex.EncodeToString(head))
	return nil
}

// auditHead passes events through to Verify and remembers the last one.
type auditHead struct {
	store.Store
	head *[]byte
	last *int64
}

func (a auditHead) ScanAudit(ctx context.Context, fn func(*store.AuditRecord) error) error {
	return a.Store.ScanAudit(ctx, func(e *store.AuditRecord) error {
		*a.head, *a.last = e.Hash, e.Seq
		return fn(e)
	})
}

// reviewBreakGlass lists every use of break-glass since since, for the
// privacy officer's review.
func reviewBreakGlass(ctx context.Context, db store.Store, since time.Time) error {
	grants, err := access.New(nil, db, 0, nil).BreakGlassReview(ctx, since)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stdout, "%d break-glass uses since %s\n", len(grants), since.Format("2006-01-02"))
	for _, g := range grants {
		fmt.Fprintf(os.Stdout, "%s  %-24s %-20s Patient/%s until %s: %s\n", g.Since.Format(time.RFC3339), g.Name, g.Organization, g.Patient, g.Until.Format("15:04"), g.Reason)
	}
	return nil
}
