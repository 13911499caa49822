package api

import (
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"sharedcare/internal/fhir"
	"sharedcare/internal/outcome"
	"sharedcare/internal/record"
	"sharedcare/internal/search"
)

// searchType answers GET /fhir/{type}.
func (h *Handler) searchType(w http.ResponseWriter, r *http.Request) error {
	return h.search(w, r, r.PathValue("type"), nil, r.URL.Query())
}

// searchSystem answers GET /fhir?... across all types.
func (h *Handler) searchSystem(w http.ResponseWriter, r *http.Request) error {
	return h.search(w, r, "", nil, r.URL.Query())
}

// searchPost answers POST /fhir/{type}/_search (and /fhir/_search), whose
// parameters come in a form body as well as the URL.
func (h *Handler) searchPost(w http.ResponseWriter, r *http.Request) error {
	params := r.URL.Query()
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "" && mt != "application/x-www-form-urlencoded" {
		return outcome.Newf(http.StatusUnsupportedMediaType, outcome.CodeNotSupported, "", "_search takes application/x-www-form-urlencoded, not %s", mt)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		return err
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return outcome.Newf(http.StatusBadRequest, outcome.CodeStructure, "", "the form body cannot be parsed: %v", err)
	}
	for k, vs := range form {
		params[k] = append(params[k], vs...)
	}
	return h.search(w, r, r.PathValue("type"), nil, params)
}

// searchCompartment answers GET /fhir/{ctype}/{cid}/{type}: a search of
// type within the compartment of ctype/cid.
func (h *Handler) searchCompartment(w http.ResponseWriter, r *http.Request, ctype, cid, typ string) error {
	if len(fhir.CompartmentTypes(ctype)) == 0 {
		return outcome.Newf(http.StatusNotFound, outcome.CodeNotSupported, "", "%s is not a compartment", ctype)
	}
	if typ != "*" && fhir.CompartmentParams(ctype, typ) == nil {
		return outcome.Newf(http.StatusBadRequest, outcome.CodeNotSupported, "", "%s resources are never in a %s compartment", typ, ctype)
	}
	if typ == "*" {
		typ = ""
	}
	return h.search(w, r, typ, &search.Compartment{Type: ctype, ID: cid}, r.URL.Query())
}

func lenient(r *http.Request) bool {
	for _, p := range strings.Split(r.Header.Get("Prefer"), ",") {
		if strings.TrimSpace(p) == "handling=lenient" {
			return true
		}
	}
	return false
}

func (h *Handler) search(w http.ResponseWriter, r *http.Request, typ string, comp *search.Compartment, params url.Values) error {
	f, err := negotiate(r)
	if err != nil {
		return err
	}
	if typ != "" {
		if err := record.CheckType(typ); err != nil {
			return err
		}
	}
	q, err := search.Parse(typ, params, search.Options{Lenient: lenient(r), Base: h.baseURL(r)})
	if err != nil {
		return err
	}
	if comp != nil {
		q.Compartment = comp
		if typ == "" {
			q.Types = fhir.CompartmentTypes(comp.Type)
		}
	}
	res, err := h.rec.Search(r.Context(), q)
	if err != nil {
		return err
	}
	writeJSON(w, f, http.StatusOK, h.searchBundle(r, q, res))
	return nil
}

// searchBundle renders a searchset Bundle with paging links
// (https://hl7.org/fhir/R4/search.html#return).
func (h *Handler) searchBundle(r *http.Request, q *search.Query, res *record.SearchResult) []byte {
	base := h.baseURL(r)
	self := base + strings.TrimPrefix(r.URL.Path, "/fhir")
	self = strings.TrimSuffix(self, "/_search")
	b := fhir.ObjectValue(
		"resourceType", fhir.StringValue("Bundle"),
		"id", fhir.StringValue(record.NewUUID()),
		"meta", fhir.ObjectValue("lastUpdated", fhir.StringValue(h.now().UTC().Format(record.InstantFormat))),
		"type", fhir.StringValue("searchset"),
	)
	if res.Total >= 0 {
		b.Set("total", fhir.NumberValue(strconv.Itoa(res.Total)))
	}
	links := fhir.Value{Kind: fhir.Array}
	params := url.Values{}
	for k, v := range q.Params {
		if k != "_page" {
			params[k] = v
		}
	}
	links.Items = append(links.Items, link("self", self, withPage(params, "")))
	if res.Next != "" {
		links.Items = append(links.Items, link("next", self, withPage(params, res.Next)))
	}
	if res.Prev != "" {
		links.Items = append(links.Items, link("previous", self, withPage(params, res.Prev)))
	}
	b.Set("link", links)
	entries := fhir.Value{Kind: fhir.Array}
	add := func(v *record.Version, mode string) {
		body := v.Body
		if q.Summary != "" || len(q.Elements) > 0 {
			body = subset(body, q.Summary, q.Elements)
		}
		res, err := fhir.Parse(body)
		if err != nil {
			return
		}
		entries.Items = append(entries.Items, fhir.ObjectValue(
			"fullUrl", fhir.StringValue(base+"/"+v.Type+"/"+v.ID),
			"resource", res,
			"search", fhir.ObjectValue("mode", fhir.StringValue(mode)),
		))
	}
	for _, v := range res.Matches {
		add(v, "match")
	}
	for _, v := range res.Included {
		add(v, "include")
	}
	if len(q.Warnings) > 0 {
		entries.Items = append(entries.Items, fhir.ObjectValue(
			"resource", operationOutcome(q.Warnings),
			"search", fhir.ObjectValue("mode", fhir.StringValue("outcome")),
		))
	}
	if len(entries.Items) > 0 {
		b.Set("entry", entries)
	}
	return fhir.Marshal(b)
}

func withPage(params url.Values, page string) url.Values {
	if page == "" {
		return params
	}
	p := url.Values{}
	for k, v := range params {
		p[k] = v
	}
	p.Set("_page", page)
	return p
}

// subset applies _summary and _elements to a resource
// (https://hl7.org/fhir/R4/search.html#summary), marking it SUBSETTED.
func subset(body []byte, summary string, elements []string) []byte {
	res, err := fhir.Parse(body)
	if err != nil {
		return body
	}
	typ := fhir.LookupType(res.Str("resourceType"))
	if typ == nil {
		return body
	}
	keep := func(name string) bool {
		base := strings.TrimPrefix(name, "_")
		switch base {
		case "resourceType", "id", "meta":
			return true
		}
		el, _, _ := typ.Child(base)
		switch summary {
		case "true":
			return el != nil && (el.Summary || el.Min > 0)
		case "text":
			return base == "text" || (el != nil && el.Min > 0)
		case "data":
			return base != "text"
		case "false":
			return true
		}
		if len(elements) > 0 {
			for _, e := range elements {
				if e == base || (el != nil && el.Choice && e == el.Name) {
					return true
				}
			}
			return el != nil && el.Modifier && el.Min > 0
		}
		return true
	}
	out := fhir.Value{Kind: fhir.Object}
	changed := false
	for i, k := range res.Keys {
		if keep(k) {
			out.Keys = append(out.Keys, k)
			out.Items = append(out.Items, res.Items[i])
		} else {
			changed = true
		}
	}
	if !changed {
		return body
	}
	meta := out.Get("meta")
	if meta == nil {
		out.SetAfter("meta", "id", fhir.Value{Kind: fhir.Object})
		meta = out.Get("meta")
	}
	tags := meta.Get("tag")
	tag := fhir.ObjectValue("system", fhir.StringValue("http://terminology.hl7.org/CodeSystem/v3-ObservationValue"), "code", fhir.StringValue("SUBSETTED"))
	if tags == nil || tags.Kind != fhir.Array {
		meta.Set("tag", fhir.Value{Kind: fhir.Array, Items: []fhir.Value{tag}})
	} else {
		tags.Items = append(tags.Items, tag)
	}
	return fhir.Marshal(out)
}
