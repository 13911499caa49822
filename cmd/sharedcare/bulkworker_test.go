//go:build linux

package main

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// waitLog returns the first line that ok accepts, within d.
func waitLog(t *testing.T, lines <-chan logLine, d time.Duration, ok func(logLine) bool) logLine {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case l := <-lines:
			if ok(l) {
				return l
			}
		case <-deadline:
			t.Fatalf("no such log line within %s", d)
		}
	}
}

// kickOff starts an export and returns its status URL.
func kickOff(t *testing.T, url string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Prefer", "respond-async")
	req.Header.Set("Accept", "application/fhir+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("kick-off %s: %s", url, resp.Status)
	}
	return resp.Header.Get("Content-Location")
}

// alive reports whether process pid runs: it exists, and is not a zombie
// waiting for whoever inherited it to reap it.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	_, after, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(after, "Z")
}

// checkLow fails unless every thread of process pid runs at nice 19 with
// 100 µs time slices (kernels before 6.12 report no slice: 0).
func checkLow(t *testing.T, pid int) {
	t.Helper()
	tasks, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range tasks {
		tid, _ := strconv.Atoi(e.Name())
		a, err := unix.SchedGetAttr(tid, 0)
		if err != nil {
			continue // ended meanwhile
		}
		if a.Nice != 19 || a.Runtime != 0 && a.Runtime != 100_000 {
			t.Errorf("worker thread %d at nice %d with %v slices, want nice 19 and 100µs", tid, a.Nice, time.Duration(a.Runtime))
		}
	}
}

// TestExportInWorkerProcess runs serve from the binary: an export runs in
// a worker process of its own and completes, and when the server is
// killed, its worker dies with it rather than go on alone.
func TestExportInWorkerProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	data, gen := t.TempDir(), t.TempDir()
	for _, args := range [][]string{
		{"generate", "-patients", "100", "-practices", "1", "-format", "ndjson", "-out", gen},
		{"import", "-data", data, gen},
	} {
		if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", args[0], err, out)
		}
	}
	// Paced at 5% while requests keep coming, an export of the practice
	// takes seconds: long enough to find its worker running.
	p, logs := startLogged(t, "-data", data, "-bulk-duty", "0.05")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer func() { close(stop); wg.Wait() }()
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if resp, err := http.Get(p.base + "/Patient?_count=1"); err == nil {
				resp.Body.Close()
			}
			time.Sleep(2 * time.Millisecond)
		}
	})

	status := kickOff(t, p.base+"/$export")
	started := waitLog(t, logs, 30*time.Second, func(l logLine) bool { return l.Msg == "bulk job started" })
	if started.Process != "bulk-worker" || started.PID == p.cmd.Process.Pid || started.PID == 0 {
		t.Fatalf("job started in %q, pid %d (server %d); want a bulk-worker process", started.Process, started.PID, p.cmd.Process.Pid)
	}
	checkLow(t, started.PID)
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(status)
		if err != nil {
			t.Fatal(err)
		}
		var m struct {
			Output []struct {
				Type  string
				Count int
			}
		}
		err = json.NewDecoder(resp.Body).Decode(&m)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			if err != nil {
				t.Fatal(err)
			}
			patients := 0
			for _, o := range m.Output {
				if o.Type == "Patient" {
					patients = o.Count
				}
			}
			if patients != 100 {
				t.Fatalf("manifest counts %d Patients, want 100", patients)
			}
			break
		}
		if resp.StatusCode != http.StatusAccepted || time.Now().After(deadline) {
			t.Fatalf("status %s after %s", resp.Status, time.Since(deadline.Add(-2*time.Minute)))
		}
	}

	// Another export, and the server killed while its worker runs.
	kickOff(t, p.base+"/$export?_type="+strings.Join([]string{"Observation", "Condition", "Patient"}, ","))
	w := waitLog(t, logs, 30*time.Second, func(l logLine) bool { return l.Msg == "bulk job started" })
	if !alive(w.PID) {
		t.Fatalf("worker %d already gone", w.PID)
	}
	p.cmd.Process.Kill()
	p.cmd.Wait()
	for deadline := time.Now().Add(5 * time.Second); alive(w.PID); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			syscall.Kill(w.PID, syscall.SIGKILL)
			t.Fatalf("worker %d still running 5 s after its server was killed", w.PID)
		}
	}
}
