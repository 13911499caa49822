package bulk

import (
	"runtime"
	"testing"
)

func TestExtraProcessor(t *testing.T) {
	prev := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(prev) })
	for _, env := range []string{"", "3"} {
		t.Run("GOMAXPROCS="+env, func(t *testing.T) {
			t.Setenv("GOMAXPROCS", env)
			runtime.GOMAXPROCS(3) // what the environment variable would have set
			if env == "" {
				runtime.SetDefaultGOMAXPROCS()
			}
			base := runtime.GOMAXPROCS(0)

			endFirst := extraProcessor()
			if got := runtime.GOMAXPROCS(0); got != base+1 {
				t.Fatalf("one job: GOMAXPROCS %d, want %d", got, base+1)
			}
			endSecond := extraProcessor()
			if got := runtime.GOMAXPROCS(0); got != base+2 {
				t.Fatalf("two jobs: GOMAXPROCS %d, want %d", got, base+2)
			}
			endFirst()
			if got := runtime.GOMAXPROCS(0); got != base+1 {
				t.Fatalf("one job left: GOMAXPROCS %d, want %d", got, base+1)
			}
			endSecond()
			if got := runtime.GOMAXPROCS(0); got != base {
				t.Fatalf("no job left: GOMAXPROCS %d, want %d", got, base)
			}
		})
	}
}
