package load

import (
	"bytes"
	"encoding/xml"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"sharedcare/internal/synth"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// fixedMachine stands in for the machine, which differs between runs.
var fixedMachine = Machine{CPUs: 2, CPU: "Test CPU", MemoryBytes: 8 << 30, OS: "linux/amd64", Go: "go1.26", Shared: true}

// mondayInput is a small Monday run made up to exercise every part of a
// report: requests and steps, errors, shed load, a transport error, a
// cancelled request and server samples.
func mondayInput() reportInput {
	opts := Options{
		URL: "http://localhost:8080/fhir", Scenario: Monday, Patients: 1000,
		Population: synth.Options{Seed: 3, Practices: 10, HistoryYears: 10},
		Sample:     1000, Clinicians: 20, Ramp: 2 * time.Second, Summaries: 2, Think: Think{Mean: time.Second},
		Duration: time.Hour, MaxRequests: 2_000_000, Timeout: 10 * time.Second, RespectRetryAfter: true,
	}
	var ops []opName
	for _, r := range append(signInRequests(&clinician{}), summaryRequests(&patient{})...) {
		ops = append(ops, opName{r.op, kindRequest})
	}
	ops = append(ops, opName{opSignIn, kindStep}, opName{opSummary, kindStep})
	var events []event
	at := 0 * time.Millisecond
	for i := range 300 {
		at += 11 * time.Millisecond
		e := event{at: at, dur: time.Duration(1+i%37) * time.Millisecond, op: uint16(i % 9), class: classOK, status: 200}
		switch {
		case i%97 == 5:
			e.class, e.status = classFailed, 500
		case i%61 == 7:
			e.class, e.status = classShed, 503
		case i == 150:
			e.class, e.status = classTransport, 0
		case i == 299:
			e.class, e.status = classCancelled, 0
		}
		events = append(events, e)
		if i%9 == 8 {
			step := event{at: at, dur: e.dur * 3, op: uint16(9 + i%2), class: classOK}
			if i%27 == 8 {
				step.class = classFailed
			}
			events = append(events, step)
		}
	}
	return reportInput{
		opts: opts, started: time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC), elapsed: 3500 * time.Millisecond,
		ops: ops, events: events, transport: map[string]int{"timeout": 1},
		samples: []serverSample{
			{at: 0, rss: 100 << 20, anon: 60 << 20, db: 1 << 30, source: "metrics"},
			{at: time.Second, rss: 180 << 20, anon: 90 << 20, db: 1<<30 + 1<<20, source: "metrics"},
			{at: 2 * time.Second, rss: 150 << 20, anon: 70 << 20, db: -1, source: "proc"},
			{at: 3 * time.Second, rss: 140 << 20, anon: -1, db: 1<<30 + 2<<20, source: "metrics"},
		},
	}
}

func ingestInput() reportInput {
	opts := Options{
		URL: "http://127.0.0.1:8080/fhir", Scenario: Ingest, Patients: 50, Start: 10, Concurrency: 4,
		Population: synth.Options{Seed: 0, Practices: 10, HistoryYears: 10},
		Duration:   time.Hour, MaxRequests: 2_000_000, Timeout: 10 * time.Second,
	}
	var events []event
	for i := range 41 {
		events = append(events, event{at: time.Duration(i) * 50 * time.Millisecond, dur: time.Duration(200+i*7) * time.Millisecond, class: classOK, status: 200})
	}
	return reportInput{
		opts: opts, started: time.Date(2026, 11, 23, 7, 0, 0, 0, time.UTC), elapsed: 2100 * time.Millisecond,
		ops: []opName{{opTransaction, kindRequest}}, events: events, resources: 41 * 85,
	}
}

func TestReportGolden(t *testing.T) {
	t.Parallel()
	for name, in := range map[string]reportInput{"monday": mondayInput(), "ingest": ingestInput()} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := buildReport(in)
			r.Machine = fixedMachine
			var js, md bytes.Buffer
			if err := r.WriteJSON(&js); err != nil {
				t.Fatal(err)
			}
			if err := r.WriteMarkdown(&md); err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", "report-"+name+".json"), js.Bytes())
			golden(t, filepath.Join("testdata", "report-"+name+".md"), md.Bytes())
		})
	}
}

// golden compares got with the file, or rewrites the file under -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/load -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from what the report renders (go test ./internal/load -update rewrites it):\ngot:\n%s", path, got)
	}
}

func TestReportCounts(t *testing.T) {
	t.Parallel()
	r := buildReport(mondayInput())
	// 300 request events: 1 cancelled, 1 transport error, 4 HTTP 500 (i = 5, 102, 199, 296), 5 shed (i = 7, 68, 129, 190, 251).
	if got, want := r.Requests, (Operation{Name: "all requests", Count: 299, OK: 289, Errors: 5, Shed: 5, Cancelled: 1}); got.Count != want.Count ||
		got.OK != want.OK || got.Errors != want.Errors || got.Shed != want.Shed || got.Cancelled != want.Cancelled {
		t.Errorf("requests = %+v, want counts %+v", got, want)
	}
	if got := r.ErrorsByStatus["500"]; got != 4 {
		t.Errorf("errors_by_status[500] = %d, want 4", got)
	}
	if got := r.ShedByStatus["503"]; got != 5 {
		t.Errorf("shed_by_status[503] = %d, want 5", got)
	}
	if r.Server.RSSMinBytes != 100<<20 || r.Server.RSSMaxBytes != 180<<20 || r.Server.Source != "metrics+proc" ||
		r.Server.AnonMinBytes != 60<<20 || r.Server.AnonMaxBytes != 90<<20 {
		t.Errorf("server = %+v, want RSS 100 MiB to 180 MiB from metrics+proc, anonymous 60 MiB to 90 MiB", r.Server)
	}
	if r.Server.DatabaseBytesStart != 1<<30 || r.Server.DatabaseBytesEnd != 1<<30+2<<20 {
		t.Errorf("server database = %d → %d, want %d → %d", r.Server.DatabaseBytesStart, r.Server.DatabaseBytesEnd, 1<<30, 1<<30+2<<20)
	}
	if len(r.Timeline) != 4 {
		t.Fatalf("timeline has %d seconds, want 4 for 3.5 s", len(r.Timeline))
	}
	sum := 0
	for _, s := range r.Timeline {
		sum += s.Requests
	}
	if sum != r.Requests.Count {
		t.Errorf("timeline requests add up to %d, want %d", sum, r.Requests.Count)
	}
	var steps []string
	for _, o := range r.Operations {
		if o.Step {
			steps = append(steps, o.Name)
		} else if len(steps) > 0 {
			t.Errorf("request %q listed after steps %v", o.Name, steps)
		}
	}
	if !slices.Equal(steps, []string{opSignIn, opSummary}) {
		t.Errorf("steps = %v, want %v", steps, []string{opSignIn, opSummary})
	}
}

func TestPlot(t *testing.T) {
	t.Parallel()
	for name, in := range map[string]reportInput{"monday": mondayInput(), "ingest": ingestInput(), "empty": {opts: Options{Scenario: Read}}} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := buildReport(in)
			var b bytes.Buffer
			if err := r.WritePlot(&b); err != nil {
				t.Fatal(err)
			}
			ids := map[string]string{} // series id → path data
			root := ""
			dec := xml.NewDecoder(&b)
			for {
				tok, err := dec.Token()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("the plot is not well-formed XML: %v", err)
				}
				if se, ok := tok.(xml.StartElement); ok {
					if root == "" {
						root = se.Name.Space + " " + se.Name.Local
					}
					var id, d string
					for _, a := range se.Attr {
						switch a.Name.Local {
						case "id":
							id = a.Value
						case "d":
							d = a.Value
						}
					}
					if strings.HasPrefix(id, "series-") {
						ids[id] = d
					}
				}
			}
			if root != "http://www.w3.org/2000/svg svg" {
				t.Errorf("root element = %q, want an svg in the SVG namespace", root)
			}
			for _, id := range []string{"series-p50", "series-p99", "series-requests", "series-errors", "series-shed"} {
				d, ok := ids[id]
				if !ok {
					t.Errorf("the plot has no %s", id)
				}
				if name != "empty" && !strings.HasPrefix(d, "M") {
					t.Errorf("%s has no points: d=%q", id, d)
				}
			}
			if _, ok := ids["series-summary-p99"]; ok != (name == "monday") {
				t.Errorf("series-summary-p99 present = %v, want %v (only runs with patient summaries)", ok, name == "monday")
			}
		})
	}
}
