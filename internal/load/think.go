package load

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Think is the time a virtual user waits between steps: reading a
// result, talking to the patient. The zero Think is no wait.
type Think struct {
	Mean  time.Duration
	Fixed bool // every wait is Mean; otherwise waits are exponential with mean Mean
}

// maxThinkFactor caps an exponential wait at this many means, so that one
// unlucky draw (e^-10, once in 22,000) cannot hold a run open.
const maxThinkFactor = 10

// ParseThink parses "0", "exp:5s" or "5s" (exponential, mean 5s) and
// "fixed:5s" (always 5s).
func ParseThink(s string) (Think, error) {
	var t Think
	d := s
	switch {
	case strings.HasPrefix(s, "fixed:"):
		t.Fixed, d = true, s[len("fixed:"):]
	case strings.HasPrefix(s, "exp:"):
		d = s[len("exp:"):]
	}
	mean, err := time.ParseDuration(d)
	if d == "0" {
		mean, err = 0, nil
	}
	if err != nil || mean < 0 {
		return Think{}, fmt.Errorf("think time %q: want 0, exp:DURATION (or DURATION) or fixed:DURATION, e.g. exp:5s", s)
	}
	t.Mean = mean
	return t, nil
}

// String is the form ParseThink reads.
func (t Think) String() string {
	switch {
	case t.Mean == 0:
		return "0"
	case t.Fixed:
		return "fixed:" + t.Mean.String()
	}
	return "exp:" + t.Mean.String()
}

// next draws a wait.
func (t Think) next(rng *rand.Rand) time.Duration {
	if t.Mean == 0 || t.Fixed {
		return t.Mean
	}
	return time.Duration(min(rng.ExpFloat64(), maxThinkFactor) * float64(t.Mean))
}
