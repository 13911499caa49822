package bulk

import (
	"os"
	"os/exec"
	"syscall"
)

// isolate puts a worker in a process group of its own, out of the way of
// a terminal's Ctrl-C, which reaches the server, and has the kernel kill
// it if the server dies. The server stops it with SIGTERM, and it saves
// where it got to.
func isolate(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
}

// lowerProcessPriority runs every thread of the worker, those the Go
// runtime starts later too, at the lowest priority with short time slices
// (lowerThreads). A worker leads its own process group (isolate); the
// group's nice value covers any process it starts.
func lowerProcessPriority() {
	if syscall.Getpgrp() == os.Getpid() {
		syscall.Setpriority(syscall.PRIO_PGRP, 0, 19)
	}
	lowerThreads()
}
