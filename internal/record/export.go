package record

import (
	"context"
	"net/url"
	"strings"
	"time"

	"sharedcare/internal/access"
	"sharedcare/internal/audit"
	"sharedcare/internal/auth"
	"sharedcare/internal/store"
)

// ScanQuery selects one type's current versions for Export: since a
// time, within some patients' compartments, matching _typeFilter
// searches, resuming after a position.
type ScanQuery = store.ScanQuery

// exportAuditBatch is how many exported resources one AuditEvent covers:
// each event names the patients whose records its batch read, so that
// "who looked at my record" finds the export, without an event per
// resource.
const exportAuditBatch = 1000

// Export calls fn with each current version of q.Type that q selects and
// the caller may see, in write order, a batch at a time (memory stays
// flat). It needs a system principal whose scopes read q.Type without
// constraints (system/Type.r or system/*.rs): a bulk export reads whole
// populations. Every batch is audited as an "export" naming the patients
// it read.
func (s *Service) Export(ctx context.Context, q *ScanQuery, fn func(*Version) error) error {
	c, err := s.begin(ctx, "export")
	if err != nil {
		return err
	}
	c.ev.Query = exportQuery(q)
	if err := CheckType(q.Type); err != nil {
		return c.end(ctx, err)
	}
	if err := SystemAllows(c.p, q.Type, auth.Read); err != nil {
		return c.end(ctx, err)
	}
	n := 0
	err = s.store.Scan(ctx, q, func(v *store.Version) error {
		if !v.Deleted {
			d, err := s.policy.CanSee(ctx, c.p, "", v)
			if err != nil {
				return err
			}
			if !d.Allowed {
				return nil
			}
		}
		c.saw(v)
		if err := fn(v); err != nil {
			return err
		}
		if n++; n%exportAuditBatch == 0 {
			if err := c.end(ctx, nil); err != nil {
				return err
			}
			c = &call{s: s, p: c.p, ev: c.next()}
		}
		return nil
	})
	return c.end(ctx, err)
}

// SystemAllows returns a 403 *outcome.Error unless p is a system (or,
// with authentication off, the development principal) whose scopes allow
// op on every resource of typ: bulk operations work on whole populations,
// which only system scopes grant (https://hl7.org/fhir/uv/bulkdata/authorization/).
func SystemAllows(p *auth.Principal, typ string, op auth.Op) error {
	if p.Kind != auth.System && p.Kind != auth.Dev {
		return access.Forbidden("bulk data operations are for backend services with system scopes, not %s users", p.Kind)
	}
	if !p.Scopes.Allows(auth.SystemContext, typ, op) {
		return access.Forbidden("the token's scopes do not allow %s of every %s (system/%s.%s)", opName(op), typ, typ, op)
	}
	return nil
}

func opName(op auth.Op) string {
	switch op {
	case auth.Create:
		return "creating"
	case auth.Update:
		return "changing"
	case auth.Delete:
		return "deleting"
	case auth.Search:
		return "searching"
	}
	return "reading"
}

// next is a fresh AuditEvent for the same interaction, actor and query.
func (c *call) next() *audit.Event {
	ev := *c.ev
	ev.Resources, ev.Patients, ev.Outcome, ev.Detail, ev.When = nil, nil, "", "", time.Time{}
	return &ev
}

// exportQuery describes an export for its AuditEvent.
func exportQuery(q *ScanQuery) string {
	v := url.Values{"_type": {q.Type}}
	if !q.Since.IsZero() {
		v.Set("_since", q.Since.UTC().Format(InstantFormat))
	}
	if len(q.Patients) > 0 {
		v.Set("patient", strings.Join(q.Patients, ","))
	}
	for _, m := range q.Match {
		v.Add("_typeFilter", q.Type+"?"+m.Params.Encode())
	}
	if q.Deleted {
		v.Set("deleted", "true")
	}
	return "$export?" + v.Encode()
}

// BulkKickoff checks and audits the start of a bulk operation
// (interaction "export" or "import") over types: the caller's system
// scopes must allow every op on each, and there must be at least one.
// query describes the request for the AuditEvent. A refusal is audited
// too, and returned.
func (s *Service) BulkKickoff(ctx context.Context, interaction string, types []string, query string, ops ...auth.Op) error {
	c, err := s.begin(ctx, interaction)
	if err != nil {
		return err
	}
	c.ev.Query = "$" + interaction + "?" + query
	if len(types) == 0 {
		return c.end(ctx, access.Forbidden("the token's scopes allow this %s no resource type (it needs system scopes, such as system/*.rs)", interaction))
	}
	for _, t := range types {
		if err := CheckType(t); err != nil {
			return c.end(ctx, err)
		}
		for _, op := range ops {
			if err := SystemAllows(c.p, t, op); err != nil {
				return c.end(ctx, err)
			}
		}
	}
	return c.end(ctx, nil)
}
