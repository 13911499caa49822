package record

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"sharedcare/internal/access"
	"sharedcare/internal/auth"
	"sharedcare/internal/fhir"
	"sharedcare/internal/outcome"
	"sharedcare/internal/store"
)

// EverythingQuery pages Patient/{id}/$everything
// (https://hl7.org/fhir/R4/patient-operation-everything.html).
type EverythingQuery struct {
	// Types keeps only resources of these types (_type); empty: all.
	Types []string
	// Since keeps resources last updated at or after it (_since).
	Since time.Time
	// Count is the page size (_count); the caller bounds it.
	Count int
	// Cursor is where the page begins: "" for the first, else a previous
	// page's Next.
	Cursor string
}

// EverythingPage is one page of a patient's record.
type EverythingPage struct {
	// Matches are resources of the patient's compartment, the Patient
	// first, then type by type in write order.
	Matches []*Version
	// Included are the resources outside the compartment that Matches
	// refer to (practitioners, organisations, locations, medications),
	// once per page.
	Included []*Version
	// Next is the cursor of the next page; "" on the last.
	Next string
	// Withheld counts resources left out because the patient opted out of
	// sharing (see SearchResult.Withheld).
	Withheld int
}

// everythingTypes are the types of the Patient compartment, the Patient
// itself first.
func everythingTypes() []string {
	types := []string{"Patient"}
	for _, t := range fhir.CompartmentTypes("Patient") {
		if t != "Patient" {
			types = append(types, t)
		}
	}
	slices.Sort(types[1:])
	return types
}

var errPageFull = errors.New("page full")

// Everything returns one page of the patient's whole record: every
// resource of their compartment the caller may see, and what those refer
// to. It reads the compartment through the store's reference index a type
// at a time, so a page costs the same however large the record. Types the
// caller's scopes do not allow searching are left out. It is audited as an
// operation naming the patient.
func (s *Service) Everything(ctx context.Context, patientID string, q *EverythingQuery) (*EverythingPage, error) {
	c, err := s.begin(ctx, "operation")
	if err != nil {
		return nil, err
	}
	c.ev.Query = "Patient/" + patientID + "/$everything"
	page, err := c.everything(ctx, patientID, q)
	return page, c.end(ctx, err)
}

func (c *call) everything(ctx context.Context, id string, q *EverythingQuery) (*EverythingPage, error) {
	if _, err := c.read(ctx, "Patient", id, 0); err != nil {
		return nil, err
	}
	types := everythingTypes()
	if len(q.Types) > 0 {
		for _, t := range q.Types {
			if err := CheckType(t); err != nil {
				return nil, outcome.Newf(http.StatusBadRequest, outcome.CodeValue, "_type", "%q is not a resource type", t)
			}
		}
		types = slices.DeleteFunc(types, func(t string) bool { return !slices.Contains(q.Types, t) })
	}
	start, after, err := parseEverythingCursor(q.Cursor, len(types))
	if err != nil {
		return nil, err
	}
	count := max(q.Count, 1)
	page := &EverythingPage{}
	var last int64
	lastType := -1
	for ti := start; ti < len(types); ti++ {
		typ := types[ti]
		patient, where, err := access.Allowed(c.p, typ, auth.Search)
		if err != nil || len(where) > 0 {
			continue // not the caller's to search, or only in part: left out
		}
		if patient != "" && patient != id {
			return nil, notFound("Patient", id)
		}
		sq := &store.ScanQuery{Type: typ, Patients: []string{id}, Since: q.Since, After: after, Batch: count + 1}
		after = 0
		err = c.s.store.Scan(ctx, sq, func(v *store.Version) error {
			d, err := c.s.policy.CanSee(ctx, c.p, patient, v)
			if err != nil {
				return err
			}
			if d.BreakGlass != "" {
				c.ev.Purpose, c.ev.Reason = "ETREAT", d.BreakGlass
			}
			if !d.Allowed {
				if d.Withheld {
					page.Withheld++
				}
				return nil
			}
			if len(page.Matches) == count {
				return errPageFull
			}
			page.Matches = append(page.Matches, v)
			last, lastType = v.Seq, ti
			return nil
		})
		if errors.Is(err, errPageFull) {
			if lastType != ti {
				last = 0 // the page filled up in an earlier type: this one from its start
			}
			page.Next = strconv.Itoa(ti) + "." + strconv.FormatInt(last, 10)
			break
		}
		if err != nil {
			return nil, err
		}
	}
	for _, v := range page.Matches {
		c.saw(v)
	}
	if err := c.everythingIncludes(ctx, page); err != nil {
		return nil, err
	}
	return page, nil
}

// everythingIncludes adds the resources outside the compartment that the
// page's matches refer to.
func (c *call) everythingIncludes(ctx context.Context, page *EverythingPage) error {
	inCompartment := map[string]bool{"Patient": true}
	for _, t := range fhir.CompartmentTypes("Patient") {
		inCompartment[t] = true
	}
	seen := map[string]bool{}
	for _, v := range page.Matches {
		References(v.Body, func(typ, id string) {
			k := typ + "/" + id
			if inCompartment[typ] || seen[k] || len(seen) >= maxIncluded {
				return
			}
			seen[k] = true
		})
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		typ, id, _ := strings.Cut(k, "/")
		if _, _, err := access.Allowed(c.p, typ, auth.Read); err != nil {
			continue
		}
		v, err := c.s.store.Read(ctx, typ, id)
		if e, ok := outcome.As(err); ok && e.Status < 500 {
			continue // a dangling reference, or a deleted resource
		}
		if err != nil {
			return err
		}
		if d, err := c.s.policy.CanSee(ctx, c.p, "", v); err != nil {
			return err
		} else if !d.Allowed {
			continue
		}
		c.saw(v)
		page.Included = append(page.Included, v)
	}
	return nil
}

// maxIncluded bounds the resources one page of $everything includes.
const maxIncluded = 1000

func parseEverythingCursor(s string, ntypes int) (int, int64, error) {
	if s == "" {
		return 0, 0, nil
	}
	a, b, ok := strings.Cut(s, ".")
	ti, err1 := strconv.Atoi(a)
	seq, err2 := strconv.ParseInt(b, 10, 64)
	if !ok || err1 != nil || err2 != nil || ti < 0 || ti >= ntypes || seq < 0 {
		return 0, 0, outcome.Newf(http.StatusBadRequest, outcome.CodeValue, "_cursor", "_cursor %q is not a page cursor from a link this server gave", s)
	}
	return ti, seq, nil
}

var referenceKey = []byte(`"reference":"`)

// References calls fn with the type and id of each relative reference
// ("Practitioner/123", or ".../_history/2") in a resource's stored JSON.
// It scans the bytes rather than parsing them: a body is compact JSON as
// the store wrote it, where a "reference" member's value is a string.
func References(body []byte, fn func(typ, id string)) {
	for {
		i := bytes.Index(body, referenceKey)
		if i < 0 {
			return
		}
		body = body[i+len(referenceKey):]
		j := bytes.IndexByte(body, '"')
		if j < 0 {
			return
		}
		ref := string(body[:j])
		body = body[j:]
		typ, rest, ok := strings.Cut(ref, "/")
		if !ok || !fhir.IsResourceType(typ) {
			continue
		}
		id, _, _ := strings.Cut(rest, "/")
		if validID(id) {
			fn(typ, id)
		}
	}
}
