// Package sqlbuild translates a search.Query into SQL over the index tables
// that both backends share (idx_string, idx_token, idx_reference, idx_date,
// idx_number, idx_quantity, idx_uri, idx_composite, keyed by search_params
// ids). It emits '?' placeholders; the PostgreSQL backend renumbers them.
// Values always travel as arguments, never in the SQL text.
package sqlbuild

import (
	"fmt"
	"math"
	"regexp"
	"strings"

	"sharedcare/internal/fhir"
	"sharedcare/internal/search"
)

// ParamIDs maps a resource type's search parameter code (or a derived
// code such as "code:text") to its id in search_params.
type ParamIDs func(typ, code string) (int64, bool)

// Registry lists every (type, code) the index may use: each parameter of
// each type, and the derived codes the indexer writes.
func Registry() [][2]string {
	var out [][2]string
	for _, t := range fhir.ResourceTypes() {
		for _, p := range fhir.SearchParams(t) {
			out = append(out, [2]string{t, p.Code})
			switch p.Type {
			case "token":
				out = append(out, [2]string{t, p.Code + ":text"})
				if p.Code == "identifier" {
					out = append(out, [2]string{t, p.Code + ":of-type"})
				}
			case "reference":
				out = append(out, [2]string{t, p.Code + ":identifier"})
			}
		}
	}
	return out
}

// Dialect is the SQL the backend speaks, where it differs.
type Dialect uint8

const (
	SQLite Dialect = iota
	PostgreSQL
)

// builder accumulates SQL and its arguments. Arguments are positional, so
// every method appends them in the order its SQL text places them.
type builder struct {
	dialect Dialect
	ids     ParamIDs
	args    []any
	n       int // alias counter
}

func (b *builder) arg(v any) string {
	b.args = append(b.args, v)
	return "?"
}

func (b *builder) alias(prefix string) string {
	b.n++
	return fmt.Sprintf("%s%d", prefix, b.n)
}

// paramList returns "param IN (...)" for code on types, or "" when no type
// has it.
func (b *builder) paramList(col string, types []string, code string) string {
	var ph []string
	for _, t := range types {
		for _, c := range search.StoredAs(t, code) {
			if id, ok := b.ids(t, c); ok {
				ph = append(ph, b.arg(id))
			}
		}
	}
	switch len(ph) {
	case 0:
		return ""
	case 1:
		return col + " = " + ph[0]
	}
	return col + " IN (" + strings.Join(ph, ", ") + ")"
}

// CompartmentParams returns the ids of typ's parameters that put a
// resource in a compartment of type comp (for a Patient: subject,
// performer ...), never nil.
func CompartmentParams(comp, typ string, ids ParamIDs) []int64 {
	out := []int64{}
	for _, code := range fhir.CompartmentParams(comp, typ) {
		if id, ok := ids(typ, code); ok {
			out = append(out, id)
		}
	}
	return out
}

// Scope returns the resource types a query covers.
func Scope(q *search.Query) []string {
	switch {
	case q.Type != "":
		return []string{q.Type}
	case len(q.Types) > 0:
		return q.Types
	}
	return fhir.ResourceTypes()
}

// Select returns SQL that lists the rids of q's matches in order, at most
// limit of them.
func Select(d Dialect, q *search.Query, ids ParamIDs, limit int) (string, []any, error) {
	b := &builder{dialect: d, ids: ids}
	where, err := b.where(q)
	if err != nil {
		return "", nil, err
	}
	order, err := b.order(q)
	if err != nil {
		return "", nil, err
	}
	sql := "SELECT r.rid FROM resources r WHERE " + where + " ORDER BY " + order + " LIMIT " + b.arg(limit)
	return sql, b.args, nil
}

// Count returns SQL that counts q's matches.
func Count(d Dialect, q *search.Query, ids ParamIDs) (string, []any, error) {
	b := &builder{dialect: d, ids: ids}
	where, err := b.where(q)
	if err != nil {
		return "", nil, err
	}
	return "SELECT count(*) FROM resources r WHERE " + where, b.args, nil
}

// Where returns the conditions q puts on a resource row aliased r (its
// type, compartment and filters, and r.deleted = 0), for a caller that
// selects and orders resources its own way, as a bulk export's
// _typeFilter does.
func Where(d Dialect, q *search.Query, ids ParamIDs) (string, []any, error) {
	b := &builder{dialect: d, ids: ids}
	where, err := b.where(q)
	if err != nil {
		return "", nil, err
	}
	return where, b.args, nil
}

func (b *builder) where(q *search.Query) (string, error) {
	types := Scope(q)
	// One selective condition drives the query, as "r.rid IN (rows of an
	// index)"; the others are checked per candidate with EXISTS on the
	// index tables' rid-first keys. Left to itself, SQLite's planner walks
	// every resource of the type and materialises each IN list.
	driver := -1 // index into q.Filters; -2: the compartment
	best := 99
	if q.Compartment != nil {
		driver, best = -2, 0
	}
	for i := range q.Filters {
		if r := rank(&q.Filters[i]); r < best {
			driver, best = i, r
		}
	}
	conds := []string{"r.deleted = 0"}
	typeCol := "r.type"
	if driver != -1 && b.dialect == SQLite {
		typeCol = "+r.type" // SQLite: not the (type, id) key; the driver's rids lead
	}
	if q.Type != "" {
		conds = append(conds, typeCol+" = "+b.arg(q.Type))
	} else if len(q.Types) > 0 {
		conds = append(conds, b.in(typeCol, q.Types))
	}
	if c := q.Compartment; c != nil {
		cc, err := b.compartment(types, c)
		if err != nil {
			return "", err
		}
		conds = append(conds, cc)
	}
	for i := range q.Filters {
		c, err := b.filterAs(types, &q.Filters[i], "r.rid", i == driver)
		if err != nil {
			return "", err
		}
		conds = append(conds, c)
	}
	return strings.Join(conds, " AND "), nil
}

// rank orders filters by how few rows they are likely to match, to pick
// the one that drives a query: lower is more selective; 99 cannot drive.
func rank(f *search.Filter) int {
	switch {
	case f.Has != nil:
		return 6
	case f.Chain != nil:
		// A chain to a patient found by a token (an NHS number), an id or
		// a day (a birth date) leads to a few records' entries: few rows.
		// Other chains, a reference among them, fan in from whole lists
		// (every patient of a practice) and are checked per candidate
		// instead, unless nothing better drives.
		inner := &f.Chain.Filter
		if inner.Type != "reference" && rank(inner) <= 2 && onlyPatients(f.Chain.TargetTypes) {
			return 1
		}
		return 5
	case f.Code == "_id" && f.Modifier == "":
		return 0
	case f.Code == "_id" || f.Code == "_lastUpdated" || f.Modifier == "missing" || f.Modifier == "not" || f.Modifier == "not-in":
		return 99
	}
	switch f.Type {
	case "reference":
		return 1
	case "token", "composite":
		return 2
	case "string", "uri":
		if f.Modifier == "contains" {
			return 7
		}
		return 3
	case "date":
		if oneDay(f) {
			return 2 // a birth date matches a handful of people; a surname, hundreds
		}
	}
	return 4
}

// oneDay reports whether a date filter asks for one day or less (eq).
func oneDay(f *search.Filter) bool {
	if f.Modifier != "" || len(f.Values) == 0 {
		return false
	}
	for _, v := range f.Values {
		if v.Prefix != "" && v.Prefix != "eq" || v.DateHigh-v.DateLow > 86_400_000 {
			return false
		}
	}
	return true
}

func (b *builder) in(col string, vals []string) string {
	ph := make([]string, len(vals))
	for i, v := range vals {
		ph[i] = b.arg(v)
	}
	if len(ph) == 1 {
		return col + " = " + ph[0]
	}
	return col + " IN (" + strings.Join(ph, ", ") + ")"
}

func (b *builder) compartment(types []string, c *search.Compartment) (string, error) {
	var ph []string
	for _, t := range types {
		for _, code := range fhir.CompartmentParams(c.Type, t) {
			if id, ok := b.ids(t, code); ok {
				ph = append(ph, b.arg(id))
			}
		}
	}
	refs := ""
	if len(ph) > 0 {
		// Arguments are positional: each fragment is built in text order.
		refs = "SELECT rid FROM idx_reference WHERE param IN (" + strings.Join(ph, ", ") + ") AND target_id = " + b.arg(c.ID) +
			" AND target_type = " + b.arg(c.Type) + " UNION "
	}
	// The compartment's owner is in its own compartment.
	return "r.rid IN (" + refs + "SELECT rid FROM resources WHERE type = " + b.arg(c.Type) + " AND id = " + b.arg(c.ID) + ")", nil
}

// filter returns a condition on ridExpr (the rid of a resource of one of
// types) for one parameter occurrence, checked per candidate.
func (b *builder) filter(types []string, f *search.Filter, ridExpr string) (string, error) {
	return b.filterAs(types, f, ridExpr, false)
}

// filterAs is filter; drive asks for the "ridExpr IN (rows)" form that
// can lead a query instead of a per-candidate EXISTS.
func (b *builder) filterAs(types []string, f *search.Filter, ridExpr string, drive bool) (string, error) {
	switch {
	case f.Has != nil:
		return b.has(f, ridExpr)
	case f.Chain != nil:
		return b.chain(types, f, ridExpr, drive)
	case f.Code == "_id":
		return b.idFilter(f, ridExpr)
	case f.Code == "_lastUpdated":
		return b.lastUpdated(f, ridExpr)
	}
	if f.Type == "token" && f.Modifier == "text" {
		return b.tokenText(types, f, ridExpr, drive), nil
	}
	table, ok := tables[f.Type]
	if !ok {
		return "", fmt.Errorf("sqlbuild: parameter type %s", f.Type)
	}
	code := f.Code
	switch {
	case f.Type == "token" && f.Modifier == "text":
		table, code = "idx_string", f.Code+":text"
	case f.Type == "token" && f.Modifier == "of-type":
		code = f.Code + ":of-type"
	case f.Type == "reference" && f.Modifier == "identifier":
		table, code = "idx_token", f.Code+":identifier"
	}
	params := b.paramList("param", types, code)
	if params == "" {
		return "0 = 1", nil
	}
	if f.Modifier == "missing" {
		exists := fmt.Sprintf("EXISTS (SELECT 1 FROM %s m WHERE m.rid = %s AND m.%s)", table, ridExpr, params)
		if f.Values[0].Missing {
			return "NOT " + exists, nil
		}
		return exists, nil
	}
	var ors []string
	if f.Modifier == "in" || f.Modifier == "not-in" {
		var pairs []string
		for _, c := range f.InCodes {
			pairs = append(pairs, "("+b.arg(c[0])+", "+b.arg(c[1])+")")
		}
		// A code element carries no system: its code alone must be in the set.
		var codes []string
		for _, c := range f.InCodes {
			codes = append(codes, b.arg(c[1]))
		}
		ors = append(ors, "(system, code) IN (VALUES "+strings.Join(pairs, ", ")+")",
			"(system = '' AND code IN ("+strings.Join(codes, ", ")+"))")
	} else {
		for i := range f.Values {
			c, err := b.value(f, &f.Values[i])
			if err != nil {
				return "", err
			}
			ors = append(ors, c)
		}
	}
	if drive {
		return fmt.Sprintf("%s IN (SELECT rid FROM %s WHERE %s AND (%s))", ridExpr, table, params, strings.Join(ors, " OR ")), nil
	}
	// Arguments are positional: this form puts them in the same order.
	cond := b.probe(strings.Join(ors, " OR "))
	exists := fmt.Sprintf("EXISTS (SELECT 1 FROM %s x WHERE x.rid = %s AND x.%s AND (%s))", table, ridExpr, params, cond)
	if f.Modifier == "not" || f.Modifier == "not-in" {
		return "NOT " + exists, nil
	}
	return exists, nil
}

// probe marks the value columns in cond, a condition on one candidate's
// index rows, as not for index lookup, so that the rows are probed by rid:
// left to themselves, the planners may prefer the (param, value) index and
// walk every row of a common value (all 'laboratory' categories, every
// Oliver) per candidate. PostgreSQL underestimates prefix ranges badly
// enough to choose it.
func (b *builder) probe(cond string) string {
	switch b.dialect {
	case SQLite:
		return valueColumn.ReplaceAllString(cond, "+$1")
	case PostgreSQL:
		return valueColumn.ReplaceAllString(cond, "COALESCE($1, $1)")
	}
	return cond
}

// tokenText is a :text filter. A resource's text is found in one of two
// places: a row of its own in idx_string (code "code:text"), or, for a
// text that is the one token_text holds for its coding's code (of its
// kind: a display, or a CodeableConcept's text), the coding's token row
// with that kind's bit set in texted (search.CodedText; each store keeps
// token_text as it writes).
func (b *builder) tokenText(types []string, f *search.Filter, ridExpr string, drive bool) string {
	texts := func(col string) string {
		var ors []string
		for i := range f.Values {
			ors = append(ors, b.prefix(col, f.Values[i].Norm))
		}
		return strings.Join(ors, " OR ")
	}
	// Arguments are positional: both forms place them in this order.
	params := b.paramList("param", types, f.Code+":text")
	if params == "" {
		return "0 = 1"
	}
	own := texts("norm")
	tparams := b.paramList("param", types, f.Code) // registered with every :text code
	coded := texts("d.norm")
	const join = "token_text d JOIN idx_token t ON t.param = d.param AND t.code = d.code AND t.system = d.system AND (t.texted & d.kind) != 0"
	if drive {
		return fmt.Sprintf("%s IN (SELECT rid FROM idx_string WHERE %s AND (%s) UNION ALL SELECT t.rid FROM %s WHERE d.%s AND (%s))",
			ridExpr, params, own, join, tparams, coded)
	}
	return fmt.Sprintf("(EXISTS (SELECT 1 FROM idx_string x WHERE x.rid = %s AND x.%s AND (%s)) OR EXISTS (SELECT 1 FROM %s WHERE t.rid = %s AND t.%s AND (%s)))",
		ridExpr, params, b.probe(own), join, ridExpr, tparams, coded)
}

// valueColumn matches the value columns of the index tables in a
// condition this package wrote (it holds only column names, operators and
// placeholders), so that they can be marked "not for index lookup".
var valueColumn = regexp.MustCompile(`\b(exact|norm|code|system|url|target_id|target_type|lo|hi|value|ccode|cvalue|a_system|a_code|b_system|b_code|b_lo|b_hi|c_lo|c_hi)\b`)

var tables = map[string]string{
	"string": "idx_string", "token": "idx_token", "reference": "idx_reference", "date": "idx_date",
	"number": "idx_number", "quantity": "idx_quantity", "uri": "idx_uri", "composite": "idx_composite",
}

// value is the condition one value puts on a row of the filter's table.
func (b *builder) value(f *search.Filter, v *search.Value) (string, error) {
	switch f.Type {
	case "string":
		switch f.Modifier {
		case "exact":
			return "exact = " + b.arg(v.Raw), nil
		case "contains":
			return "norm LIKE " + b.arg("%"+likeEscape(v.Norm)+"%") + ` ESCAPE '\'`, nil
		}
		return b.prefix("norm", v.Norm), nil
	case "token":
		if f.Modifier == "text" {
			return b.prefix("norm", v.Norm), nil
		}
		return b.token("system", "code", v), nil
	case "reference":
		if f.Modifier == "identifier" {
			return b.token("system", "code", v), nil
		}
		switch {
		case v.RefURL != "":
			return "url = " + b.arg(v.RefURL), nil
		case v.RefType != "":
			return "target_id = " + b.arg(v.RefID) + " AND target_type = " + b.arg(v.RefType), nil
		}
		return "target_id = " + b.arg(v.RefID), nil
	case "date":
		return b.dateRange("lo", "hi", v.Prefix, v.DateLow, v.DateHigh), nil
	case "number":
		return b.number("value", v.Prefix, v.Number, v.Low, v.High), nil
	case "quantity":
		return b.quantity(v), nil
	case "uri":
		switch f.Modifier {
		case "below":
			return "value LIKE " + b.arg(likeEscape(v.Code)+"%") + ` ESCAPE '\'`, nil
		case "above":
			return "substr(" + b.arg(v.Code) + ", 1, length(value)) = value", nil
		}
		return "value = " + b.arg(v.Code), nil
	case "composite":
		return b.composite(f, v)
	}
	return "", fmt.Errorf("sqlbuild: parameter type %s", f.Type)
}

// prefix matches a normalised string starting with p, as an index range.
func (b *builder) prefix(col, p string) string {
	return col + " >= " + b.arg(p) + " AND " + col + " < " + b.arg(p+"\U0010FFFF")
}

func (b *builder) token(sysCol, codeCol string, v *search.Value) string {
	switch {
	case !v.HasSystem:
		return codeCol + " = " + b.arg(v.Code)
	case v.Code == "":
		return sysCol + " = " + b.arg(v.System)
	}
	return codeCol + " = " + b.arg(v.Code) + " AND " + sysCol + " = " + b.arg(v.System)
}

// dateRange compares stored spans [lo, hi) with the search span [ql, qh)
// per the prefix (https://hl7.org/fhir/R4/search.html#prefix).
func (b *builder) dateRange(lo, hi, prefix string, ql, qh int64) string {
	switch prefix {
	case "ne":
		return "NOT (" + lo + " >= " + b.arg(ql) + " AND " + hi + " <= " + b.arg(qh) + ")"
	case "gt":
		return hi + " > " + b.arg(qh)
	case "lt":
		return lo + " < " + b.arg(ql)
	case "ge":
		return hi + " > " + b.arg(ql)
	case "le":
		return lo + " < " + b.arg(qh)
	case "sa":
		return lo + " >= " + b.arg(qh)
	case "eb":
		return hi + " <= " + b.arg(ql)
	case "ap":
		// Approximately: within 10% of the gap between the value and now,
		// at least a day either side.
		slack := int64(86_400_000)
		return lo + " < " + b.arg(qh+slack) + " AND " + hi + " > " + b.arg(ql-slack)
	}
	// lo <= qh follows from the rest (lo <= hi <= qh), and bounds the
	// index range on (param, lo) at both ends: without it an eq search
	// walks every later date of the parameter.
	return lo + " >= " + b.arg(ql) + " AND " + lo + " <= " + b.arg(qh) + " AND " + hi + " <= " + b.arg(qh)
}

func (b *builder) number(col, prefix string, v, lo, hi float64) string {
	switch prefix {
	case "ne":
		return "NOT (" + col + " >= " + b.arg(lo) + " AND " + col + " < " + b.arg(hi) + ")"
	case "gt":
		return col + " > " + b.arg(v)
	case "lt":
		return col + " < " + b.arg(v)
	case "ge":
		return col + " >= " + b.arg(v)
	case "le":
		return col + " <= " + b.arg(v)
	case "sa":
		return col + " >= " + b.arg(hi)
	case "eb":
		return col + " < " + b.arg(lo)
	case "ap":
		d := math.Abs(v) * 0.1
		return col + " >= " + b.arg(v-d) + " AND " + col + " <= " + b.arg(v+d)
	}
	return col + " >= " + b.arg(lo) + " AND " + col + " < " + b.arg(hi)
}

func (b *builder) quantity(v *search.Value) string {
	if v.CanonicalCode != "" {
		return "ccode = " + b.arg(v.CanonicalCode) + " AND " + b.number("cvalue", v.Prefix, v.CanonicalValue, v.CanonicalLow, v.CanonicalHigh)
	}
	c := b.number("value", v.Prefix, v.Number, v.Low, v.High)
	if v.UnitCode != "" {
		c += " AND code = " + b.arg(v.UnitCode)
	}
	if v.UnitSystem != "" {
		c += " AND system = " + b.arg(v.UnitSystem)
	}
	return c
}

func (b *builder) composite(f *search.Filter, v *search.Value) (string, error) {
	if len(v.Parts) < 2 || len(f.Param.Components) != len(v.Parts) {
		return "", fmt.Errorf("sqlbuild: composite %s with %d parts", f.Code, len(v.Parts))
	}
	c := b.token("a_system", "a_code", &v.Parts[0])
	p := &v.Parts[1]
	switch f.Param.Components[1].Type {
	case "token":
		c += " AND " + b.token("b_system", "b_code", p)
	case "string":
		c += " AND " + b.prefix("b_code", p.Norm)
	case "reference":
		c += " AND b_code = " + b.arg(p.Code)
	case "quantity":
		if p.CanonicalCode != "" {
			c += " AND b_system = " + b.arg(search.CanonicalSystem) + " AND b_code = " + b.arg(p.CanonicalCode) + " AND " + b.number("b_lo", p.Prefix, p.CanonicalValue, p.CanonicalLow, p.CanonicalHigh)
		} else {
			c += " AND b_system != " + b.arg(search.CanonicalSystem) + " AND " + b.number("b_lo", p.Prefix, p.Number, p.Low, p.High)
			if p.UnitCode != "" {
				c += " AND b_code = " + b.arg(p.UnitCode)
			}
		}
	case "number":
		c += " AND " + b.number("b_lo", p.Prefix, p.Number, p.Low, p.High)
	case "date":
		c += " AND " + b.dateRange("b_lo", "b_hi", p.Prefix, p.DateLow, p.DateHigh)
	}
	if len(v.Parts) > 2 {
		q := &v.Parts[2]
		c += " AND " + b.number("c_lo", q.Prefix, q.Number, q.Low, q.High)
	}
	return c, nil
}

func (b *builder) idFilter(f *search.Filter, ridExpr string) (string, error) {
	col := "r.id"
	if ridExpr != "r.rid" {
		col = "(SELECT id FROM resources WHERE rid = " + ridExpr + ")"
	}
	vals := make([]string, 0, len(f.Values))
	for _, v := range f.Values {
		vals = append(vals, v.Code)
	}
	if f.Modifier == "missing" {
		if f.Values[0].Missing {
			return "0 = 1", nil
		}
		return "1 = 1", nil
	}
	c := b.in(col, vals)
	if f.Modifier == "not" {
		return "NOT (" + c + ")", nil
	}
	return c, nil
}

func (b *builder) lastUpdated(f *search.Filter, ridExpr string) (string, error) {
	col := "r.updated"
	if ridExpr != "r.rid" {
		col = "(SELECT updated FROM resources WHERE rid = " + ridExpr + ")"
	}
	var ors []string
	for _, v := range f.Values {
		// A version's lastUpdated is an instant: the span of one millisecond.
		ors = append(ors, b.dateRange(col, col+" + 1", v.Prefix, v.DateLow, v.DateHigh))
	}
	return "(" + strings.Join(ors, " OR ") + ")", nil
}

// chain matches resources whose reference parameter points at a resource
// of the chain's target types that matches the inner filter. To drive, it
// finds the targets first (the inner filter driving in turn) and then the
// references to them; otherwise it follows each candidate's references to
// their targets and checks those.
func (b *builder) chain(types []string, f *search.Filter, ridExpr string, drive bool) (string, error) {
	if !b.hasParam(types, f.Code) {
		return "0 = 1", nil
	}
	t := b.alias("t")
	// Arguments are positional: build the fragments in the order they appear.
	if drive {
		inner, err := b.filterAs(f.Chain.TargetTypes, &f.Chain.Filter, t+".rid", true)
		if err != nil {
			return "", err
		}
		typeCol, join := t+".type", ","
		if b.dialect == SQLite {
			// SQLite would rather walk every reference of the parameter:
			// CROSS JOIN fixes the order (targets, then references to
			// them), and "+" keeps it finding targets by rid, not type.
			typeCol, join = "+"+t+".type", "CROSS JOIN"
		}
		targets := b.in(typeCol, f.Chain.TargetTypes)
		params := b.paramList("ref.param", types, f.Code)
		return fmt.Sprintf("%s IN (SELECT ref.rid FROM resources %s %s idx_reference ref WHERE ref.target_id = %s.id AND ref.target_type = %s.type AND %s AND %s.deleted = 0 AND %s AND %s)",
			ridExpr, t, join, t, t, inner, t, targets, params), nil
	}
	params := b.paramList("ref.param", types, f.Code)
	targets := b.in("ref.target_type", f.Chain.TargetTypes)
	inner, err := b.filter(f.Chain.TargetTypes, &f.Chain.Filter, t+".rid")
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("EXISTS (SELECT 1 FROM idx_reference ref JOIN resources %s ON %s.type = ref.target_type AND %s.id = ref.target_id WHERE ref.rid = %s AND %s AND %s AND %s.deleted = 0 AND %s)",
		t, t, t, ridExpr, params, targets, t, inner), nil
}

// hasParam reports whether any of types has the search parameter code.
func (b *builder) hasParam(types []string, code string) bool {
	for _, t := range types {
		if _, ok := b.ids(t, code); ok {
			return true
		}
	}
	return false
}

// onlyPatients reports whether a chain's targets are Patients alone.
func onlyPatients(types []string) bool {
	return len(types) == 1 && types[0] == "Patient"
}

// has matches resources that a resource of Has.Type points at through
// Has.Param, where that resource matches the inner filter.
func (b *builder) has(f *search.Filter, ridExpr string) (string, error) {
	h := f.Has
	params := b.paramList("h.param", []string{h.Type}, h.Param)
	if params == "" {
		return "0 = 1", nil
	}
	t := b.alias("t")
	inner, err := b.filter([]string{h.Type}, &h.Filter, "h.rid")
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s IN (SELECT %s.rid FROM idx_reference h JOIN resources %s ON %s.type = h.target_type AND %s.id = h.target_id WHERE %s AND %s)",
		ridExpr, t, t, t, t, params, inner), nil
}

// order is the ORDER BY clause: the _sort keys, then rid for a total order.
func (b *builder) order(q *search.Query) (string, error) {
	types := Scope(q)
	var keys []string
	for _, s := range q.Sort {
		dir := "ASC"
		agg := "min"
		if s.Desc {
			dir, agg = "DESC", "max"
		}
		var expr string
		switch s.Code {
		case "_id":
			expr = "r.id"
		case "_lastUpdated":
			expr = "r.updated"
		default:
			params := b.paramList("param", types, s.Code)
			if params == "" {
				continue
			}
			col := map[string]string{"string": "norm", "token": "code", "date": "lo", "number": "value", "quantity": "value", "uri": "value", "reference": "target_id"}[s.Type]
			if s.Type == "date" && s.Desc {
				col = "hi"
			}
			expr = fmt.Sprintf("(SELECT %s(%s) FROM %s s WHERE s.rid = r.rid AND s.%s)", agg, col, tables[s.Type], params)
		}
		// Resources without a value sort last either way.
		keys = append(keys, expr+" "+dir+" NULLS LAST")
	}
	return strings.Join(append(keys, "r.rid"), ", "), nil
}

func likeEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}
