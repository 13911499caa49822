package record_test

import (
	"regexp"
	"testing"
	"time"

	"sharedcare/internal/record"
)

var uuidForm = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-([0-9a-f])[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestUUIDs(t *testing.T) {
	for _, tc := range []struct {
		name    string
		new     func() string
		version string
	}{{"NewUUID", record.NewUUID, "4"}, {"NewTimeUUID", record.NewTimeUUID, "7"}} {
		seen := map[string]bool{}
		for range 1000 {
			id := tc.new()
			m := uuidForm.FindStringSubmatch(id)
			if m == nil || m[1] != tc.version {
				t.Fatalf("%s() = %q, want a version %s UUID", tc.name, id, tc.version)
			}
			if seen[id] {
				t.Fatalf("%s() repeated %q", tc.name, id)
			}
			seen[id] = true
		}
	}
}

// TestTimeUUIDsSortByTime: ids made in later milliseconds sort after
// earlier ones, which is what keeps their index entries together.
func TestTimeUUIDsSortByTime(t *testing.T) {
	prev := record.NewTimeUUID()
	for range 5 {
		time.Sleep(2 * time.Millisecond)
		next := record.NewTimeUUID()
		if next <= prev {
			t.Fatalf("NewTimeUUID() = %q after %q: not in time order", next, prev)
		}
		prev = next
	}
}
