package load

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Report is what a run measured. Latency percentiles are over the requests
// (or steps) that succeeded; errors and shed load are counted apart, and a
// request cut short by the end of the run is neither.
type Report struct {
	Scenario  string    `json:"scenario"`
	Target    string    `json:"target"`
	Started   time.Time `json:"started"`
	Seconds   float64   `json:"seconds"`    // the run's wall time, sampling the population before it excluded
	StoppedBy string    `json:"stopped_by"` // "" when it finished, or duration, max-requests, interrupted
	Config    Config    `json:"config"`
	Machine   Machine   `json:"machine"`
	// Requests totals every request; Operations has each kind of request,
	// then the steps (sign-in, patient summary) a user waits for.
	Requests        Operation      `json:"requests"`
	Operations      []Operation    `json:"operations"`
	ErrorsByStatus  map[string]int `json:"errors_by_status"` // HTTP status → requests
	ShedByStatus    map[string]int `json:"shed_by_status"`   // 503 or 429 with Retry-After
	TransportErrors map[string]int `json:"transport_errors"` // no HTTP answer, by kind
	Ingest          *IngestTotals  `json:"ingest,omitempty"`
	Server          Server         `json:"server"`
	PeakPerSecond   int            `json:"peak_requests_per_s"`
	Timeline        []Second       `json:"timeline"`
}

// Config echoes the options that shaped the run.
type Config struct {
	Patients          int    `json:"patients"`
	Seed              uint64 `json:"seed"`
	Practices         int    `json:"practices"`
	HistoryYears      int    `json:"history_years"`
	Start             int    `json:"start,omitempty"`
	Sample            int    `json:"sample,omitempty"`
	Concurrency       int    `json:"concurrency,omitempty"`
	Clinicians        int    `json:"clinicians,omitempty"`
	Ramp              string `json:"ramp,omitempty"`
	Summaries         int    `json:"summaries,omitempty"`
	Think             string `json:"think"`
	Duration          string `json:"duration_cap"`
	MaxRequests       int    `json:"max_requests"`
	Timeout           string `json:"timeout"`
	RespectRetryAfter bool   `json:"respect_retry_after"`
}

// Machine is where the load ran.
type Machine struct {
	CPUs        int    `json:"cpus"`
	CPU         string `json:"cpu,omitempty"`
	MemoryBytes int64  `json:"memory_bytes,omitempty"`
	OS          string `json:"os"`
	Go          string `json:"go"`
	// Shared says the server was on loopback: client and server competed
	// for the same CPUs.
	Shared bool `json:"shared_with_server"`
}

// Operation is one kind of request, or of step.
type Operation struct {
	Name      string  `json:"name"`
	Step      bool    `json:"step,omitempty"`
	Count     int     `json:"count"` // answered or failed; cancelled ones apart
	OK        int     `json:"ok"`
	Errors    int     `json:"errors"`
	Shed      int     `json:"shed"`
	Cancelled int     `json:"cancelled,omitempty"`
	PerSecond float64 `json:"per_s"`
	Latency           // of OK ones
}

// IngestTotals is what an ingest stored.
type IngestTotals struct {
	Bundles            int     `json:"bundles"`
	Resources          int     `json:"resources"`
	BundlesPerSecond   float64 `json:"bundles_per_s"`
	ResourcesPerSecond float64 `json:"resources_per_s"`
}

// Server is the server's footprint during the run; -1 is unknown.
type Server struct {
	Source      string `json:"source"` // metrics, proc (memory only), metrics+proc, or unknown
	Samples     int    `json:"samples"`
	Missed      int    `json:"missed_samples,omitempty"`
	RSSMinBytes int64  `json:"rss_min_bytes"`
	RSSMaxBytes int64  `json:"rss_max_bytes"`
	// AnonMinBytes and AnonMaxBytes are the anonymous part of RSS, read
	// from /proc when the server's pid is known: RSS also counts database
	// pages SQLite maps, once per connection.
	AnonMinBytes       int64 `json:"rss_anon_min_bytes"`
	AnonMaxBytes       int64 `json:"rss_anon_max_bytes"`
	DatabaseBytesStart int64 `json:"database_bytes_start"`
	DatabaseBytesEnd   int64 `json:"database_bytes_end"`
}

// Second is one second of the run, by when requests finished.
type Second struct {
	T        int     `json:"t"`
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"`
	Shed     int     `json:"shed"`
	P50      float64 `json:"p50_ms"`
	P99      float64 `json:"p99_ms"`
	StepP99  float64 `json:"step_p99_ms,omitempty"` // patient summaries (or sign-ins) that finished
	RSSBytes int64   `json:"rss_bytes,omitempty"`
}

type reportInput struct {
	opts          Options
	started       time.Time
	elapsed       time.Duration
	stoppedBy     string
	ops           []opName
	events        []event
	transport     map[string]int
	resources     int
	samples       []serverSample
	missedSamples int
}

// buildReport computes the report from what a run recorded.
func buildReport(in reportInput) *Report {
	o := in.opts
	secs := in.elapsed.Seconds()
	r := &Report{
		Scenario:        o.Scenario,
		Target:          o.URL,
		Started:         in.started.UTC(),
		Seconds:         round3(secs),
		StoppedBy:       in.stoppedBy,
		Config:          configOf(o),
		ErrorsByStatus:  map[string]int{},
		ShedByStatus:    map[string]int{},
		TransportErrors: in.transport,
	}
	if r.TransportErrors == nil {
		r.TransportErrors = map[string]int{}
	}
	per := make([]Operation, len(in.ops))
	lat := make([][]time.Duration, len(in.ops))
	var all []time.Duration
	r.Requests.Name = "all requests"
	for i, op := range in.ops {
		per[i] = Operation{Name: op.name, Step: op.kind == kindStep}
	}
	for _, e := range in.events {
		op := &per[e.op]
		tally(op, e)
		if e.class == classOK {
			lat[e.op] = append(lat[e.op], e.dur)
		}
		if op.Step {
			continue
		}
		tally(&r.Requests, e)
		switch e.class {
		case classOK:
			all = append(all, e.dur)
		case classFailed:
			r.ErrorsByStatus[strconv.Itoa(int(e.status))]++
		case classShed:
			r.ShedByStatus[strconv.Itoa(int(e.status))]++
		}
	}
	for i := range per {
		per[i].Latency = latencyOf(lat[i])
		per[i].PerSecond = rate(per[i].Count, secs)
	}
	r.Requests.Latency = latencyOf(all)
	r.Requests.PerSecond = rate(r.Requests.Count, secs)
	// Requests first, then steps, each in the order they were first seen.
	slices.SortStableFunc(per, func(a, b Operation) int {
		switch {
		case a.Step == b.Step:
			return 0
		case b.Step:
			return -1
		}
		return 1
	})
	r.Operations = per
	if o.Scenario == Ingest {
		in := &IngestTotals{Resources: in.resources}
		for _, op := range per {
			if op.Name == opTransaction {
				in.Bundles += op.OK
			}
		}
		in.BundlesPerSecond, in.ResourcesPerSecond = rate(in.Bundles, secs), rate(in.Resources, secs)
		r.Ingest = in
	}
	r.Server = serverOf(in.samples, in.missedSamples)
	r.Timeline = timeline(in.events, in.ops, in.samples, in.elapsed)
	for _, s := range r.Timeline {
		r.PeakPerSecond = max(r.PeakPerSecond, s.Requests)
	}
	return r
}

func tally(op *Operation, e event) {
	switch e.class {
	case classOK:
		op.OK++
	case classFailed, classTransport:
		op.Errors++
	case classShed:
		op.Shed++
	case classCancelled:
		op.Cancelled++
		return
	}
	op.Count++
}

func rate(n int, secs float64) float64 {
	if secs <= 0 {
		return 0
	}
	return round3(float64(n) / secs)
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

func configOf(o Options) Config {
	c := Config{
		Patients: o.Patients, Seed: o.Population.Seed, Practices: o.Population.Practices,
		HistoryYears: o.Population.HistoryYears, Think: o.Think.String(), Duration: o.Duration.String(),
		MaxRequests: o.MaxRequests, Timeout: o.Timeout.String(), RespectRetryAfter: o.RespectRetryAfter,
	}
	switch o.Scenario {
	case Ingest:
		c.Start, c.Concurrency, c.Think = o.Start, o.Concurrency, ""
	case Monday:
		c.Sample, c.Clinicians, c.Ramp, c.Summaries = o.Sample, o.Clinicians, o.Ramp.String(), o.Summaries
	default:
		c.Sample, c.Concurrency = o.Sample, o.Concurrency
	}
	return c
}

func serverOf(samples []serverSample, missed int) Server {
	s := Server{Source: "unknown", Samples: len(samples), Missed: missed, RSSMinBytes: -1, RSSMaxBytes: -1,
		AnonMinBytes: -1, AnonMaxBytes: -1, DatabaseBytesStart: -1, DatabaseBytesEnd: -1}
	sources := map[string]bool{}
	for _, x := range samples {
		sources[x.source] = true
		if x.rss >= 0 {
			if s.RSSMinBytes < 0 || x.rss < s.RSSMinBytes {
				s.RSSMinBytes = x.rss
			}
			s.RSSMaxBytes = max(s.RSSMaxBytes, x.rss)
		}
		if x.anon >= 0 {
			if s.AnonMinBytes < 0 || x.anon < s.AnonMinBytes {
				s.AnonMinBytes = x.anon
			}
			s.AnonMaxBytes = max(s.AnonMaxBytes, x.anon)
		}
		if x.db >= 0 {
			if s.DatabaseBytesStart < 0 {
				s.DatabaseBytesStart = x.db
			}
			s.DatabaseBytesEnd = x.db
		}
	}
	switch {
	case sources["metrics"] && sources["proc"]:
		s.Source = "metrics+proc"
	case sources["metrics"]:
		s.Source = "metrics"
	case sources["proc"]:
		s.Source = "proc"
	}
	return s
}

// timeline buckets requests by the second they finished in.
func timeline(events []event, ops []opName, samples []serverSample, elapsed time.Duration) []Second {
	n := int(elapsed / time.Second)
	if elapsed%time.Second != 0 || n == 0 {
		n++
	}
	out := make([]Second, n)
	lat := make([][]time.Duration, n)
	step := make([][]time.Duration, n)
	for i := range out {
		out[i].T = i
	}
	for _, e := range events {
		i := min(int(e.at/time.Second), n-1)
		if ops[e.op].kind == kindStep {
			if e.class == classOK && ops[e.op].name == opSummary {
				step[i] = append(step[i], e.dur)
			}
			continue
		}
		switch e.class {
		case classOK:
			lat[i] = append(lat[i], e.dur)
		case classFailed, classTransport:
			out[i].Errors++
		case classShed:
			out[i].Shed++
		case classCancelled:
			continue
		}
		out[i].Requests++
	}
	for i := range out {
		l := latencyOf(lat[i])
		out[i].P50, out[i].P99 = l.P50, l.P99
		out[i].StepP99 = latencyOf(step[i]).P99
	}
	for _, s := range samples {
		if i := int(s.at / time.Second); i >= 0 && i < n && s.rss >= 0 {
			out[i].RSSBytes = s.rss
		}
	}
	return out
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // URLs with & stay readable
	return enc.Encode(r)
}

// WriteMarkdown writes the report as a markdown section: what ran, a table
// of requests and one of steps, then errors, the server and ingest totals.
func (r *Report) WriteMarkdown(w io.Writer) error {
	bw := bufio.NewWriter(w)
	p := func(format string, a ...any) { fmt.Fprintf(bw, format, a...) }
	p("## sharedcare load: %s\n\n", r.Scenario)
	p("%s, %.1f s against %s", r.Started.Format("2006-01-02 15:04:05 MST"), r.Seconds, r.Target)
	switch r.StoppedBy {
	case "":
	case "interrupted":
		p(", interrupted")
	default:
		p(", stopped by the %s cap", r.StoppedBy)
	}
	p(".\n%s\nMachine: %s.\n\n", r.Config.describe(r.Scenario), r.Machine.describe())

	header := "| %s | count | ok | errors | shed | per s | p50 ms | p95 ms | p99 ms | max ms |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n"
	row := func(o Operation, bold bool) {
		name := o.Name
		if bold {
			name = "**" + name + "**"
		}
		p("| %s | %s | %s | %s | %s | %s | %.1f | %.1f | %.1f | %.1f |\n", strings.ReplaceAll(name, "|", `\|`),
			thousands(o.Count), thousands(o.OK), thousands(o.Errors), thousands(o.Shed), perSecond(o.PerSecond),
			o.P50, o.P95, o.P99, o.Max)
	}
	p(header, "request")
	for _, o := range r.Operations {
		if !o.Step {
			row(o, false)
		}
	}
	row(r.Requests, true)
	if slices.ContainsFunc(r.Operations, func(o Operation) bool { return o.Step }) {
		p("\n")
		p(header, "step (what the user waits for)")
		for _, o := range r.Operations {
			if o.Step {
				row(o, false)
			}
		}
	}
	p("\n- peak: %s requests in one second\n", thousands(r.PeakPerSecond))
	p("- errors by status: %s\n", counted(r.ErrorsByStatus))
	p("- shed (Retry-After) by status: %s\n", counted(r.ShedByStatus))
	p("- transport errors: %s\n", counted(r.TransportErrors))
	if in := r.Ingest; in != nil {
		p("- ingest: %s bundles, %s resources stored: %s bundles/s, %s resources/s\n",
			thousands(in.Bundles), thousands(in.Resources), perSecond(in.BundlesPerSecond), perSecond(in.ResourcesPerSecond))
	}
	s := r.Server
	if s.RSSMaxBytes >= 0 {
		p("- server memory (RSS, from %s, %d samples): min %s, max %s", s.Source, s.Samples, bytesOf(s.RSSMinBytes), bytesOf(s.RSSMaxBytes))
		if s.AnonMaxBytes >= 0 {
			p("; anonymous (RssAnon) min %s, max %s", bytesOf(s.AnonMinBytes), bytesOf(s.AnonMaxBytes))
		}
		p("\n")
	} else {
		p("- server memory: unknown (no /metrics, and no server pid to read)\n")
	}
	if s.DatabaseBytesEnd >= 0 {
		p("- database: %s at the start, %s at the end\n", bytesOf(s.DatabaseBytesStart), bytesOf(s.DatabaseBytesEnd))
	} else {
		p("- database size: unknown\n")
	}
	return bw.Flush()
}

func (m Machine) describe() string {
	s := fmt.Sprintf("%d CPUs", m.CPUs)
	if m.CPU != "" {
		s += " (" + m.CPU + ")"
	}
	if m.MemoryBytes > 0 {
		s += ", " + bytesOf(m.MemoryBytes)
	}
	if m.Shared {
		s += "; client and server both on it"
	}
	return s
}

func (c Config) describe(scenario string) string {
	pop := fmt.Sprintf("%s patients (seed %d, %d practices, %d years of history)", thousands(c.Patients), c.Seed, c.Practices, c.HistoryYears)
	caps := fmt.Sprintf("caps: %s, %s requests; timeout %s per request; Retry-After %s.", c.Duration, thousands(c.MaxRequests), c.Timeout,
		map[bool]string{true: "respected", false: "ignored"}[c.RespectRetryAfter])
	var what string
	switch scenario {
	case Ingest:
		what = fmt.Sprintf("Ingest of %s from patient %d, %d transaction Bundles at once", pop, c.Start, c.Concurrency)
	case Monday:
		what = fmt.Sprintf("%s clinicians sign in within %s and each opens %d patient summaries, think time %s; population %s, %s sampled",
			thousands(c.Clinicians), c.Ramp, c.Summaries, c.Think, pop, thousands(c.Sample))
	default:
		what = fmt.Sprintf("%d virtual users back to back, think time %s; population %s, %s sampled", c.Concurrency, c.Think, pop, thousands(c.Sample))
	}
	return what + "; " + caps
}

// counted renders counts as "500: 3, 502: 1", or "none".
func counted(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + thousands(m[k])
	}
	return strings.Join(parts, ", ")
}

// thousands writes n with commas: 1,234,567.
func thousands(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func perSecond(f float64) string {
	if f >= 100 {
		return thousands(int(math.Round(f)))
	}
	return strconv.FormatFloat(f, 'f', 1, 64)
}

func bytesOf(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d KiB", n>>10)
}

// thisMachine describes the machine the client runs on.
func thisMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), OS: runtime.GOOS + "/" + runtime.GOARCH, Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
				m.MemoryBytes = kb << 10
			}
		}
	}
	return m
}
