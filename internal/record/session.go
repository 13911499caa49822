package record

import (
	"context"
	"errors"
	"time"

	"sharedcare/internal/store"
)

// sessionKind is the Records kind of the web apps' sessions.
const sessionKind = "web.session"

// ErrNoSession is returned by Session for a key that is unknown or expired.
var ErrNoSession = errors.New("no such session")

// PutSession keeps a web session's state under key until expires, in the
// store's Records, so that any node of a shared database can serve the
// session's next request. The value is the web app's own (it holds the
// session's tokens): callers key it by a hash of the cookie, never the
// cookie itself. Sessions are not patient data and are neither
// access-checked nor audited; what a session then reads is.
func (s *Service) PutSession(ctx context.Context, key string, value []byte, expires time.Time) error {
	return s.store.PutRecord(ctx, sessionKind, key, value, expires)
}

// Session returns the value PutSession stored under key, or ErrNoSession.
func (s *Service) Session(ctx context.Context, key string) ([]byte, error) {
	b, err := s.store.GetRecord(ctx, sessionKind, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNoSession
	}
	return b, err
}

// DeleteSession forgets the session under key; an unknown key is no error.
func (s *Service) DeleteSession(ctx context.Context, key string) error {
	err := s.store.DeleteRecord(ctx, sessionKind, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}
