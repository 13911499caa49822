package bulk_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sharedcare/internal/auth"
	"sharedcare/internal/bulk"
	"sharedcare/internal/fhir"
	"sharedcare/internal/record"
	"sharedcare/internal/store/sqlite"
)

func newRecord(t testing.TB) *record.Service {
	t.Helper()
	db, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "bulk.db"), Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return record.New(record.Options{Store: db})
}

func dev() context.Context { return auth.NewContext(context.Background(), auth.DevPrincipal()) }

// patients is n Patients as NDJSON.
func patients(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"resourceType":"Patient","id":"p%d","name":[{"family":"Family%d","given":["Given"]}],"gender":"female","birthDate":"1970-01-01"}`+"\n", i, i)
	}
	return b.String()
}

// TestImportResumes interrupts an import after its first checkpoint and
// runs it again: it resumes from the byte it had committed (a range
// request), and every resource is there once.
func TestImportResumes(t *testing.T) {
	rec := newRecord(t)
	data := patients(1300)
	half := len(data) * 2 / 3
	var mu sync.Mutex
	var ranges []string
	release := make(chan struct{})
	input := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ranges = append(ranges, r.Header.Get("Range"))
		first := len(ranges) == 1
		mu.Unlock()
		if first {
			// Two thirds of the file, then nothing until the test has
			// interrupted the import.
			w.Write([]byte(data[:half]))
			w.(http.Flusher).Flush()
			<-release
			return
		}
		http.ServeContent(w, r, "", time.Time{}, strings.NewReader(data))
	}))
	defer input.Close()
	defer close(release)

	svc := bulk.New(bulk.Options{Record: rec, Dir: t.TempDir(), ImportFrom: []string{"http://127.0.0.1"}})
	req := &bulk.ImportRequest{InputFormat: "application/fhir+ndjson", Inputs: []bulk.Input{{Type: "Patient", URL: input.URL + "/Patient.ndjson"}}}
	ctx, cancel := context.WithCancel(dev())
	done := make(chan error, 1)
	go func() {
		_, err := svc.ImportLocal(ctx, "resume-test", req)
		done <- err
	}()
	// Wait for the first committed batch, then interrupt (as Ctrl-C would).
	deadline := time.Now().Add(time.Minute)
	for {
		n := 0
		rec.Jobs(dev(), func(_ string, b []byte) error {
			var j struct {
				Import struct{ Inputs []struct{ Offset int64 } }
			}
			json.Unmarshal(b, &j)
			if len(j.Import.Inputs) > 0 && j.Import.Inputs[0].Offset > 0 {
				n++
			}
			return nil
		})
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no checkpoint within a minute")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err == nil {
		t.Fatal("the interrupted import returned no error")
	}

	sum, err := svc.ImportLocal(dev(), "resume-test", req)
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Resumed || sum.Errors != 0 || sum.Written+sum.Unchanged != 1300 {
		t.Errorf("resumed import = %+v, want it resumed, without errors", sum)
	}
	mu.Lock()
	if len(ranges) != 2 || !strings.HasPrefix(ranges[1], "bytes=") || ranges[1] == "bytes=0-" {
		t.Errorf("requests' Range headers = %q, want a second request from the checkpoint", ranges)
	}
	mu.Unlock()
	for i := range 1300 {
		vs, err := rec.History(dev(), &record.HistoryQuery{Type: "Patient", ID: fmt.Sprintf("p%d", i), Count: 5})
		if err != nil {
			t.Fatalf("p%d: %v", i, err)
		}
		if len(vs) != 1 {
			t.Errorf("p%d has %d versions, want 1", i, len(vs))
		}
	}
	// The same import again changes nothing.
	sum, err = svc.ImportLocal(dev(), "resume-test", req)
	if err != nil || sum.Resumed || sum.Unchanged != 1300 || sum.Written != 0 {
		t.Errorf("import again = %+v, %v; want all 1300 unchanged", sum, err)
	}
}

// observations stores n Observations of about 2 KB each.
func observations(t testing.TB, rec *record.Service, from, n int) {
	t.Helper()
	note := strings.Repeat("the patient reports feeling well; ", 50)
	for start := from; start < from+n; start += 500 {
		var batch []*fhir.Value
		for i := start; i < min(start+500, from+n); i++ {
			v, err := fhir.Parse(fmt.Appendf(nil, `{"resourceType":"Observation","id":"o%d","status":"final","code":{"text":"check"},"subject":{"reference":"Patient/p%d"},"note":[{"text":"%s"}]}`, i, i%50, note))
			if err != nil {
				t.Fatal(err)
			}
			batch = append(batch, &v)
		}
		out, err := rec.Import(dev(), batch)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range out {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
		}
	}
}

// peakHeap runs fn and returns the largest heap in use seen meanwhile.
func peakHeap(fn func()) uint64 {
	runtime.GC()
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	})
	fn()
	close(stop)
	wg.Wait()
	return peak.Load()
}

// TestExportMemoryFlat exports 5,000 resources, then 25,000 (about 50 MB
// of JSON): the heap the larger export needs is not larger by anything
// like the data, because the store is scanned in batches and the file
// written as it goes.
func TestExportMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 25,000 resources")
	}
	rec := newRecord(t)
	dir := t.TempDir()
	svc := bulk.New(bulk.Options{Record: rec, Dir: dir, Poll: 5 * time.Millisecond, ImportFrom: []string{"http://127.0.0.1"}})
	ctx, cancel := context.WithCancel(dev())
	var wg sync.WaitGroup
	wg.Go(func() { svc.Run(ctx) })
	defer func() { cancel(); wg.Wait() }()

	export := func() (bytes int64) {
		id, err := svc.Export(dev(), "system", "", map[string][]string{"_type": {"Observation"}}, "test")
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(2 * time.Minute)
		for {
			m, _, err := svc.Status(dev(), id, "")
			if err != nil {
				t.Fatal(err)
			}
			if m != nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("export still running after 2 minutes")
			}
			time.Sleep(5 * time.Millisecond)
		}
		fi, err := os.Stat(filepath.Join(dir, id, "Observation.ndjson"))
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	observations(t, rec, 0, 5000)
	var small, large int64
	peakSmall := peakHeap(func() { small = export() })
	observations(t, rec, 5000, 20000)
	peakLarge := peakHeap(func() { large = export() })
	t.Logf("export of %d MB: heap peak %d MB; of %d MB: %d MB", small>>20, peakSmall>>20, large>>20, peakLarge>>20)
	if large < 4*small {
		t.Fatalf("the larger export wrote %d bytes, the smaller %d: want at least 4 times as much", large, small)
	}
	if grow := int64(peakLarge) - int64(peakSmall); grow > (large-small)/4 {
		t.Errorf("exporting %d MB more grew the heap's peak by %d MB (%d → %d MB): memory follows the export's size", (large-small)>>20, grow>>20, peakSmall>>20, peakLarge>>20)
	}
}

// TestRunningJobAddsProcessor checks that a job has its own P while it
// runs and gives it back when it ends (see extraProcessor).
func TestRunningJobAddsProcessor(t *testing.T) {
	rec := newRecord(t)
	observations(t, rec, 0, 2000)
	base := runtime.GOMAXPROCS(0)
	// At a duty of 1%, the export of 2,000 resources takes a second or so.
	svc, id := exportObservations(t, bulk.Options{Record: rec, Dir: t.TempDir(), Duty: 0.01})
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); !ok(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: GOMAXPROCS %d after a minute (base %d)", what, runtime.GOMAXPROCS(0), base)
			}
		}
	}
	waitFor("job running", func() bool { return runtime.GOMAXPROCS(0) == base+1 })
	waitFor("job done", func() bool {
		m, _, err := svc.Status(dev(), id, "")
		if err != nil {
			t.Fatal(err)
		}
		return m != nil
	})
	waitFor("job ended", func() bool { return runtime.GOMAXPROCS(0) == base })
}
