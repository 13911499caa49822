package record

import (
	"context"
	"net/url"

	"sharedcare/internal/fhir"
	"sharedcare/internal/search"
)

// Sharing choices are Consent resources
// (https://hl7.org/fhir/R4/consent.html) with scope patient-privacy: the
// newest active one decides, and a provision of type deny means the
// patient opted out of sharing their record beyond the organisations that
// recorded it.
const (
	consentScopeSystem = "http://terminology.hl7.org/CodeSystem/consentscope"
	consentScopeCode   = "patient-privacy"
)

// consents answers access.Consents from the Consent resources in the store.
type consents struct{ s *Service }

func (c consents) OptedOut(ctx context.Context, patientID string) (bool, error) {
	q, err := search.Parse("Consent", url.Values{
		"patient": {"Patient/" + patientID},
		"status":  {"active"},
		"scope":   {consentScopeSystem + "|" + consentScopeCode},
		"_sort":   {"-_lastUpdated"},
	}, search.Options{})
	if err != nil {
		return false, err
	}
	q.Count, q.Total = 1, "none"
	res, err := c.s.store.Search(ctx, q)
	if err != nil || len(res.Matches) == 0 {
		return false, err
	}
	v, err := fhir.Parse(res.Matches[0].Body)
	if err != nil {
		return false, err
	}
	return v.Get("provision").Str("type") == "deny", nil
}
