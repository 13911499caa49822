package fhirpath

import (
	"cmp"
	"slices"
)

// function is a built-in function. impl receives the focus (in), the scope
// the call appears in, and the call node with its unevaluated arguments:
// each function decides whether an argument is evaluated once against the
// scope or per item as a lambda with $this, $index (and $total).
type function struct {
	minArgs, maxArgs int
	typeArg          bool // is, as, ofType: the argument is a type specifier
	impl             func(r *run, s scope, in []Item, c *call) ([]Item, error)
}

const many = 1 << 10

// functions is the function table; Parse resolves calls against it.
var functions = map[string]*function{
	// Existence (http://hl7.org/fhirpath/N1/#existence)
	"empty":      {0, 0, false, fnEmpty},
	"exists":     {0, 1, false, fnExists},
	"all":        {1, 1, false, fnAll},
	"allTrue":    {0, 0, false, boolAggregate(true, true)},
	"anyTrue":    {0, 0, false, boolAggregate(false, true)},
	"allFalse":   {0, 0, false, boolAggregate(true, false)},
	"anyFalse":   {0, 0, false, boolAggregate(false, false)},
	"subsetOf":   {1, 1, false, fnSubsetOf},
	"supersetOf": {1, 1, false, fnSupersetOf},
	"count":      {0, 0, false, fnCount},
	"distinct":   {0, 0, false, fnDistinct},
	"isDistinct": {0, 0, false, fnIsDistinct},

	// Filtering and projection
	"where":  {1, 1, false, fnWhere},
	"select": {1, 1, false, fnSelect},
	"repeat": {1, 1, false, fnRepeat},
	"ofType": {1, 1, true, fnOfType},

	// Subsetting
	"single":    {0, 0, false, fnSingle},
	"first":     {0, 0, false, fnFirst},
	"last":      {0, 0, false, fnLast},
	"tail":      {0, 0, false, fnTail},
	"skip":      {1, 1, false, fnSkip},
	"take":      {1, 1, false, fnTake},
	"intersect": {1, 1, false, fnIntersect},
	"exclude":   {1, 1, false, fnExclude},

	// Combining
	"union":   {1, 1, false, fnUnion},
	"combine": {1, 1, false, fnCombine},

	// Conversion
	"iif":                {2, 3, false, fnIif},
	"toBoolean":          {0, 0, false, convert(toBoolean)},
	"convertsToBoolean":  {0, 0, false, convertsTo(toBoolean)},
	"toInteger":          {0, 0, false, convert(toInteger)},
	"convertsToInteger":  {0, 0, false, convertsTo(toInteger)},
	"toDecimal":          {0, 0, false, convert(toDecimal)},
	"convertsToDecimal":  {0, 0, false, convertsTo(toDecimal)},
	"toString":           {0, 0, false, convert(toStringItem)},
	"convertsToString":   {0, 0, false, convertsTo(toStringItem)},
	"toDate":             {0, 0, false, convert(toDate)},
	"convertsToDate":     {0, 0, false, convertsTo(toDate)},
	"toDateTime":         {0, 0, false, convert(toDateTime)},
	"convertsToDateTime": {0, 0, false, convertsTo(toDateTime)},
	"toTime":             {0, 0, false, convert(toTime)},
	"convertsToTime":     {0, 0, false, convertsTo(toTime)},
	"toQuantity":         {0, 1, false, fnToQuantity(false)},
	"convertsToQuantity": {0, 1, false, fnToQuantity(true)},

	// String manipulation (functions_string.go)
	"indexOf":        {1, 1, false, fnIndexOf},
	"lastIndexOf":    {1, 1, false, fnLastIndexOf},
	"substring":      {1, 2, false, fnSubstring},
	"startsWith":     {1, 1, false, fnStartsWith},
	"endsWith":       {1, 1, false, fnEndsWith},
	"contains":       {1, 1, false, fnContainsString},
	"upper":          {0, 0, false, fnUpper},
	"lower":          {0, 0, false, fnLower},
	"replace":        {2, 2, false, fnReplace},
	"matches":        {1, 1, false, fnMatches(false)},
	"matchesFull":    {1, 1, false, fnMatches(true)},
	"replaceMatches": {2, 2, false, fnReplaceMatches},
	"length":         {0, 0, false, fnLength},
	"toChars":        {0, 0, false, fnToChars},
	"split":          {1, 1, false, fnSplit},
	"join":           {0, 1, false, fnJoin},
	"trim":           {0, 0, false, fnTrim},
	"encode":         {1, 1, false, fnEncode},
	"decode":         {1, 1, false, fnDecode},
	"escape":         {1, 1, false, fnEscape},
	"unescape":       {1, 1, false, fnUnescape},

	// Math (functions_math.go)
	"abs":      {0, 0, false, fnAbs},
	"ceiling":  {0, 0, false, fnCeiling},
	"exp":      {0, 0, false, floatFunc(expFn)},
	"floor":    {0, 0, false, fnFloor},
	"ln":       {0, 0, false, floatFunc(lnFn)},
	"log":      {1, 1, false, fnLog},
	"power":    {1, 1, false, fnPower},
	"round":    {0, 1, false, fnRound},
	"sqrt":     {0, 0, false, floatFunc(sqrtFn)},
	"truncate": {0, 0, false, fnTruncate},

	// Boundaries and precision (FHIRPath 2.1, used by FHIR R5 invariants)
	"lowBoundary":  {0, 1, false, fnBoundary(false)},
	"highBoundary": {0, 1, false, fnBoundary(true)},
	"precision":    {0, 0, false, fnPrecision},
	"comparable":   {1, 1, false, fnComparable},

	// Date and time components (FHIRPath 2.1)
	"yearOf":        {0, 0, false, dateComponent(PrecisionYear)},
	"monthOf":       {0, 0, false, dateComponent(PrecisionMonth)},
	"dayOf":         {0, 0, false, dateComponent(PrecisionDay)},
	"hourOf":        {0, 0, false, dateComponent(PrecisionHour)},
	"minuteOf":      {0, 0, false, dateComponent(PrecisionMinute)},
	"secondOf":      {0, 0, false, dateComponent(PrecisionSecond)},
	"millisecondOf": {0, 0, false, dateComponent(PrecisionMillisecond)},

	// Tree navigation
	"children":    {0, 0, false, fnChildren},
	"descendants": {0, 0, false, fnDescendants},

	// Utility
	"trace":     {1, 2, false, fnTrace},
	"now":       {0, 0, false, fnNow},
	"today":     {0, 0, false, fnToday},
	"timeOfDay": {0, 0, false, fnTimeOfDay},
	"not":       {0, 0, false, fnNot},
	"aggregate": {1, 2, false, fnAggregate},
	"sort":      {0, many, false, fnSort},

	// Types
	"is":   {1, 1, true, fnIs},
	"as":   {1, 1, true, fnAs},
	"type": {0, 0, false, fnType},

	// FHIR's additions (https://hl7.org/fhir/R4/fhirpath.html#functions; functions_fhir.go)
	"extension":  {1, 1, false, fnExtension},
	"hasValue":   {0, 0, false, fnHasValue},
	"getValue":   {0, 0, false, fnGetValue},
	"resolve":    {0, 0, false, fnResolve},
	"memberOf":   {1, 1, false, fnMemberOf},
	"conformsTo": {1, 1, false, fnConformsTo},
	"htmlChecks": {0, 0, false, fnHTMLChecks},
}

// arg evaluates argument i once, in the scope of the call.
func (r *run) arg(s scope, c *call, i int) ([]Item, error) {
	if i >= len(c.args) {
		return nil, nil
	}
	return c.args[i].eval(r, s)
}

// lambda evaluates an argument with $this the item in[i] and $index i.
func (r *run) lambda(n node, in []Item, i int, total []Item) ([]Item, error) {
	if err := r.tick(n.at()); err != nil {
		return nil, err
	}
	return n.eval(r, scope{this: in[i : i+1], index: i, total: total})
}

// lambdaTruth evaluates a criterion for in[i] as a Boolean.
func (r *run) lambdaTruth(c *call, in []Item, i int) (bool, error) {
	res, err := r.lambda(c.args[0], in, i, nil)
	if err != nil {
		return false, err
	}
	v, known, err := r.truth(res, c.pos, c.name, true)
	return known && v, err
}

func (c *call) fnName() string { return c.name + "()" }

// oneItem returns the single item of in; ok is false for an empty input,
// and more than one item is an error.
func (r *run) oneItem(in []Item, c *call) (Item, bool, error) {
	switch len(in) {
	case 0:
		return Item{}, false, nil
	case 1:
		return in[0], true, nil
	}
	return Item{}, false, r.errorf(c.pos, "%s: expected one item, got %d", c.fnName(), len(in))
}

func fnEmpty(r *run, s scope, in []Item, c *call) ([]Item, error) {
	return boolResult(len(in) == 0), nil
}

func fnExists(r *run, s scope, in []Item, c *call) ([]Item, error) {
	if len(c.args) == 0 {
		return boolResult(len(in) > 0), nil
	}
	for i := range in {
		ok, err := r.lambdaTruth(c, in, i)
		if err != nil {
			return nil, err
		}
		if ok {
			return trueItems, nil
		}
	}
	return falseItems, nil
}

func fnAll(r *run, s scope, in []Item, c *call) ([]Item, error) {
	for i := range in {
		ok, err := r.lambdaTruth(c, in, i)
		if err != nil {
			return nil, err
		}
		if !ok {
			return falseItems, nil
		}
	}
	return trueItems, nil
}

// boolAggregate makes allTrue (all, true), anyTrue (any, true), allFalse
// and anyFalse: the items must be Booleans.
func boolAggregate(all, want bool) func(*run, scope, []Item, *call) ([]Item, error) {
	return func(r *run, s scope, in []Item, c *call) ([]Item, error) {
		for _, it := range in {
			if it.kind != KindBoolean {
				return nil, r.errorf(c.pos, "%s: expected Booleans, got %s", c.fnName(), typeOf(it))
			}
			b, ok := it.boolean()
			match := ok && b == want
			if all && !match {
				return falseItems, nil
			}
			if !all && match {
				return trueItems, nil
			}
		}
		return boolResult(all), nil
	}
}

func fnSubsetOf(r *run, s scope, in []Item, c *call) ([]Item, error) {
	other, err := r.arg(s, c, 0)
	if err != nil {
		return nil, err
	}
	return boolResult(subset(in, other)), nil
}

func fnSupersetOf(r *run, s scope, in []Item, c *call) ([]Item, error) {
	other, err := r.arg(s, c, 0)
	if err != nil {
		return nil, err
	}
	return boolResult(subset(other, in)), nil
}

func subset(a, b []Item) bool {
	for _, it := range a {
		if !contains(b, it) {
			return false
		}
	}
	return true
}

func fnCount(r *run, s scope, in []Item, c *call) ([]Item, error) {
	return []Item{Integer(int64(len(in)))}, nil
}

func fnDistinct(r *run, s scope, in []Item, c *call) ([]Item, error) {
	return distinct(in), nil
}

func fnIsDistinct(r *run, s scope, in []Item, c *call) ([]Item, error) {
	return boolResult(len(distinct(in)) == len(in)), nil
}

func fnWhere(r *run, s scope, in []Item, c *call) ([]Item, error) {
	var out []Item
	kept := 0 // while every item passes, the answer is a prefix of in
	for i := range in {
		ok, err := r.lambdaTruth(c, in, i)
		if err != nil {
			return nil, err
		}
		switch {
		case ok && out == nil && kept == i:
			kept++
		case ok:
			if out == nil {
				out = append(make([]Item, 0, len(in)-i+kept), in[:kept]...)
			}
			out = append(out, in[i])
		case out == nil && kept == i:
			out = append(make([]Item, 0, len(in)-i-1+kept), in[:kept]...)
		}
	}
	if out == nil {
		return in[:kept], nil
	}
	return out, nil
}

func fnSelect(r *run, s scope, in []Item, c *call) ([]Item, error) {
	if len(in) == 1 {
		return r.lambda(c.args[0], in, 0, nil)
	}
	var out []Item
	for i := range in {
		res, err := r.lambda(c.args[0], in, i, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, res...)
	}
	return out, nil
}

// maxRepeat bounds repeat(): a projection that always yields something new
// ($this + 1) would otherwise run until the context ends.
const maxRepeat = 100_000

// fnRepeat applies the projection to the input, then to its results, and so
// on, collecting each new item once; it ends when no new items appear.
func fnRepeat(r *run, s scope, in []Item, c *call) ([]Item, error) {
	var out []Item
	queue := in
	for len(queue) > 0 {
		var next []Item
		for i := range queue {
			res, err := r.lambda(c.args[0], queue, i, nil)
			if err != nil {
				return nil, err
			}
			for _, it := range res {
				if !contains(out, it) {
					out = append(out, it)
					next = append(next, it)
				}
			}
			if len(out) > maxRepeat {
				return nil, r.errorf(c.pos, "repeat(): more than %d items", maxRepeat)
			}
		}
		queue = next
	}
	return out, nil
}

func fnOfType(r *run, s scope, in []Item, c *call) ([]Item, error) { return ofType(in, c.typ), nil }

func fnIs(r *run, s scope, in []Item, c *call) ([]Item, error) { return r.isType(in, c.typ, c.pos) }

func fnAs(r *run, s scope, in []Item, c *call) ([]Item, error) { return r.asType(in, c.typ, c.pos) }

func fnSingle(r *run, s scope, in []Item, c *call) ([]Item, error) {
	if len(in) > 1 {
		return nil, r.errorf(c.pos, "single(): expected one item, got %d", len(in))
	}
	return in, nil
}

func fnFirst(r *run, s scope, in []Item, c *call) ([]Item, error) {
	if len(in) == 0 {
		return nil, nil
	}
	return in[:1], nil
}

func fnLast(r *run, s scope, in []Item, c *call) ([]Item, error) {
	if len(in) == 0 {
		return nil, nil
	}
	return in[len(in)-1:], nil
}

func fnTail(r *run, s scope, in []Item, c *call) ([]Item, error) {
	if len(in) == 0 {
		return nil, nil
	}
	return in[1:], nil
}

func fnSkip(r *run, s scope, in []Item, c *call) ([]Item, error) {
	n, ok, err := r.intArg(s, c, 0)
	if err != nil || !ok {
		return nil, err
	}
	switch {
	case n <= 0:
		return in, nil
	case n >= int64(len(in)):
		return nil, nil
	}
	return in[n:], nil
}

func fnTake(r *run, s scope, in []Item, c *call) ([]Item, error) {
	n, ok, err := r.intArg(s, c, 0)
	if err != nil || !ok || n <= 0 {
		return nil, err
	}
	if n >= int64(len(in)) {
		return in, nil
	}
	return in[:n], nil
}

func (r *run) intArg(s scope, c *call, i int) (int64, bool, error) {
	v, err := r.arg(s, c, i)
	if err != nil {
		return 0, false, err
	}
	return r.singleInteger(v, c.pos)
}

func (r *run) stringArg(s scope, c *call, i int) (string, bool, error) {
	v, err := r.arg(s, c, i)
	if err != nil {
		return "", false, err
	}
	return r.singleString(v, c.pos)
}

func fnIntersect(r *run, s scope, in []Item, c *call) ([]Item, error) {
	other, err := r.arg(s, c, 0)
	if err != nil {
		return nil, err
	}
	var out []Item
	for _, it := range in {
		if contains(other, it) && !contains(out, it) {
			out = append(out, it)
		}
	}
	return out, nil
}

func fnExclude(r *run, s scope, in []Item, c *call) ([]Item, error) {
	other, err := r.arg(s, c, 0)
	if err != nil {
		return nil, err
	}
	var out []Item
	for _, it := range in {
		if !contains(other, it) {
			out = append(out, it)
		}
	}
	return out, nil
}

func fnUnion(r *run, s scope, in []Item, c *call) ([]Item, error) {
	other, err := r.arg(s, c, 0)
	if err != nil {
		return nil, err
	}
	return union(in, other), nil
}

func fnCombine(r *run, s scope, in []Item, c *call) ([]Item, error) {
	other, err := r.arg(s, c, 0)
	if err != nil {
		return nil, err
	}
	switch {
	case len(other) == 0:
		return in, nil
	case len(in) == 0:
		return other, nil
	}
	return slices.Concat(in, other), nil
}

// fnIif evaluates its criterion and branches with $this the input item
// (http://hl7.org/fhirpath/N1/#iifcriterion-expression-true-result-collection-otherwise-result-collection-collection);
// only the branch taken is evaluated.
func fnIif(r *run, s scope, in []Item, c *call) ([]Item, error) {
	if len(in) > 1 {
		return nil, r.errorf(c.pos, "iif(): expected at most one input item, got %d", len(in))
	}
	sc := scope{this: in, index: s.index, total: s.total}
	crit, err := c.args[0].eval(r, sc)
	if err != nil {
		return nil, err
	}
	if r.strict && len(crit) == 1 && crit[0].kind != KindBoolean {
		return nil, r.errorf(c.pos, "iif(): criterion is %s, not Boolean", typeOf(crit[0]))
	}
	v, known, err := r.truth(crit, c.pos, "iif", true)
	if err != nil {
		return nil, err
	}
	if known && v {
		return c.args[1].eval(r, sc)
	}
	if len(c.args) < 3 {
		return nil, nil
	}
	return c.args[2].eval(r, sc)
}

func fnChildren(r *run, s scope, in []Item, c *call) ([]Item, error) {
	var out []Item
	for _, it := range in {
		out = allChildren(out, it)
	}
	return out, nil
}

// fnDescendants is repeat(children()): breadth first, checking for
// cancellation as it goes.
func fnDescendants(r *run, s scope, in []Item, c *call) ([]Item, error) {
	var out []Item
	level := in
	for len(level) > 0 {
		start := len(out)
		for _, it := range level {
			if err := r.tick(c.pos); err != nil {
				return nil, err
			}
			out = allChildren(out, it)
		}
		level = out[start:]
	}
	return out, nil
}

func fnTrace(r *run, s scope, in []Item, c *call) ([]Item, error) {
	name, _, err := r.stringArg(s, c, 0)
	if err != nil {
		return nil, err
	}
	if r.env.Trace == nil {
		return in, nil
	}
	shown := in
	if len(c.args) > 1 {
		shown = nil
		for i := range in {
			res, err := r.lambda(c.args[1], in, i, nil)
			if err != nil {
				return nil, err
			}
			shown = append(shown, res...)
		}
	}
	r.env.Trace(name, slices.Clone(shown))
	return in, nil
}

func fnNow(r *run, s scope, in []Item, c *call) ([]Item, error) {
	return []Item{dtItem(dateTimeFromTime(r.clock(), KindDateTime, PrecisionMillisecond))}, nil
}

func fnToday(r *run, s scope, in []Item, c *call) ([]Item, error) {
	return []Item{dtItem(dateTimeFromTime(r.clock(), KindDate, PrecisionDay))}, nil
}

func fnTimeOfDay(r *run, s scope, in []Item, c *call) ([]Item, error) {
	return []Item{dtItem(dateTimeFromTime(r.clock(), KindTime, PrecisionMillisecond))}, nil
}

func fnNot(r *run, s scope, in []Item, c *call) ([]Item, error) {
	v, known, err := r.truth(in, c.pos, "not", true)
	if err != nil || !known {
		return nil, err
	}
	return boolResult(!v), nil
}

// fnAggregate folds the input with $total the running value
// (http://hl7.org/fhirpath/N1/#aggregateaggregator-expression-init-value-value).
func fnAggregate(r *run, s scope, in []Item, c *call) ([]Item, error) {
	total, err := r.arg(s, c, 1)
	if err != nil {
		return nil, err
	}
	for i := range in {
		if total, err = r.lambda(c.args[0], in, i, total); err != nil {
			return nil, err
		}
	}
	return total, nil
}

// fnSort orders by each key in turn, a key written with a leading minus
// descending (FHIRPath 2.1). Without keys the items order by value.
func fnSort(r *run, s scope, in []Item, c *call) ([]Item, error) {
	if len(in) < 2 {
		return in, nil
	}
	type key struct {
		expr node
		desc bool
	}
	keys := make([]key, 0, len(c.args))
	for _, a := range c.args {
		if u, ok := a.(*unary); ok && u.neg {
			keys = append(keys, key{u.x, true})
		} else {
			keys = append(keys, key{a, false})
		}
	}
	vals := make([][]Item, len(in)) // vals[i][k]: key k of item i, or a zero Item when empty
	for i := range in {
		vals[i] = make([]Item, max(len(keys), 1))
		if len(keys) == 0 {
			vals[i][0] = in[i]
			continue
		}
		for k, key := range keys {
			res, err := r.lambda(key.expr, in, i, nil)
			if err != nil {
				return nil, err
			}
			if len(res) > 1 {
				return nil, r.errorf(c.pos, "sort(): a key gave %d items", len(res))
			}
			if len(res) == 1 {
				vals[i][k] = res[0]
			}
		}
	}
	idx := make([]int, len(in))
	for i := range idx {
		idx[i] = i
	}
	var sortErr error
	slices.SortStableFunc(idx, func(a, b int) int {
		for k := range vals[a] {
			x, y := vals[a][k], vals[b][k]
			var c int
			switch {
			case x.isZero() && y.isZero():
				continue
			case x.isZero(): // an empty key sorts after every value
				c = 1
			case y.isZero():
				c = -1
			default:
				v, known, ok := compareItems(x, y)
				if !ok {
					sortErr = r.errorf(0, "sort(): cannot order %s and %s", typeOf(x), typeOf(y))
				}
				if !known || !ok {
					continue
				}
				c = v
			}
			if len(keys) > 0 && keys[k].desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return cmp.Compare(a, b)
	})
	if sortErr != nil {
		return nil, sortErr
	}
	out := make([]Item, len(in))
	for i, j := range idx {
		out[i] = in[j]
	}
	return out, nil
}

func fnType(r *run, s scope, in []Item, c *call) ([]Item, error) {
	out := make([]Item, 0, len(in))
	for _, it := range in {
		switch {
		case it.typ != nil:
			out = append(out, typeItem("FHIR", it.typ.Name))
		case it.kind != KindNone:
			out = append(out, typeItem("System", it.kind.String()))
		}
	}
	return out, nil
}
