package search

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"

	"sharedcare/internal/fhir"
	"sharedcare/internal/fhirpath"
)

// Indexer extracts the index values of resources from the spec's search
// parameter expressions. It compiles each resource type's expressions on
// first use and is safe for concurrent use.
type Indexer struct {
	mu    sync.Mutex // guards types
	types map[string]*typeIndex
}

type typeIndex struct {
	params []compiledParam
}

type compiledParam struct {
	p     *fhir.SearchParam
	expr  *fhirpath.Expression
	comps []*fhirpath.Expression // composite components
}

// NewIndexer returns an Indexer.
func NewIndexer() *Indexer { return &Indexer{types: map[string]*typeIndex{}} }

func (x *Indexer) typeIndex(typ string) (*typeIndex, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if ti, ok := x.types[typ]; ok {
		return ti, nil
	}
	ti := &typeIndex{}
	ps := fhir.SearchParams(typ)
	for i := range ps {
		p := &ps[i]
		if p.Expression == "" || p.Type == "special" || skipIndex[p.Code] || unitedElsewhere(typ, p.Code) {
			continue
		}
		e, err := fhirpath.Parse(p.Expression)
		if err != nil {
			return nil, fmt.Errorf("search parameter %s.%s: %w", typ, p.Code, err)
		}
		cp := compiledParam{p: p, expr: e}
		for _, c := range p.Components {
			ce, err := fhirpath.Parse(c.Expression)
			if err != nil {
				return nil, fmt.Errorf("search parameter %s.%s component %s: %w", typ, p.Code, c.Code, err)
			}
			cp.comps = append(cp.comps, ce)
		}
		ti.params = append(ti.params, cp)
	}
	x.types[typ] = ti
	return ti, nil
}

// skipIndex are parameters answered from the resources table, not indexed.
var skipIndex = map[string]bool{"_id": true, "_lastUpdated": true}

// scratches hold Extract's evaluation memory: each result is read before
// the next parameter's expression runs.
var scratches = sync.Pool{New: func() any { return new(fhirpath.Scratch) }}

// Extract returns the index values of res, which must be a valid resource.
func (x *Indexer) Extract(ctx context.Context, res *fhir.Value) (*Entries, error) {
	typ := res.Str("resourceType")
	ti, err := x.typeIndex(typ)
	if err != nil {
		return nil, err
	}
	e := &Entries{}
	root := fhirpath.Resource(res)
	scratch := scratches.Get().(*fhirpath.Scratch)
	defer scratches.Put(scratch)
	for i := range ti.params {
		cp := &ti.params[i]
		items, err := cp.expr.EvaluateScratch(ctx, root, nil, scratch)
		if err != nil {
			return nil, fmt.Errorf("index %s.%s: %w", typ, cp.p.Code, err)
		}
		if len(items) == 0 {
			continue
		}
		if cp.p.Type == "composite" {
			if err := e.addComposite(ctx, cp, items, root); err != nil {
				return nil, fmt.Errorf("index %s.%s: %w", typ, cp.p.Code, err)
			}
			continue
		}
		for _, it := range items {
			e.add(cp.p.Code, cp.p.Type, it)
		}
	}
	e.dedup()
	return e, nil
}

// add indexes one item under a parameter of type ptype.
func (e *Entries) add(param, ptype string, it fhirpath.Item) {
	v := it.Value()
	if v == nil {
		return // a primitive with only extensions, or a stub
	}
	switch ptype {
	case "string":
		e.addString(param, it.TypeName(), v)
	case "token":
		e.addToken(param, it.TypeName(), v)
	case "reference":
		e.addReference(param, it.TypeName(), v)
	case "date":
		if lo, hi, ok := dateSpan(it.TypeName(), v); ok {
			e.Dates = append(e.Dates, DateEntry{Param: param, Low: lo, High: hi})
		}
	case "number":
		if f, ok := number(v); ok {
			e.Numbers = append(e.Numbers, NumberEntry{Param: param, Value: f})
		}
	case "quantity":
		e.addQuantity(param, it.TypeName(), v)
	case "uri":
		if v.Kind == fhir.String {
			e.URIs = append(e.URIs, URIEntry{Param: param, Value: v.Text})
		}
	}
}

func (e *Entries) str(param, s string) {
	if s = strings.TrimSpace(s); s != "" {
		e.Strings = append(e.Strings, StringEntry{Param: param, Norm: normalizeFor(param, s), Exact: s})
	}
}

func (e *Entries) addString(param, typ string, v *fhir.Value) {
	switch typ {
	case "HumanName":
		e.str(param, v.Str("family"))
		for _, k := range []string{"given", "prefix", "suffix"} {
			for _, s := range strings_(v.Get(k)) {
				e.str(param, s)
			}
		}
		e.str(param, v.Str("text"))
	case "Address":
		for _, s := range strings_(v.Get("line")) {
			e.str(param, s)
		}
		for _, k := range []string{"city", "district", "state", "postalCode", "country", "text"} {
			e.str(param, v.Str(k))
		}
	default:
		if v.Kind == fhir.String {
			e.str(param, v.Text)
		}
	}
}

func strings_(v *fhir.Value) []string {
	if v == nil || v.Kind != fhir.Array {
		return nil
	}
	out := make([]string, 0, len(v.Items))
	for _, it := range v.Items {
		if it.Kind == fhir.String {
			out = append(out, it.Text)
		}
	}
	return out
}

func (e *Entries) tok(param, system, code string) {
	if code != "" || system != "" {
		e.Tokens = append(e.Tokens, TokenEntry{Param: param, System: system, Code: code})
	}
}

func (e *Entries) text(param, s string) {
	e.codedText(param, s, TextKey{})
}

// codedText indexes s, a text of token parameter param, for :text, and
// as a coded text under k when it belongs to a coding (k.Code set).
func (e *Entries) codedText(param, s string, k TextKey) {
	if s = strings.TrimSpace(s); s == "" {
		return
	}
	norm := Normalize(s)
	e.Strings = append(e.Strings, StringEntry{Param: param + ":text", Norm: norm, Exact: s})
	if k.Code != "" {
		k.Param = param
		e.Coded = append(e.Coded, CodedText{Key: k, Norm: norm})
	}
}

func (e *Entries) coding(param string, c *fhir.Value) {
	system, code := c.Str("system"), c.Str("code")
	e.tok(param, system, code)
	e.codedText(param, c.Str("display"), TextKey{System: system, Code: code, Kind: TextDisplay})
}

func (e *Entries) addToken(param, typ string, v *fhir.Value) {
	switch typ {
	case "Coding":
		e.coding(param, v)
	case "CodeableConcept":
		first := TextKey{Kind: TextConcept} // the first coding with a code
		if cs := v.Get("coding"); cs != nil && cs.Kind == fhir.Array {
			for i := range cs.Items {
				c := &cs.Items[i]
				e.coding(param, c)
				if first.Code == "" {
					first.System, first.Code = c.Str("system"), c.Str("code")
				}
			}
		}
		e.codedText(param, v.Str("text"), first)
	case "Identifier":
		value := v.Str("value")
		e.tok(param, v.Str("system"), value)
		if t := v.Get("type"); t != nil {
			if cs := t.Get("coding"); cs != nil && cs.Kind == fhir.Array {
				for i := range cs.Items {
					c := &cs.Items[i]
					e.Tokens = append(e.Tokens, TokenEntry{Param: param + ":of-type", System: c.Str("system"), Code: c.Str("code") + "|" + value})
				}
			}
			e.text(param, t.Str("text"))
		}
	case "ContactPoint":
		e.tok(param, v.Str("system"), v.Str("value"))
	case "Reference":
		// A token parameter over a Reference (rare) indexes its identifier.
		if id := v.Get("identifier"); id != nil {
			e.tok(param, id.Str("system"), id.Str("value"))
		}
	default:
		switch v.Kind {
		case fhir.String:
			e.tok(param, "", v.Text)
		case fhir.Bool:
			e.tok(param, "", strconv.FormatBool(v.Bool))
		case fhir.Number:
			e.tok(param, "", v.Text)
		}
	}
}

func (e *Entries) addReference(param, typ string, v *fhir.Value) {
	switch typ {
	case "Reference":
		if ref := v.Str("reference"); ref != "" {
			e.ref(param, ref)
		}
		if id := v.Get("identifier"); id != nil && id.Kind == fhir.Object {
			e.tok(param+":identifier", id.Str("system"), id.Str("value"))
		}
	default: // canonical, uri
		if v.Kind == fhir.String {
			u, _, _ := strings.Cut(v.Text, "|")
			e.ref(param, u)
		}
	}
}

// ref indexes a reference string: "Patient/123", "Patient/123/_history/2",
// or an absolute URL whose tail is Type/id, which is also kept whole.
func (e *Entries) ref(param, ref string) {
	if strings.HasPrefix(ref, "#") {
		return // a contained resource: not searchable by reference
	}
	typ, id, ok := SplitReference(ref)
	entry := ReferenceEntry{Param: param}
	if ok {
		entry.TargetType, entry.TargetID = typ, id
	}
	if strings.Contains(ref, ":") {
		entry.URL = ref
	}
	if entry.TargetID == "" && entry.URL == "" {
		return
	}
	e.References = append(e.References, entry)
}

// SplitReference reads the type and id out of a literal reference:
// "Patient/123", "Patient/123/_history/4", "https://x/fhir/Patient/123".
func SplitReference(ref string) (typ, id string, ok bool) {
	ref, _, _ = strings.Cut(ref, "?")
	parts := strings.Split(ref, "/")
	if n := len(parts); n >= 4 && parts[n-2] == "_history" {
		parts = parts[:n-2]
	}
	n := len(parts)
	if n < 2 {
		return "", "", false
	}
	typ, id = parts[n-2], parts[n-1]
	if !fhir.IsResourceType(typ) || id == "" {
		return "", "", false
	}
	return typ, id, true
}

// dateSpan returns the milliseconds a date-like value covers.
func dateSpan(typ string, v *fhir.Value) (lo, hi int64, ok bool) {
	switch typ {
	case "Period":
		lo, hi = MinTime, MaxTime
		if s := v.Str("start"); s != "" {
			if d, err := fhir.ParseDateRange(s); err == nil {
				lo = d.Low.UnixMilli()
			}
		}
		if s := v.Str("end"); s != "" {
			if d, err := fhir.ParseDateRange(s); err == nil {
				hi = d.High.UnixMilli()
			}
		}
		return lo, hi, lo != MinTime || hi != MaxTime
	case "Timing":
		lo, hi = MaxTime, MinTime
		for _, s := range strings_(v.Get("event")) {
			if d, err := fhir.ParseDateRange(s); err == nil {
				lo, hi = min(lo, d.Low.UnixMilli()), max(hi, d.High.UnixMilli())
			}
		}
		if r := v.Get("repeat"); r != nil {
			if b := r.Get("boundsPeriod"); b != nil {
				if l, h, ok := dateSpan("Period", b); ok {
					lo, hi = min(lo, l), max(hi, h)
				}
			}
		}
		return lo, hi, lo <= hi
	}
	if v.Kind != fhir.String {
		return 0, 0, false
	}
	d, err := fhir.ParseDateRange(v.Text)
	if err != nil {
		return 0, 0, false
	}
	return d.Low.UnixMilli(), d.High.UnixMilli(), true
}

func number(v *fhir.Value) (float64, bool) {
	if v.Kind != fhir.Number {
		return 0, false
	}
	f, err := strconv.ParseFloat(v.Text, 64)
	return f, err == nil && !math.IsInf(f, 0)
}

func (e *Entries) addQuantity(param, typ string, v *fhir.Value) {
	switch typ {
	case "Range":
		if l := v.Get("low"); l != nil {
			e.addQuantity(param, "Quantity", l)
		}
		if h := v.Get("high"); h != nil {
			e.addQuantity(param, "Quantity", h)
		}
		return
	case "Money":
		if f, ok := number(v.Get("value")); ok {
			e.Quantities = append(e.Quantities, QuantityEntry{Param: param, System: "urn:iso:std:iso:4217", Code: v.Str("currency"), Value: f})
		}
		return
	}
	val := v.Get("value")
	if val == nil {
		return
	}
	f, ok := number(val)
	if !ok {
		return
	}
	code := v.Str("code")
	if code == "" {
		code = v.Str("unit")
	}
	q := QuantityEntry{Param: param, System: v.Str("system"), Code: code, Value: f}
	if q.System == "" || q.System == ucumSystem {
		q.CanonicalCode, q.CanonicalValue, _ = canonicalUnit(code, f)
	}
	e.Quantities = append(e.Quantities, q)
}

const ucumSystem = "http://unitsofmeasure.org"

// CanonicalSystem marks a composite's second quantity row that holds the
// value in canonical units, beside the row with the unit as recorded.
const CanonicalSystem = "urn:sharedcare:ucum-canonical"

// addComposite indexes each value of the composite's expression as a
// combination of its components' values.
func (e *Entries) addComposite(ctx context.Context, cp *compiledParam, items []fhirpath.Item, root fhirpath.Item) error {
	if len(cp.comps) < 2 {
		return nil
	}
	env := &fhirpath.Env{Resource: root}
	for _, it := range items {
		var parts [][]Entries
		for ci, ce := range cp.comps {
			vals, err := ce.Evaluate(ctx, it, env)
			if err != nil {
				return err
			}
			var one []Entries
			for _, v := range vals {
				var sub Entries
				sub.add("c", cp.p.Components[ci].Type, v)
				one = append(one, sub)
			}
			parts = append(parts, one)
		}
		for _, a := range parts[0] {
			for _, at := range a.Tokens {
				for _, b := range parts[1] {
					for _, ce := range compositeB(cp.p.Code, at, b) {
						if len(parts) > 2 {
							for _, c := range parts[2] {
								for _, n := range c.Numbers {
									ce.CHigh, ce.CLow, ce.HasC = n.Value, n.Value, true
									e.Composites = append(e.Composites, ce)
								}
							}
							continue
						}
						e.Composites = append(e.Composites, ce)
					}
				}
			}
		}
	}
	return nil
}

func compositeB(param string, a TokenEntry, b Entries) []CompositeEntry {
	base := CompositeEntry{Param: param, ASystem: a.System, ACode: a.Code}
	var out []CompositeEntry
	for _, t := range b.Tokens {
		c := base
		c.BSystem, c.BCode = t.System, t.Code
		out = append(out, c)
	}
	for _, s := range b.Strings {
		if strings.HasSuffix(s.Param, ":text") {
			continue
		}
		c := base
		c.BCode = s.Norm
		out = append(out, c)
	}
	for _, q := range b.Quantities {
		c := base
		c.BSystem, c.BCode, c.BLow, c.BHigh, c.HasNumber = q.System, q.Code, q.Value, q.Value, true
		out = append(out, c)
		if q.CanonicalCode != "" {
			c.BSystem, c.BCode, c.BLow, c.BHigh = CanonicalSystem, q.CanonicalCode, q.CanonicalValue, q.CanonicalValue
			out = append(out, c)
		}
	}
	for _, n := range b.Numbers {
		c := base
		c.BLow, c.BHigh, c.HasNumber = n.Value, n.Value, true
		out = append(out, c)
	}
	for _, d := range b.Dates {
		c := base
		c.BLow, c.BHigh, c.HasNumber = float64(d.Low), float64(d.High), true
		out = append(out, c)
	}
	for _, r := range b.References {
		c := base
		c.BCode = r.TargetType + "/" + r.TargetID
		out = append(out, c)
	}
	return out
}
