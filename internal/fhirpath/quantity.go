package fhirpath

import (
	"math/big"
	"strconv"
	"strings"
)

const ucumSystem = "http://unitsofmeasure.org"

// quantity is a System.Quantity: a decimal and a unit, which is a UCUM code
// or one of FHIRPath's calendar duration words (4 days, 1 year).
type quantity struct {
	value dec
	unit  string
	cal   bool // written as an unquoted calendar word: printed without quotes
}

// Quantity is a quantity's parts as the caller reads them: from a FHIR
// Quantity (or Age, Duration ...) element, or a FHIRPath quantity value.
type Quantity struct {
	Value  string // the decimal as written: "185", "1.50"
	Unit   string // Quantity.unit; for a FHIRPath value, its unit as written ("mg", "week")
	Code   string // Quantity.code; for a FHIRPath value, its UCUM code ("" for year and month)
	System string // Quantity.system; for a FHIRPath value with a code, UCUM
}

// Float64 returns Value as a float64, or 0 when it has none.
func (q Quantity) Float64() float64 {
	f, _ := strconv.ParseFloat(q.Value, 64)
	return f
}

// calendarWord maps the calendar duration keywords, singular and plural,
// to their singular form (http://hl7.org/fhirpath/N1/#time-valued-quantities).
func calendarWord(s string) (string, bool) {
	switch s {
	case "year", "years":
		return "year", true
	case "month", "months":
		return "month", true
	case "week", "weeks":
		return "week", true
	case "day", "days":
		return "day", true
	case "hour", "hours":
		return "hour", true
	case "minute", "minutes":
		return "minute", true
	case "second", "seconds":
		return "second", true
	case "millisecond", "milliseconds":
		return "millisecond", true
	}
	return "", false
}

// calendarUCUM is the UCUM unit each calendar word equals. Year and month
// have none: they are calendar lengths, not a count of seconds.
var calendarUCUM = map[string]string{
	"week": "wk", "day": "d", "hour": "h", "minute": "min", "second": "s", "millisecond": "ms",
}

func (q quantity) def() (unitDef, bool) {
	u := q.unit
	if w, ok := calendarWord(u); ok {
		switch w {
		case "year":
			return unitDef{factor: big.NewRat(12, 1), dims: dimsOf(dimCalMonth, 1)}, true
		case "month":
			return unitDef{factor: big.NewRat(1, 1), dims: dimsOf(dimCalMonth, 1)}, true
		}
		u = calendarUCUM[w]
	}
	if u == "" {
		u = "1"
	}
	return parseUnit(u)
}

func (q quantity) String() string {
	if q.cal {
		return q.value.String() + " " + q.unit
	}
	return q.value.String() + " '" + q.unit + "'"
}

func (q quantity) public() Quantity {
	p := Quantity{Value: q.value.String(), Unit: q.unit}
	if w, ok := calendarWord(q.unit); ok {
		p.Code = calendarUCUM[w]
	} else {
		p.Code = q.unit
	}
	if p.Code != "" {
		p.System = ucumSystem
	}
	return p
}

// sameUnit reports whether a and b are written in the same unit, so their
// values compare directly whether or not the unit is understood.
func sameUnit(a, b quantity) bool {
	if a.unit == b.unit {
		return true
	}
	wa, oka := calendarWord(a.unit)
	wb, okb := calendarWord(b.unit)
	return oka && okb && wa == wb
}

// compareQuantities orders a and b after converting them to common units;
// ok is false when the units are not comparable (cm and s, year and 'a').
func compareQuantities(a, b quantity) (int, bool) {
	if sameUnit(a, b) {
		return a.value.cmp(b.value), true
	}
	ra, rb, ok := baseValues(a, b)
	if !ok {
		return 0, false
	}
	return ra.Cmp(rb), true
}

// baseValues converts a and b to exact values in base units.
func baseValues(a, b quantity) (*big.Rat, *big.Rat, bool) {
	ua, oka := a.def()
	ub, okb := b.def()
	if !oka || !okb || ua.special || ub.special || ua.dims != ub.dims {
		return nil, nil, false
	}
	ra := a.value.rat()
	ra.Mul(ra, ua.factor)
	rb := b.value.rat()
	rb.Mul(rb, ub.factor)
	return ra, rb, true
}

// equivalentQuantities is ~: the values are compared in the coarser unit,
// each rounded to the precision of the less precise one, so 4 'g' ~ 4040 'mg'.
func equivalentQuantities(a, b quantity) bool {
	if sameUnit(a, b) {
		return equivalentDecimals(a.value, b.value)
	}
	ua, oka := a.def()
	ub, okb := b.def()
	if !oka || !okb || ua.special || ub.special || ua.dims != ub.dims {
		return false
	}
	if ua.factor.Cmp(ub.factor) < 0 {
		a, b, ua, ub = b, a, ub, ua
	}
	// Express b in a's unit.
	r := b.value.rat()
	r.Mul(r, ub.factor)
	r.Quo(r, ua.factor)
	return equivalentDecimals(a.value, decFromRat(r, 0))
}

// equivalentDecimals compares at the precision of the less precise operand
// (http://hl7.org/fhirpath/N1/#equivalent).
func equivalentDecimals(a, b dec) bool {
	s := min(a.scale, b.scale)
	return a.round(s).cmp(b.round(s)) == 0
}

// convertQuantity expresses q in unit; ok is false when they are not comparable.
func convertQuantity(q quantity, unit string) (dec, bool) {
	if sameUnit(q, quantity{unit: unit}) {
		return q.value, true
	}
	to := quantity{value: decFromInt(1), unit: unit}
	rq, rt, ok := baseValues(q, to)
	if !ok {
		return dec{}, false
	}
	return decFromRat(rq.Quo(rq, rt), q.value.scale), true
}

// comparableUnits reports whether quantities in a and b can be converted to each other.
func comparableUnits(a, b quantity) bool {
	if sameUnit(a, b) {
		return true
	}
	_, _, ok := baseValues(quantity{value: decFromInt(1), unit: a.unit}, quantity{value: decFromInt(1), unit: b.unit})
	return ok
}

// step reports the calendar step q counts in, for date arithmetic: the
// calendar words, and the UCUM units of a definite duration. UCUM 'a' and
// 'mo' are not calendar years and months, so they do not qualify
// (http://hl7.org/fhirpath/N1/#datetime-arithmetic).
func (q quantity) step() (calendarStep, bool) {
	w, ok := calendarWord(q.unit)
	if !ok {
		for k, v := range calendarUCUM {
			if v == q.unit {
				w, ok = k, true
			}
		}
	}
	if !ok {
		return stepNone, false
	}
	switch w {
	case "year":
		return stepYear, true
	case "month":
		return stepMonth, true
	case "week":
		return stepWeek, true
	case "day":
		return stepDay, true
	case "hour":
		return stepHour, true
	case "minute":
		return stepMinute, true
	case "second":
		return stepSecond, true
	default:
		return stepMillisecond, true
	}
}

// parseQuantityString reads the string form toQuantity accepts: a number,
// optionally followed by a quoted UCUM unit or a calendar word:
// "1.5 'mg'", "4 days", "10".
func parseQuantityString(s string) (quantity, bool) {
	s = strings.TrimSpace(s)
	num, unit, hasUnit := strings.Cut(s, " ")
	v, ok := parseDec(num)
	if !ok || strings.ContainsAny(num, "eE") {
		return quantity{}, false
	}
	if !hasUnit {
		return quantity{value: v, unit: "1"}, true
	}
	unit = strings.TrimSpace(unit)
	if len(unit) >= 2 && unit[0] == '\'' && unit[len(unit)-1] == '\'' {
		u := unit[1 : len(unit)-1]
		if u == "" || strings.ContainsRune(u, '\'') {
			return quantity{}, false
		}
		return quantity{value: v, unit: u}, true
	}
	if _, ok := calendarWord(unit); ok {
		return quantity{value: v, unit: unit, cal: true}, true
	}
	return quantity{}, false
}

// multiplyUnits and divideUnits name the unit of a product or quotient.
func multiplyUnits(a, b string) string {
	switch {
	case a == "1" || a == "":
		return b
	case b == "1" || b == "":
		return a
	}
	return "(" + a + ").(" + b + ")"
}

func divideUnits(a, b string) string {
	switch {
	case b == "1" || b == "":
		return a
	case a == b:
		return "1"
	case a == "1" || a == "":
		return "/(" + b + ")"
	}
	return "(" + a + ")/(" + b + ")"
}

// ucumUnit gives the UCUM code of a quantity's unit for arithmetic: calendar
// words below a month become their UCUM units.
func (q quantity) ucumUnit() (string, bool) {
	if w, ok := calendarWord(q.unit); ok {
		u, ok := calendarUCUM[w]
		return u, ok
	}
	if q.unit == "" {
		return "1", true
	}
	return q.unit, true
}
