package bulk

import (
	"os"
	"runtime"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// shortSlice is the time slice a job's threads ask of the kernel: the
// shortest it grants (Linux 6.12 and later; earlier kernels ignore it).
// The kernel lets a running thread finish its slice, 0.7 ms or more by
// default, before one that wakes beside it may preempt it, however low
// its priority: a request that found both cores busy, one with a job,
// could wait out the job's whole 250 µs of work (workSlice); now at most
// 100 µs. Over 28 rounds the export then added 0.29 ± 0.06 ms to the
// reads' p99 (+16%), against 0.40 ± 0.07 ms (+22%) with the default
// slice: suggestive, not proven (docs/PERFORMANCE.md, tenth session).
const shortSlice = 100 * time.Microsecond

// lowerThread runs thread tid at the lowest priority (nice 19) with
// short time slices.
func lowerThread(tid int) error {
	return unix.SchedSetAttr(tid, &unix.SchedAttr{Policy: unix.SCHED_NORMAL, Nice: 19, Runtime: uint64(shortSlice)}, 0)
}

// lowerThreads runs every thread of the process as lowerThread does. A
// thread the Go runtime starts later takes its creator's; one started
// while this looks is found by the next look.
func lowerThreads() {
	done := map[int]bool{}
	for range 5 {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return
		}
		found := false
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil || done[tid] {
				continue
			}
			done[tid], found = true, true
			lowerThread(tid)
		}
		if !found {
			return
		}
	}
}

// lowPriority runs the calling goroutine, from now until it returns, on an
// OS thread of its own at the lowest priority (lowerThread), so that the
// kernel runs request handlers first whenever both want a core. The
// SQLite reads and file writes of a job, which are most of its work, run
// on that thread. It returns the function that undoes it.
func lowPriority() func() {
	runtime.LockOSThread()
	tid := unix.Gettid()
	old, err := unix.SchedGetAttr(tid, 0)
	if err != nil || lowerThread(tid) != nil {
		runtime.UnlockOSThread()
		return func() {}
	}
	return func() {
		// Raising a thread's priority again takes a privilege (CAP_SYS_NICE,
		// or RLIMIT_NICE) that a server seldom has. A thread that stays low
		// is left locked, so that it ends with the job's goroutine instead
		// of going back to run request handlers at nice 19.
		back := &unix.SchedAttr{Policy: old.Policy, Nice: old.Nice} // Runtime 0: the default slice
		if unix.SchedSetAttr(tid, back, 0) == nil {
			runtime.UnlockOSThread()
		}
	}
}
