package record

import (
	"context"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"time"

	"sharedcare/internal/auth"
	"sharedcare/internal/fhir"
	"sharedcare/internal/outcome"
	"sharedcare/internal/search"
	"sharedcare/internal/store"
	"sharedcare/internal/validate"
)

// Imported is what Import did with one resource.
type Imported struct {
	Type, ID string // as the resource gave them ("" when it could not say)
	// Version is the version written, or the current one when the
	// resource was already there (Unchanged).
	Version   *Version
	Unchanged bool
	// Err, when not nil, is why the resource was rejected: an
	// *outcome.Error (not valid, not allowed, another version of it is
	// here). Nothing was written for it; the others are not affected.
	Err error
}

// Import stores resources as a bulk import does
// (https://github.com/smart-on-fhir/bulk-import/blob/master/import.md):
// each keeps the id, meta.versionId and meta.lastUpdated the source gave
// (a resource without an id gets a new one), and importing the same
// resource again writes nothing, so that an interrupted import can simply
// be run again. Every resource is validated and its writing access-checked
// as an update would be; a rejected one is reported in its Imported.Err
// and the rest are written, in one transaction. The error is for a failure
// of the whole call (no principal, the database). The caller needs system
// scopes that create and update each type; the batch is audited as one
// "import" naming the patients it wrote to.
//
// meta.source is kept as given; it names the organisation that recorded
// the resource, which the access rules read, so the import's own source is
// not stamped there.
func (s *Service) Import(ctx context.Context, resources []*fhir.Value) ([]Imported, error) {
	c, err := s.begin(ctx, "import")
	if err != nil {
		return nil, err
	}
	out := make([]Imported, len(resources))
	plans := make([]*importPlan, len(resources))
	// Validation and indexing dominate an import; they share nothing, so
	// they run on every core.
	var wg sync.WaitGroup
	var next sync.Mutex // guards i
	i := 0
	for range min(runtime.GOMAXPROCS(0), len(resources)) {
		wg.Go(func() {
			for {
				next.Lock()
				k := i
				i++
				next.Unlock()
				if k >= len(resources) {
					return
				}
				plans[k], out[k].Err = c.planImport(ctx, resources[k])
				if plans[k] != nil {
					out[k].Type, out[k].ID = plans[k].typ, plans[k].id
				} else {
					out[k].Type = resources[k].Str("resourceType")
					out[k].ID = resources[k].Str("id")
				}
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, c.end(ctx, err)
	}
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		writes := make([]*store.Write, len(plans))
		for k, p := range plans {
			if p != nil {
				writes[k] = &store.Write{Type: p.typ, ID: p.id, Resource: p.res, Template: p.template, Index: p.index,
					Patients: p.patients, Source: p.source, VersionID: p.version, LastUpdated: p.updated, IfChanged: true}
			}
		}
		created, err := createFirst(ctx, tx, writes)
		if err != nil {
			return err
		}
		for k, p := range plans {
			if p == nil {
				continue
			}
			if r := created[k]; r != nil {
				out[k].Version, out[k].Unchanged = r.Version, false
				continue
			}
			r, err := tx.Put(ctx, writes[k])
			if e, ok := outcome.As(err); ok && e.Status < 500 {
				// This resource's version conflicts with what is here; the
				// backend wrote nothing for it, and the others go on.
				out[k].Err = err
				continue
			}
			if err != nil {
				return err
			}
			out[k].Version, out[k].Unchanged = r.Version, r.Unchanged
		}
		return nil
	})
	if err != nil {
		for k := range out {
			out[k].Version, out[k].Unchanged = nil, false
		}
		return nil, c.end(ctx, err)
	}
	for k, r := range out {
		if r.Err != nil || r.Version == nil {
			continue
		}
		c.saw(r.Version)
		c.ev.Patients = append(c.ev.Patients, plans[k].patients...)
		if r.Type == "Consent" {
			for _, pt := range plans[k].patients {
				s.policy.Forget(pt)
			}
		}
	}
	return out, c.end(ctx, nil)
}

// createFirst hands the writes of ws that are not nil to the backend's
// store.Creator in one go, where it has one and there are several, and
// returns by position the Result of each it created. The others (nil
// Results: there already, written twice, or no Creator) are to be Put.
func createFirst(ctx context.Context, tx store.Tx, ws []*store.Write) ([]*store.Result, error) {
	out := make([]*store.Result, len(ws))
	creator, ok := tx.(store.Creator)
	if !ok {
		return out, nil
	}
	var at []int
	var batch []*store.Write
	for i, w := range ws {
		if w != nil {
			at, batch = append(at, i), append(batch, w)
		}
	}
	if len(batch) < 2 {
		return out, nil
	}
	rs, err := creator.CreateMany(ctx, batch)
	if err != nil {
		return nil, err
	}
	for k, r := range rs {
		out[at[k]] = r
	}
	return out, nil
}

// importPlan is one resource ready to write.
type importPlan struct {
	typ, id  string
	res      *fhir.Value
	version  int64
	updated  time.Time
	index    *search.Entries
	template *store.Template
	patients []string
	source   string
}

// planImport checks one resource and prepares its write; the error
// rejects it.
func (c *call) planImport(ctx context.Context, res *fhir.Value) (*importPlan, error) {
	if res == nil || res.Kind != fhir.Object {
		return nil, outcome.Invalid("", "each line must be a JSON object holding a resource")
	}
	typ := res.Str("resourceType")
	if typ == "" {
		return nil, outcome.New(http.StatusBadRequest, outcome.CodeRequired, "resourceType", "the resource has no resourceType")
	}
	if err := CheckType(typ); err != nil {
		return nil, outcome.Newf(http.StatusBadRequest, outcome.CodeNotSupported, "resourceType", "%q is not a FHIR R4 resource type", typ)
	}
	if err := SystemAllows(c.p, typ, auth.Create); err != nil {
		return nil, err
	}
	if err := SystemAllows(c.p, typ, auth.Update); err != nil {
		return nil, err
	}
	p := &importPlan{typ: typ, res: res}
	switch idv := res.Get("id"); {
	case idv == nil:
		p.id = c.s.newID() // the source gave none: there is none to keep
		res.SetAfter("id", "resourceType", fhir.StringValue(p.id))
	case idv.Kind != fhir.String || !validID(idv.Text):
		return nil, outcome.New(http.StatusBadRequest, outcome.CodeValue, typ+".id", "the id is not a valid FHIR id (1 to 64 of A-Z a-z 0-9 - .)")
	default:
		p.id = idv.Text
	}
	meta := res.Get("meta")
	if vid := meta.Str("versionId"); vid != "" {
		// A versionId that is not a positive number (some servers use
		// other forms) cannot be kept as ours; the content is then what
		// makes a repeat a no-op.
		if n, err := strconv.ParseInt(vid, 10, 64); err == nil && n > 0 && n < 1<<31 {
			p.version = n
		}
	}
	if lu := meta.Str("lastUpdated"); lu != "" {
		d, err := fhir.ParseDateRange(lu)
		if err != nil || d.Precision < fhir.Second || !d.HasZone {
			return nil, outcome.Newf(http.StatusBadRequest, outcome.CodeValue, typ+".meta.lastUpdated", "meta.lastUpdated %q is not an instant", lu)
		}
		p.updated = d.Low
	}
	if _, err := c.s.validate.Resource(ctx, res, validate.Write{Interaction: validate.Update, Type: typ, ID: p.id}); err != nil {
		return nil, err
	}
	var err error
	if p.index, err = c.s.indexer.Extract(ctx, res); err != nil {
		if _, ok := outcome.As(err); ok {
			return nil, err
		}
		e := outcome.New(http.StatusUnprocessableEntity, outcome.CodeProcessing, typ, "the resource's search index values cannot be worked out")
		e.Err = err
		return nil, e
	}
	p.patients = patientsOf(typ, p.id, p.index)
	p.source = stampSource(c.p, res)
	if err := c.s.policy.CanWrite(c.p, typ, auth.Update, p.patients, nil); err != nil {
		return nil, err
	}
	p.template = store.NewTemplate(res, p.id)
	return p, nil
}
