package bulk

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// lowThreads lists the threads of process pid that run at nice 19.
func lowThreads(t *testing.T, pid int) []int {
	tasks, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
	if err != nil {
		t.Fatal(err)
	}
	var low []int
	for _, e := range tasks {
		tid, _ := strconv.Atoi(e.Name())
		if a, err := unix.SchedGetAttr(tid, 0); err == nil && a.Nice == 19 {
			low = append(low, tid)
		}
	}
	return low
}

// lowPriorityEnv marks the process TestLowPriority runs in.
const lowPriorityEnv = "SHAREDCARE_TEST_LOW_PRIORITY"

func init() {
	// The main thread cannot end: a goroutine that ends locked to it leaves
	// it parked for good, at whatever priority. Kept for the main
	// goroutine, it never runs a job.
	if os.Getenv(lowPriorityEnv) != "" {
		runtime.LockOSThread()
	}
}

// TestLowPriority runs a job's thread at nice 19 with short slices, and
// when the job ends leaves no thread low to run request handlers: a
// server without the privilege to raise a thread's priority again (as
// here, where the test runs unprivileged) must let the thread end.
func TestLowPriority(t *testing.T) {
	if os.Getenv(lowPriorityEnv) == "" {
		runUnprivileged(t, "^TestLowPriority$")
		return
	}
	done := make(chan *unix.SchedAttr)
	go func() {
		undo := lowPriority()
		a, err := unix.SchedGetAttr(unix.Gettid(), 0)
		if err != nil {
			t.Error(err)
		}
		undo()
		done <- a
	}()
	if a := <-done; a == nil || a.Nice != 19 || a.Runtime != 0 && a.Runtime != uint64(shortSlice) {
		// Kernels before 6.12 report no slice (0) for such a thread.
		t.Errorf("job's thread %+v, want nice 19 with %v slices", a, shortSlice)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		low := lowThreads(t, os.Getpid())
		if len(low) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("threads %v still at nice 19 after the job ended (pid %d)", low, os.Getpid())
		}
	}
}

// runUnprivileged runs the tests named by pattern in a process of their
// own (lowPriorityEnv set), as user nobody when this one is root, from a
// copy of the test binary that nobody may run, and fails if they do.
func runUnprivileged(t *testing.T, pattern string) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "bulk-unprivileged")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	copyExe := filepath.Join(dir, "bulk.test")
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(copyExe, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(copyExe, "-test.run", pattern, "-test.count=1", "-test.v")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), lowPriorityEnv+"=1")
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Logf("%s", out)
}
