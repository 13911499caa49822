//go:build unix && !linux

package bulk

import (
	"os/exec"
	"syscall"
)

// isolate puts a worker in a process group of its own, out of the way of
// a terminal's Ctrl-C, which reaches the server. The server stops it with
// SIGTERM, and it saves where it got to; if the server dies, the worker
// stops at its next write, which finds no one to make it.
func isolate(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
}

// lowerProcessPriority lowers the worker's priority to the lowest (nice
// 19); here it is the process's, for all its threads.
func lowerProcessPriority() { syscall.Setpriority(syscall.PRIO_PROCESS, 0, 19) }
