package synth

import (
	"fmt"
	"regexp"
	"strings"
	"sync"

	"sharedcare/internal/fhir"
	"sharedcare/internal/nhs"
)

// checkResource is a structural check of a resource against the R4 model
// in internal/fhir: every member is an element of its type, with the right
// JSON kind and cardinality, primitives match the spec's regexes, required
// elements are present and references point at allowed types. It stands in
// for internal/validate where that cannot be imported, and checks some
// things of our own (codes, NHS numbers, postcodes).
func checkResource(res fhir.Value) []string {
	c := checker{}
	typ := res.Str("resourceType")
	if !fhir.IsResourceType(typ) {
		return []string{fmt.Sprintf("resourceType %q is not a resource type", typ)}
	}
	c.walk(res, typ, typ, true)
	return c.errs
}

type checker struct{ errs []string }

func (c *checker) errorf(format string, args ...any) {
	c.errs = append(c.errs, fmt.Sprintf(format, args...))
}

var (
	regexMu    sync.Mutex
	regexCache = map[string]*regexp.Regexp{}
)

func primitiveRegex(typ string) *regexp.Regexp {
	regexMu.Lock()
	defer regexMu.Unlock()
	if re, ok := regexCache[typ]; ok {
		return re
	}
	var re *regexp.Regexp
	if t := fhir.LookupType(typ); t != nil && t.Regex != "" {
		re = regexp.MustCompile(`^(?:` + t.Regex + `)$`)
	}
	regexCache[typ] = re
	return re
}

var (
	referencePattern = regexp.MustCompile(`^([A-Z][A-Za-z]+)/[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
)

func (c *checker) walk(v fhir.Value, typName, path string, root bool) {
	t := fhir.LookupType(typName)
	if t == nil {
		c.errorf("%s: unknown type %s", path, typName)
		return
	}
	if t.Kind == fhir.PrimitiveType {
		if v.Kind != t.JSON {
			c.errorf("%s: %s is JSON %s, want %s", path, typName, v.Kind, t.JSON)
			return
		}
		if v.Kind == fhir.String && (v.Text == "" || strings.TrimSpace(v.Text) != v.Text) {
			c.errorf("%s: empty or padded string %q", path, v.Text)
		}
		if re := primitiveRegex(typName); re != nil && v.Kind != fhir.Bool && !re.MatchString(v.Text) {
			c.errorf("%s: %q does not match the %s pattern", path, v.Text, typName)
		}
		if typName == "dateTime" || typName == "instant" {
			if strings.Contains(v.Text, "T") && !(strings.HasSuffix(v.Text, "+00:00") || strings.HasSuffix(v.Text, "+01:00")) {
				c.errorf("%s: %q lacks a UK offset", path, v.Text)
			}
		}
		return
	}
	if v.Kind != fhir.Object {
		c.errorf("%s: %s is JSON %s, want object", path, typName, v.Kind)
		return
	}
	if len(v.Keys) == 0 {
		c.errorf("%s: empty object", path)
	}
	for i, k := range v.Keys {
		child := v.Items[i]
		if root && k == "resourceType" {
			continue
		}
		el, childType, ok := t.Child(k)
		if !ok {
			c.errorf("%s.%s: not an element of %s", path, k, typName)
			continue
		}
		p := path + "." + k
		if el.Repeating() {
			if child.Kind != fhir.Array || len(child.Items) == 0 {
				c.errorf("%s: repeating element is not a non-empty array", p)
				continue
			}
			if el.Max > 0 && len(child.Items) > el.Max {
				c.errorf("%s: %d items, at most %d", p, len(child.Items), el.Max)
			}
			for j, item := range child.Items {
				c.walk(item, childType, fmt.Sprintf("%s[%d]", p, j), false)
			}
		} else {
			if child.Kind == fhir.Array {
				c.errorf("%s: single element is an array", p)
				continue
			}
			c.walk(child, childType, p, false)
		}
		if childType == "Reference" && child.Kind == fhir.Object {
			c.reference(child, el, p)
		}
		if childType == "Reference" && child.Kind == fhir.Array {
			for j, item := range child.Items {
				c.reference(item, el, fmt.Sprintf("%s[%d]", p, j))
			}
		}
	}
	for i := range t.Elements {
		el := &t.Elements[i]
		if el.Min == 0 {
			continue
		}
		found := false
		for _, k := range v.Keys {
			if k == el.Name || (el.Choice && strings.HasPrefix(k, el.Name)) {
				found = true
			}
		}
		if !found {
			c.errorf("%s.%s: required element missing", path, el.Name)
		}
	}
	switch typName {
	case "Coding":
		c.coding(v, path)
	case "Quantity":
		if v.Get("code") != nil && v.Get("system") == nil {
			c.errorf("%s: qty-3: a code without a system", path)
		}
	case "Attachment":
		if v.Get("data") != nil && v.Get("contentType") == nil {
			c.errorf("%s: att-1: data without contentType", path)
		}
	case "Identifier":
		switch v.Str("system") {
		case nhs.NHSNumberSystem:
			if !nhs.ValidNumber(v.Str("value")) || !strings.HasPrefix(v.Str("value"), "9") {
				c.errorf("%s: %q is not a valid test NHS number", path, v.Str("value"))
			}
		case nhs.ODSSystem:
			if !nhs.ValidODSCode(v.Str("value")) {
				c.errorf("%s: %q is not an ODS code", path, v.Str("value"))
			}
		}
	case "Address":
		if pc := v.Str("postalCode"); !nhs.ValidPostcode(pc) {
			c.errorf("%s: %q is not a postcode in printed form", path, pc)
		}
	}
}

func (c *checker) reference(v fhir.Value, el *fhir.Element, path string) {
	r := v.Str("reference")
	sm := referencePattern.FindStringSubmatch(r)
	if sm == nil {
		c.errorf("%s: reference %q is not Type/uuid", path, r)
		return
	}
	if len(el.Targets) == 0 {
		return
	}
	for _, target := range el.Targets {
		if target == sm[1] || target == "Resource" {
			return
		}
	}
	c.errorf("%s: reference to %s, allowed %v", path, sm[1], el.Targets)
}

func (c *checker) coding(v fhir.Value, path string) {
	system, code := v.Str("system"), v.Str("code")
	if system == "" || code == "" {
		c.errorf("%s: coding without system or code", path)
	}
	switch system {
	case nhs.SNOMEDSystem, nhs.DMDSystem:
		if !nhs.IsSCTConcept(code) {
			c.errorf("%s: %s|%s is not a valid SCTID", path, system, code)
		}
	case nhs.LOINCSystem:
		if !regexp.MustCompile(`^[0-9]{1,7}-[0-9]$`).MatchString(code) {
			c.errorf("%s: LOINC code %q malformed", path, code)
		}
	}
	if v.Str("display") == "" {
		c.errorf("%s: coding %s|%s without display", path, system, code)
	}
}

// requiredCodes are the codes of required bindings we emit, element by
// element, checked until internal/validate can check them all.
var requiredCodes = map[string][]string{
	"Observation.status":             {"final"},
	"Condition.clinicalStatus":       {"active", "resolved", "remission"},
	"Condition.verificationStatus":   {"confirmed"},
	"MedicationRequest.status":       {"active", "completed", "stopped"},
	"MedicationRequest.intent":       {"order"},
	"Encounter.status":               {"finished"},
	"DiagnosticReport.status":        {"final"},
	"Immunization.status":            {"completed"},
	"DocumentReference.status":       {"current"},
	"DocumentReference.docStatus":    {"final"},
	"AllergyIntolerance.type":        {"allergy"},
	"AllergyIntolerance.criticality": {"high", "low"},
	"Patient.gender":                 {"male", "female"},
	"Practitioner.gender":            {"male", "female"},
}

func checkRequiredCodes(res fhir.Value) []string {
	var errs []string
	typ := res.Str("resourceType")
	for i, k := range res.Keys {
		allowed, ok := requiredCodes[typ+"."+k]
		if !ok {
			continue
		}
		v := res.Items[i]
		got := v.Text
		if v.Kind == fhir.Object {
			got = v.Get("coding").Items[0].Str("code")
		}
		found := false
		for _, a := range allowed {
			found = found || a == got
		}
		if !found {
			errs = append(errs, fmt.Sprintf("%s.%s = %q, want one of %v", typ, k, got, allowed))
		}
	}
	return errs
}
