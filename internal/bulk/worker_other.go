//go:build !unix

package bulk

import "os/exec"

// isolate does nothing here: stopping a worker kills it, and a resumed
// export starts from its last checkpoint.
func isolate(*exec.Cmd) {}

func lowerProcessPriority() {}
