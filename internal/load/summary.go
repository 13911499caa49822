package load

import (
	"context"
	"net/url"
	"sync"
)

// request is one request of a page: op names it in the report (the same
// request has the same op in every scenario), path is relative to the FHIR
// base. do, when set, sends it instead of a GET of path.
type request struct {
	op, path string
	do       func(ctx context.Context, u *user) result
}

// summaryRequests is the patient summary: the requests the clinician app
// makes to open a patient, the one definition every scenario uses. It is a
// page of a clinical system's "summary" tab: the banner (demographics),
// active problems, current medication, allergies, the latest laboratory
// results and the latest encounters.
func summaryRequests(p *patient) []request {
	id := url.QueryEscape(p.id)
	return []request{
		{op: "Patient/{id}", path: "Patient/" + id},
		{op: "Condition?patient&clinical-status=active", path: "Condition?patient=" + id + "&clinical-status=active"},
		{op: "MedicationRequest?patient&status=active", path: "MedicationRequest?patient=" + id + "&status=active"},
		{op: "AllergyIntolerance?patient", path: "AllergyIntolerance?patient=" + id},
		{op: "Observation?patient&category=laboratory&_sort=-date&_count=20", path: "Observation?patient=" + id + "&category=laboratory&_sort=-date&_count=20"},
		{op: "Encounter?patient&_sort=-date&_count=10", path: "Encounter?patient=" + id + "&_sort=-date&_count=10"},
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
	return rn.page(ctx, u, opSummary, summaryRequests(p), summaryConcurrency) != classCancelled
}

// send sends one request of a page.
func (rn *run) send(ctx context.Context, u *user, rq request) result {
	if rq.do != nil {
		return rq.do(ctx, u)
	}
	return rn.c.get(ctx, u, rq.op, rq.path)
}

// page sends reqs, up to conc at once, and records them as one step; it
// returns the step's class. With conc 1 the requests are a sequence, each
// asked for because of the answer before, so the first that fails ends
// the step.
func (rn *run) page(ctx context.Context, u *user, op string, reqs []request, conc int) class {
	start := rn.rec.now()
	if conc == 1 {
		c := classOK
		for _, rq := range reqs {
			if c = rn.send(ctx, u, rq).class; c != classOK {
				break
			}
		}
		if c == classCancelled {
			rn.rec.record(op, kindStep, start, classCancelled, 0, "")
			return classCancelled
		}
		c = stepClass(c)
		rn.rec.record(op, kindStep, start, c, 0, "")
		return c
	}
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
			r := rn.send(ctx, u, rq)
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
		return classCancelled
	}
	c := stepClass(worst)
	rn.rec.record(op, kindStep, start, c, 0, "")
	return c
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
