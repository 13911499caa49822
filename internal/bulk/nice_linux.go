package bulk

import (
	"runtime"
	"syscall"
)

// lowPriority runs the calling goroutine, from now until it returns, on an
// OS thread of its own at the lowest scheduling priority (nice 19), so
// that the kernel runs request handlers first whenever both want a core.
// The SQLite reads and file writes of a job, which are most of its work,
// run on that thread. It returns the function that undoes it.
func lowPriority() func() {
	runtime.LockOSThread()
	tid := syscall.Gettid()
	old, err := syscall.Getpriority(syscall.PRIO_PROCESS, tid)
	if err != nil || syscall.Setpriority(syscall.PRIO_PROCESS, tid, 19) != nil {
		runtime.UnlockOSThread()
		return func() {}
	}
	return func() {
		// Getpriority returns 20-nice on Linux.
		syscall.Setpriority(syscall.PRIO_PROCESS, tid, 20-old)
		runtime.UnlockOSThread()
	}
}
