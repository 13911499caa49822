package load

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"sharedcare/internal/fhir"
	"sharedcare/internal/nhs"
	"sharedcare/internal/synth"
)

// patient is what the scenarios need to know of one loaded patient: the
// ids and the details a clinician would search by.
type patient struct {
	index        int
	id           string
	nhsNumber    string
	family       string
	given        string
	birthDate    string
	postcode     string
	practiceODS  string   // the registered practice's ODS code
	observations []string // up to 3 Observation ids
	code         string   // system|code of one of their Observations, lab results first
}

// clinician is someone who signs in: a Practitioner of the shared
// resources, with the SDS user id a smartcard sign-in would present.
type clinician struct {
	practitionerID string
	sdsUserID      string
}

// population is a sample of the synthetic population the server holds.
// Synthetic patients are deterministic, so the tool knows them without
// asking the server: it generates the sample again from the seed.
type population struct {
	patients   []patient
	clinicians []clinician
	odsByOrg   map[string]string // Organization id → ODS code
}

// samplePopulation generates n patients spread evenly over indexes 0 to
// total-1, the first and the last among them, on workers goroutines.
func samplePopulation(ctx context.Context, g *synth.Generator, total, n int) (*population, error) {
	n = min(n, total)
	if n <= 0 {
		return nil, fmt.Errorf("no patients to sample from a population of %d", total)
	}
	pop := &population{patients: make([]patient, n), odsByOrg: map[string]string{}}
	for _, r := range g.Shared() {
		switch r.Type {
		case "Practitioner":
			body := r.Body
			if c, ok := practitioner(&body, r.ID); ok {
				pop.clinicians = append(pop.clinicians, c)
			}
		case "Organization":
			body := r.Body
			pop.odsByOrg[r.ID] = identifier(&body, nhs.ODSSystem)
		}
	}
	if len(pop.clinicians) == 0 {
		return nil, fmt.Errorf("the synthetic population has no Practitioner with an SDS user id to sign in as")
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, runtime.GOMAXPROCS(0))
	for w := range errs {
		wg.Go(func() {
			for {
				k := int(next.Add(1) - 1)
				if k >= n || ctx.Err() != nil {
					return
				}
				i := 0
				if n > 1 {
					i = int(int64(k) * int64(total-1) / int64(n-1))
				}
				rec, err := g.Patient(i)
				if err != nil {
					errs[w] = fmt.Errorf("patient %d: %w", i, err)
					return
				}
				pop.patients[k] = patientOf(rec, pop.odsByOrg)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return pop, nil
}

func practitioner(v *fhir.Value, id string) (clinician, bool) {
	sds := identifier(v, nhs.SDSUserIDSystem)
	return clinician{practitionerID: id, sdsUserID: sds}, sds != ""
}

// identifier returns the value of v's first identifier in system.
func identifier(v *fhir.Value, system string) string {
	ids := v.Get("identifier")
	if ids == nil {
		return ""
	}
	for i := range ids.Items {
		if ids.Items[i].Str("system") == system {
			return ids.Items[i].Str("value")
		}
	}
	return ""
}

// first returns the first element of v's array member name, or nil.
func first(v *fhir.Value, name string) *fhir.Value {
	a := v.Get(name)
	if a == nil || len(a.Items) == 0 {
		return nil
	}
	return &a.Items[0]
}

func patientOf(rec *synth.Record, odsByOrg map[string]string) patient {
	pr := rec.Patient()
	body := pr.Body
	p := patient{index: rec.Index, id: pr.ID, nhsNumber: identifier(&body, nhs.NHSNumberSystem), birthDate: body.Str("birthDate")}
	if n := first(&body, "name"); n != nil {
		p.family = n.Str("family")
		if g := first(n, "given"); g != nil {
			p.given = g.Text
		}
	}
	if a := first(&body, "address"); a != nil {
		p.postcode = a.Str("postalCode")
	}
	if gp := first(&body, "generalPractitioner"); gp != nil {
		if ref := gp.Str("reference"); len(ref) > len("Organization/") {
			p.practiceODS = odsByOrg[ref[len("Organization/"):]]
		}
	}
	lab := false
	for _, r := range rec.Resources {
		if r.Type != "Observation" {
			continue
		}
		body := r.Body
		if len(p.observations) < 3 {
			p.observations = append(p.observations, r.ID)
		}
		isLab := false
		if c := first(&body, "category"); c != nil {
			if cd := first(c, "coding"); cd != nil {
				isLab = cd.Str("code") == "laboratory"
			}
		}
		if p.code == "" || isLab && !lab {
			if code := body.Get("code"); code != nil {
				if cd := first(code, "coding"); cd != nil && cd.Str("code") != "" {
					p.code, lab = cd.Str("system")+"|"+cd.Str("code"), isLab
				}
			}
		}
		if lab && len(p.observations) == 3 {
			break
		}
	}
	if p.code == "" {
		p.code = bloodPressure // a search for it is a fair question of anyone's record
	}
	return p
}

// bloodPressure is the code of the commonest Observation.
const bloodPressure = "http://loinc.org|85354-9"
