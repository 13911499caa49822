package fhirpath

import (
	"strconv"
	"strings"
	"time"
)

// Precision is how much of a date or time was given.
type Precision uint8

const (
	PrecisionYear Precision = iota + 1
	PrecisionMonth
	PrecisionDay
	PrecisionHour
	PrecisionMinute
	PrecisionSecond
	PrecisionMillisecond // any fraction of a second
)

// DateTime is a FHIRPath Date, DateTime or Time with the precision it was
// written to: 2019, 2019-03, 2019-03-14T10:30+01:00, 10:30. Fields beyond
// Precision are zero. A Time has no date fields and never a zone.
type DateTime struct {
	Kind       Kind // KindDate, KindDateTime or KindTime
	Precision  Precision
	Year       int
	Month      int // 1-12
	Day        int // 1-31
	Hour       int
	Minute     int
	Second     int
	Nanosecond int
	HasZone    bool
	ZoneOffset int // seconds east of UTC, when HasZone

	fracDigits int  // digits of the fraction as written, for String
	zulu       bool // zone written as Z
}

// parseDateTime reads the text of a FHIR date, dateTime, instant or time, or
// of a FHIRPath literal without its @ (and without the T of a time). kind
// says which is expected; a DateTime may have any precision and a zone.
func parseDateTime(s string, kind Kind) (DateTime, bool) {
	d := DateTime{Kind: kind}
	p := dtParser{s: s}
	if kind != KindTime {
		y, ok := p.num(4)
		if !ok || y < 1 {
			return d, false
		}
		d.Year, d.Precision = y, PrecisionYear
		if p.accept('-') {
			if d.Month, ok = p.num(2); !ok || d.Month < 1 || d.Month > 12 {
				return d, false
			}
			d.Precision = PrecisionMonth
			if p.accept('-') {
				if d.Day, ok = p.num(2); !ok || d.Day < 1 || d.Day > daysIn(d.Year, d.Month) {
					return d, false
				}
				d.Precision = PrecisionDay
			}
		}
		if kind == KindDate {
			return d, p.done()
		}
		if !p.accept('T') {
			return d, p.done()
		}
		if p.done() {
			return d, true // @2015T: a DateTime to the year
		}
		if d.Precision != PrecisionDay {
			return d, false
		}
	}
	if !p.time(&d) {
		return d, false
	}
	if kind == KindDateTime && !p.done() {
		if !p.zone(&d) {
			return d, false
		}
	}
	return d, p.done()
}

type dtParser struct {
	s   string
	pos int
}

func (p *dtParser) done() bool { return p.pos == len(p.s) }

func (p *dtParser) accept(c byte) bool {
	if p.pos < len(p.s) && p.s[p.pos] == c {
		p.pos++
		return true
	}
	return false
}

func (p *dtParser) num(n int) (int, bool) {
	if p.pos+n > len(p.s) {
		return 0, false
	}
	v := 0
	for i := range n {
		c := p.s[p.pos+i]
		if !isDigit(c) {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	p.pos += n
	return v, true
}

func (p *dtParser) time(d *DateTime) bool {
	var ok bool
	if d.Hour, ok = p.num(2); !ok || d.Hour > 23 {
		return false
	}
	d.Precision = PrecisionHour
	if !p.accept(':') {
		return true
	}
	if d.Minute, ok = p.num(2); !ok || d.Minute > 59 {
		return false
	}
	d.Precision = PrecisionMinute
	if !p.accept(':') {
		return true
	}
	if d.Second, ok = p.num(2); !ok || d.Second > 59 {
		return false
	}
	d.Precision = PrecisionSecond
	if !p.accept('.') {
		return true
	}
	start := p.pos
	for p.pos < len(p.s) && isDigit(p.s[p.pos]) {
		p.pos++
	}
	frac := p.s[start:p.pos]
	if frac == "" {
		return false
	}
	d.fracDigits = len(frac)
	if len(frac) > 9 {
		frac = frac[:9]
	}
	n, _ := strconv.Atoi(frac + strings.Repeat("0", 9-len(frac)))
	d.Nanosecond = n
	d.Precision = PrecisionMillisecond
	return true
}

func (p *dtParser) zone(d *DateTime) bool {
	if d.Precision < PrecisionHour {
		return false
	}
	if p.accept('Z') {
		d.HasZone, d.zulu = true, true
		return true
	}
	sign := 1
	switch {
	case p.accept('+'):
	case p.accept('-'):
		sign = -1
	default:
		return false
	}
	h, ok := p.num(2)
	if !ok || !p.accept(':') {
		return false
	}
	m, ok := p.num(2)
	if !ok || h > 14 || m > 59 {
		return false
	}
	d.HasZone = true
	d.ZoneOffset = sign * (h*3600 + m*60)
	return true
}

func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// String formats d as FHIR writes it, to its precision: 2019-03,
// 2019-03-14T10:30:00.000+01:00, 10:30.
func (d DateTime) String() string {
	var b []byte
	if d.Kind != KindTime {
		b = appendInt(b, d.Year, 4)
		if d.Precision >= PrecisionMonth {
			b = append(b, '-')
			b = appendInt(b, d.Month, 2)
		}
		if d.Precision >= PrecisionDay {
			b = append(b, '-')
			b = appendInt(b, d.Day, 2)
		}
		if d.Precision < PrecisionHour {
			return string(b)
		}
		b = append(b, 'T')
	}
	b = appendInt(b, d.Hour, 2)
	if d.Precision >= PrecisionMinute {
		b = append(b, ':')
		b = appendInt(b, d.Minute, 2)
	}
	if d.Precision >= PrecisionSecond {
		b = append(b, ':')
		b = appendInt(b, d.Second, 2)
	}
	if d.Precision >= PrecisionMillisecond {
		n := d.fracDigits
		if n == 0 {
			n = 3
		}
		frac := appendInt(nil, d.Nanosecond, 9)
		for len(frac) < n {
			frac = append(frac, '0')
		}
		b = append(b, '.')
		b = append(b, frac[:n]...)
	}
	if d.HasZone {
		switch {
		case d.zulu:
			b = append(b, 'Z')
		default:
			off := d.ZoneOffset
			if off < 0 {
				b = append(b, '-')
				off = -off
			} else {
				b = append(b, '+')
			}
			b = appendInt(b, off/3600, 2)
			b = append(b, ':')
			b = appendInt(b, off%3600/60, 2)
		}
	}
	return string(b)
}

func appendInt(b []byte, v, width int) []byte {
	s := strconv.Itoa(v)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// Bounds returns the earliest and the latest instant d covers: 2019-03 covers
// all of March. A value without a zone is taken to be in loc (nil means UTC),
// as FHIR servers read dates without one. For a Time the date is 0000-01-01.
func (d DateTime) Bounds(loc *time.Location) (lo, hi time.Time) {
	if loc == nil {
		loc = time.UTC
	}
	if d.HasZone {
		loc = time.FixedZone("", d.ZoneOffset)
	}
	l := d.fill(false)
	h := d.fill(true)
	return l.time(loc), h.time(loc)
}

// time returns d's fields as an instant in loc.
func (d DateTime) time(loc *time.Location) time.Time {
	y, m, day := d.Year, d.Month, d.Day
	if d.Kind == KindTime {
		y, m, day = 0, 1, 1
	}
	return time.Date(y, time.Month(m), day, d.Hour, d.Minute, d.Second, d.Nanosecond, loc)
}

// fill completes the fields beyond d's precision with their least (or, when
// high, greatest) values, giving PrecisionMillisecond.
func (d DateTime) fill(high bool) DateTime {
	return d.fillTo(PrecisionMillisecond, high)
}

func (d DateTime) fillTo(p Precision, high bool) DateTime {
	if d.Kind == KindDate && p > PrecisionDay {
		p = PrecisionDay
	}
	for q := d.Precision + 1; q <= p; q++ {
		switch q {
		case PrecisionMonth:
			d.Month = pick(high, 12, 1)
		case PrecisionDay:
			d.Day = pick(high, daysIn(d.Year, d.Month), 1)
		case PrecisionHour:
			d.Hour = pick(high, 23, 0)
		case PrecisionMinute:
			d.Minute = pick(high, 59, 0)
		case PrecisionSecond:
			d.Second = pick(high, 59, 0)
		case PrecisionMillisecond:
			d.Nanosecond = pick(high, 999_000_000, 0)
			d.fracDigits = 3
		}
	}
	if p > d.Precision {
		d.Precision = p
	}
	return d
}

func pick(high bool, hi, lo int) int {
	if high {
		return hi
	}
	return lo
}

// truncate drops the fields beyond p.
func (d DateTime) truncate(p Precision) DateTime {
	if p >= d.Precision {
		return d
	}
	d.Precision = p
	if p < PrecisionMillisecond {
		d.Nanosecond, d.fracDigits = 0, 0
	}
	if p < PrecisionSecond {
		d.Second = 0
	}
	if p < PrecisionMinute {
		d.Minute = 0
	}
	if p < PrecisionHour {
		d.Hour = 0
		d.HasZone, d.ZoneOffset, d.zulu = false, 0, false
	}
	if p < PrecisionDay && d.Kind != KindTime {
		d.Day = 0
	}
	if p < PrecisionMonth && d.Kind != KindTime {
		d.Month = 0
	}
	return d
}

// dateTimeFromTime makes a DateTime of kind and precision from t, keeping t's zone offset.
func dateTimeFromTime(t time.Time, kind Kind, p Precision) DateTime {
	_, off := t.Zone()
	d := DateTime{
		Kind: kind, Precision: PrecisionMillisecond,
		Year: t.Year(), Month: int(t.Month()), Day: t.Day(),
		Hour: t.Hour(), Minute: t.Minute(), Second: t.Second(),
		Nanosecond: t.Nanosecond() / 1e6 * 1e6, fracDigits: 3,
		HasZone: kind == KindDateTime, ZoneOffset: off,
	}
	if kind == KindTime {
		d.Year, d.Month, d.Day = 0, 0, 0
	}
	return d.truncate(p)
}

// level merges second and millisecond precision: comparison treats seconds
// as a decimal (http://hl7.org/fhirpath/N1/#datetime-equality).
func level(p Precision) Precision { return min(p, PrecisionSecond) }

// field returns d's value at precision level p.
func (d DateTime) field(p Precision) int {
	switch p {
	case PrecisionYear:
		return d.Year
	case PrecisionMonth:
		return d.Month
	case PrecisionDay:
		return d.Day
	case PrecisionHour:
		return d.Hour
	case PrecisionMinute:
		return d.Minute
	default:
		return d.Second*1e9 + d.Nanosecond
	}
}

// compareDateTimes orders a and b, which are both Date/DateTime or both
// Time. ok is false when the answer depends on digits one of them lacks
// (@2018-03 against @2018-03-01) or on the zone of a value that has none.
func compareDateTimes(a, b DateTime) (c int, ok bool) {
	pa, pb := level(a.Precision), level(b.Precision)
	timed := pa >= PrecisionHour && pb >= PrecisionHour && a.Kind != KindTime
	if timed && a.HasZone != b.HasZone {
		return compareRanges(a, b)
	}
	if timed && a.HasZone && (a.ZoneOffset != 0 || b.ZoneOffset != 0) {
		a, b = a.utc(), b.utc()
	}
	first := PrecisionYear
	if a.Kind == KindTime {
		first = PrecisionHour
	}
	for p := first; p <= min(pa, pb); p++ {
		if x, y := a.field(p), b.field(p); x != y {
			if x < y {
				return -1, true
			}
			return 1, true
		}
	}
	if pa != pb {
		return 0, false
	}
	return 0, true
}

// utc shifts a zoned value to offset zero, keeping its precision.
func (d DateTime) utc() DateTime {
	if !d.HasZone || d.ZoneOffset == 0 {
		return d
	}
	t := d.time(time.FixedZone("", d.ZoneOffset)).UTC()
	u := d
	u.Year, u.Month, u.Day = t.Year(), int(t.Month()), t.Day()
	u.Hour, u.Minute, u.Second = t.Hour(), t.Minute(), t.Second()
	u.ZoneOffset, u.zulu = 0, true
	return u
}

// compareRanges orders a zoned and an unzoned value: the unzoned one could be
// in any zone from -12:00 to +14:00, so only a gap wider than that decides.
func compareRanges(a, b DateTime) (int, bool) {
	alo, ahi := a.span()
	blo, bhi := b.span()
	switch {
	case ahi.Before(blo):
		return -1, true
	case alo.After(bhi):
		return 1, true
	}
	return 0, false
}

func (d DateTime) span() (lo, hi time.Time) {
	if d.HasZone {
		return d.Bounds(nil)
	}
	lo, _ = d.Bounds(time.FixedZone("", 14*3600))
	_, hi = d.Bounds(time.FixedZone("", -12*3600))
	return lo, hi
}

// calendarStep is a unit that date arithmetic understands.
type calendarStep uint8

const (
	stepNone calendarStep = iota
	stepYear
	stepMonth
	stepWeek
	stepDay
	stepHour
	stepMinute
	stepSecond
	stepMillisecond
)

// add returns d moved by n steps; ok is false when the step does not apply
// (months to a Time) or the result leaves years 1-9999. Year and month
// arithmetic keeps the day, clamped to the month's length; steps finer than
// d's precision are applied to its earliest instant and the result is cut
// back to d's precision (http://hl7.org/fhirpath/N1/#datetime-arithmetic).
func (d DateTime) add(n int64, step calendarStep) (DateTime, bool) {
	if step == stepWeek {
		n, step = n*7, stepDay
	}
	if d.Kind == KindTime {
		if step < stepHour {
			return d, false
		}
		t := d.fill(false).time(time.UTC)
		n %= int64(24 * time.Hour / stepDuration(step)) // a Time wraps at midnight
		t = t.Add(time.Duration(n) * stepDuration(step))
		r := d
		r.Hour, r.Minute, r.Second = t.Hour(), t.Minute(), t.Second()
		if d.Precision >= PrecisionMillisecond {
			r.Nanosecond = t.Nanosecond()
		}
		return r.truncate(d.Precision), true
	}
	// Ten thousand years in each step: anything more leaves years 1-9999.
	limit := [...]int64{stepYear: 1e4, stepMonth: 12e4, stepWeek: 6e5, stepDay: 4e6, stepHour: 1e8, stepMinute: 6e9, stepSecond: 4e11, stepMillisecond: 4e14}[step]
	if n > limit || n < -limit {
		return d, false
	}
	if d.Kind == KindDate && step > stepDay {
		// A Date has no time: whole days only.
		n /= int64(24 * time.Hour / stepDuration(step))
		step = stepDay
	}
	f := d.fill(false)
	switch step {
	case stepYear, stepMonth:
		months := n
		if step == stepYear {
			months *= 12
		}
		total := int64(f.Year)*12 + int64(f.Month-1) + months
		f.Year, f.Month = int(total/12), int(total%12)+1
		if total < 0 {
			return d, false
		}
		f.Day = min(f.Day, daysIn(f.Year, f.Month))
	default:
		// Whole days through AddDate, the rest as a duration: a duration
		// alone overflows past 292 years.
		perDay := int64(24 * time.Hour / stepDuration(step))
		t := f.time(time.UTC).AddDate(0, 0, int(n/perDay)).Add(time.Duration(n%perDay) * stepDuration(step))
		f.Year, f.Month, f.Day = t.Year(), int(t.Month()), t.Day()
		f.Hour, f.Minute, f.Second, f.Nanosecond = t.Hour(), t.Minute(), t.Second(), t.Nanosecond()
	}
	if f.Year < 1 || f.Year > 9999 {
		return d, false
	}
	f.fracDigits = d.fracDigits
	return f.truncate(d.Precision), true
}

func stepDuration(s calendarStep) time.Duration {
	switch s {
	case stepDay:
		return 24 * time.Hour
	case stepHour:
		return time.Hour
	case stepMinute:
		return time.Minute
	case stepSecond:
		return time.Second
	case stepMillisecond:
		return time.Millisecond
	}
	return 0
}

// precisionDigits is the digit count precision() reports for p.
func precisionDigits(kind Kind, p Precision) int {
	if kind == KindTime {
		return [...]int{PrecisionHour: 2, PrecisionMinute: 4, PrecisionSecond: 6, PrecisionMillisecond: 9}[p]
	}
	return [...]int{0, 4, 6, 8, 10, 12, 14, 17}[p]
}

// digitsPrecision inverts precisionDigits; ok is false for a count that
// names no precision of kind.
func digitsPrecision(kind Kind, n int) (Precision, bool) {
	for p := PrecisionYear; p <= PrecisionMillisecond; p++ {
		if kind == KindTime && p < PrecisionHour || kind == KindDate && p > PrecisionDay {
			continue
		}
		if precisionDigits(kind, p) == n {
			return p, true
		}
	}
	return 0, false
}

// boundary is lowBoundary/highBoundary of a date or time to p
// (http://hl7.org/fhirpath/N1/#lowboundaryprecision-integer-decimal--date--datetime--time):
// missing fields take their least or greatest value, and a DateTime without
// a zone takes the zone that makes it earliest (+14:00) or latest (-12:00).
func (d DateTime) boundary(p Precision, high bool) DateTime {
	r := d.fillTo(p, high).truncate(p)
	if r.Kind == KindDateTime && p >= PrecisionHour && !r.HasZone {
		r.HasZone = true
		r.ZoneOffset = pick(high, -12*3600, 14*3600)
	}
	return r
}
