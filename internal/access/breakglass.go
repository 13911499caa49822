package access

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"sharedcare/internal/auth"
	"sharedcare/internal/outcome"
	"sharedcare/internal/store"
)

// Records kinds for break-glass.
const (
	breakGlassKind = "break-glass"        // active grants: subject|patient → grant
	reviewKind     = "break-glass-review" // every use, kept for review
)

// MaxBreakGlass bounds how long one break-glass lasts.
const MaxBreakGlass = 4 * time.Hour

// Grant is one use of break-glass.
type Grant struct {
	Subject      string    `json:"subject"`
	Name         string    `json:"name"`
	Organization string    `json:"organization"`
	Patient      string    `json:"patient"`
	Reason       string    `json:"reason"`
	Since        time.Time `json:"since"`
	Until        time.Time `json:"until"`
}

// BreakGlass lets clinician p see patient's record despite an opt-out,
// for dur (at most MaxBreakGlass), because of reason. The grant is kept
// for review, whatever happens next.
func (pol *Policy) BreakGlass(ctx context.Context, p *auth.Principal, patient, reason string, dur time.Duration) (*Grant, error) {
	if p.Kind != auth.Clinician && p.Kind != auth.Dev {
		return nil, Forbidden("only clinicians can break the glass")
	}
	reason = strings.TrimSpace(reason)
	if len(reason) < 10 {
		return nil, outcome.New(http.StatusBadRequest, outcome.CodeRequired, "reason", "say why, in a few words (at least 10 characters): it is recorded and reviewed")
	}
	if dur <= 0 || dur > MaxBreakGlass {
		dur = MaxBreakGlass
	}
	now := pol.now().UTC()
	g := &Grant{Subject: p.Subject, Name: p.Name, Organization: p.Organization, Patient: patient, Reason: reason, Since: now, Until: now.Add(dur)}
	b, _ := json.Marshal(g)
	if err := pol.records.PutRecord(ctx, reviewKind, now.Format(time.RFC3339Nano)+"|"+p.Subject+"|"+patient, b, time.Time{}); err != nil {
		return nil, fmt.Errorf("break-glass: %w", err)
	}
	if err := pol.records.PutRecord(ctx, breakGlassKind, p.Subject+"|"+patient, b, g.Until); err != nil {
		return nil, fmt.Errorf("break-glass: %w", err)
	}
	return g, nil
}

// BreakGlassActive returns the reason of p's unexpired break-glass for
// patient, if there is one.
func (pol *Policy) BreakGlassActive(ctx context.Context, p *auth.Principal, patient string) (string, bool, error) {
	b, err := pol.records.GetRecord(ctx, breakGlassKind, p.Subject+"|"+patient)
	if errors.Is(err, store.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("break-glass: %w", err)
	}
	var g Grant
	if err := json.Unmarshal(b, &g); err != nil {
		return "", false, fmt.Errorf("break-glass: %w", err)
	}
	return g.Reason, true, nil
}

// BreakGlassReview lists every break-glass since since, oldest first.
func (pol *Policy) BreakGlassReview(ctx context.Context, since time.Time) ([]Grant, error) {
	var out []Grant
	err := pol.records.ListRecords(ctx, reviewKind, func(key string, value []byte) error {
		var g Grant
		if err := json.Unmarshal(value, &g); err != nil {
			return err
		}
		if !g.Since.Before(since) {
			out = append(out, g)
		}
		return nil
	})
	return out, err
}
