package api_test

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// searchFixtures are stored with fixed ids, so that cases can name them.
var searchFixtures = []struct{ typ, id, body string }{
	{"Organization", "gp1", `{"resourceType":"Organization","id":"gp1","identifier":[{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"B82001"}],"name":"Leeds Road Surgery"}`},
	{"Practitioner", "dr1", `{"resourceType":"Practitioner","id":"dr1","name":[{"family":"Okafor","given":["Ngozi"],"prefix":["Dr"]}]}`},
	{"Patient", "p1", `{"resourceType":"Patient","id":"p1","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9000000009","type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"NH"}]}}],
		"active":true,"name":[{"family":"Smith","given":["Jane","Anne"]}],"gender":"female","birthDate":"1970-01-01",
		"telecom":[{"system":"phone","value":"0113 496 0000"},{"system":"email","value":"jane@example.org"}],
		"address":[{"line":["1 High Street"],"city":"Leeds","postalCode":"LS1 4AP"}],"generalPractitioner":[{"reference":"Organization/gp1"}]}`},
	{"Patient", "p2", `{"resourceType":"Patient","id":"p2","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9000000017"}],
		"active":false,"name":[{"family":"Smythe","given":["John"]}],"gender":"male","birthDate":"1985-06-15",
		"address":[{"city":"York","postalCode":"YO1 7HH"}],"generalPractitioner":[{"reference":"Organization/gp1"}]}`},
	{"Patient", "p3", `{"resourceType":"Patient","id":"p3","name":[{"family":"Zoë","given":["Éloïse"]}],"gender":"female","birthDate":"2001-03"}`},
	{"Observation", "o1", `{"resourceType":"Observation","id":"o1","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8480-6","display":"Systolic blood pressure"}]},
		"subject":{"reference":"Patient/p1"},"performer":[{"reference":"Practitioner/dr1"}],"effectiveDateTime":"2024-01-10T09:00:00Z","valueQuantity":{"value":150,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}}`},
	{"Observation", "o2", `{"resourceType":"Observation","id":"o2","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},
		"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2024-03-12T09:00:00Z","valueQuantity":{"value":135.5,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}}`},
	{"Observation", "o3", `{"resourceType":"Observation","id":"o3","status":"preliminary","code":{"coding":[{"system":"http://loinc.org","code":"4548-4","display":"Hemoglobin A1c"}],"text":"HbA1c"},
		"subject":{"reference":"Patient/p2"},"effectivePeriod":{"start":"2023-05-01","end":"2023-05-02"},"valueQuantity":{"value":48,"unit":"mmol/mol","system":"http://unitsofmeasure.org","code":"mmol/mol"}}`},
	{"Observation", "o4", `{"resourceType":"Observation","id":"o4","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},
		"subject":{"reference":"Patient/p2"},"effectiveDateTime":"2024-02-01",
		"component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":128,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}},
		{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":82,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}}]}`},
	{"Condition", "c1", `{"resourceType":"Condition","id":"c1","clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]},
		"code":{"coding":[{"system":"http://snomed.info/sct","code":"38341003","display":"Hypertensive disorder"}]},"subject":{"reference":"Patient/p1"},"onsetDateTime":"2019"}`},
	{"Provenance", "prov1", `{"resourceType":"Provenance","id":"prov1","target":[{"reference":"Patient/p1"}],"recorded":"2024-01-10T09:00:00Z","agent":[{"who":{"reference":"Practitioner/dr1"}}]}`},
}

func loadSearchFixtures(t *testing.T, srv *testServer) {
	t.Helper()
	for _, f := range searchFixtures {
		if r := srv.do(t, "PUT", "/fhir/"+f.typ+"/"+f.id, f.body); r.Status != 201 {
			t.Fatalf("PUT %s/%s = %d\n%s", f.typ, f.id, r.Status, r.Body)
		}
	}
}

// bundleIDs lists a searchset's entries as Type/id, matches and includes.
func bundleIDs(t *testing.T, r *response) (matches, included []string) {
	t.Helper()
	m := r.JSON(t)
	if m["resourceType"] != "Bundle" || m["type"] != "searchset" {
		t.Fatalf("not a searchset: %s", r.Body)
	}
	entries, _ := m["entry"].([]any)
	for _, e := range entries {
		em := e.(map[string]any)
		res := em["resource"].(map[string]any)
		key := fmt.Sprint(res["resourceType"], "/", res["id"])
		switch em["search"].(map[string]any)["mode"] {
		case "match":
			matches = append(matches, key)
		case "include":
			included = append(included, key)
		}
	}
	return matches, included
}

func TestSearch(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		loadSearchFixtures(t, srv)
		tests := []struct {
			name, query string
			want        string // matches as Type/id, space separated
			ordered     bool
		}{
			// string
			{"name prefix", "Patient?name=sm", "Patient/p1 Patient/p2", false},
			{"name prefix narrower", "Patient?name=smi", "Patient/p1", false},
			{"name case-insensitive", "Patient?name=SMITH", "Patient/p1", false},
			{"given name", "Patient?given=ann", "Patient/p1", false},
			{"accents ignored", "Patient?name=zoe", "Patient/p3", false},
			{"accented query", "Patient?given=éloïse", "Patient/p3", false},
			{"exact", "Patient?family:exact=Smith", "Patient/p1", false},
			{"exact is case-sensitive", "Patient?family:exact=smith", "", false},
			{"contains", "Patient?family:contains=myt", "Patient/p2", false},
			{"postcode without space", "Patient?address-postalcode=ls14ap", "Patient/p1", false},
			{"postcode with space", "Patient?address-postalcode=LS1%204AP", "Patient/p1", false},
			{"city", "Patient?address-city=york", "Patient/p2", false},
			{"OR with comma", "Patient?family=smith,zoe", "Patient/p1 Patient/p3", false},
			{"AND by repetition", "Patient?name=jane&name=smith", "Patient/p1", false},
			// token
			{"NHS number", "Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9000000009", "Patient/p1", false},
			{"identifier value only", "Patient?identifier=9000000017", "Patient/p2", false},
			{"identifier no system", "Patient?identifier=|9000000017", "", false},
			{"identifier system only", "Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|", "Patient/p1 Patient/p2", false},
			{"gender", "Patient?gender=female", "Patient/p1 Patient/p3", false},
			{"gender not", "Patient?gender:not=female", "Patient/p2", false},
			{"boolean", "Patient?active=true", "Patient/p1", false},
			{"code system|code", "Observation?code=http://loinc.org|8480-6", "Observation/o1 Observation/o2", false},
			{"code text", "Observation?code:text=hemoglobin", "Observation/o3", false},
			{"concept text", "Observation?code:text=hba1c", "Observation/o3", false},
			{"of-type", "Patient?identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|NH|9000000009", "Patient/p1", false},
			{"phone", "Patient?phone=0113%20496%200000", "Patient/p1", false},
			{"email", "Patient?email=jane@example.org", "Patient/p1", false},
			{"in value set", "Observation?status:in=http://hl7.org/fhir/ValueSet/observation-status", "Observation/o1 Observation/o2 Observation/o3 Observation/o4", false},
			{"token missing", "Patient?identifier:missing=true", "Patient/p3", false},
			{"token present", "Patient?identifier:missing=false", "Patient/p1 Patient/p2", false},
			// date
			{"birthdate day", "Patient?birthdate=1970-01-01", "Patient/p1", false},
			{"birthdate year", "Patient?birthdate=1985", "Patient/p2", false},
			{"birthdate month in month", "Patient?birthdate=2001-03", "Patient/p3", false},
			{"day within month is not eq", "Patient?birthdate=2001-03-05", "", false},
			{"gt", "Patient?birthdate=gt1980", "Patient/p2 Patient/p3", false},
			{"lt", "Patient?birthdate=lt1980", "Patient/p1", false},
			{"ge day", "Patient?birthdate=ge1985-06-15", "Patient/p2 Patient/p3", false},
			{"le", "Patient?birthdate=le1985-06-15", "Patient/p1 Patient/p2", false},
			{"ne", "Patient?birthdate=ne1970-01-01", "Patient/p2 Patient/p3", false},
			{"sa", "Observation?date=sa2024-01-31", "Observation/o2 Observation/o4", false},
			{"eb", "Observation?date=eb2024", "Observation/o3", false},
			{"period overlap ge", "Observation?date=ge2023-05-02", "Observation/o1 Observation/o2 Observation/o3 Observation/o4", false},
			{"range by AND", "Observation?date=ge2024-01-01&date=lt2024-03-01", "Observation/o1 Observation/o4", false},
			{"dateTime with zone", "Observation?date=2024-01-10T09:00:00Z", "Observation/o1", false},
			{"condition onset year", "Condition?onset-date=2019", "Condition/c1", false},
			// quantity and number
			{"quantity exact", "Observation?value-quantity=150", "Observation/o1", false},
			{"quantity implied precision", "Observation?value-quantity=135.5", "Observation/o2", false},
			{"quantity precision excludes", "Observation?value-quantity=135", "", false},
			{"quantity gt", "Observation?value-quantity=gt130", "Observation/o1 Observation/o2", false},
			{"quantity with unit", "Observation?value-quantity=le50|http://unitsofmeasure.org|mmol/mol", "Observation/o3", false},
			{"quantity wrong unit", "Observation?value-quantity=48||mm[Hg]", "", false},
			{"quantity in another unit", "Observation?value-quantity=0.048|http://unitsofmeasure.org|mol/mol", "Observation/o3", false},
			{"quantity pressure in kPa", "Observation?value-quantity=gt19|http://unitsofmeasure.org|kPa", "Observation/o1", false},
			{"quantity ap", "Observation?value-quantity=ap140", "Observation/o1 Observation/o2", false},
			{"quantity ap narrow", "Observation?value-quantity=ap160", "Observation/o1", false},
			// reference
			{"reference Type/id", "Observation?subject=Patient/p1", "Observation/o1 Observation/o2", false},
			{"reference id with typed param", "Observation?patient=p2", "Observation/o3 Observation/o4", false},
			{"reference type modifier", "Observation?subject:Patient=p2", "Observation/o3 Observation/o4", false},
			{"reference absolute elsewhere", "Observation?subject=http://elsewhere.example/fhir/Patient/p1", "", false},
			{"reference absolute here", "Observation?subject=" + srv.URL + "/fhir/Patient/p1", "Observation/o1 Observation/o2", false},
			{"general practitioner", "Patient?general-practitioner=Organization/gp1", "Patient/p1 Patient/p2", false},
			{"performer missing", "Observation?performer:missing=true", "Observation/o2 Observation/o3 Observation/o4", false},
			// chains and reverse chains
			{"chain", "Observation?subject:Patient.name=smith", "Observation/o1 Observation/o2", false},
			{"chain without type", "Observation?patient.name=smythe", "Observation/o3 Observation/o4", false},
			{"chain two levels", "Observation?patient.general-practitioner.name=leeds", "Observation/o1 Observation/o2 Observation/o3 Observation/o4", false},
			{"chain on identifier", "Observation?patient.identifier=9000000009", "Observation/o1 Observation/o2", false},
			// A chain to a Patient by token drives the query; others are
			// checked per candidate of the filter that drives.
			{"chain on NHS number with code", "Observation?subject:Patient.identifier=https://fhir.nhs.uk/Id/nhs-number|9000000009&code=http://loinc.org|8480-6", "Observation/o1 Observation/o2", false},
			{"chain on NHS number, no match of code", "Observation?patient.identifier=9000000009&code=4548-4", "", false},
			{"chain checked per candidate", "Patient?general-practitioner.name=leeds&family=smith", "Patient/p1", false},
			{"chain per candidate excludes", "Patient?general-practitioner.name=nowhere&family=smith", "", false},
			{"chain through a reference with code", "Observation?patient.general-practitioner=Organization/gp1&code=http://loinc.org|8480-6", "Observation/o1 Observation/o2", false},
			{"driving chain two levels", "Observation?patient.identifier=9000000017&patient.general-practitioner.name=leeds", "Observation/o3 Observation/o4", false},
			{"_has", "Patient?_has:Observation:patient:code=4548-4", "Patient/p2", false},
			{"_has with value", "Patient?_has:Observation:patient:value-quantity=gt140", "Patient/p1", false},
			{"_has nested", "Organization?_has:Patient:general-practitioner:_has:Condition:patient:code=38341003", "Organization/gp1", false},
			// composite
			{"composite code-value", "Observation?code-value-quantity=http://loinc.org|8480-6$gt140", "Observation/o1", false},
			{"composite component", "Observation?component-code-value-quantity=8462-4$82", "Observation/o4", false},
			// combo-* are the union of the observation's own and its
			// components' parameters, and looked up in both one's rows.
			{"combo code", "Observation?combo-code=8462-4", "Observation/o4", false},
			{"combo code, own or component", "Observation?combo-code=http://loinc.org|8480-6", "Observation/o1 Observation/o2 Observation/o4", false},
			{"combo code text", "Observation?combo-code:text=systolic", "Observation/o1", false},
			{"combo code missing", "Observation?combo-code:missing=true", "", false},
			{"combo value", "Observation?combo-value-quantity=gt140", "Observation/o1", false},
			{"combo value, component", "Observation?combo-value-quantity=lt90||mm[Hg]", "Observation/o4", false},
			{"combo code-value, own", "Observation?combo-code-value-quantity=8480-6$gt140", "Observation/o1", false},
			{"combo code-value, both", "Observation?combo-code-value-quantity=8480-6$lt136", "Observation/o2 Observation/o4", false},
			{"combo code-value, pairs kept", "Observation?combo-code-value-quantity=8462-4$128", "", false},
			// special
			{"_id", "Patient?_id=p1,p3", "Patient/p1 Patient/p3", false},
			{"_lastUpdated", "Patient?_lastUpdated=gt2000-01-01", "Patient/p1 Patient/p2 Patient/p3", false},
			{"_lastUpdated future", "Patient?_lastUpdated=gt2100-01-01", "", false},
			// compartment and system level
			{"compartment", "Patient/p1/Observation?code=8480-6", "Observation/o1 Observation/o2", false},
			{"compartment all types", "Patient/p2/*", "Observation/o3 Observation/o4 Patient/p2", false},
			{"system _type", "?_type=Patient,Organization&_id=p2,gp1", "Organization/gp1 Patient/p2", false},
			{"system _lastUpdated", "?_id=dr1", "Practitioner/dr1", false},
			// sort
			{"sort date desc", "Observation?subject=Patient/p1&_sort=-date", "Observation/o2 Observation/o1", true},
			{"sort date asc", "Observation?patient=p1&_sort=date", "Observation/o1 Observation/o2", true},
			{"sort two keys", "Patient?_sort=gender,-birthdate", "Patient/p3 Patient/p1 Patient/p2", true},
			{"sort string", "Patient?_sort=family", "Patient/p1 Patient/p2 Patient/p3", true},
			{"sort missing last", "Observation?_sort=value-quantity", "Observation/o3 Observation/o2 Observation/o1 Observation/o4", true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				path := "/fhir/" + tt.query
				if strings.HasPrefix(tt.query, "?") {
					path = "/fhir" + tt.query
				}
				r := srv.do(t, "GET", path, "")
				if r.Status != 200 {
					t.Fatalf("GET %s = %d\n%s", path, r.Status, r.Body)
				}
				got, _ := bundleIDs(t, r)
				if !tt.ordered {
					slices.Sort(got)
				}
				if strings.Join(got, " ") != tt.want {
					t.Errorf("GET %s\n got %v\nwant %v", path, got, tt.want)
				}
				if tot, ok := r.JSON(t)["total"].(float64); !ok || int(tot) != len(got) {
					t.Errorf("GET %s: total %v, want %d", path, r.JSON(t)["total"], len(got))
				}
			})
		}
	})
}

func TestSearchErrors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		tests := []struct {
			query, param string
			wantStatus   int
		}{
			{"Patient?nonsense=1", "nonsense", 400},
			{"Patient?birthdate=yesterday", "birthdate", 400},
			{"Patient?birthdate=1970-13-01", "birthdate", 400},
			{"Observation?value-quantity=abc", "value-quantity", 400},
			{"Patient?family:below=x", "family:below", 400},
			{"Patient?gender:exact=x", "gender:exact", 400},
			{"Patient?_count=many", "_count", 400},
			{"Patient?_sort=nonsense", "_sort", 400},
			{"Patient?_include=Patient:nonsense", "_include", 400},
			{"Patient?_total=maybe", "_total", 400},
			{"Patient?_summary=some", "_summary", 400},
			{"Patient?active:missing=perhaps", "active:missing", 400},
			{"Observation?subject.nonsense=1", "subject.nonsense", 400},
			{"Observation?code-value-quantity=8480-6", "code-value-quantity", 400},
			{"Patient?_text=smith", "_text", 400},
			{"Patient?_has:Nope:patient:code=1", "_has:Nope:patient:code", 400},
			{"?name=smith", "name", 400},
			{"Nonsense?name=smith", "", 404},
		}
		for _, tt := range tests {
			r := srv.do(t, "GET", "/fhir/"+strings.TrimPrefix(tt.query, "?"), "")
			if strings.HasPrefix(tt.query, "?") {
				r = srv.do(t, "GET", "/fhir"+tt.query, "")
			}
			exprs := r.Expressions()
			if r.Status != tt.wantStatus || (tt.param != "" && (len(exprs) == 0 || exprs[0] != tt.param)) {
				t.Errorf("GET %s = %d %v, want %d naming %q\n%s", tt.query, r.Status, exprs, tt.wantStatus, tt.param, r.Body)
			}
		}
		// Lenient handling ignores the bad parameter and says so.
		srv.create(t, "Patient", patientJSON)
		r := srv.do(t, "GET", "/fhir/Patient?nonsense=1&gender=female", "", "Prefer", "handling=lenient")
		if r.Status != 200 || !strings.Contains(string(r.Body), `"mode":"outcome"`) || !strings.Contains(string(r.Body), "nonsense") {
			t.Errorf("lenient search = %d, want 200 with an outcome entry naming nonsense\n%s", r.Status, r.Body)
		}
	})
}

// Injection attempts through every parameter type come back as data, not SQL.
func TestSearchInjection(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		loadSearchFixtures(t, srv)
		evil := []string{`x' OR '1'='1`, `x"; DROP TABLE resources; --`, `%`, `_`, `\`, `') OR 1=1 --`, "x\x00y"}
		params := []string{"name", "family:exact", "family:contains", "identifier", "gender", "birthdate", "general-practitioner", "_id", "address-postalcode"}
		for _, p := range params {
			for _, e := range evil {
				r := srv.do(t, "GET", "/fhir/Patient?"+p+"="+url.QueryEscape(e), "")
				if r.Status != 200 && r.Status != 400 {
					t.Errorf("Patient?%s=%q = %d, want 200 or 400\n%s", p, e, r.Status, r.Body)
					continue
				}
				if r.Status == 200 {
					if got, _ := bundleIDs(t, r); len(got) != 0 {
						t.Errorf("Patient?%s=%q matched %v", p, e, got)
					}
				}
			}
		}
		if r := srv.do(t, "GET", "/fhir/Patient/p1", ""); r.Status != 200 {
			t.Errorf("after injection attempts, read = %d", r.Status)
		}
	})
}

func TestSearchIncludes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		loadSearchFixtures(t, srv)
		tests := []struct {
			query         string
			matches, incl string
		}{
			{"Observation?_id=o1&_include=Observation:subject", "Observation/o1", "Patient/p1"},
			{"Observation?_id=o1&_include=Observation:performer:Practitioner", "Observation/o1", "Practitioner/dr1"},
			{"Observation?_id=o1&_include=Observation:*", "Observation/o1", "Patient/p1 Practitioner/dr1"},
			{"Observation?_id=o1&_include=Observation:subject&_include:iterate=Patient:general-practitioner", "Observation/o1", "Organization/gp1 Patient/p1"},
			{"Patient?_id=p1&_revinclude=Provenance:target", "Patient/p1", "Provenance/prov1"},
			{"Patient?_id=p2&_revinclude=Observation:subject", "Patient/p2", "Observation/o3 Observation/o4"},
		}
		for _, tt := range tests {
			r := srv.do(t, "GET", "/fhir/"+tt.query, "")
			m, inc := bundleIDs(t, r)
			slices.Sort(inc)
			if strings.Join(m, " ") != tt.matches || strings.Join(inc, " ") != tt.incl {
				t.Errorf("GET %s: matches %v includes %v, want %s + %s", tt.query, m, inc, tt.matches, tt.incl)
			}
		}
	})
}

func TestSearchPaging(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		var want []string
		for i := range 25 {
			p := srv.create(t, "Patient", fmt.Sprintf(`{"resourceType":"Patient","name":[{"family":"Pager","given":["N%02d"]}]}`, i))
			want = append(want, "Patient/"+p.ID)
		}
		next := "/fhir/Patient?family=pager&_count=10"
		var got []string
		for page := 0; next != ""; page++ {
			r := srv.do(t, "GET", next, "")
			if r.Status != 200 {
				t.Fatalf("GET %s = %d %s", next, r.Status, r.Body)
			}
			m, _ := bundleIDs(t, r)
			got = append(got, m...)
			if tot := r.JSON(t)["total"]; tot != float64(25) {
				t.Errorf("page %d total = %v, want 25 (the snapshot's)", page, tot)
			}
			next = ""
			for _, l := range r.JSON(t)["link"].([]any) {
				if l.(map[string]any)["relation"] == "next" {
					next = strings.TrimPrefix(l.(map[string]any)["url"].(string), srv.URL)
				}
			}
			// Writes between pages: a new match, and a match that stops matching.
			if page == 0 {
				srv.create(t, "Patient", `{"resourceType":"Patient","name":[{"family":"Pager","given":["Late"]}]}`)
				id := strings.TrimPrefix(want[15], "Patient/")
				srv.do(t, "PUT", "/fhir/Patient/"+id, `{"resourceType":"Patient","id":"`+id+`","name":[{"family":"Renamed"}]}`)
			}
		}
		// The snapshot taken at the first page pages on unchanged: nothing
		// twice and nothing missing (a renamed match shows as it is now).
		if len(got) != 25 || !slices.Equal(got, want) {
			t.Errorf("paged %d matches %v\nwant %d %v", len(got), got, len(want), want)
		}
		// _summary=count gives the total alone.
		r := srv.do(t, "GET", "/fhir/Patient?family=pager&_summary=count", "")
		if m := r.JSON(t); m["total"] != float64(25) || m["entry"] != nil {
			t.Errorf("_summary=count = total %v entries %v, want 25 and none", m["total"], m["entry"])
		}
		if r := srv.do(t, "GET", "/fhir/Patient?_page=nonsense", ""); r.Status != 400 {
			t.Errorf("bad _page = %d, want 400", r.Status)
		}
	})
}

func TestSearchSummaryElements(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		loadSearchFixtures(t, srv)
		r := srv.do(t, "GET", "/fhir/Patient?_id=p1&_elements=name", "")
		res := r.JSON(t)["entry"].([]any)[0].(map[string]any)["resource"].(map[string]any)
		if res["name"] == nil || res["gender"] != nil || res["telecom"] != nil || !strings.Contains(string(r.Body), "SUBSETTED") {
			t.Errorf("_elements=name gave %v", res)
		}
		r = srv.do(t, "GET", "/fhir/Patient?_id=p1&_summary=true", "")
		res = r.JSON(t)["entry"].([]any)[0].(map[string]any)["resource"].(map[string]any)
		if res["name"] == nil || res["birthDate"] == nil {
			t.Errorf("_summary=true lost summary elements: %v", res)
		}
	})
}

func TestSearchPost(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		loadSearchFixtures(t, srv)
		r := srv.do(t, "POST", "/fhir/Patient/_search", "family=smith&birthdate=1970-01-01", "Content-Type", "application/x-www-form-urlencoded")
		if m, _ := bundleIDs(t, r); strings.Join(m, " ") != "Patient/p1" {
			t.Errorf("POST _search = %d %v, want Patient/p1", r.Status, m)
		}
	})
}

// TestSearchTokenText checks :text against codings that share a code but
// not always its texts: the embedded store keeps a code's first display
// and first CodeableConcept text once and marks the token rows that carry
// them, so every other case (a different text, none, a concept whose
// first coding is another code, an update, a transaction rolled back
// after storing a new code's display) must still be found by its own text
// and only by it.
func TestSearchTokenText(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		const sct = "http://snomed.info/sct"
		condition := func(id, status, concept string) string {
			return `{"resourceType":"Condition","id":"` + id + `","clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"` + status + `"}]},` +
				`"code":` + concept + `,"subject":{"reference":"Patient/tt"}}`
		}
		coding := func(code, display string) string {
			if display == "" {
				return `{"system":"` + sct + `","code":"` + code + `"}`
			}
			return `{"system":"` + sct + `","code":"` + code + `","display":"` + display + `"}`
		}
		put := func(id, body string) {
			t.Helper()
			if r := srv.do(t, "PUT", "/fhir/Condition/"+id, body); r.Status != 200 && r.Status != 201 {
				t.Fatalf("PUT Condition/%s = %d\n%s", id, r.Status, r.Body)
			}
		}
		put("a1", condition("a1", "active", `{"coding":[`+coding("195967001", "Asthma")+`]}`))
		put("a2", condition("a2", "resolved", `{"coding":[`+coding("195967001", "Asthma")+`]}`))
		put("a3", condition("a3", "active", `{"coding":[`+coding("195967001", "Bronchial asthma")+`]}`))
		put("a4", condition("a4", "active", `{"coding":[`+coding("195967001", "")+`]}`))
		put("a5", condition("a5", "active", `{"coding":[`+coding("195967001", "")+`],"text":"Asthma"}`))
		put("a6", condition("a6", "active", `{"coding":[`+coding("195967001", "  ASTHMA ")+`]}`))
		put("a7", condition("a7", "active", `{"coding":[`+coding("195967001", "Asthma")+`],"text":"Asthma, well controlled"}`))
		put("a8", condition("a8", "active", `{"coding":[`+coding("38341003", "Asthma")+`,`+coding("195967001", "Wheeze")+`]}`))
		// A CodeableConcept's own text, kept once per code like a display.
		put("h1", condition("h1", "active", `{"coding":[`+coding("59621000", "Essential hypertension")+`],"text":"High blood pressure"}`))
		put("h2", condition("h2", "active", `{"coding":[`+coding("59621000", "Essential hypertension")+`],"text":"High blood pressure"}`))
		put("h3", condition("h3", "active", `{"coding":[`+coding("59621000", "Essential hypertension")+`],"text":"HBP"}`))
		put("h4", condition("h4", "active", `{"coding":[`+coding("59621000", "Essential hypertension")+`]}`))
		put("h5", condition("h5", "active", `{"coding":[`+coding("59621000", "")+`,`+coding("38341003", "")+`],"text":"Raised BP"}`))
		put("h6", condition("h6", "active", `{"coding":[`+coding("38341003", "")+`,`+coding("59621000", "")+`],"text":"High blood pressure"}`))

		// A transaction that stores a new code's display and is then rolled
		// back (its PUT fails If-Match) must leave nothing of it behind.
		tx := `{"resourceType":"Bundle","type":"transaction","entry":[
			{"fullUrl":"urn:uuid:0b6c3f0e-4a59-4d1c-9f0e-6f1f8d0c2a11","resource":` + condition("", "active", `{"coding":[`+coding("161891005", "Backache")+`]}`) + `,"request":{"method":"POST","url":"Condition"}},
			{"resource":` + condition("a1", "active", `{"coding":[`+coding("195967001", "Asthma")+`]}`) + `,"request":{"method":"PUT","url":"Condition/a1","ifMatch":"W/\"99\""}}]}`
		if r := srv.do(t, "POST", "/fhir", tx); r.Status != 412 {
			t.Fatalf("transaction with a stale If-Match = %d, want 412\n%s", r.Status, r.Body)
		}
		put("b1", condition("b1", "active", `{"coding":[`+coding("161891005", "Backache")+`]}`))

		search := func(query, want string) {
			t.Helper()
			r := srv.do(t, "GET", "/fhir/Condition?"+query, "")
			if r.Status != 200 {
				t.Fatalf("GET Condition?%s = %d\n%s", query, r.Status, r.Body)
			}
			got, _ := bundleIDs(t, r)
			slices.Sort(got)
			if strings.Join(got, " ") != want {
				t.Errorf("GET Condition?%s\n got %v\nwant %v", query, got, want)
			}
		}
		search("code:text=asthma", "Condition/a1 Condition/a2 Condition/a5 Condition/a6 Condition/a7 Condition/a8")
		search("code:text=bronchial", "Condition/a3")
		search(`code:text=asthma%5C,%20well`, "Condition/a7")
		search("code:text=wheeze", "Condition/a8")
		search("code:text=bronch,wheez", "Condition/a3 Condition/a8")
		search("code:text=asthma&clinical-status=resolved", "Condition/a2")
		search("clinical-status=active&code:text=asthma&_id=a1,a3,a4,a5", "Condition/a1 Condition/a5")
		search("code:text=backache", "Condition/b1")
		search("code:text=high", "Condition/h1 Condition/h2 Condition/h6")
		search("code:text=hbp", "Condition/h3")
		search("code:text=essential", "Condition/h1 Condition/h2 Condition/h3 Condition/h4")
		search("code:text=raised", "Condition/h5")
		search("code=59621000&code:text=high,raised", "Condition/h1 Condition/h2 Condition/h5 Condition/h6")
		search("subject:missing=false&code:text=asthm&code=195967001&_id:not=a7", "Condition/a1 Condition/a2 Condition/a5 Condition/a6 Condition/a8")

		// An update replaces the resource's text.
		put("a2", condition("a2", "resolved", `{"coding":[`+coding("195967001", "Acute asthma")+`]}`))
		put("a3", condition("a3", "active", `{"coding":[`+coding("195967001", "Asthma")+`]}`))
		search("code:text=asthma", "Condition/a1 Condition/a3 Condition/a5 Condition/a6 Condition/a7 Condition/a8")
		search("code:text=acute", "Condition/a2")
		search("code:text=bronchial", "")
	})
}
