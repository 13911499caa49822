package load

import (
	"context"
	"net/url"
	"sync"
)

// request is one request of a page: op names it in the report (the same
// request has the same op in every scenario), path is relative to the FHIR
// base.
type request struct {
	op, path string
}

// summaryRequests is the patient summary: the requests the clinician app
// makes to open a patient, the one definition every scenario uses. It is a
// page of a clinical system's "summary" tab: the banner (demographics),
// active problems, current medication, allergies, the latest laboratory
// results and the latest encounters.
func summaryRequests(p *patient) []request {
	id := url.QueryEscape(p.id)
	return []request{
		{"Patient/{id}", "Patient/" + id},
		{"Condition?patient&clinical-status=active", "Condition?patient=" + id + "&clinical-status=active"},
		{"MedicationRequest?patient&status=active", "MedicationRequest?patient=" + id + "&status=active"},
		{"AllergyIntolerance?patient", "AllergyIntolerance?patient=" + id},
		{"Observation?patient&category=laboratory&_sort=-date&_count=20", "Observation?patient=" + id + "&category=laboratory&_sort=-date&_count=20"},
		{"Encounter?patient&_sort=-date&_count=10", "Encounter?patient=" + id + "&_sort=-date&_count=10"},
	}
}

// summaryConcurrency is how many of a page's requests are in flight at
// once, as browsers open up to six connections to one host.
const summaryConcurrency = 6

// opSummary names the step of opening a patient summary: from the first
// request sent to the last answer, what the clinician waits for.
const opSummary = "patient summary (page)"

// openSummary loads p's summary as u and records the page as a step, which
// succeeds only when every request does. It reports false when the run
// ended meanwhile.
func (rn *run) openSummary(ctx context.Context, u *user, p *patient) bool {
	return rn.page(ctx, u, opSummary, summaryRequests(p), summaryConcurrency)
}

// page sends reqs, up to conc at once, and records them as one step.
func (rn *run) page(ctx context.Context, u *user, op string, reqs []request, conc int) bool {
	start := rn.rec.now()
	var (
		mu        sync.Mutex // guards worst
		worst     = classOK
		wg        sync.WaitGroup
		sem       = make(chan struct{}, conc)
		cancelled bool
	)
	for _, rq := range reqs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			r := rn.c.get(ctx, u, rq.op, rq.path)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case r.class == classCancelled:
				cancelled = true
			case severity(r.class) > severity(worst):
				worst = r.class
			}
		})
	}
	wg.Wait()
	if cancelled {
		rn.rec.record(op, kindStep, start, classCancelled, 0, "")
		return false
	}
	rn.rec.record(op, kindStep, start, stepClass(worst), 0, "")
	return true
}

// stepClass is a step's class from its worst request's: a step with a
// failed request failed, else one with a shed request was shed.
func stepClass(worst class) class {
	switch worst {
	case classOK, classShed:
		return worst
	}
	return classFailed
}

// severity orders classes for a step: an error outweighs shed load, which
// outweighs success.
func severity(c class) int {
	switch c {
	case classOK:
		return 0
	case classShed:
		return 1
	}
	return 2
}
