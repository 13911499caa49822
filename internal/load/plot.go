package load

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Plot geometry, in SVG user units.
const (
	plotW      = 860
	plotH      = 550
	plotLeft   = 70
	plotRight  = plotW - 24
	latTop     = 76
	latBottom  = 286
	rateTop    = 336
	rateBottom = 500
)

// series is one line of the plot.
type series struct {
	id, label, color string
	dashed           bool
	y                func(Second) (float64, bool) // false: no value this second
}

// WritePlot writes the timeline as an SVG: latency per second above
// (p50 and p99 of requests, p99 of patient summaries) and requests, errors
// and shed requests per second below, over seconds since the start. Each
// line is a path with the id series-<name>.
func (r *Report) WritePlot(w io.Writer) error {
	bw := bufio.NewWriter(w)
	p := func(format string, a ...any) { fmt.Fprintf(bw, format, a...) }
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", plotW, plotH, plotW, plotH)
	p(`<rect width="%d" height="%d" fill="white"/>`+"\n", plotW, plotH)
	p(`<text x="%d" y="24" font-size="15" font-weight="bold">%s</text>`+"\n", plotLeft, esc("sharedcare load: "+r.Scenario+", per second"))
	p(`<text x="%d" y="42" fill="#555">%s</text>`+"\n", plotLeft, esc(fmt.Sprintf("%s, %.0f s; %s requests, %s errors, %s shed; p99 %.0f ms overall",
		r.Target, r.Seconds, thousands(r.Requests.Count), thousands(r.Requests.Errors), thousands(r.Requests.Shed), r.Requests.P99)))

	// The time axis runs to its last round tick, so that tick is drawn
	// inside the frame.
	xt := ticks(float64(max(len(r.Timeline), 1)))
	secs := xt[len(xt)-1]
	latency := []series{
		{"p50", "p50 request", "#1f77b4", false, func(s Second) (float64, bool) { return s.P50, s.Requests > s.Errors+s.Shed }},
		{"p99", "p99 request", "#d62728", false, func(s Second) (float64, bool) { return s.P99, s.Requests > s.Errors+s.Shed }},
	}
	if slices.ContainsFunc(r.Timeline, func(s Second) bool { return s.StepP99 > 0 }) {
		latency = append(latency, series{"summary-p99", "p99 patient summary", "#9467bd", true, func(s Second) (float64, bool) { return s.StepP99, s.StepP99 > 0 }})
	}
	rates := []series{
		{"requests", "requests/s", "#2ca02c", false, func(s Second) (float64, bool) { return float64(s.Requests), true }},
		{"errors", "errors/s", "#d62728", false, func(s Second) (float64, bool) { return float64(s.Errors), true }},
		{"shed", "shed/s", "#ff7f0e", true, func(s Second) (float64, bool) { return float64(s.Shed), true }},
	}
	r.panel(bw, "latency (ms)", latTop, latBottom, secs, latency)
	r.panel(bw, "per second", rateTop, rateBottom, secs, rates)
	// The time axis, under the lower panel.
	for _, t := range xt {
		x := xOf(t, secs)
		p(`<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x, rateBottom+16, num(t))
	}
	p(`<text x="%d" y="%d" text-anchor="middle">seconds since the start</text>`+"\n", (plotLeft+plotRight)/2, rateBottom+36)
	p("</svg>\n")
	return bw.Flush()
}

// panel draws one chart: frame, grid, y ticks, legend and lines.
func (r *Report) panel(w *bufio.Writer, title string, top, bottom int, secs float64, ss []series) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	top1 := 0.0
	for _, s := range ss {
		for _, sec := range r.Timeline {
			if v, ok := s.y(sec); ok {
				top1 = max(top1, v)
			}
		}
	}
	yt := ticks(top1)
	ymax := yt[len(yt)-1]
	yOf := func(v float64) float64 { return float64(bottom) - v/ymax*float64(bottom-top) }
	p(`<g class="panel">` + "\n")
	p(`<text x="%d" y="%d" font-weight="bold">%s</text>`+"\n", plotLeft, top-8, esc(title))
	for _, t := range yt {
		y := yOf(t)
		p(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e5e5e5"/>`+"\n", plotLeft, y, plotRight, y)
		p(`<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", plotLeft-6, y+4, num(t))
	}
	for _, t := range ticks(secs) {
		x := xOf(t, secs)
		p(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#f0f0f0"/>`+"\n", x, top, x, bottom)
	}
	p(`<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#333"/>`+"\n", plotLeft, top, plotRight-plotLeft, bottom-top)
	for _, s := range ss {
		var d strings.Builder
		pen := false
		for _, sec := range r.Timeline {
			v, ok := s.y(sec)
			if !ok {
				pen = false
				continue
			}
			cmd := "L"
			if !pen {
				cmd, pen = "M", true
			}
			fmt.Fprintf(&d, "%s%.1f %.1f ", cmd, xOf(float64(sec.T)+0.5, secs), yOf(v))
		}
		dash := ""
		if s.dashed {
			dash = ` stroke-dasharray="5 3"`
		}
		p(`<path id="series-%s" d="%s" fill="none" stroke="%s" stroke-width="1.5"%s/>`+"\n", s.id, strings.TrimSpace(d.String()), s.color, dash)
	}
	// Legend, on the title's line, clear of the data.
	x := plotLeft + 150
	for _, s := range ss {
		dash := ""
		if s.dashed {
			dash = ` stroke-dasharray="5 3"`
		}
		p(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"%s/>`+"\n", x, top-12, x+22, top-12, s.color, dash)
		p(`<text x="%d" y="%d">%s</text>`+"\n", x+27, top-8, esc(s.label))
		x += 50 + 7*len(s.label)
	}
	p("</g>\n")
}

func xOf(t, secs float64) float64 {
	return plotLeft + t/secs*float64(plotRight-plotLeft)
}

// ticks returns 0 and round steps (1, 2 or 5 times a power of ten) up to
// the first at or above top, at most about six of them.
func ticks(top float64) []float64 {
	if top <= 0 || math.IsNaN(top) || math.IsInf(top, 0) {
		return []float64{0, 1}
	}
	step := math.Pow(10, math.Floor(math.Log10(top/5)))
	for _, f := range []float64{1, 2, 5, 10} {
		if top/(step*f) <= 6 {
			step *= f
			break
		}
	}
	out := []float64{0}
	for k := 1.0; ; k++ {
		v := k * step
		out = append(out, v)
		if v >= top {
			return out
		}
	}
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}
