package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"sharedcare/internal/store"
)

// Records is the part of the store auth keeps its own data in: users,
// clients, refresh tokens, signing keys, replay caches and login counters.
// store.Store satisfies it; GetRecord returns store.ErrNotFound for a
// record that is absent or expired.
type Records interface {
	GetRecord(ctx context.Context, kind, key string) ([]byte, error)
	PutRecord(ctx context.Context, kind, key string, value []byte, expires time.Time) error
	DeleteRecord(ctx context.Context, kind, key string) error
	ListRecords(ctx context.Context, kind string, fn func(key string, value []byte) error) error
	// TakeRecord and PutRecordIfAbsent are atomic across nodes: single-use
	// codes and replay caches rely on them.
	TakeRecord(ctx context.Context, kind, key string) ([]byte, error)
	PutRecordIfAbsent(ctx context.Context, kind, key string, value []byte, expires time.Time) (bool, error)
}

// Kinds of record auth keeps.
const (
	kindUser      = "auth.user"         // key: user id
	kindUsername  = "auth.username"     // key: lower-case user name → user id
	kindExternal  = "auth.external"     // key: external identity claim value → user id
	kindClient    = "auth.client"       // key: client id
	kindKey       = "auth.signing-key"  // key: kid
	kindCode      = "auth.code"         // key: SHA-256 of an authorisation code
	kindRequest   = "auth.request"      // key: pending authorisation request id
	kindLaunch    = "auth.launch"       // key: launch id
	kindRefresh   = "auth.refresh"      // key: SHA-256 of a refresh token
	kindFamily    = "auth.family"       // key: refresh token family (session) id
	kindRevoked   = "auth.revoked"      // key: revoked access token jti or session id
	kindAssertion = "auth.assertion"    // key: client id | jti of a used client assertion
	kindAttempts  = "auth.attempts"     // key: "user:<name>" or "ip:<address>"
	kindUsed      = "auth.refresh-used" // key: SHA-256 of a refresh token that has been exchanged
)

var errNotFound = store.ErrNotFound

func getJSON(ctx context.Context, r Records, kind, key string, v any) error {
	b, err := r.GetRecord(ctx, kind, key)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("record %s: %w", kind, err)
	}
	return nil
}

func putJSON(ctx context.Context, r Records, kind, key string, v any, expires time.Time) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("record %s: %w", kind, err)
	}
	return r.PutRecord(ctx, kind, key, b, expires)
}

// take reads a single-use record and deletes it, atomically: of requests
// taking the same authorisation code or launch at once, on any node,
// exactly one gets it.
func (s *Server) take(ctx context.Context, kind, key string, v any) error {
	b, err := s.rec.TakeRecord(ctx, kind, key)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// claimOnce records key as used until expires and reports whether it was
// unused before, for replay protection; concurrent claims on any node
// cannot both succeed.
func (s *Server) claimOnce(ctx context.Context, kind, key string, expires time.Time) (bool, error) {
	return s.rec.PutRecordIfAbsent(ctx, kind, key, []byte("1"), expires)
}

// randomToken returns n random bytes, base64url-encoded.
func randomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand documents it)
	return base64.RawURLEncoding.EncodeToString(b)
}

// hashKey is how secrets are keyed in Records: the SHA-256 of a
// high-entropy token, so that reading the database does not give
// working codes or refresh tokens.
func hashKey(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}
