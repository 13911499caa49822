package api

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"sharedcare/internal/fhir"
	"sharedcare/internal/outcome"
	"sharedcare/internal/record"
)

const (
	defaultCount = 50
	maxCount     = 1000
)

func (h *Handler) historySystem(w http.ResponseWriter, r *http.Request) error {
	return h.history(w, r, "", "")
}

func (h *Handler) historyType(w http.ResponseWriter, r *http.Request) error {
	return h.history(w, r, r.PathValue("type"), "")
}

func (h *Handler) historyInstance(w http.ResponseWriter, r *http.Request) error {
	return h.history(w, r, r.PathValue("type"), r.PathValue("id"))
}

// history answers the three history interactions with a history Bundle,
// newest first, paged by a cursor so that writes between pages neither
// repeat nor skip entries (https://hl7.org/fhir/R4/http.html#history).
func (h *Handler) history(w http.ResponseWriter, r *http.Request, typ, id string) error {
	f, err := negotiate(r)
	if err != nil {
		return err
	}
	q, err := historyQuery(r.URL.Query())
	if err != nil {
		return err
	}
	q.Type, q.ID = typ, id
	want := q.Count
	q.Count++ // one more tells whether there is a next page
	vs, err := h.rec.History(r.Context(), q)
	if err != nil {
		return err
	}
	more := len(vs) > want
	if more {
		vs = vs[:want]
	}
	base := h.baseURL(r)
	self := base
	if typ != "" {
		self += "/" + typ
	}
	if id != "" {
		self += "/" + id
	}
	self += "/_history"
	b := fhir.ObjectValue(
		"resourceType", fhir.StringValue("Bundle"),
		"id", fhir.StringValue(record.NewUUID()),
		"meta", fhir.ObjectValue("lastUpdated", fhir.StringValue(h.now().UTC().Format(record.InstantFormat))),
		"type", fhir.StringValue("history"),
	)
	links := fhir.Value{Kind: fhir.Array}
	params := r.URL.Query()
	links.Items = append(links.Items, link("self", self, params))
	if more {
		next := url.Values{}
		for k, v := range params {
			next[k] = v
		}
		next.Set("_count", strconv.Itoa(want))
		next.Set("_cursor", strconv.FormatInt(vs[len(vs)-1].Seq, 10))
		links.Items = append(links.Items, link("next", self, next))
	}
	b.Set("link", links)
	entries := fhir.Value{Kind: fhir.Array, Items: make([]fhir.Value, 0, len(vs))}
	for _, v := range vs {
		e, err := historyEntry(base, v)
		if err != nil {
			return err
		}
		entries.Items = append(entries.Items, e)
	}
	b.Set("entry", entries)
	writeJSON(w, f, http.StatusOK, fhir.Marshal(b))
	return nil
}

func link(rel, u string, params url.Values) fhir.Value {
	if len(params) > 0 {
		u += "?" + params.Encode()
	}
	return fhir.ObjectValue("relation", fhir.StringValue(rel), "url", fhir.StringValue(u))
}

func historyEntry(base string, v *record.Version) (fhir.Value, error) {
	full := base + "/" + v.Type + "/" + v.ID
	e := fhir.ObjectValue("fullUrl", fhir.StringValue(full))
	if !v.Deleted {
		res, err := fhir.Parse(v.Body)
		if err != nil {
			return e, err
		}
		e.Set("resource", res)
	}
	method, status, u := "PUT", "200", v.Type+"/"+v.ID
	switch v.Method {
	case record.MethodCreate:
		method, status, u = "POST", "201", v.Type
	case record.MethodDelete:
		method, status, u = "DELETE", "204", v.Type+"/"+v.ID
	}
	e.Set("request", fhir.ObjectValue("method", fhir.StringValue(method), "url", fhir.StringValue(u)))
	e.Set("response", fhir.ObjectValue(
		"status", fhir.StringValue(status),
		"etag", fhir.StringValue(etag(v.VersionID)),
		"lastModified", fhir.StringValue(v.LastUpdated.Format(record.InstantFormat)),
	))
	return e, nil
}

// historyQuery reads _count, _since, _at and _cursor; any other parameter
// is an error naming it.
func historyQuery(params url.Values) (*record.HistoryQuery, error) {
	q := &record.HistoryQuery{Count: defaultCount}
	for name, vals := range params {
		if len(vals) != 1 {
			return nil, outcome.Newf(http.StatusBadRequest, outcome.CodeInvalid, name, "%s is given %d times; history takes it once", name, len(vals))
		}
		val := vals[0]
		switch name {
		case "_count":
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 {
				return nil, outcome.Newf(http.StatusBadRequest, outcome.CodeValue, "_count", "_count %q is not a whole number", val)
			}
			q.Count = min(n, maxCount)
		case "_since":
			d, err := fhir.ParseDateRange(val)
			if err != nil || d.Precision < fhir.Second || !d.HasZone {
				return nil, outcome.Newf(http.StatusBadRequest, outcome.CodeValue, "_since", "_since %q is not an instant (such as 2024-01-31T09:00:00Z)", val)
			}
			q.Since = d.Low
		case "_at":
			d, err := fhir.ParseDateRange(val)
			if err != nil {
				return nil, outcome.Newf(http.StatusBadRequest, outcome.CodeValue, "_at", "_at %q is not a date or dateTime", val)
			}
			q.AtLow, q.AtHigh = d.Low, d.High.Add(-time.Millisecond)
		case "_cursor":
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil || n <= 0 {
				return nil, outcome.Newf(http.StatusBadRequest, outcome.CodeValue, "_cursor", "_cursor %q is not a page cursor from a link this server gave", val)
			}
			q.Before = n
		case "_format", "_pretty":
		default:
			return nil, outcome.Newf(http.StatusBadRequest, outcome.CodeNotSupported, name, "history does not support the parameter %s (use _count, _since, _at)", name)
		}
	}
	if q.Count == 0 {
		q.Count = defaultCount
	}
	return q, nil
}
