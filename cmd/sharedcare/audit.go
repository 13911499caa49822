package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"sharedcare/internal/audit"
	"sharedcare/internal/store"
)

// runAudit is `sharedcare audit verify`: it checks every link of the audit
// trail's hash chain and prints the head, which an operator can keep
// elsewhere to detect a truncated tail later.
func runAudit(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "verify" {
		return errors.New("usage: sharedcare audit verify [-data DIR | -database-url URL]")
	}
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	cfg := &serveConfig{Synchronous: "FULL"}
	fs.StringVar(&cfg.DataDir, "data", envOr("SHAREDCARE_DATA", "data"), "folder of the embedded database (env SHAREDCARE_DATA)")
	fs.StringVar(&cfg.DatabaseURL, "database-url", envOr("SHAREDCARE_DATABASE_URL", ""), "PostgreSQL URL (env SHAREDCARE_DATABASE_URL)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	db, where, err := openStore(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer db.Close()
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
