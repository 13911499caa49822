package fhirpath

import (
	"context"
	"fmt"
	"sync"
	"time"

	"sharedcare/internal/fhir"
)

// Expression is a compiled FHIRPath expression. It is immutable and safe for
// concurrent use by any number of goroutines.
type Expression struct {
	src    string
	root   node
	shared []*Item // first elements of literal collections, which results must not expose
}

// Parse compiles src. A malformed expression, or one that calls an unknown
// function or names an unknown type, gives a *SyntaxError.
func Parse(src string) (*Expression, error) {
	p := parser{src: src}
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	if len(toks) > maxTokens {
		return nil, newSyntaxError(src, toks[maxTokens].pos, "expression longer than %d tokens", maxTokens)
	}
	p.toks = toks
	n, err := p.parseAll()
	if err != nil {
		return nil, err
	}
	return &Expression{src: src, root: n, shared: p.shared}, nil
}

// MustParse is Parse for expressions fixed in the program's source; it
// panics on error.
func MustParse(src string) *Expression {
	e, err := Parse(src)
	if err != nil {
		panic(err)
	}
	return e
}

// String returns the expression's source text.
func (e *Expression) String() string { return e.src }

// Env is what an evaluation may use besides its input. The zero Env (or a
// nil *Env) is usable: %resource, %rootResource and %context are then the
// input item, now() is the system clock, resolve() finds only contained
// resources and Bundle entries and otherwise types the reference from its
// text, memberOf() fails and conformsTo() knows only the core profiles.
// One Env may serve concurrent evaluations when its hooks are safe for
// concurrent use.
type Env struct {
	// Resource, RootResource and Context are %resource, %rootResource and
	// %context (https://hl7.org/fhir/R4/fhirpath.html#variables); a zero
	// Item means the input item. Set Resource when the input is an element
	// inside a resource (an invariant's $this), and RootResource when that
	// resource is itself contained in another, or is a Bundle entry.
	Resource     Item
	RootResource Item
	Context      Item

	// Vars are further variables, named without the %: Vars["x"] is %x.
	Vars map[string][]Item

	// Resolve finds the resource a reference points to: "Patient/123",
	// an absolute URL, a urn:uuid. It is asked after contained resources
	// and the entries of a Bundle that %rootResource (or %resource) is.
	// When it is nil or finds nothing, resolve() returns a stub typed from
	// the reference text ("Patient/123" gives a Patient with no content), so
	// that where(resolve() is Patient) works as search parameters expect.
	Resolve func(ctx context.Context, reference string) (*fhir.Value, bool)

	// MemberOf answers memberOf(): whether code (in system; system is ""
	// for a bare code) is in the value set. Without it, memberOf() fails.
	MemberOf func(ctx context.Context, valueSet, system, code string) (bool, error)

	// ConformsTo answers conformsTo(profile) for one item. Without it,
	// conformsTo knows the core profiles
	// (http://hl7.org/fhir/StructureDefinition/<type>) and fails for others.
	ConformsTo func(ctx context.Context, it Item, profile string) (bool, error)

	// Now is the clock now(), today() and timeOfDay() read, once per
	// evaluation; nil means time.Now.
	Now func() time.Time

	// Trace receives trace(name) calls; nil discards them.
	Trace func(name string, items []Item)

	// Strict checks the expression against the input's type before
	// evaluating (an unknown element name is an error, not an empty result)
	// and makes iif() insist on a Boolean criterion. It implies StrictAs.
	Strict bool

	// StrictAs makes as and as() fail on more than one item, as
	// http://hl7.org/fhirpath/N1/#as-type-specifier says. Without it they
	// filter like ofType(): FHIR R4's own search parameters
	// ("useContext.value as Quantity") and invariant dom-3
	// ("descendants().as(canonical)") apply them to several items.
	StrictAs bool
}

var zeroEnv Env

// EvalError is a failure while evaluating: single() on two items, a type
// mismatch in an operator, a hook's error, cancellation. Its message names
// types and operators, never values, so it is safe to log.
type EvalError struct {
	Expr   string // the whole expression
	Offset int    // byte offset of the part that failed
	Msg    string
	Err    error // the cause, when a hook or the context failed
}

func (e *EvalError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("fhirpath: %s (at offset %d of %q): %v", e.Msg, e.Offset, e.Expr, e.Err)
	}
	return fmt.Sprintf("fhirpath: %s (at offset %d of %q)", e.Msg, e.Offset, e.Expr)
}

func (e *EvalError) Unwrap() error { return e.Err }

// Evaluate evaluates the expression with input as its focus ($this at the
// top level); a zero Item means no input. env may be nil. The result is the
// caller's: items in it point into input's tree (and into resources env's
// hooks returned), which must stay unchanged while they are in use.
// Evaluate stops with ctx's error when ctx is done.
func (e *Expression) Evaluate(ctx context.Context, input Item, env *Env) ([]Item, error) {
	r := &run{}
	r.arena = r.arenaBuf[:0]
	return e.evaluate(r, ctx, input, env)
}

// Scratch is memory that evaluations can reuse when each result is read
// before the next evaluation: indexing a resource evaluates some forty
// expressions and reads each result at once. The zero Scratch is ready to
// use; it is not safe for concurrent use.
type Scratch struct {
	r     run
	arena []Item
}

// EvaluateScratch is Evaluate with memory from s. Its result is valid
// until s is used again.
func (e *Expression) EvaluateScratch(ctx context.Context, input Item, env *Env, s *Scratch) ([]Item, error) {
	if s.arena == nil {
		s.arena = make([]Item, 0, 64)
	}
	s.r = run{}
	s.r.arena = s.arena[:0]
	return e.evaluate(&s.r, ctx, input, env)
}

func (e *Expression) evaluate(r *run, ctx context.Context, input Item, env *Env) ([]Item, error) {
	if env == nil {
		env = &zeroEnv
	}
	r.ctx, r.env, r.expr, r.strict, r.strictAs = ctx, env, e, env.Strict, env.Strict || env.StrictAs
	if !input.isZero() {
		r.inputArr[0] = input
		r.input = r.inputArr[:]
	}
	if r.strict {
		if err := e.check(r); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, &EvalError{Expr: e.src, Msg: "cancelled", Err: err}
	}
	res, err := e.root.eval(r, scope{this: r.input, index: -1})
	if err != nil {
		return nil, err
	}
	if len(res) > 0 && e.isShared(&res[0]) {
		res = append([]Item(nil), res...)
	}
	return res, nil
}

// EvaluateBool evaluates the expression as a condition, as invariants are:
// ok is false when the result is empty; a single Boolean gives its value
// and any other single item true (http://hl7.org/fhirpath/N1/#singleton-evaluation-of-collections).
// More than one item is an *EvalError.
func (e *Expression) EvaluateBool(ctx context.Context, input Item, env *Env) (value, ok bool, err error) {
	// The result is read here and dropped, so its memory can be reused.
	s := boolScratches.Get().(*Scratch)
	defer boolScratches.Put(s)
	res, err := e.EvaluateScratch(ctx, input, env, s)
	if err != nil {
		return false, false, err
	}
	switch len(res) {
	case 0:
		return false, false, nil
	case 1:
		if res[0].kind == KindBoolean {
			b, ok := res[0].boolean()
			return b, ok, nil
		}
		return true, true, nil
	}
	return false, false, &EvalError{Expr: e.src, Msg: fmt.Sprintf("expected one Boolean, got %d items", len(res))}
}

var boolScratches = sync.Pool{New: func() any { return new(Scratch) }}

func (e *Expression) isShared(p *Item) bool {
	if p == &trueItems[0] || p == &falseItems[0] {
		return true
	}
	for _, s := range e.shared {
		if s == p {
			return true
		}
	}
	return false
}

// run is the state of one evaluation.
type run struct {
	ctx      context.Context
	env      *Env
	expr     *Expression
	input    []Item
	inputArr [1]Item

	// arena is where path steps put their results: one allocation serves
	// many small results. Results are never modified, so handing out
	// pieces of it is safe; see spare and keep.
	arena    []Item
	arenaBuf [4]Item // the first piece, allocated with the run

	now    time.Time
	nowSet bool
	steps  int // work done, for periodic cancellation checks

	strict, strictAs bool
}

// scope is what $this, $index and $total mean where a sub-expression is
// evaluated; head terms (a path's first name, a function called without a
// focus) apply to this.
type scope struct {
	this  []Item
	index int // -1 outside an iteration
	total []Item
}

// spare returns an empty slice whose capacity is the arena's free space,
// for a result built by appending with no evaluation in between.
func (r *run) spare() []Item {
	if cap(r.arena)-len(r.arena) < 2 {
		r.arena = make([]Item, 0, 8)
	}
	return r.arena[len(r.arena):len(r.arena)]
}

// keep claims the arena space out was appended into, if it still is there,
// and caps out so that no later append can write over its neighbours.
func (r *run) keep(out []Item) []Item {
	if len(out) == 0 {
		return nil
	}
	free := r.arena[len(r.arena):cap(r.arena)]
	if len(free) > 0 && &out[0] == &free[0] {
		r.arena = r.arena[:len(r.arena)+len(out)]
	}
	return out[:len(out):len(out)]
}

func (r *run) errorf(at int, format string, args ...any) error {
	return &EvalError{Expr: r.expr.src, Offset: at, Msg: fmt.Sprintf(format, args...)}
}

// tick counts work and checks for cancellation every so often, so that
// repeat(), descendants() and long where() chains stop when asked.
func (r *run) tick(at int) error {
	r.steps++
	if r.steps&1023 == 0 {
		if err := r.ctx.Err(); err != nil {
			return &EvalError{Expr: r.expr.src, Offset: at, Msg: "cancelled", Err: err}
		}
	}
	return nil
}

func (r *run) clock() time.Time {
	if !r.nowSet {
		if r.env.Now != nil {
			r.now = r.env.Now()
		} else {
			r.now = time.Now()
		}
		r.nowSet = true
	}
	return r.now
}

// variable returns %resource, %rootResource and %context, or a caller's variable.
func (r *run) variable(name string, at int) ([]Item, error) {
	pick := func(it Item, fallback []Item) []Item {
		if it.isZero() {
			return fallback
		}
		return []Item{it}
	}
	switch name {
	case "resource":
		return pick(r.env.Resource, r.input), nil
	case "rootResource":
		if !r.env.RootResource.isZero() {
			return []Item{r.env.RootResource}, nil
		}
		return pick(r.env.Resource, r.input), nil
	case "context":
		return pick(r.env.Context, r.input), nil
	}
	if v, ok := r.env.Vars[name]; ok {
		return v, nil
	}
	return nil, r.errorf(at, "unknown variable %%%s", name)
}

var (
	trueItems  = []Item{{kind: KindBoolean, n: 1}}
	falseItems = []Item{{kind: KindBoolean}}
)

// boolResult returns a shared one-Boolean collection: results are never
// modified in place, so the two can be handed out freely.
func boolResult(b bool) []Item {
	if b {
		return trueItems
	}
	return falseItems
}
