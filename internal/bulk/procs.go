package bulk

import (
	"os"
	"runtime"
	"sync"
)

// procs counts the jobs running in the server's process (imports, and
// exports without a worker process), each of which has added a processor
// (a P, in the Go runtime's terms) for as long as it runs.
//
// A job's goroutine holds a P while it works, in Go and in its calls into
// SQLite alike. With GOMAXPROCS at the number of cores, that leaves the
// request handlers one fewer, and on two cores often none idle in the
// network poller: a request that arrived while another was being served
// waited for it, which no thread priority could help. With one P more per
// job the handlers keep as many as there are cores; on Linux the kernel
// still runs the job's thread last (lowPriority). docs/PERFORMANCE.md has
// the measurements, which favour it only modestly.
var procs struct {
	sync.Mutex
	jobs int
	base int // GOMAXPROCS before the first of them started
}

// extraProcessor adds a P for the calling job and returns the function
// that takes it away again. When the last job ends, GOMAXPROCS goes back
// to what it was: the runtime's default, which follows the machine's CPU
// limit, unless the GOMAXPROCS environment variable set it.
func extraProcessor() func() {
	procs.Lock()
	defer procs.Unlock()
	if procs.jobs == 0 {
		procs.base = runtime.GOMAXPROCS(0)
	}
	procs.jobs++
	runtime.GOMAXPROCS(procs.base + procs.jobs)
	return func() {
		procs.Lock()
		defer procs.Unlock()
		procs.jobs--
		if procs.jobs == 0 && os.Getenv("GOMAXPROCS") == "" {
			runtime.SetDefaultGOMAXPROCS()
			return
		}
		runtime.GOMAXPROCS(procs.base + procs.jobs)
	}
}
