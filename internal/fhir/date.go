package fhir

import (
	"fmt"
	"strconv"
	"time"
)

// Precision is how much of a date/time was given.
type Precision uint8

const (
	Year Precision = iota + 1
	Month
	Day
	Minute // search values may stop at minutes
	Second
	Millisecond // any fractional seconds
)

// DateRange is a FHIR date, dateTime or instant read as the span of time it
// stands for: "2024-03" covers all of March 2024
// (https://hl7.org/fhir/R4/search.html#date).
type DateRange struct {
	Low, High time.Time // inclusive low, exclusive high
	Precision Precision
	HasZone   bool
}

// ParseDateRange parses a date, dateTime or instant. A value without a time
// zone is taken as UTC.
func ParseDateRange(s string) (DateRange, error) {
	bad := func() (DateRange, error) {
		return DateRange{}, fmt.Errorf("%q is not a FHIR date, dateTime or instant", s)
	}
	num := func(a, b int) (int, bool) {
		if len(s) < b {
			return 0, false
		}
		for _, c := range s[a:b] {
			if c < '0' || c > '9' {
				return 0, false
			}
		}
		n, _ := strconv.Atoi(s[a:b])
		return n, true
	}
	y, ok := num(0, 4)
	if !ok {
		return bad()
	}
	r := DateRange{Precision: Year}
	mo, d, hh, mm, ss, nsec := 1, 1, 0, 0, 0, 0
	loc := time.UTC
	rest := s[4:]
	if len(rest) > 0 {
		if rest[0] != '-' {
			return bad()
		}
		if mo, ok = num(5, 7); !ok || mo < 1 || mo > 12 {
			return bad()
		}
		r.Precision = Month
		rest = s[7:]
	}
	if len(rest) > 0 {
		if rest[0] != '-' {
			return bad()
		}
		if d, ok = num(8, 10); !ok || d < 1 || d > daysIn(y, mo) {
			return bad()
		}
		r.Precision = Day
		rest = s[10:]
	}
	if len(rest) > 0 {
		if rest[0] != 'T' || len(rest) < 6 || rest[3] != ':' {
			return bad()
		}
		off := 11
		if hh, ok = num(off, off+2); !ok || hh > 23 {
			return bad()
		}
		if mm, ok = num(off+3, off+5); !ok || mm > 59 {
			return bad()
		}
		r.Precision = Minute
		rest = s[16:]
		if len(rest) > 0 && rest[0] == ':' {
			if ss, ok = num(17, 19); !ok || ss > 60 {
				return bad()
			}
			if ss == 60 {
				ss = 59 // a leap second: count it as the second before
			}
			r.Precision = Second
			rest = s[19:]
			if len(rest) > 0 && rest[0] == '.' {
				i := 1
				for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
					i++
				}
				if i == 1 {
					return bad()
				}
				frac := rest[1:i]
				for len(frac) < 9 {
					frac += "0"
				}
				nsec, _ = strconv.Atoi(frac[:9])
				r.Precision = Millisecond
				rest = rest[i:]
			}
		}
		switch {
		case rest == "Z":
			r.HasZone = true
		case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
			zh, ok1 := strconv.Atoi(rest[1:3])
			zm, ok2 := strconv.Atoi(rest[4:6])
			if ok1 != nil || ok2 != nil || zh > 14 || zm > 59 {
				return bad()
			}
			secs := zh*3600 + zm*60
			if rest[0] == '-' {
				secs = -secs
			}
			loc = time.FixedZone("", secs)
			r.HasZone = true
		case rest == "":
		default:
			return bad()
		}
		rest = ""
	}
	if rest != "" {
		return bad()
	}
	r.Low = time.Date(y, time.Month(mo), d, hh, mm, ss, nsec, loc).UTC()
	switch r.Precision {
	case Year:
		r.High = r.Low.AddDate(1, 0, 0)
	case Month:
		r.High = r.Low.AddDate(0, 1, 0)
	case Day:
		r.High = r.Low.AddDate(0, 0, 1)
	case Minute:
		r.High = r.Low.Add(time.Minute)
	case Second:
		r.High = r.Low.Add(time.Second)
	default:
		r.High = r.Low.Add(time.Millisecond)
	}
	return r, nil
}

func daysIn(y, m int) int {
	return time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
