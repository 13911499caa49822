package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// signingKey is one of the server's ES256 keys. The private key is kept in
// Records as PKCS #8: anyone who can read the database can sign tokens,
// as anyone who can write it can change the record itself.
type signingKey struct {
	KID     string    `json:"kid"`
	Alg     string    `json:"alg"`
	Created time.Time `json:"created"`
	PKCS8   []byte    `json:"pkcs8"`
	priv    *ecdsa.PrivateKey
}

// keyring holds the signing keys this node knows.
type keyring struct {
	mu     sync.Mutex             // guards the fields below
	keys   map[string]*signingKey // by kid
	active *signingKey            // the newest: signs new tokens
	loaded time.Time              // when keys were last read from Records
}

// keyReload is how often at most an unknown kid makes a node read the keys
// from Records again (another node may have rotated), so that a stream of
// forged kids cannot turn into a stream of database reads.
const keyReload = 10 * time.Second

// loadKeys reads the keys from Records; it creates the first one when
// there is none. k.mu must be held.
func (s *Server) loadKeys(ctx context.Context) error {
	k := &s.keys
	keys := map[string]*signingKey{}
	err := s.rec.ListRecords(ctx, kindKey, func(kid string, b []byte) error {
		var sk signingKey
		if err := json.Unmarshal(b, &sk); err != nil {
			return fmt.Errorf("signing key %s: %w", kid, err)
		}
		priv, err := x509.ParsePKCS8PrivateKey(sk.PKCS8)
		if err != nil {
			return fmt.Errorf("signing key %s: %w", kid, err)
		}
		ec, ok := priv.(*ecdsa.PrivateKey)
		if !ok || ec.Curve != elliptic.P256() {
			return fmt.Errorf("signing key %s: not a P-256 key", kid)
		}
		sk.priv = ec
		keys[kid] = &sk
		return nil
	})
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		sk, err := s.newKey(ctx)
		if err != nil {
			return err
		}
		keys[sk.KID] = sk
	}
	k.keys = keys
	k.active = nil
	for _, sk := range keys {
		if k.active == nil || sk.Created.After(k.active.Created) || (sk.Created.Equal(k.active.Created) && sk.KID > k.active.KID) {
			k.active = sk
		}
	}
	k.loaded = s.now()
	return nil
}

// newKey generates an ES256 key and stores it.
func (s *Server) newKey(ctx context.Context) (*signingKey, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	sk := &signingKey{KID: randomToken(12), Alg: string(jose.ES256), Created: s.now().UTC(), PKCS8: der, priv: priv}
	if err := putJSON(ctx, s.rec, kindKey, sk.KID, sk, time.Time{}); err != nil {
		return nil, fmt.Errorf("store signing key: %w", err)
	}
	s.log.InfoContext(ctx, "signing key created", "kid", sk.KID)
	return sk, nil
}

// activeKey returns the key that signs new tokens.
func (s *Server) activeKey(ctx context.Context) (*signingKey, error) {
	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	if s.keys.active == nil {
		if err := s.loadKeys(ctx); err != nil {
			return nil, err
		}
	}
	return s.keys.active, nil
}

var errUnknownKey = errors.New("unknown signing key")

// publicKey returns the verification key for kid, reading the keys again
// (at most every keyReload) when kid is not known yet.
func (s *Server) publicKey(ctx context.Context, kid string) (*ecdsa.PublicKey, error) {
	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	if sk, ok := s.keys.keys[kid]; ok {
		return &sk.priv.PublicKey, nil
	}
	if s.keys.keys != nil && s.now().Sub(s.keys.loaded) < keyReload {
		return nil, errUnknownKey
	}
	if err := s.loadKeys(ctx); err != nil {
		return nil, err
	}
	if sk, ok := s.keys.keys[kid]; ok {
		return &sk.priv.PublicKey, nil
	}
	return nil, errUnknownKey
}

// RotateKey creates a new signing key, which signs every token from now
// on. Earlier keys stay published, so that tokens they signed verify until
// they expire, and are removed after retireAfter.
func (s *Server) RotateKey(ctx context.Context) (kid string, err error) {
	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	if err := s.loadKeys(ctx); err != nil {
		return "", err
	}
	retire := s.now().Add(retireAfter)
	for _, old := range s.keys.keys {
		if err := putJSON(ctx, s.rec, kindKey, old.KID, old, retire); err != nil {
			return "", err
		}
	}
	sk, err := s.newKey(ctx)
	if err != nil {
		return "", err
	}
	s.keys.keys[sk.KID] = sk
	s.keys.active = sk
	return sk.KID, nil
}

// retireAfter is how long a replaced key stays published: longer than any
// token it signed lives (serve's -token-ttl is at most 24 hours).
const retireAfter = 25 * time.Hour

// JWKS returns the public signing keys as a JSON Web Key Set.
func (s *Server) JWKS(ctx context.Context) (*jose.JSONWebKeySet, error) {
	if _, err := s.activeKey(ctx); err != nil {
		return nil, err
	}
	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	set := &jose.JSONWebKeySet{}
	for _, sk := range s.keys.keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &sk.priv.PublicKey, KeyID: sk.KID, Algorithm: sk.Alg, Use: "sig"})
	}
	sort.Slice(set.Keys, func(i, j int) bool { return set.Keys[i].KeyID < set.Keys[j].KeyID })
	return set, nil
}
