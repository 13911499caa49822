package record

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"sharedcare/internal/access"
	"sharedcare/internal/audit"
	"sharedcare/internal/auth"
	"sharedcare/internal/outcome"
	"sharedcare/internal/search"
	"sharedcare/internal/store"
)

// searchAudit answers AuditEvent searches from the audit trail: by
// patient ("who looked at my record"), date and id, newest first. A
// patient sees the events about themselves only.
func (c *call) searchAudit(ctx context.Context, q *search.Query) (*SearchResult, error) {
	patient, where, err := access.Allowed(c.p, "AuditEvent", auth.Search)
	if err != nil {
		return nil, err
	}
	if len(where) > 0 {
		return nil, access.Forbidden("AuditEvent searches under scope constraints are not supported")
	}
	if c.p.Kind == auth.Patient {
		patient = c.p.PatientID
	}
	aq := &store.AuditQuery{Count: q.Count}
	if q.Compartment != nil {
		if q.Compartment.Type != "Patient" {
			return nil, outcome.New(http.StatusBadRequest, outcome.CodeNotSupported, "", "AuditEvents are found by patient only")
		}
		aq.Patient = q.Compartment.ID
	}
	for _, f := range q.Filters {
		switch {
		case f.Code == "patient" && f.Modifier == "" && len(f.Values) == 1 && f.Chain == nil:
			aq.Patient = f.Values[0].RefID
		case f.Code == "_id" && len(f.Values) == 1:
			aq.ID = f.Values[0].Code
		case f.Code == "date" && f.Chain == nil:
			for _, v := range f.Values {
				switch v.Prefix {
				case "ge", "gt", "sa":
					aq.Since = time.UnixMilli(v.DateLow)
				case "le", "lt", "eb":
					aq.Before = time.UnixMilli(v.DateHigh)
				case "eq":
					aq.Since, aq.Before = time.UnixMilli(v.DateLow), time.UnixMilli(v.DateHigh)
				default:
					return nil, outcome.Newf(http.StatusBadRequest, outcome.CodeNotSupported, "date", "AuditEvent date takes eq, ge, gt, le or lt")
				}
			}
		default:
			return nil, outcome.Newf(http.StatusBadRequest, outcome.CodeNotSupported, f.Code,
				"AuditEvents are searched by patient, date and _id (with _count and paging); %s is not supported", f.Code)
		}
	}
	if patient != "" {
		if aq.Patient != "" && aq.Patient != patient {
			return nil, access.Forbidden("you can see only the record of who looked at your own record")
		}
		aq.Patient = patient
	}
	if q.Page != "" {
		n, err := strconv.ParseInt(q.Page, 10, 64)
		if err != nil || n <= 0 {
			return nil, outcome.Newf(http.StatusBadRequest, outcome.CodeValue, "_page", "%q is not a page of this search", q.Page)
		}
		aq.After = n
	}
	want := aq.Count
	if want <= 0 {
		want = search.DefaultCount
	}
	aq.Count = want + 1
	recs, err := c.s.store.SearchAudit(ctx, aq)
	if err != nil {
		return nil, err
	}
	res := &SearchResult{Total: -1}
	if len(recs) > want {
		recs = recs[:want]
		res.Next = strconv.FormatInt(recs[len(recs)-1].Seq, 10)
	}
	for _, r := range recs {
		body, err := audit.Render(r.ID, r.Body)
		if err != nil {
			return nil, err
		}
		v := &store.Version{Type: "AuditEvent", ID: r.ID, VersionID: 1, LastUpdated: r.Recorded, Body: body, Patients: r.Patients}
		if aq.Patient != "" {
			v.Patients = []string{aq.Patient}
		}
		res.Matches = append(res.Matches, v)
	}
	return res, nil
}

// readAudit reads one AuditEvent from the audit trail; they have one
// version each, and are never changed.
func (c *call) readAudit(ctx context.Context, id string, vid int64) (*store.Version, error) {
	recs, err := c.s.store.SearchAudit(ctx, &store.AuditQuery{ID: id, Count: 1})
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		// Not one of ours: an AuditEvent another system sent us is stored
		// like any resource.
		if vid == 0 {
			return c.s.store.Read(ctx, "AuditEvent", id)
		}
		return c.s.store.VRead(ctx, "AuditEvent", id, vid)
	}
	if vid > 1 {
		return nil, notFound("AuditEvent", id)
	}
	r := recs[0]
	e, err := audit.Decode(r.Body)
	if err != nil {
		return nil, err
	}
	return &store.Version{Type: "AuditEvent", ID: r.ID, VersionID: 1, LastUpdated: r.Recorded, Body: audit.Resource(e, r.ID), Patients: e.Patients}, nil
}
