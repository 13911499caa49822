//go:build !unix

package sqlite

import "os"

// lockFile locks nothing: advisory locks are used on unix only. Without a
// lock, Open keeps no read cache, since another process could write.
func lockFile(string) (*os.File, error) { return nil, nil }
