package web

import (
	"context"
	"net/url"
	"strings"
	"time"

	"sharedcare/internal/fhir"
	"sharedcare/internal/nhs"
	"sharedcare/internal/record"
	"sharedcare/internal/search"
)

// found is one search's resources, parsed, with what record withheld.
type found struct {
	Resources []*fhir.Value
	Included  []*fhir.Value
	Withheld  int
}

// search runs a FHIR search through record, as the request's user.
func (h *Handler) search(ctx context.Context, typ string, params url.Values) (*found, error) {
	q, err := search.Parse(typ, params, search.Options{})
	if err != nil {
		return nil, err
	}
	q.Total = "none"
	res, err := h.rec.Search(ctx, q)
	if err != nil {
		return nil, err
	}
	f := &found{Withheld: res.Withheld}
	if f.Resources, err = parseAll(res.Matches); err != nil {
		return nil, err
	}
	if f.Included, err = parseAll(res.Included); err != nil {
		return nil, err
	}
	return f, nil
}

func parseAll(vs []*record.Version) ([]*fhir.Value, error) {
	out := make([]*fhir.Value, 0, len(vs))
	for _, v := range vs {
		r, err := fhir.Parse(v.Body)
		if err != nil {
			return nil, err
		}
		out = append(out, &r)
	}
	return out, nil
}

// read reads one resource through record, as the request's user.
func (h *Handler) read(ctx context.Context, typ, id string) (*fhir.Value, *record.Version, error) {
	v, err := h.rec.Read(ctx, typ, id)
	if err != nil {
		return nil, nil, err
	}
	r, err := fhir.Parse(v.Body)
	if err != nil {
		return nil, nil, err
	}
	return &r, v, nil
}

// at follows a dotted path, taking the first element of every array on
// the way; nil when any step is missing.
func at(v *fhir.Value, path string) *fhir.Value {
	for _, name := range strings.Split(path, ".") {
		if v == nil {
			return nil
		}
		if v.Kind == fhir.Array {
			if len(v.Items) == 0 {
				return nil
			}
			v = &v.Items[0]
		}
		v = v.Get(name)
	}
	if v != nil && v.Kind == fhir.Array {
		if len(v.Items) == 0 {
			return nil
		}
		v = &v.Items[0]
	}
	return v
}

// text is the string at path, "" when absent.
func text(v *fhir.Value, path string) string {
	x := at(v, path)
	if x == nil || x.Kind == fhir.Object || x.Kind == fhir.Array {
		return ""
	}
	return x.Text
}

// items is the array at path (or the one value there), for ranging.
func items(v *fhir.Value, path string) []*fhir.Value {
	parent, name := path, ""
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		parent, name = path[:i], path[i+1:]
		v = at(v, parent)
	} else {
		name = path
	}
	if v == nil {
		return nil
	}
	x := v.Get(name)
	if x == nil {
		return nil
	}
	if x.Kind != fhir.Array {
		return []*fhir.Value{x}
	}
	out := make([]*fhir.Value, len(x.Items))
	for i := range x.Items {
		out[i] = &x.Items[i]
	}
	return out
}

// concept says a CodeableConcept in words: its text, or its first
// coding's display, or its code.
func concept(v *fhir.Value) string {
	if v == nil {
		return ""
	}
	if t := v.Str("text"); t != "" {
		return t
	}
	if d := text(v, "coding.display"); d != "" {
		return d
	}
	return text(v, "coding.code")
}

// codeOf is the first coding's code of a CodeableConcept.
func codeOf(v *fhir.Value) string { return text(v, "coding.code") }

// formatDate shows a FHIR date or dateTime as "5 January 2025" (with the
// time, in UK time, when withTime and it has one).
func (h *Handler) formatDate(s string, withTime bool) string {
	if s == "" {
		return ""
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		t = t.In(h.london)
		if withTime {
			return t.Format("2 January 2006, 15:04")
		}
		return t.Format("2 January 2006")
	}
	for _, layout := range []string{"2006-01-02", "2006-01", "2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			switch layout {
			case "2006-01":
				return t.Format("January 2006")
			case "2006":
				return s
			}
			return t.Format("2 January 2006")
		}
	}
	return s
}

// sortKey makes FHIR dates comparable as strings.
func parseTime(s string) time.Time {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t
	}
	for _, layout := range []string{"2006-01-02", "2006-01", "2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	return time.Time{}
}

// entry is a line of the record as the pages show it: what, when, and who
// recorded it.
type entry struct {
	ID, Type  string
	Title     string
	Detail    string
	Date      string
	By        string
	Link      string
	Tag       *tag
	source    string // meta.source, to be named
	byOrg     bool   // By names an organisation already
	person    string // who recorded it, when By is their organisation
	encounter string // the Encounter id it was recorded in
	when      time.Time
}

type tag struct{ Text, Colour string }

// recordedBy is who recorded a resource: the organisation in meta.source
// (named later, by nameSources), or else the performer, author, recorder or
// requester it names, and whether that is an organisation.
func recordedBy(r *fhir.Value) (source, by string, org bool) {
	source = text(r, "meta.source")
	for _, p := range []string{"performer", "performer.actor", "custodian", "serviceProvider", "author", "recorder", "requester", "asserter"} {
		if d := text(r, p+".display"); d != "" {
			return source, d, strings.HasPrefix(text(r, p+".reference"), "Organization/")
		}
	}
	return source, "", false
}

// nameSources says which organisation recorded each entry: the one in its
// meta.source, named; or, for records that carry none (migrated ones), the
// organisation that provided the encounter it was recorded in, beside the
// person who recorded it. Organisations and encounters it does not know
// yet are read in one search each.
func (h *Handler) nameSources(ctx context.Context, es []entry) error {
	now := h.now()
	var encounters []string
	for _, e := range es {
		if e.source == "" && !e.byOrg && e.encounter != "" {
			encounters = append(encounters, e.encounter)
		}
	}
	providers := map[string]string{}
	if len(encounters) > 0 {
		f, err := h.search(ctx, "Encounter", url.Values{"_id": {strings.Join(dedupe(encounters), ",")}, "_elements": {"serviceProvider"}, "_count": {"1000"}})
		if err != nil {
			return err
		}
		for _, enc := range f.Resources {
			providers[enc.Str("id")] = text(enc, "serviceProvider.reference")
		}
		for i := range es {
			if p := providers[es[i].encounter]; p != "" && es[i].source == "" && !es[i].byOrg {
				es[i].source, es[i].person = p, es[i].By
			}
		}
	}
	var want []string
	for _, e := range es {
		if id, ok := strings.CutPrefix(e.source, "Organization/"); ok {
			if _, known := h.orgNames.get(e.source, now); !known {
				want = append(want, id)
			}
		}
	}
	if len(want) > 0 {
		f, err := h.search(ctx, "Organization", url.Values{"_id": {strings.Join(dedupe(want), ",")}, "_elements": {"name"}, "_count": {"1000"}})
		if err != nil {
			return err
		}
		for _, o := range f.Resources {
			h.orgNames.put("Organization/"+o.Str("id"), o.Str("name"), now)
		}
	}
	for i := range es {
		if es[i].source == "" {
			continue
		}
		n, ok := h.orgNames.get(es[i].source, now)
		switch {
		case ok && n != "" && es[i].person != "":
			es[i].By = n + " (" + es[i].person + ")"
		case ok && n != "":
			es[i].By = n
		case es[i].By == "":
			es[i].By = es[i].source
		}
	}
	return nil
}

func dedupe(ss []string) []string {
	seen := map[string]bool{}
	out := ss[:0]
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// patientBanner is who a page is about.
type patientBanner struct {
	ID, Name, NHSNumber, BirthDate, Gender, Postcode, GP string
	GPRef                                                string
}

func (h *Handler) banner(p *fhir.Value) patientBanner {
	b := patientBanner{ID: p.Str("id"), Name: humanName(at(p, "name")), BirthDate: h.formatDate(p.Str("birthDate"), false),
		Gender: p.Str("gender"), Postcode: text(p, "address.postalCode")}
	for _, id := range items(p, "identifier") {
		if id.Str("system") == nhs.NHSNumberSystem {
			b.NHSNumber = id.Str("value")
		}
	}
	for _, gp := range items(p, "generalPractitioner") {
		if strings.HasPrefix(gp.Str("reference"), "Organization/") {
			b.GP, b.GPRef = gp.Str("display"), gp.Str("reference")
		}
	}
	return b
}

// humanName says a HumanName as "Margaret Thompson".
func humanName(n *fhir.Value) string {
	if n == nil {
		return ""
	}
	if t := n.Str("text"); t != "" {
		return t
	}
	var parts []string
	for _, g := range items(n, "given") {
		parts = append(parts, g.Text)
	}
	if f := n.Str("family"); f != "" {
		parts = append(parts, f)
	}
	return strings.Join(parts, " ")
}

// formatNHSNumber shows an NHS number as "900 000 0009".
func formatNHSNumber(s string) string {
	if len(s) != 10 {
		return s
	}
	return s[:3] + " " + s[3:6] + " " + s[6:]
}
