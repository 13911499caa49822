package auth

import (
	"context"
	"errors"
	"time"
)

// Failed sign-ins allowed per window, for one user name and for one
// address; past either, sign-in is refused until the window ends. The
// counters live in Records, so every node counts the same attempts.
const (
	maxUserFailures = 5
	maxIPFailures   = 50
	attemptWindow   = 15 * time.Minute
)

type attemptCount struct {
	Count int       `json:"count"`
	Until time.Time `json:"until"`
}

func limitFor(key string) int {
	if len(key) > 3 && key[:3] == "ip:" {
		return maxIPFailures
	}
	return maxUserFailures
}

// limited reports whether any of keys has used up its failures.
func (s *Server) limited(ctx context.Context, keys ...string) (bool, error) {
	for _, k := range keys {
		var a attemptCount
		err := getJSON(ctx, s.rec, kindAttempts, k, &a)
		if errors.Is(err, errNotFound) {
			continue
		} else if err != nil {
			return false, err
		}
		if a.Count >= limitFor(k) && s.now().Before(a.Until) {
			return true, nil
		}
	}
	return false, nil
}

// failed counts a failed sign-in against each of keys. Two nodes counting
// at once may lose one count; the limit still holds within one.
func (s *Server) failed(ctx context.Context, keys ...string) error {
	now := s.now()
	for _, k := range keys {
		var a attemptCount
		err := getJSON(ctx, s.rec, kindAttempts, k, &a)
		if err != nil && !errors.Is(err, errNotFound) {
			return err
		}
		if err != nil || !now.Before(a.Until) {
			a = attemptCount{Until: now.Add(attemptWindow)}
		}
		a.Count++
		if err := putJSON(ctx, s.rec, kindAttempts, k, a, a.Until); err != nil {
			return err
		}
	}
	return nil
}

// succeeded clears a user's failures after they sign in.
func (s *Server) succeeded(ctx context.Context, key string) error {
	return s.rec.DeleteRecord(ctx, kindAttempts, key)
}
