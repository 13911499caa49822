package load

import (
	"os"
	"strings"
	"testing"
)

func TestParseMetrics(t *testing.T) {
	t.Parallel()
	text := `# HELP process_resident_memory_bytes Resident memory of the server process.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 1.2345678e+08
go_goroutines 17
sharedcare_database_bytes 1.0460193824e+10
sharedcare_http_responses_total{class="2xx"} 11364
`
	rss, db, err := parseMetrics(strings.NewReader(text))
	if err != nil || rss != 123456780 || db != 10460193824 {
		t.Errorf("parseMetrics = %d, %d, %v; want 123456780, 10460193824", rss, db, err)
	}
	if _, _, err := parseMetrics(strings.NewReader("go_goroutines 3\n")); err == nil {
		t.Errorf("parseMetrics(no RSS): no error, want one")
	}
}

func TestProcMemory(t *testing.T) {
	t.Parallel()
	rss, anon, err := procMemory(os.Getpid())
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	if rss <= 0 || anon <= 0 || anon > rss {
		t.Errorf("procMemory(self) = RSS %d, anonymous %d; want 0 < anonymous ≤ RSS", rss, anon)
	}
}

func TestMetricsURL(t *testing.T) {
	t.Parallel()
	if got := metricsURL("http://localhost:8080/fhir"); got != "http://localhost:8080/metrics" {
		t.Errorf("metricsURL = %q, want http://localhost:8080/metrics", got)
	}
}
