package synth

import "time"

// Times in a history are civil times in England, held as time.Time in UTC
// with the wall clock of London: 09:10 at a surgery is stored as 09:10. They
// are written with the offset London had at that moment, +01:00 in
// British Summer Time, so no time zone database is needed.

// DefaultUntil is where generated histories end when Options.Until is zero:
// a fixed day, so that output does not depend on when it is generated.
var DefaultUntil = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

// summerTime reports whether the London wall-clock time t falls in British
// Summer Time: from 01:00 UTC on the last Sunday of March to 01:00 UTC on
// the last Sunday of October.
func summerTime(t time.Time) bool {
	y := t.Year()
	start := lastSunday(y, time.March).Add(2 * time.Hour) // 01:00 GMT is 02:00 on the wall
	end := lastSunday(y, time.October).Add(2 * time.Hour) // 01:00 GMT is 02:00 BST
	return !t.Before(start) && t.Before(end)
}

func lastSunday(year int, month time.Month) time.Time {
	d := time.Date(year, month+1, 0, 0, 0, 0, 0, time.UTC) // last day of month
	return d.AddDate(0, 0, -int(d.Weekday()))
}

// date formats t as a FHIR date.
func date(t time.Time) string {
	var b [10]byte
	return string(appendDate(b[:0], t))
}

// dateTime formats t as a FHIR dateTime (and instant) to the second, with
// London's offset at that time.
func dateTime(t time.Time) string {
	var b [25]byte
	d := appendDate(b[:0], t)
	h, m, s := t.Clock()
	d = append(d, 'T')
	d = append2(d, h)
	d = append(d, ':')
	d = append2(d, m)
	d = append(d, ':')
	d = append2(d, s)
	if summerTime(t) {
		d = append(d, "+01:00"...)
	} else {
		d = append(d, "+00:00"...)
	}
	return string(d)
}

func appendDate(b []byte, t time.Time) []byte {
	y, mo, d := t.Date()
	b = append2(b, y/100)
	b = append2(b, y%100)
	b = append(b, '-')
	b = append2(b, int(mo))
	b = append(b, '-')
	return append2(b, d)
}

func append2(b []byte, n int) []byte { return append(b, byte('0'+n/10), byte('0'+n%10)) }

// ukDate prints t as people in England read a date in a letter: 04-Mar-2024.
func ukDate(t time.Time) string { return t.Format("02-Jan-2006") }

// ukDateTime prints a date and wall-clock time for a letter: 04-Mar-2024 14:20.
func ukDateTime(t time.Time) string { return t.Format("02-Jan-2006 15:04") }

// years returns the whole years from a to b, as birthdays count them.
func years(a, b time.Time) int {
	n := b.Year() - a.Year()
	if b.Month() < a.Month() || (b.Month() == a.Month() && b.Day() < a.Day()) {
		n--
	}
	return n
}

// addDays returns t moved by n days.
func addDays(t time.Time, n int) time.Time { return t.AddDate(0, 0, n) }

// at returns the day of t at hh:mm.
func at(t time.Time, hh, mm int) time.Time {
	y, mo, d := t.Date()
	return time.Date(y, mo, d, hh, mm, 0, 0, time.UTC)
}

// daysBetween returns whole days from a to b.
func daysBetween(a, b time.Time) int { return int(b.Sub(a).Hours() / 24) }

// weekday moves t forward to Monday if it falls on a weekend: surgeries and
// clinics run on weekdays.
func weekday(t time.Time) time.Time {
	switch t.Weekday() {
	case time.Saturday:
		return addDays(t, 2)
	case time.Sunday:
		return addDays(t, 1)
	}
	return t
}

// earliest returns the earlier of a and b.
func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
