package synth

import (
	"context"
	"fmt"
	"sync"

	"sharedcare/internal/fhir"
)

// Stream generates patients start to start+count-1 on Options.Workers
// goroutines and calls fn with each, in index order, on the calling
// goroutine. At most a few records per worker are in memory at once,
// however large count is. It stops at the first error from fn or when ctx
// ends, and returns that error.
func (g *Generator) Stream(ctx context.Context, start, count int, fn func(*Record) error) error {
	return ordered(ctx, g.opts.Workers, start, count, g.Patient, fn)
}

// Bundles writes the shared transaction Bundle, then one transaction Bundle
// per patient, as compact JSON; fn gets the patient index (-1 for the
// shared bundle) and the bytes, which it must not keep after it returns.
// Encoding happens on the workers.
func (g *Generator) Bundles(ctx context.Context, start, count int, fn func(index int, bundle []byte) error) error {
	if err := fn(-1, fhir.Marshal(g.SharedBundle())); err != nil {
		return err
	}
	encode := func(i int) (encoded, error) {
		r, err := g.Patient(i)
		if err != nil {
			return encoded{}, err
		}
		return encoded{index: i, data: fhir.AppendJSON(make([]byte, 0, 64<<10), r.Bundle(), "")}, nil
	}
	return ordered(ctx, g.opts.Workers, start, count, encode, func(e encoded) error {
		return fn(e.index, e.data)
	})
}

type encoded struct {
	index int
	data  []byte
	types []typedLines
}

// typedLines is NDJSON of one resource type.
type typedLines struct {
	typ   string
	lines []byte
}

// NDJSON writes every resource as one line of JSON, grouped by type for
// FHIR Bulk Data ($import wants one file per type): the shared resources
// first, then each patient's in index order. fn gets a type and one or more
// complete lines of it, which it must not keep after it returns; lines of a
// type arrive in a deterministic order.
func (g *Generator) NDJSON(ctx context.Context, start, count int, fn func(resourceType string, lines []byte) error) error {
	for _, tl := range groupLines(g.shared) {
		if err := fn(tl.typ, tl.lines); err != nil {
			return err
		}
	}
	encode := func(i int) (encoded, error) {
		r, err := g.Patient(i)
		if err != nil {
			return encoded{}, err
		}
		return encoded{index: i, types: groupLines(r.Resources)}, nil
	}
	return ordered(ctx, g.opts.Workers, start, count, encode, func(e encoded) error {
		for _, tl := range e.types {
			if err := fn(tl.typ, tl.lines); err != nil {
				return err
			}
		}
		return nil
	})
}

// groupLines encodes resources as NDJSON, one run of lines per type, types
// in order of first appearance.
func groupLines(rs []Resource) []typedLines {
	var out []typedLines
	for _, r := range rs {
		i := 0
		for i < len(out) && out[i].typ != r.Type {
			i++
		}
		if i == len(out) {
			out = append(out, typedLines{typ: r.Type, lines: make([]byte, 0, 4096)})
		}
		out[i].lines = append(fhir.AppendJSON(out[i].lines, r.Body, ""), '\n')
	}
	return out
}

// ordered runs produce(i) for i in [start, start+count) on workers
// goroutines and passes the results to consume in index order. A bounded
// window of jobs keeps memory flat: the feeder cannot run ahead of the
// consumer by more than the window.
func ordered[T any](ctx context.Context, workers, start, count int, produce func(int) (T, error), consume func(T) error) error {
	if count < 0 || start < 0 {
		return fmt.Errorf("start %d and count %d must not be negative", start, count)
	}
	type result struct {
		v   T
		err error
	}
	type job struct {
		i   int
		out chan result
	}
	var wg sync.WaitGroup
	defer wg.Wait() // runs after cancel below: every goroutine has stopped when ordered returns
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	window := 4 * workers
	jobs := make(chan job, window)
	pending := make(chan chan result, window)
	wg.Go(func() {
		defer close(jobs)
		defer close(pending)
		for i := start; i < start+count; i++ {
			out := make(chan result, 1)
			select {
			case pending <- out:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- job{i, out}:
			case <-ctx.Done():
				return
			}
		}
	})
	for range workers {
		wg.Go(func() {
			for j := range jobs {
				if ctx.Err() != nil {
					j.out <- result{err: ctx.Err()}
					continue
				}
				v, err := produce(j.i)
				j.out <- result{v, err} // buffered: never blocks
			}
		})
	}
	for out := range pending {
		var r result
		select {
		case r = <-out:
		case <-ctx.Done():
			return ctx.Err()
		}
		if r.err != nil {
			return r.err
		}
		if err := consume(r.v); err != nil {
			return err
		}
	}
	return ctx.Err()
}
