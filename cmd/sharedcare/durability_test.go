package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"sharedcare/internal/store/sqlite"
)

// buildBinary builds sharedcare once per test binary run.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "sharedcare-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "sharedcare")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// process is a running sharedcare serve.
type process struct {
	cmd  *exec.Cmd
	base string // http://127.0.0.1:port/fhir
}

// logLine is what the tests read of serve's JSON log, its workers' lines
// included.
type logLine struct {
	Msg     string `json:"msg"`
	Addr    string `json:"addr"`
	Process string `json:"process"`
	PID     int    `json:"pid"`
	Job     string `json:"job"`
}

// startLogged runs serve like startServer, and hands every log line on.
func startLogged(t *testing.T, args ...string) (*process, <-chan logLine) {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"serve", "-addr", "127.0.0.1:0", "-log-format", "json", "-insecure-no-auth"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan logLine, 1000)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var l logLine
			if json.Unmarshal(sc.Bytes(), &l) == nil {
				select {
				case lines <- l:
				default: // nobody reads what follows
				}
			}
		}
	}()
	for deadline := time.After(30 * time.Second); ; {
		select {
		case l := <-lines:
			if l.Msg == "sharedcare serving" {
				return &process{cmd: cmd, base: "http://" + l.Addr + "/fhir"}, lines
			}
		case <-deadline:
			t.Fatal("server did not start within 30s")
		}
	}
}

// startServer runs the real binary on a free port and waits until it
// logs that it is serving.
func startServer(t *testing.T, args ...string) *process {
	t.Helper()
	p, _ := startLogged(t, args...)
	return p
}

// TestKillDuringWrites SIGKILLs the server while clients write, restarts
// it, and finds every acknowledged write, on a consistent database.
func TestKillDuringWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	data := t.TempDir()
	p := startServer(t, "-data", data)

	var mu sync.Mutex
	var acked []string // Patient ids the server answered 201 for
	enough := make(chan struct{})
	var enoughOnce sync.Once
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second}
	inBundles := 0
	ack := func(bundled bool, ids ...string) {
		mu.Lock()
		defer mu.Unlock()
		acked = append(acked, ids...)
		if bundled {
			inBundles += len(ids)
		}
		if len(acked) >= 2000 {
			enoughOnce.Do(func() { close(enough) })
		}
	}
	// Half the writers create one Patient at a time; the others post
	// transaction Bundles of 40, whose commits span many of the WAL
	// buffer's writes, so that the kill can land inside one.
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				url, body := p.base+"/Patient", fmt.Sprintf(`{"resourceType":"Patient","name":[{"family":"Writer%d","given":["N%d"]}]}`, w, i)
				if w%2 == 1 {
					url, body = p.base, patientBundle(w, i, 40)
				}
				resp, err := client.Post(url, "application/fhir+json", strings.NewReader(body))
				if err != nil {
					return // the server is gone
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch {
				case w%2 == 0 && resp.StatusCode == http.StatusCreated:
					var res struct{ ID string }
					if json.Unmarshal(b, &res) == nil && res.ID != "" {
						ack(false, res.ID)
					}
				case w%2 == 1 && resp.StatusCode == http.StatusOK:
					var res struct {
						Entry []struct {
							Response struct{ Location string }
						}
					}
					if json.Unmarshal(b, &res) == nil {
						var ids []string
						for _, e := range res.Entry {
							// Location: Patient/{id}/_history/1
							if parts := strings.Split(e.Response.Location, "/"); len(parts) >= 2 && parts[0] == "Patient" {
								ids = append(ids, parts[1])
							}
						}
						ack(true, ids...)
					}
				}
			}
		})
	}
	// Kill once a good number of writes are acknowledged, mid-stream.
	select {
	case <-enough:
	case <-time.After(60 * time.Second):
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.cmd.Wait()
	close(stop)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(acked) < 100 || inBundles == 0 {
		t.Fatalf("%d writes acknowledged before the kill, %d of them in Bundles; want more of each", len(acked), inBundles)
	}

	db, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(data, "sharedcare.db")})
	if err != nil {
		t.Fatalf("reopen after SIGKILL: %v", err)
	}
	if err := db.Check(context.Background()); err != nil {
		t.Errorf("database after SIGKILL: %v", err)
	}
	db.Close()

	p2 := startServer(t, "-data", data)
	missing := 0
	for _, id := range acked {
		resp, err := client.Get(p2.base + "/Patient/" + id)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d acknowledged writes missing after SIGKILL and restart", missing, len(acked))
	}
	t.Logf("%d acknowledged writes (%d in Bundles), all present after SIGKILL", len(acked), inBundles)
}

// patientBundle is a transaction of n new Patients.
func patientBundle(w, i, n int) string {
	var b strings.Builder
	b.WriteString(`{"resourceType":"Bundle","type":"transaction","entry":[`)
	for k := range n {
		if k > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"resource":{"resourceType":"Patient","name":[{"family":"Bundle%d","given":["N%d-%d"]}]},"request":{"method":"POST","url":"Patient"}}`, w, i, k)
	}
	b.WriteString("]}")
	return b.String()
}

// TestGracefulShutdown sends SIGTERM and expects a clean exit.
func TestGracefulShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	p := startServer(t, "-data", t.TempDir())
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v, want status 0", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no exit within 30s of SIGTERM")
	}
}
