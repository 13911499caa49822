package traffic

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestMeter(t *testing.T) {
	var m Meter
	if m.Busy() || !m.Quiet(time.Hour) {
		t.Fatal("a new meter is busy, or not quiet")
	}
	m.Begin()
	m.Begin()
	m.End(time.Now())
	if !m.Busy() || m.Quiet(0) {
		t.Fatal("one of two requests ended: want busy")
	}
	m.End(time.Now())
	if m.Busy() || m.Quiet(time.Hour) || !m.Quiet(0) {
		t.Fatal("both ended just now: want idle, quiet for no time but not for an hour")
	}
	if m.File() != nil {
		t.Error("an unshared meter has a file")
	}
}

// childEnv makes the test binary a child that opens a shared meter on
// file descriptor 3 and answers commands on stdin (TestMain).
const childEnv = "SHAREDCARE_TEST_TRAFFIC_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "" {
		os.Exit(m.Run())
	}
	mt, err := Open(os.NewFile(3, "traffic"))
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		switch sc.Text() {
		case "busy":
			fmt.Println(mt.Busy())
		case "begin":
			mt.Begin()
			fmt.Println("ok")
		}
	}
}

// TestSharedAcrossProcesses: a child process that maps a shared meter
// sees the requests its parent counts, and the parent the child's.
func TestSharedAcrossProcesses(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no shared counters without unix")
	}
	var m Meter
	if err := m.Share(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.ExtraFiles = []*os.File{m.File()}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer in.Close()
	answers := bufio.NewScanner(out)
	ask := func(q string) string {
		t.Helper()
		fmt.Fprintln(in, q)
		if !answers.Scan() {
			t.Fatalf("child answered nothing to %q", q)
		}
		return strings.TrimSpace(answers.Text())
	}
	if got := ask("busy"); got != "false" {
		t.Fatalf("child sees busy=%s before any request", got)
	}
	m.Begin()
	if got := ask("busy"); got != "true" {
		t.Fatalf("child sees busy=%s while the parent serves a request", got)
	}
	m.End(time.Now())
	if got := ask("busy"); got != "false" {
		t.Fatalf("child sees busy=%s after the request ended", got)
	}
	if got := ask("begin"); got != "ok" {
		t.Fatalf("child: %s", got)
	}
	if !m.Busy() {
		t.Error("the parent does not see the child's request")
	}
}
