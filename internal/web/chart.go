package web

import (
	"context"
	"fmt"
	"html/template"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"sharedcare/internal/fhir"
)

// history is one test's results over time, for its page: a chart and the
// same figures as a table.
type history struct {
	Title   string
	Unit    string
	Range   string
	Series  []series
	Rows    []historyRow
	Chart   template.HTML
	Summary string // the chart in words, its desc

	rangeLo, rangeHi float64 // the latest reference range, NaN where open
}

type series struct {
	Name   string
	points []point
}

type point struct {
	t time.Time
	v float64
}

type historyRow struct {
	Date, Value, By string
	Tag             *tag
}

// resultHistory reads every result of test code in patient's record.
func (h *Handler) resultHistory(ctx context.Context, patient, code string) (*history, error) {
	f, err := h.search(ctx, "Observation", url.Values{"patient": {"Patient/" + patient}, "code": {code}, "_sort": {"-date"}, "_count": {"1000"}})
	if err != nil {
		return nil, err
	}
	if len(f.Resources) == 0 {
		return nil, errNotFoundPage
	}
	hs := &history{Title: concept(at(f.Resources[0], "code")), rangeLo: math.NaN(), rangeHi: math.NaN()}
	byName := map[string]int{}
	add := func(name string, t time.Time, q *fhir.Value) {
		v, err := strconv.ParseFloat(text(q, "value"), 64)
		if err != nil || t.IsZero() {
			return
		}
		if hs.Unit == "" {
			hs.Unit = q.Str("unit")
		}
		i, ok := byName[name]
		if !ok {
			i = len(hs.Series)
			byName[name] = i
			hs.Series = append(hs.Series, series{Name: name})
		}
		hs.Series[i].points = append(hs.Series[i].points, point{t, v})
	}
	var es []entry
	for _, r := range f.Resources {
		when := r.Str("effectiveDateTime")
		t := parseTime(when)
		if q := r.Get("valueQuantity"); q != nil {
			add(hs.Title, t, q)
		}
		for _, c := range items(r, "component") {
			if q := c.Get("valueQuantity"); q != nil {
				add(shortName(concept(at(c, "code"))), t, q)
			}
		}
		e := h.entryOf(r, valueOf(r), when)
		e.Date = h.formatDate(when, false)
		e.Tag = flag(r)
		es = append(es, e)
		if hs.Range == "" {
			lo, hi := text(r, "referenceRange.low.value"), text(r, "referenceRange.high.value")
			if v, err := strconv.ParseFloat(lo, 64); err == nil {
				hs.rangeLo = v
			}
			if v, err := strconv.ParseFloat(hi, 64); err == nil {
				hs.rangeHi = v
			}
			switch {
			case lo != "" && hi != "":
				hs.Range = lo + " to " + hi
			case hi != "":
				hs.Range = "up to " + hi
			case lo != "":
				hs.Range = lo + " or more"
			}
		}
	}
	if err := h.nameSources(ctx, es); err != nil {
		return nil, err
	}
	for _, e := range es {
		hs.Rows = append(hs.Rows, historyRow{Date: e.Date, Value: e.Detail, By: e.By, Tag: e.Tag})
	}
	for i := range hs.Series { // oldest first, for the chart
		ps := hs.Series[i].points
		for a, b := 0, len(ps)-1; a < b; a, b = a+1, b-1 {
			ps[a], ps[b] = ps[b], ps[a]
		}
	}
	hs.Chart, hs.Summary = h.chart(hs)
	return hs, nil
}

// shortName shortens component names such as "Systolic blood pressure".
func shortName(s string) string {
	if i := strings.Index(strings.ToLower(s), " blood pressure"); i > 0 {
		return s[:i]
	}
	return s
}

// Chart geometry, in SVG user units; the SVG scales to the page.
const (
	chartW, chartH                 = 640, 260
	padL, padR, padT, padB         = 52, 16, 16, 36
	plotW, plotH                   = chartW - padL - padR, chartH - padT - padB
	maxPointsMarked                = 60 // beyond this, the line alone
	chartTicks                     = 5
	chartDateLabels                = 4
	chartMinSpan           float64 = 1
)

// chart draws the history as an SVG line chart, server-side: no script,
// a few kilobytes, readable by screen readers through its title and desc
// (and the table beside it has the same figures).
func (h *Handler) chart(hs *history) (template.HTML, string) {
	var t0, t1 time.Time
	lo, hi := math.Inf(1), math.Inf(-1)
	n := 0
	for _, s := range hs.Series {
		for _, p := range s.points {
			if t0.IsZero() || p.t.Before(t0) {
				t0 = p.t
			}
			if p.t.After(t1) {
				t1 = p.t
			}
			lo, hi = math.Min(lo, p.v), math.Max(hi, p.v)
			n++
		}
	}
	if n == 0 {
		return "", ""
	}
	step := niceStep((hi - lo) / (chartTicks - 1))
	lo, hi = math.Floor(lo/step)*step, math.Ceil(hi/step)*step
	if hi-lo < chartMinSpan*step {
		hi = lo + step
	}
	span := t1.Sub(t0).Seconds()
	x := func(t time.Time) float64 {
		if span == 0 {
			return padL + plotW/2
		}
		return padL + plotW*t.Sub(t0).Seconds()/span
	}
	y := func(v float64) float64 { return padT + plotH*(hi-v)/(hi-lo) }

	var b strings.Builder
	desc := fmt.Sprintf("%d results from %s to %s, between %s and %s %s.", n, t0.In(h.london).Format("January 2006"),
		t1.In(h.london).Format("January 2006"), num(lo), num(hi), hs.Unit)
	if len(hs.Series) > 0 && len(hs.Series[0].points) > 0 {
		last := hs.Series[0].points[len(hs.Series[0].points)-1]
		desc += fmt.Sprintf(" The latest %s is %s %s.", strings.ToLower(hs.Series[0].Name), num(last.v), hs.Unit)
	}
	fmt.Fprintf(&b, `<svg class="sc-chart" viewBox="0 0 %d %d" role="img" aria-labelledby="chart-title chart-desc" xmlns="http://www.w3.org/2000/svg">`, chartW, chartH)
	fmt.Fprintf(&b, `<title id="chart-title">%s over time</title><desc id="chart-desc">%s</desc>`, template.HTMLEscapeString(hs.Title), template.HTMLEscapeString(desc))
	// The normal range as a band behind the lines, clipped to the plot.
	if rl, rh := hs.rangeLo, hs.rangeHi; !math.IsNaN(rl) || !math.IsNaN(rh) {
		if math.IsNaN(rl) || rl < lo {
			rl = lo
		}
		if math.IsNaN(rh) || rh > hi {
			rh = hi
		}
		if rh > rl {
			fmt.Fprintf(&b, `<rect class="range" x="%d" y="%.1f" width="%d" height="%.1f"/>`, padL, y(rh), plotW, y(rl)-y(rh))
		}
	}
	for v := lo; v <= hi+step/2; v += step {
		fmt.Fprintf(&b, `<line class="grid" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/>`, padL, chartW-padR, y(v), y(v))
		fmt.Fprintf(&b, `<text class="axis" x="%d" y="%.1f" text-anchor="end">%s</text>`, padL-6, y(v)+4, num(v))
	}
	for i := 0; i < chartDateLabels; i++ {
		t := t0.Add(time.Duration(float64(t1.Sub(t0)) * float64(i) / (chartDateLabels - 1)))
		anchor := "middle"
		switch i {
		case 0:
			anchor = "start"
		case chartDateLabels - 1:
			anchor = "end"
		}
		fmt.Fprintf(&b, `<text class="axis" x="%.1f" y="%d" text-anchor="%s">%s</text>`, x(t), chartH-10, anchor, t.In(h.london).Format("Jan 2006"))
		if span == 0 {
			break
		}
	}
	for i, s := range hs.Series {
		if i > 1 {
			break // two lines at most (blood pressure); the table has the rest
		}
		b.WriteString(`<polyline class="s` + strconv.Itoa(i) + `" points="`)
		for _, p := range s.points {
			fmt.Fprintf(&b, "%.1f,%.1f ", x(p.t), y(p.v))
		}
		b.WriteString(`"/>`)
		if len(s.points) <= maxPointsMarked {
			for _, p := range s.points {
				fmt.Fprintf(&b, `<circle class="p%d" cx="%.1f" cy="%.1f" r="4"/>`, i, x(p.t), y(p.v))
			}
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()), desc
}

// niceStep rounds a raw step up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 || math.IsNaN(raw) || math.IsInf(raw, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
