package record

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"sharedcare/internal/access"
	"sharedcare/internal/auth"
	"sharedcare/internal/fhir"
	"sharedcare/internal/outcome"
	"sharedcare/internal/search"
	"sharedcare/internal/store"
	"sharedcare/internal/validate"
)

// Entry is one write of a transaction: a Bundle entry's request, or a
// single conditional interaction.
type Entry struct {
	Method   string      // DELETE, POST, PUT (PATCH entries arrive as PUT of the patched resource)
	URL      string      // request.url: "Patient", "Patient/123", "Patient?identifier=..."
	FullURL  string      // the entry's fullUrl, which other entries may reference
	Resource *fhir.Value // POST and PUT
	IfMatch  int64       // the version the target must be at, 0 for any
	// IfNoneExist is a conditional create's search, as a query string.
	IfNoneExist string
	// Patch is a PATCH entry's patch, applied to the current version.
	Patch Patcher
	// Location is how the entry is named in errors: "Bundle.entry[3]";
	// "" for a single conditional interaction, which is not in a Bundle.
	Location string
}

// at names a part of the entry for an error's location, or "" when the
// entry is not in a Bundle.
func (e *Entry) at(part string) string {
	if e.Location == "" {
		return ""
	}
	return e.Location + part
}

// EntryResult is what a transaction did with one entry.
type EntryResult struct {
	Status   int      // 200, 201, 204
	Version  *Version // the version written or found; nil for a delete of nothing
	Warnings []outcome.Issue
}

// maxTxAttempts bounds re-running a transaction whose conditional searches
// found something else inside the transaction than just before it.
const maxTxAttempts = 3

// errStale means a conditional search gave another answer inside the
// transaction than in its plan: someone wrote meanwhile; plan again.
var errStale = errors.New("conditional match changed during the transaction")

// Transact applies entries atomically (https://hl7.org/fhir/R4/http.html#trules):
// deletes, then creates, then updates. Conditional creates, updates and
// deletes are resolved by search; fullUrls (urn:uuid:... or absolute) and
// conditional references ("Patient?identifier=...") in the resources are
// rewritten to the ids they resolve to. Everything is validated and
// indexed before the store's transaction begins, which then re-checks the
// conditional searches so that the plan still holds. Results come back in
// the entries' order. On any failure nothing is written.
func (s *Service) Transact(ctx context.Context, entries []Entry) ([]EntryResult, error) {
	c, err := s.begin(ctx, "transaction")
	if err != nil {
		return nil, err
	}
	res, err := c.transact(ctx, entries)
	return res, c.end(ctx, err)
}

// transact applies entries as the caller, re-planning when a conditional
// search changed under it.
func (c *call) transact(ctx context.Context, entries []Entry) ([]EntryResult, error) {
	for attempt := 1; ; attempt++ {
		res, err := c.transactOnce(ctx, entries)
		if errors.Is(err, errStale) && attempt < maxTxAttempts {
			continue
		}
		if errors.Is(err, errStale) {
			return nil, outcome.Conflict(http.StatusConflict, "other writes kept changing what this transaction's conditions match; try again")
		}
		return res, err
	}
}

// planned is an entry with its target decided.
type planned struct {
	e        *Entry
	typ, id  string
	query    url.Values // conditional criteria
	cond     string     // "create", "update", "delete" when conditional
	matchIDs []string   // what the conditional search found when planning
	skip     bool       // conditional create that matched: nothing to write
	del      bool
	created  bool // POST: a new id
	res      *fhir.Value
	index    *search.Entries
	template *store.Template
	ifMatch  int64 // the version a PATCH was applied to
	patients []string
	source   string
	warnings []outcome.Issue
}

func (c *call) transactOnce(ctx context.Context, entries []Entry) ([]EntryResult, error) {
	s := c.s
	plans := make([]*planned, len(entries))
	ids := map[string]string{} // fullUrl → Type/id
	var errs outcome.List
	for i := range entries {
		e := &entries[i]
		p, err := c.plan(ctx, e)
		if err != nil {
			return nil, err
		}
		plans[i] = p
		if e.FullURL != "" && (p.typ != "" && p.id != "") {
			if _, dup := ids[e.FullURL]; dup {
				errs.Add(outcome.CodeDuplicate, e.at(".fullUrl"), "fullUrl %s appears twice in the transaction", e.FullURL)
			}
			ids[e.FullURL] = p.typ + "/" + p.id
		}
	}
	if err := errs.Err(http.StatusBadRequest); err != nil {
		return nil, err
	}
	// Two entries may not write the same resource.
	seen := map[string]string{}
	for _, p := range plans {
		if p.skip || p.id == "" {
			continue
		}
		k := p.typ + "/" + p.id
		if other, dup := seen[k]; dup {
			errs.Add(outcome.CodeDuplicate, p.e.Location, "%s is also written by %s", k, other)
		}
		seen[k] = p.e.Location
	}
	if err := errs.Err(http.StatusBadRequest); err != nil {
		return nil, err
	}
	// Rewrite references, then validate and index each resource.
	condRefs := map[string]string{}
	for _, p := range plans {
		if p.res == nil || p.skip {
			continue
		}
		if err := c.rewriteReferences(ctx, p, ids, condRefs); err != nil {
			return nil, err
		}
		p.source = stampSource(c.p, p.res)
		w, err := s.validate.Resource(ctx, p.res, validate.Write{Interaction: validate.Update, Type: p.typ, ID: p.id})
		if err != nil {
			return nil, locate(err, p.e.at(".resource"))
		}
		p.warnings = w
		if p.index, err = s.indexer.Extract(ctx, p.res); err != nil {
			return nil, fmt.Errorf("transaction %s: %w", p.e.Location, err)
		}
		p.patients = patientsOf(p.typ, p.id, p.index)
		op := auth.Update
		if p.created {
			op = auth.Create
		}
		if err := s.policy.CanWrite(c.p, p.typ, op, p.patients, nil); err != nil {
			return nil, locate(err, p.e.Location)
		}
		p.template = store.NewTemplate(p.res, p.id)
	}
	results := make([]EntryResult, len(entries))
	// Deletes, then creates, then updates (https://hl7.org/fhir/R4/http.html#trules).
	order := make([]int, len(plans))
	for i := range order {
		order[i] = i
	}
	rank := func(p *planned) int {
		switch {
		case p.del:
			return 0
		case p.e.Method == http.MethodPost:
			return 1
		}
		return 2 // PUT and PATCH
	}
	sort.SliceStable(order, func(a, b int) bool { return rank(plans[order[a]]) < rank(plans[order[b]]) })
	first := c.createsFirst(plans)
	err := s.store.Tx(ctx, func(tx store.Tx) error {
		created, err := createFirst(ctx, tx, first)
		if err != nil {
			return err
		}
		for _, i := range order {
			p := plans[i]
			if r := created[i]; r != nil {
				results[i] = EntryResult{Status: http.StatusCreated, Version: r.Version, Warnings: p.warnings}
				continue
			}
			if p.cond != "" {
				if err := c.recheck(ctx, tx, p); err != nil {
					return err
				}
			}
			r, err := c.apply(ctx, tx, p)
			if err != nil {
				return locate(err, p.e.Location)
			}
			results[i] = r
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, r := range results {
		c.saw(r.Version)
		if plans[i].typ == "Consent" {
			// A changed sharing choice holds at once on this node (others
			// see it within the policy's cache time).
			for _, pt := range plans[i].patients {
				s.policy.Forget(pt)
			}
		}
	}
	return results, nil
}

// createsFirst returns, by entry, the writes that may be created before
// the rest (createFirst), where the backend can do it in one statement:
// every POST and plain PUT. The rest (resources that exist, PATCHes,
// deletes, entries with If-Match) go one by one in the spec's order;
// creating first cannot change their outcome, since no two entries write
// the same resource. A bundle with conditional entries goes wholly one by
// one: a conditional delete or update must search before the creates.
func (c *call) createsFirst(plans []*planned) []*store.Write {
	ws := make([]*store.Write, len(plans))
	for i, p := range plans {
		if p.cond != "" {
			return make([]*store.Write, len(plans))
		}
		if p.skip || p.del || p.res == nil || p.e.IfMatch != 0 || p.ifMatch != 0 {
			continue
		}
		if !p.created {
			// A PUT was allowed as an update; creating needs leave too.
			if err := c.s.policy.CanWrite(c.p, p.typ, auth.Create, p.patients, nil); err != nil {
				continue // one by one, where it fails if the resource is new
			}
		}
		ws[i] = &store.Write{Type: p.typ, ID: p.id, Resource: p.res, Template: p.template, Index: p.index,
			Patients: p.patients, Source: p.source}
	}
	return ws
}

// plan decides an entry's target type and id, resolving conditional
// interactions by search.
func (c *call) plan(ctx context.Context, e *Entry) (*planned, error) {
	s := c.s
	p := &planned{e: e, res: e.Resource}
	path, rawQuery, hasQuery := strings.Cut(e.URL, "?")
	path = strings.Trim(path, "/")
	parts := strings.Split(path, "/")
	bad := func(format string, args ...any) error {
		return outcome.Newf(http.StatusBadRequest, outcome.CodeInvalid, e.at(".request.url"), format, args...)
	}
	p.typ = parts[0]
	if err := CheckType(p.typ); err != nil {
		return nil, bad("%q does not name a resource type", e.URL)
	}
	if len(parts) > 2 {
		return nil, bad("%s %q: expected Type, Type/id or Type?criteria", e.Method, e.URL)
	}
	if len(parts) == 2 {
		if hasQuery {
			return nil, bad("%q has both an id and search criteria", e.URL)
		}
		if err := CheckID(parts[1]); err != nil {
			return nil, bad("%q: the id is not valid", e.URL)
		}
		p.id = parts[1]
	}
	if hasQuery {
		q, err := url.ParseQuery(rawQuery)
		if err != nil || len(q) == 0 {
			return nil, bad("%q: the search criteria cannot be read", e.URL)
		}
		p.query = q
	}
	if p.res != nil {
		if err := checkBody(p.res, p.typ); err != nil {
			return nil, locate(err, e.at(".resource"))
		}
	}
	if e.Method == "PATCH" {
		if p.id == "" || p.query != nil || e.Patch == nil {
			return nil, bad("PATCH needs Type/id and a patch")
		}
		cur, err := c.read(ctx, p.typ, p.id, 0)
		if err != nil {
			return nil, locate(err, e.Location)
		}
		if e.IfMatch != 0 && e.IfMatch != cur.VersionID {
			return nil, outcome.Conflict(http.StatusPreconditionFailed, "%s: If-Match: %s/%s is at version %d, not %d", e.Location, p.typ, p.id, cur.VersionID, e.IfMatch)
		}
		res, err := fhir.Parse(cur.Body)
		if err != nil {
			return nil, err
		}
		patched, err := e.Patch.Apply(ctx, &res)
		if err != nil {
			return nil, locate(err, e.Location)
		}
		p.res = &patched
		p.ifMatch = cur.VersionID
		return p, nil
	}
	switch e.Method {
	case http.MethodDelete:
		p.del = true
		if p.query != nil {
			p.cond = "delete"
		} else if p.id == "" {
			return nil, bad("DELETE needs Type/id or Type?criteria, not %q", e.URL)
		}
	case http.MethodPost:
		if p.id != "" || p.query != nil {
			return nil, bad("POST takes a type alone (%q); use ifNoneExist for a conditional create", e.URL)
		}
		if p.res == nil {
			return nil, outcome.New(http.StatusBadRequest, outcome.CodeRequired, e.at(".resource"), "POST needs a resource")
		}
		p.res.Delete("id") // the server assigns it (https://hl7.org/fhir/R4/http.html#create)
		if e.IfNoneExist != "" {
			q, err := url.ParseQuery(strings.TrimPrefix(e.IfNoneExist, p.typ+"?"))
			if err != nil || len(q) == 0 {
				return nil, outcome.Newf(http.StatusBadRequest, outcome.CodeInvalid, e.at(".request.ifNoneExist"), "If-None-Exist %q cannot be read", e.IfNoneExist)
			}
			p.query, p.cond = q, "create"
		}
		p.id, p.created = s.newID(), true
	case http.MethodPut:
		if p.res == nil {
			return nil, outcome.New(http.StatusBadRequest, outcome.CodeRequired, e.at(".resource"), "PUT needs a resource")
		}
		if p.query != nil {
			p.cond = "update"
		} else if p.id == "" {
			return nil, bad("PUT needs Type/id or Type?criteria, not %q", e.URL)
		} else if bodyID := p.res.Str("id"); bodyID != p.id {
			return nil, outcome.Newf(http.StatusBadRequest, outcome.CodeInvalid, e.at(".resource.id"), "the resource's id (%q) is not the id in request.url (%s)", bodyID, p.id)
		}
	default:
		return nil, outcome.Newf(http.StatusBadRequest, outcome.CodeNotSupported, e.at(".request.method"), "method %s cannot be part of this transaction", e.Method)
	}
	if p.cond != "" {
		ids, err := c.conditionalMatches(ctx, s.store.Search, p)
		if err != nil {
			return nil, err
		}
		if err := p.decide(ids, s.newID); err != nil {
			return nil, err
		}
	}
	if p.res != nil && p.id != "" {
		p.res.SetAfter("id", "resourceType", fhir.StringValue(p.id))
	}
	return p, nil
}

// decide applies a conditional search's matches to the plan
// (https://hl7.org/fhir/R4/http.html#cond-update and friends).
func (p *planned) decide(ids []string, newID func() string) error {
	p.matchIDs = ids
	if len(ids) > 1 {
		return outcome.Newf(http.StatusPreconditionFailed, outcome.CodeMultiple, p.e.at(".request.url"),
			"the criteria %q match %d resources; a conditional %s needs at most one", p.query.Encode(), len(ids), p.cond)
	}
	switch p.cond {
	case "create":
		if len(ids) == 1 {
			p.skip, p.created = true, false
			p.id = ids[0]
		}
	case "update":
		bodyID := p.res.Str("id")
		switch {
		case len(ids) == 1:
			if bodyID != "" && bodyID != ids[0] {
				return outcome.Newf(http.StatusBadRequest, outcome.CodeInvalid, p.e.at(".resource.id"), "the resource's id (%q) is not that of the resource the criteria match (%s)", bodyID, ids[0])
			}
			p.id, p.created = ids[0], false
		case bodyID != "":
			p.id = bodyID
		default:
			p.id, p.created = newID(), true
		}
	case "delete":
		if len(ids) == 1 {
			p.id = ids[0]
		} else {
			p.id, p.skip = "", true
		}
	}
	return nil
}

type searchFunc func(ctx context.Context, q *search.Query) (*store.SearchResult, error)

// conditionalMatches returns the ids the entry's criteria match, at most 2.
func (c *call) conditionalMatches(ctx context.Context, find searchFunc, p *planned) ([]string, error) {
	q, err := search.Parse(p.typ, p.query, search.Options{})
	if err != nil {
		return nil, locate(err, p.e.at(".request"))
	}
	// The criteria search only what the caller may search.
	patient, err := access.SearchScope(c.p, q, p.typ)
	if err != nil {
		return nil, err
	}
	if patient != "" && !access.IsDirectory(p.typ) {
		q.Compartment = &search.Compartment{Type: "Patient", ID: patient}
	}
	q.Count, q.Total = 2, "none"
	res, err := find(ctx, q)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, v := range res.Matches {
		ids = append(ids, v.ID)
	}
	return ids, nil
}

// recheck runs the conditional search again inside the transaction, under
// a lock on the criteria, and fails with errStale if it finds otherwise.
func (c *call) recheck(ctx context.Context, tx store.Tx, p *planned) error {
	if err := tx.Lock(ctx, p.typ+"?"+p.query.Encode()); err != nil {
		return err
	}
	ids, err := c.conditionalMatches(ctx, tx.Search, p)
	if err != nil {
		return err
	}
	if strings.Join(ids, ",") != strings.Join(p.matchIDs, ",") {
		return errStale
	}
	return nil
}

func (c *call) apply(ctx context.Context, tx store.Tx, p *planned) (EntryResult, error) {
	if !p.skip && !(p.created && p.e.Method == http.MethodPost) {
		// What is replaced or deleted must be the caller's to change.
		cur, err := tx.Read(ctx, p.typ, p.id)
		switch {
		case err == nil:
			op := auth.Update
			if p.del {
				op = auth.Delete
			}
			if err := c.s.policy.CanWrite(c.p, p.typ, op, p.patients, cur); err != nil {
				return EntryResult{}, err
			}
		case !errors.Is(err, store.ErrNotFound):
			return EntryResult{}, err
		}
	}
	switch {
	case p.skip && p.cond == "delete":
		return EntryResult{Status: http.StatusNoContent}, nil
	case p.skip:
		v, err := tx.Read(ctx, p.typ, p.id)
		if err != nil {
			return EntryResult{}, err
		}
		d, err := c.s.policy.CanSee(ctx, c.p, "", v)
		if err != nil {
			return EntryResult{}, err
		}
		if !d.Allowed {
			v = nil // it exists, but the caller may not see it
		}
		return EntryResult{Status: http.StatusOK, Version: v}, nil
	case p.del:
		r, err := tx.Put(ctx, &store.Write{Type: p.typ, ID: p.id, Delete: true, IfMatch: p.e.IfMatch})
		if err != nil {
			return EntryResult{}, err
		}
		return EntryResult{Status: http.StatusNoContent, Version: r.Version}, nil
	}
	im := p.e.IfMatch
	if p.ifMatch != 0 {
		im = p.ifMatch
	}
	r, err := tx.Put(ctx, &store.Write{Type: p.typ, ID: p.id, Resource: p.res, Template: p.template, IfMatch: im,
		CreateOnly: p.created && p.e.Method == http.MethodPost, Index: p.index, Patients: p.patients, Source: p.source})
	if err != nil {
		return EntryResult{}, err
	}
	status := http.StatusOK
	if r.Created {
		status = http.StatusCreated
	}
	return EntryResult{Status: status, Version: r.Version, Warnings: p.warnings}, nil
}

// rewriteReferences replaces, anywhere in the resource, strings equal to
// another entry's fullUrl with that entry's Type/id, and resolves
// conditional references (Type?criteria) by search.
func (c *call) rewriteReferences(ctx context.Context, p *planned, ids map[string]string, condRefs map[string]string) error {
	var firstErr error
	// path holds the steps to the element being walked; it becomes a
	// string only for an error, as building one per element cost more
	// than the walk.
	var path []string
	var walk func(v *fhir.Value)
	walk = func(v *fhir.Value) {
		switch v.Kind {
		case fhir.Object:
			for i, k := range v.Keys {
				item := &v.Items[i]
				path = append(path, "."+k)
				if k == "reference" && item.Kind == fhir.String && firstErr == nil {
					if err := c.resolveReference(ctx, item, ids, condRefs, func() string { return strings.Join(path, "") }); err != nil {
						firstErr = err
					}
				} else {
					walk(item)
				}
				path = path[:len(path)-1]
			}
		case fhir.Array:
			for i := range v.Items {
				path = append(path, "["+strconv.Itoa(i)+"]")
				walk(&v.Items[i])
				path = path[:len(path)-1]
			}
		case fhir.String:
			if target, ok := ids[v.Text]; ok {
				v.Text = target
			}
		}
	}
	root := p.e.at(".resource")
	if root == "" {
		root = p.typ
	}
	path = append(path, root)
	walk(p.res)
	return firstErr
}

func (c *call) resolveReference(ctx context.Context, ref *fhir.Value, ids, condRefs map[string]string, where func() string) error {
	if target, ok := ids[ref.Text]; ok {
		ref.Text = target
		return nil
	}
	if strings.HasPrefix(ref.Text, "urn:uuid:") || strings.HasPrefix(ref.Text, "urn:oid:") {
		return outcome.Newf(http.StatusBadRequest, outcome.CodeNotFound, where(), "%s is no entry's fullUrl in this transaction", ref.Text)
	}
	typ, rawQuery, ok := strings.Cut(ref.Text, "?")
	if !ok || !fhir.IsResourceType(typ) {
		return nil
	}
	if target, ok := condRefs[ref.Text]; ok {
		ref.Text = target
		return nil
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return outcome.Newf(http.StatusBadRequest, outcome.CodeInvalid, where(), "the conditional reference %q cannot be read", ref.Text)
	}
	sq, err := search.Parse(typ, q, search.Options{})
	if err != nil {
		return locate(err, where())
	}
	sq.Count, sq.Total = 2, "none"
	if patient, err := access.SearchScope(c.p, sq, typ); err != nil {
		return locate(err, where())
	} else if patient != "" && !access.IsDirectory(typ) {
		sq.Compartment = &search.Compartment{Type: "Patient", ID: patient}
	}
	res, err := c.s.store.Search(ctx, sq)
	if err != nil {
		return err
	}
	switch len(res.Matches) {
	case 0:
		return outcome.Newf(http.StatusBadRequest, outcome.CodeNotFound, where(), "the conditional reference %q matches no resource", ref.Text)
	case 1:
		target := typ + "/" + res.Matches[0].ID
		condRefs[ref.Text] = target
		ref.Text = target
		return nil
	}
	return outcome.Newf(http.StatusPreconditionFailed, outcome.CodeMultiple, where(), "the conditional reference %q matches more than one resource", ref.Text)
}

// locate prefixes the locations of an *outcome.Error's issues with where
// (a Bundle entry), so that the client can find the fault:
// "Patient.name[0]" in entry 3 becomes "Bundle.entry[3].resource.name[0]".
func locate(err error, where string) error {
	e, ok := outcome.As(err)
	if !ok || where == "" {
		return err
	}
	out := *e
	out.Issues = make([]outcome.Issue, len(e.Issues))
	for i, is := range e.Issues {
		switch {
		case is.Expression == "":
			is.Expression = where
		case strings.HasSuffix(where, ".resource"):
			if _, rest, ok := strings.Cut(is.Expression, "."); ok && fhir.IsResourceType(strings.SplitN(is.Expression, ".", 2)[0]) {
				is.Expression = where + "." + rest
			} else if fhir.IsResourceType(is.Expression) {
				is.Expression = where
			} else {
				is.Expression = where + "." + is.Expression
			}
		default:
			is.Expression = where + "." + is.Expression
		}
		out.Issues[i] = is
	}
	return &out
}

// Conditional runs one conditional create, update or delete as a
// transaction of one entry: e.IfNoneExist for a create, e.URL with
// criteria for an update or delete.
func (s *Service) Conditional(ctx context.Context, e Entry) (EntryResult, error) {
	interaction := map[string]string{http.MethodPost: "create", http.MethodPut: "update", http.MethodDelete: "delete"}[e.Method]
	c, err := s.begin(ctx, interaction)
	if err != nil {
		return EntryResult{}, err
	}
	res, err := c.transact(ctx, []Entry{e})
	if err != nil {
		return EntryResult{}, c.end(ctx, err)
	}
	return res[0], c.end(ctx, nil)
}
