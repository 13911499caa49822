package api

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"sharedcare/internal/fhir"
	"sharedcare/internal/outcome"
	"sharedcare/internal/record"
)

// everything is Patient/{id}/$everything
// (https://hl7.org/fhir/R4/patient-operation-everything.html): a
// searchset of the patient's compartment and the resources it refers to,
// paged by a cursor with _count, filtered by _since and _type.
func (h *Handler) everything(w http.ResponseWriter, r *http.Request, id string) error {
	f, err := negotiate(r)
	if err != nil {
		return err
	}
	params := r.URL.Query()
	if r.Method == http.MethodPost {
		body, err := h.readBody(w, r)
		if err != nil {
			return err
		}
		if params, err = parametersQuery(body, params); err != nil {
			return err
		}
	}
	q := &record.EverythingQuery{Count: defaultCount}
	for name, vals := range params {
		val := strings.Join(vals, ",")
		switch name {
		case "_count":
			n, err := strconv.Atoi(val)
			if err != nil || n <= 0 {
				return outcome.Newf(http.StatusBadRequest, outcome.CodeValue, "_count", "_count %q is not a positive whole number", val)
			}
			q.Count = min(n, maxCount)
		case "_since":
			d, err := fhir.ParseDateRange(val)
			if err != nil || d.Precision < fhir.Second || !d.HasZone {
				return outcome.Newf(http.StatusBadRequest, outcome.CodeValue, "_since", "_since %q is not an instant (such as 2024-01-31T09:00:00Z)", val)
			}
			q.Since = d.Low
		case "_type":
			for _, t := range strings.Split(val, ",") {
				if t = strings.TrimSpace(t); t != "" {
					q.Types = append(q.Types, t)
				}
			}
		case "_cursor":
			q.Cursor = val
		case "_format", "_pretty":
		default:
			return outcome.Newf(http.StatusBadRequest, outcome.CodeNotSupported, name, "$everything does not support the parameter %s (use _count, _since, _type)", name)
		}
	}
	page, err := h.rec.Everything(r.Context(), id, q)
	if err != nil {
		return err
	}
	base := h.baseURL(r)
	self := base + "/Patient/" + id + "/$everything"
	b := fhir.ObjectValue(
		"resourceType", fhir.StringValue("Bundle"),
		"id", fhir.StringValue(record.NewUUID()),
		"meta", fhir.ObjectValue("lastUpdated", fhir.StringValue(h.now().UTC().Format(record.InstantFormat))),
		"type", fhir.StringValue("searchset"),
	)
	links := fhir.Value{Kind: fhir.Array}
	linkParams := url.Values{}
	for k, v := range params {
		if k != "_cursor" {
			linkParams[k] = v
		}
	}
	links.Items = append(links.Items, link("self", self, params))
	if page.Next != "" {
		next := url.Values{}
		for k, v := range linkParams {
			next[k] = v
		}
		next.Set("_cursor", page.Next)
		links.Items = append(links.Items, link("next", self, next))
	}
	b.Set("link", links)
	entries := fhir.Value{Kind: fhir.Array, Items: make([]fhir.Value, 0, len(page.Matches)+len(page.Included))}
	add := func(v *record.Version, mode string) error {
		res, err := fhir.Parse(v.Body)
		if err != nil {
			return err
		}
		entries.Items = append(entries.Items, fhir.ObjectValue(
			"fullUrl", fhir.StringValue(base+"/"+v.Type+"/"+v.ID),
			"resource", res,
			"search", fhir.ObjectValue("mode", fhir.StringValue(mode)),
		))
		return nil
	}
	for _, v := range page.Matches {
		if err := add(v, "match"); err != nil {
			return err
		}
	}
	for _, v := range page.Included {
		if err := add(v, "include"); err != nil {
			return err
		}
	}
	b.Set("entry", entries)
	writeJSON(w, f, http.StatusOK, fhir.Marshal(b))
	return nil
}
