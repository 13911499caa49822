package synth

import (
	"fmt"
	"runtime"
	"time"

	"sharedcare/internal/fhir"
	"sharedcare/internal/nhs"
)

// Options configure a Generator. The zero value is usable.
type Options struct {
	// Seed selects the population; zero is a seed like any other.
	Seed uint64
	// Practices is how many GP practices patients are registered with, each
	// in one of the built-in towns; zero means 10. Patient i's practice does
	// not depend on how many patients are generated.
	Practices int
	// HistoryYears is how far back each history goes from Until; zero means
	// 10. Longer histories mean more resources per patient, roughly in
	// proportion.
	HistoryYears int
	// Until is when histories end; zero means DefaultUntil. Nothing is dated
	// after it.
	Until time.Time
	// Workers is how many goroutines generate in the streaming calls; zero
	// means GOMAXPROCS.
	Workers int
}

// Limits of Options.
const (
	MaxPractices    = 8000
	MaxHistoryYears = 100
)

// Resource is one generated resource.
type Resource struct {
	Type string // resourceType
	ID   string // a UUID, also the resource's id
	Body fhir.Value
}

// Record is one patient: the Patient resource first, then everything about
// them in the order it happened.
type Record struct {
	Index     int // the patient's index in the population
	Resources []Resource
}

// Patient returns the Patient resource, which is always the first.
func (r *Record) Patient() Resource { return r.Resources[0] }

// Generator makes patients. It is immutable after New and safe for
// concurrent use.
type Generator struct {
	opts      Options
	until     time.Time
	practices []*practice
	hospitals []*hospital // one per town with a practice, in town order
	byTown    map[*town]*hospital
	shared    []Resource
	// numbers gives patient i's NHS number; the demo population overrides it.
	number func(i int) (string, error)
}

// New returns a Generator, or an error naming the option that is out of
// range.
func New(opts Options) (*Generator, error) {
	if opts.Practices == 0 {
		opts.Practices = 10
	}
	if opts.HistoryYears == 0 {
		opts.HistoryYears = 10
	}
	if opts.Workers == 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	switch {
	case opts.Practices < 1 || opts.Practices > MaxPractices:
		return nil, fmt.Errorf("practices %d is outside [1, %d]", opts.Practices, MaxPractices)
	case opts.HistoryYears < 1 || opts.HistoryYears > MaxHistoryYears:
		return nil, fmt.Errorf("history years %d is outside [1, %d]", opts.HistoryYears, MaxHistoryYears)
	case opts.Workers < 1:
		return nil, fmt.Errorf("workers %d is below 1", opts.Workers)
	}
	g := &Generator{opts: opts, until: opts.Until, number: nhs.TestNumber, byTown: map[*town]*hospital{}}
	if g.until.IsZero() {
		g.until = DefaultUntil
	}
	// Histories are dated in London wall-clock time; drop any location so
	// that formatting reads the clock as given.
	g.until = time.Date(g.until.Year(), g.until.Month(), g.until.Day(), 0, 0, 0, 0, time.UTC)
	for k := range opts.Practices {
		g.practices = append(g.practices, newPractice(k))
	}
	g.finishShared()
	return g, nil
}

// finishShared builds the hospitals the practices need and the shared
// resources of all of them.
func (g *Generator) finishShared() {
	g.hospitals, g.shared = nil, nil
	for i := range towns {
		t := &towns[i]
		for _, p := range g.practices {
			if p.town == t {
				h := newHospital(t)
				g.hospitals = append(g.hospitals, h)
				g.byTown[t] = h
				break
			}
		}
	}
	for _, p := range g.practices {
		g.shared = append(g.shared, p.resources()...)
	}
	for _, h := range g.hospitals {
		g.shared = append(g.shared, h.resources()...)
	}
}

// Options returns the options in effect, defaults filled in.
func (g *Generator) Options() Options {
	o := g.opts
	o.Until = g.until
	return o
}

// Shared returns the resources every patient refers to: the GP practices
// and hospital trusts (Organization), their clinicians (Practitioner) and
// their roles (PractitionerRole). They depend on Options.Practices but not
// on the seed, so populations of different seeds share them. The slice must
// not be modified.
func (g *Generator) Shared() []Resource { return g.shared }

// Patient generates patient i (i ≥ 0). The same Options and i give the same
// record.
func (g *Generator) Patient(i int) (*Record, error) {
	if i < 0 {
		return nil, fmt.Errorf("patient index %d is negative", i)
	}
	nhsNumber, err := g.number(i)
	if err != nil {
		return nil, fmt.Errorf("patient %d: %w", i, err)
	}
	l := newLife(g, i, nhsNumber, nil)
	l.live()
	return &Record{Index: i, Resources: l.out}, nil
}
