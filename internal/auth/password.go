package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters for new password hashes: OWASP's recommended
// minimum (m=19 MiB, t=2, p=1), which costs some tens of milliseconds
// here; login attempts are rate-limited on top. Each hash records its own
// parameters, so raising them later keeps old hashes working.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024 // KiB
	argonThreads = 1
	argonKeyLen  = 32
	minPassword  = 12
	maxPassword  = 1024
)

// HashPassword returns the argon2id hash of password in the PHC string
// format ($argon2id$v=19$m=...,t=...,p=...$salt$hash).
func HashPassword(password string) (string, error) {
	if err := checkPassword(password); err != nil {
		return "", err
	}
	salt := make([]byte, 16)
	rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// checkPassword enforces the length rules for a new password.
func checkPassword(password string) error {
	switch {
	case len(password) < minPassword:
		return fmt.Errorf("password: want at least %d characters", minPassword)
	case len(password) > maxPassword:
		return fmt.Errorf("password: want at most %d bytes", maxPassword)
	}
	return nil
}

// dummyHash is compared against when a user name is unknown, so that the
// answer takes as long as for a known one.
var dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$c2hhcmVkY2FyZWR1bW15$u7qUJVpVHZmEl0A1bY2V6bNHXjdcBDNm2j3R3n1rDS4"

// verifyPassword reports whether password matches the PHC-format hash, in
// time that does not depend on where they differ.
func verifyPassword(hash, password string) bool {
	ok, err := comparePassword(hash, password)
	return err == nil && ok
}

func comparePassword(hash, password string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errors.New("not an argon2id hash")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errors.New("unsupported argon2 version")
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || m > 1<<21 || t == 0 || t > 16 || p == 0 {
		return false, errors.New("bad argon2 parameters")
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return false, err
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false, errors.New("bad argon2 hash")
	}
	tooLong := len(password) > maxPassword // never a stored password: do the same work, then refuse
	if tooLong {
		password = password[:maxPassword]
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1 && !tooLong, nil
}
