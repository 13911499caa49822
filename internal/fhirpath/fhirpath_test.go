package fhirpath

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"sharedcare/internal/fhir"
)

const patientJSON = `{
  "resourceType": "Patient",
  "id": "p1",
  "contained": [{"resourceType": "Organization", "id": "org1", "name": "Acme GP"}],
  "extension": [{"url": "http://example.org/ext/flag", "valueBoolean": true}],
  "active": true,
  "name": [
    {"use": "official", "family": "Chalmers", "given": ["Peter", "James"]},
    {"use": "usual", "given": ["Jim"]},
    {"use": "maiden", "family": "Windsor", "given": [null, "Jay"], "_given": [{"extension": [{"url": "http://example.org/ext/x", "valueString": "five"}]}]}
  ],
  "telecom": [{"system": "phone", "value": "0123"}, {"system": "email", "value": "a@example.org"}],
  "gender": "male",
  "_birthDate": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime", "valueDateTime": "1974-12-25T14:35:45-05:00"}]},
  "deceasedBoolean": false,
  "multipleBirthInteger": 2,
  "contact": [{"name": {"family": "Du Marché"}, "gender": "female"}],
  "managingOrganization": {"reference": "#org1"},
  "generalPractitioner": [{"reference": "Practitioner/pr1"}, {"reference": "https://example.org/fhir/Organization/o2/_history/3"}]
}`

const observationJSON = `{
  "resourceType": "Observation",
  "id": "o1",
  "status": "final",
  "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}, {"system": "http://snomed.info/sct", "code": "27113001"}]},
  "subject": {"reference": "Patient/p1"},
  "effectiveDateTime": "2016-03-28T09:30:00+01:00",
  "valueQuantity": {"value": 185, "unit": "lbs", "system": "http://unitsofmeasure.org", "code": "[lb_av]"},
  "component": [
    {"code": {"text": "a"}, "valueQuantity": {"value": 1.50, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}},
    {"code": {"text": "b"}, "valueString": "high"},
    {"code": {"text": "c"}, "_valueString": {"extension": [{"url": "http://example.org/absent", "valueCode": "unknown"}]}}
  ]
}`

func parseJSON(t testing.TB, s string) *fhir.Value {
	t.Helper()
	v, err := fhir.Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return &v
}

// render writes a collection for comparison: strings quoted, FHIR complex
// values by type name.
func render(items []Item) string {
	parts := make([]string, len(items))
	for i, it := range items {
		parts[i] = it.String()
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func TestEvaluate(t *testing.T) {
	t.Parallel()
	pat := parseJSON(t, patientJSON)
	obs := parseJSON(t, observationJSON)
	tests := []struct {
		name  string
		input *fhir.Value
		expr  string
		want  string // rendered result; "error" for an *EvalError
	}{
		// Paths and types
		{"path", pat, "Patient.name.where(use = 'official').family", "['Chalmers']"},
		{"type name matches input", pat, "Patient.active", "[true]"},
		{"other type name is empty", pat, "Observation.status", "[]"},
		{"indexer", pat, "Patient.telecom[1].value", "['a@example.org']"},
		{"indexer out of range", pat, "Patient.telecom[5].value", "[]"},
		{"backbone element", pat, "Patient.contact.name.family", "['Du Marché']"},
		{"choice by base name", obs, "Observation.value.unit", "['lbs']"},
		{"choice JSON name is an error", obs, "Observation.valueQuantity", "error"},
		{"choice as", obs, "(Observation.value as Quantity).value", "[185]"},
		{"choice ofType", obs, "Observation.component.value.ofType(string)", "['high', string]"}, // the second has only extensions
		{"choice with only extensions", obs, "Observation.component[2].value.hasValue()", "[false]"},
		{"choice with only extensions exists", obs, "Observation.component[2].value.exists()", "[true]"},
		{"choice is", pat, "Patient.deceased is boolean", "[true]"},
		{"choice integer", pat, "Patient.multipleBirth + 1", "[3]"},
		{"as on many items filters", obs, "Observation.component.value as Quantity", "[1.50 'mg']"},
		{"Age is a Quantity", nil, "@2019.is(Date)", "[true]"},
		{"System type of FHIR primitive", pat, "Patient.gender.is(String)", "[false]"},
		{"FHIR primitive is code", pat, "Patient.gender.is(code) and Patient.gender.is(string)", "[true]"},
		{"type()", pat, "Patient.name.type().name", "['HumanName', 'HumanName', 'HumanName']"},

		// Primitive extensions
		{"null in array is skipped, extension kept", pat, "Patient.name[2].given.count()", "[2]"},
		{"value-less primitive", pat, "Patient.name[2].given.select(hasValue())", "[false, true]"},
		{"birthDate with only extension", pat, "Patient.birthDate.exists() and Patient.birthDate.hasValue().not()", "[true]"},
		{"primitive extension", pat, "Patient.birthDate.extension('http://hl7.org/fhir/StructureDefinition/patient-birthTime').value", "[1974-12-25T14:35:45-05:00]"},
		{"resource extension", pat, "Patient.extension('http://example.org/ext/flag').value", "[true]"},
		{"getValue", pat, "Patient.gender.getValue() is String", "[true]"},

		// Decimals are exact
		{"0.1 + 0.2", nil, "0.1 + 0.2", "[0.3]"},
		{"0.1 + 0.2 = 0.3", nil, "0.1 + 0.2 = 0.3", "[true]"},
		{"scale kept", nil, "1.50 + 1", "[2.50]"},
		{"division", nil, "10 / 4", "[2.5]"},
		{"division repeating", nil, "1 / 3", "[0.3333333333333333333333333333]"},
		{"div truncates", nil, "-7 div 2", "[-3]"},
		{"mod sign", nil, "-7 mod 2", "[-1]"},
		{"decimal mod", nil, "5.5 mod 2", "[1.5]"},
		{"divide by zero", nil, "1.0 / 0", "[]"},
		{"integer overflow", nil, "9223372036854775807 + 1", "error"},
		{"big decimal", nil, "123456789012345678901234567890.5 + 0.5", "[123456789012345678901234567891.0]"},
		{"round half away", nil, "(-2.5).round()", "[-3]"},
		{"power exact", nil, "1.1.power(2)", "[1.21]"},
		{"sqrt", nil, "2.0.sqrt() > 1.414", "[true]"},
		{"precision of literal", nil, "1.50.precision()", "[2]"},

		// Strings
		{"concat empty", nil, "'abc' & {}", "['abc']"},
		{"plus empty", nil, "'abc' + {}", "[]"},
		{"substring unicode", nil, "'Du Marché'.substring(7)", "['hé']"},
		{"length unicode", nil, "'é'.length()", "[1]"},
		{"matches single line", nil, "'a\\nb'.matches('a.b')", "[true]"},
		{"replaceMatches groups", nil, "'2019-03-14'.replaceMatches('(\\\\d+)-(\\\\d+)-(\\\\d+)', '$3/$2/$1')", "['14/03/2019']"},
		{"string function on non-string", pat, "Patient.name.first().startsWith('x')", "error"},
		{"string function on many", pat, "Patient.name.given.startsWith('P')", "error"},
		{"equivalence normalises", nil, "'Hello   World' ~ 'hello world'", "[true]"},
		{"join", pat, "Patient.name.given.join(' ')", "['Peter James Jim Jay']"},

		// Three-valued logic
		{"and empty", nil, "true and {}", "[]"},
		{"false and empty", nil, "false and {}", "[false]"},
		{"or empty", nil, "{} or true", "[true]"},
		{"implies", nil, "false implies {}", "[true]"},
		{"xor", nil, "true xor false", "[true]"},
		{"not on many", pat, "Patient.name.not()", "error"},
		{"short circuit", nil, "false and (1 | 2).single()", "[false]"},

		// Collections
		{"union dedups", nil, "(1 | 2 | 2 | 1.0)", "[1, 2]"},
		{"combine keeps", nil, "(1).combine(1)", "[1, 1]"},
		{"in", nil, "2 in (1 | 2)", "[true]"},
		{"contains", nil, "(1 | 2) contains 3", "[false]"},
		{"in empty", nil, "{} in (1 | 2)", "[]"},
		{"equality of collections", nil, "(1 | 2) = (1 | 2)", "[true]"},
		{"equality order", nil, "(1 | 2) = (2 | 1)", "[false]"},
		{"equivalence order", nil, "(1 | 2) ~ (2 | 1)", "[true]"},
		{"complex equality", pat, "Patient.name[0] = Patient.name.first()", "[true]"},
		{"distinct names", pat, "Patient.name.use.distinct().count()", "[3]"},
		{"aggregate", nil, "(1 | 2 | 3).aggregate($total + $this, 0)", "[6]"},
		{"index", pat, "Patient.name.select($index)", "[0, 1, 2]"},
		{"repeat", nil, "(1).repeat(iif($this < 4, $this + 1, {}))", "[2, 3, 4]"},
		{"single on many", pat, "Patient.name.single()", "error"},
		{"iif empty criterion", nil, "iif({}, 1, 2)", "[2]"},
		{"iif skips branch", nil, "iif(true, 1, (1 | 2).single())", "[1]"},
		{"descendants", obs, "Observation.descendants().ofType(Coding).code", "['29463-7', '27113001']"},
		{"children", obs, "Observation.code.children().count()", "[2]"},
		{"sort descending", nil, "(2 | 3 | 1).sort(-$this)", "[3, 2, 1]"},

		// Dates and times
		{"month end clamps", nil, "@2019-01-31 + 1 month", "[2019-02-28]"},
		{"leap year", nil, "@2020-02-29 + 1 year", "[2021-02-28]"},
		{"minutes keep zone", nil, "@2019-01-01T10:00:00Z + 90 minutes", "[2019-01-01T11:30:00Z]"},
		{"time wraps", nil, "@T23:30 + 1 hour", "[00:30]"},
		{"partial precision", nil, "@2019 + 13 months", "[2020]"},
		{"subtract day", nil, "@2019-01-01 - 1 day", "[2018-12-31]"},
		{"UCUM week", nil, "@2019-01-01 + 2 'wk'", "[2019-01-15]"},
		{"UCUM year refused", nil, "@2019-01-01 + 1 'a'", "error"},
		{"zones normalised", nil, "@2019-01-01T10:00:00+01:00 = @2019-01-01T09:00:00Z", "[true]"},
		{"date against dateTime", nil, "@2019-01-01T10:00 < @2019-01-02", "[true]"},
		{"same day, different precision", nil, "@2019-01-01T10:00 < @2019-01-01", "[]"},
		{"zone against no zone, far apart", nil, "@2019-01-01T10:00:00Z < @2019-01-05T10:00:00", "[true]"},
		{"zone against no zone, close", nil, "@2019-01-01T10:00:00Z = @2019-01-01T10:00:00", "[]"},
		{"FHIR dateTime", obs, "Observation.effective > @2016-03-28T08:00:00Z", "[true]"},
		{"seconds and milliseconds", nil, "@T10:30:00 = @T10:30:00.000", "[true]"},
		{"toDate", nil, "@2019-02-03T10:00.toDate()", "[2019-02-03]"},
		{"lowBoundary", nil, "@2019-02.lowBoundary()", "[2019-02-01]"},
		{"highBoundary", nil, "@2019-02.highBoundary()", "[2019-02-28]"},
		{"decimal highBoundary", nil, "1.587.highBoundary(2)", "[1.59]"},
		{"decimal lowBoundary negative", nil, "(-0.0034).lowBoundary(1)", "[-0.1]"},

		// Quantities
		{"kg and g", nil, "1 'kg' = 1000 'g'", "[true]"},
		{"mL and L", nil, "1 'mL' = 0.001 'L'", "[true]"},
		{"hour and minutes", nil, "1 'h' = 60 'min'", "[true]"},
		{"days and week", nil, "14 days = 2 weeks", "[true]"},
		{"year and months", nil, "1 year = 12 months", "[true]"},
		{"calendar year and UCUM year", nil, "1 year = 1 'a'", "[]"},
		{"incomparable", nil, "1 'cm' = 1 's'", "[]"},
		{"incomparable order", nil, "1 'cm' < 1 's'", "[]"},
		{"add in left unit", nil, "2 'mg' + 1 'g'", "[1002 'mg']"},
		{"pounds against kilograms", obs, "Observation.value > 80 'kg'", "[true]"},
		{"mmHg", nil, "120 'mm[Hg]' = 0.12 'm[Hg]'", "[true]"},
		{"per minute", nil, "60 '/min' = 1 '/s'", "[true]"},
		{"micrograms", nil, "1 'mg' = 1000 'ug'", "[true]"},
		{"annotation", nil, "1 '{beats}/min' = 1 '/min'", "[true]"},
		{"product", nil, "2 'm' * 3 'm' = 6 'm2'", "[true]"},
		{"quotient", nil, "6 'mg' / 2 'mL' = 3 'g/L'", "[true]"},
		{"FHIR Quantity equality", obs, "Observation.component[0].value = 1.5 'mg'", "[true]"},
		{"toQuantity unit", nil, "(1 'g').toQuantity('mg')", "[1000 'mg']"},
		{"toString quantity", nil, "(2.0 'mg').toString() = '2.0 \\'mg\\''", "[true]"},

		// Conversions
		{"toInteger", nil, "'12'.toInteger() + 1", "[13]"},
		{"toDecimal", nil, "'1.50'.toDecimal()", "[1.50]"},
		{"toBoolean", nil, "'yes'.toBoolean()", "[true]"},
		{"toString date", nil, "@2019-03.toString()", "['2019-03']"},
		{"convertsToDateTime", nil, "'2019-13'.convertsToDateTime()", "[false]"},

		// Variables and environment
		{"%resource", pat, "%resource.id", "['p1']"},
		{"%ucum", nil, "%ucum", "['http://unitsofmeasure.org']"},
		{"%vs-", nil, "%`vs-administrative-gender`", "['http://hl7.org/fhir/ValueSet/administrative-gender']"},
		{"unknown variable", nil, "%nope", "error"},

		// References
		{"resolve stub", obs, "Observation.subject.where(resolve() is Patient).reference", "['Patient/p1']"},
		{"resolve stub has no content", obs, "Observation.subject.resolve().id", "[]"},
		{"resolve contained", pat, "Patient.managingOrganization.resolve().name", "['Acme GP']"},
		{"resolve absolute with history", pat, "Patient.generalPractitioner.resolve().type().name", "['Practitioner', 'Organization']"},
		{"resolve not Patient", pat, "Patient.generalPractitioner.where(resolve() is Patient)", "[]"},
		{"conformsTo core", pat, "conformsTo('http://hl7.org/fhir/StructureDefinition/DomainResource')", "[true]"},
		{"conformsTo unknown", pat, "conformsTo('http://example.org/p')", "error"},
		{"memberOf without hook", pat, "Patient.gender.memberOf('http://hl7.org/fhir/ValueSet/administrative-gender')", "error"},
		{"htmlChecks", pat, "htmlChecks()", "[true]"},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, err := Parse(tt.expr)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.expr, err)
			}
			var in Item
			if tt.input != nil {
				in = Resource(tt.input)
			}
			res, err := e.Evaluate(ctx, in, nil)
			got := render(res)
			if err != nil {
				if _, ok := errors.AsType[*EvalError](err); !ok {
					t.Fatalf("Evaluate(%q) error %T %v, want *EvalError", tt.expr, err, err)
				}
				got = "error"
			}
			if got != tt.want {
				t.Errorf("Evaluate(%q) = %s (err %v), want %s", tt.expr, got, err, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr   string
		offset int
	}{
		{"Patient.name.", 13},
		{"Patient..name", 8},
		{"'abc", 0},
		{"foo(1)", 0},
		{"1 +", 3},
		{"@2019-13", 0},
		{"Patient.name.as(Foo)", 16},
		{"where()", 0},
		{"(1", 2},
		{"1 2", 2},
		{"'x'.matches('(')", 12},
		{"`unterminated", 0},
		{"/* open", 0},
		{"$that", 0},
		{"", 0},
		{strings.Repeat("(", 1000) + "1" + strings.Repeat(")", 1000), 200},
		{strings.Repeat("a.", 3000) + "a", 4096}, // the 4097th of 6001 tokens
	}
	for _, tt := range tests {
		_, err := Parse(tt.expr)
		se, ok := errors.AsType[*SyntaxError](err)
		if !ok {
			t.Errorf("Parse(%q) = %v, want a *SyntaxError", tt.expr, err)
			continue
		}
		if se.Offset != tt.offset {
			t.Errorf("Parse(%q) error at offset %d (%v), want %d", tt.expr, se.Offset, se, tt.offset)
		}
	}
}

func TestItemAccessors(t *testing.T) {
	t.Parallel()
	pat := parseJSON(t, patientJSON)
	obs := parseJSON(t, observationJSON)
	ctx := context.Background()
	eval := func(v *fhir.Value, expr string) []Item {
		t.Helper()
		res, err := MustParse(expr).Evaluate(ctx, Resource(v), nil)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		return res
	}

	names := eval(pat, "Patient.name")
	if len(names) != 3 || names[0].TypeName() != "HumanName" || names[0].Kind() != KindNone {
		t.Fatalf("Patient.name = %v", names)
	}
	if fam := names[0].Value().Str("family"); fam != "Chalmers" {
		t.Errorf("Patient.name[0].Value() family = %q, want Chalmers", fam)
	}

	q := eval(obs, "Observation.value")
	got, ok := q[0].AsQuantity()
	want := Quantity{Value: "185", Unit: "lbs", Code: "[lb_av]", System: ucumSystem}
	if !ok || got != want || got.Float64() != 185 {
		t.Errorf("AsQuantity() = %+v %v, want %+v", got, ok, want)
	}
	if q[0].TypeName() != "Quantity" || q[0].Kind() != KindQuantity {
		t.Errorf("Observation.value type %q kind %v", q[0].TypeName(), q[0].Kind())
	}

	d := eval(obs, "Observation.component[0].value.value")
	if text, f, ok := d[0].AsDecimal(); !ok || text != "1.50" || f != 1.5 {
		t.Errorf("AsDecimal() = %q %v %v, want 1.50", text, f, ok)
	}

	eff := eval(obs, "Observation.effective")
	dt, ok := eff[0].AsDateTime()
	if !ok || eff[0].TypeName() != "dateTime" || dt.Precision != PrecisionSecond || !dt.HasZone || dt.ZoneOffset != 3600 {
		t.Errorf("AsDateTime() = %+v %v", dt, ok)
	}
	lo, hi := dt.Bounds(nil)
	if !lo.Equal(time.Date(2016, 3, 28, 8, 30, 0, 0, time.UTC)) || hi.Sub(lo) != 999*time.Millisecond {
		t.Errorf("Bounds() = %v %v", lo, hi)
	}

	bd := eval(pat, "Patient.birthDate")
	if len(bd) != 1 || bd[0].HasValue() || bd[0].Value() != nil || bd[0].Extensions() == nil {
		t.Errorf("birthDate with only extensions: %v, HasValue %v", bd, bd[0].HasValue())
	}

	g := eval(pat, "Patient.gender")
	if s, ok := g[0].AsString(); !ok || s != "male" || g[0].TypeName() != "code" {
		t.Errorf("gender AsString() = %q %v, type %q", s, ok, g[0].TypeName())
	}

	stub := eval(obs, "Observation.subject.resolve()")
	if len(stub) != 1 || stub[0].TypeName() != "Patient" || !stub[0].IsResource() || stub[0].Value() != nil {
		t.Errorf("resolve() stub = %v", stub)
	}
}

// TestNodeInput evaluates an invariant the way the validator does: $this an
// element deep in a resource, %resource the resource.
func TestNodeInput(t *testing.T) {
	t.Parallel()
	pat := parseJSON(t, patientJSON)
	contact := &pat.Get("contact").Items[0]
	env := &Env{Resource: Resource(pat)}
	ok, known, err := MustParse("name.exists() or telecom.exists() or address.exists() or organization.exists()").
		EvaluateBool(context.Background(), Node(contact, "Patient.contact"), env)
	if err != nil || !known || !ok {
		t.Errorf("pat-1 on Patient.contact = %v %v %v, want true", ok, known, err)
	}
	res, err := MustParse("%resource.id & '/' & gender").Evaluate(context.Background(), Node(contact, "Patient.contact"), env)
	if err != nil || render(res) != "['p1/female']" {
		t.Errorf("%%resource from a node = %v %v", render(res), err)
	}
	gender := Primitive(contact.Get("gender"), nil, "code")
	res, err = MustParse("$this = 'female' and $this is code").Evaluate(context.Background(), gender, nil)
	if err != nil || render(res) != "[true]" {
		t.Errorf("primitive input = %v %v", render(res), err)
	}
}

func TestEnvHooks(t *testing.T) {
	t.Parallel()
	pat := parseJSON(t, patientJSON)
	obs := parseJSON(t, observationJSON)
	ctx := context.Background()

	var asked []string
	env := &Env{
		Resolve: func(ctx context.Context, ref string) (*fhir.Value, bool) {
			asked = append(asked, ref)
			if ref == "Patient/p1" {
				return pat, true
			}
			return nil, false
		},
		MemberOf: func(ctx context.Context, vs, system, code string) (bool, error) {
			return vs == "http://example.org/vs" && system == "http://snomed.info/sct" && code == "27113001", nil
		},
		Vars: map[string][]Item{"limit": {Integer(100)}},
		Now:  func() time.Time { return time.Date(2020, 6, 1, 12, 0, 0, 0, time.UTC) },
	}
	var traced []string
	env.Trace = func(name string, items []Item) { traced = append(traced, name+render(items)) }

	tests := []struct{ expr, want string }{
		{"Observation.subject.resolve().name.first().family", "['Chalmers']"},
		{"Observation.code.memberOf('http://example.org/vs')", "[true]"},
		{"Observation.code.coding.first().memberOf('http://example.org/vs')", "[false]"},
		{"Observation.value.value > %limit", "[true]"},
		{"today()", "[2020-06-01]"},
		{"now() = @2020-06-01T12:00:00.000Z", "[true]"},
		{"Observation.status.trace('s').exists()", "[true]"},
	}
	for _, tt := range tests {
		res, err := MustParse(tt.expr).Evaluate(ctx, Resource(obs), env)
		if got := render(res); err != nil || got != tt.want {
			t.Errorf("Evaluate(%q) = %s %v, want %s", tt.expr, got, err, tt.want)
		}
	}
	if len(asked) != 1 || asked[0] != "Patient/p1" {
		t.Errorf("Resolve asked %v, want [Patient/p1]", asked)
	}
	if len(traced) != 1 || traced[0] != "s['final']" {
		t.Errorf("Trace got %v", traced)
	}

	// A Bundle as %rootResource: references resolve to its entries.
	bundle := parseJSON(t, `{"resourceType": "Bundle", "type": "transaction", "entry": [
		{"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Patient", "active": false}},
		{"fullUrl": "https://x.org/fhir/Patient/p9", "resource": {"resourceType": "Patient", "id": "p9", "active": true}}]}`)
	o := parseJSON(t, `{"resourceType": "Observation", "subject": {"reference": "urn:uuid:1"}, "performer": [{"reference": "Patient/p9"}]}`)
	env = &Env{RootResource: Resource(bundle)}
	res, err := MustParse("(subject | performer).resolve().active").Evaluate(ctx, Resource(o), env)
	if err != nil || render(res) != "[false, true]" {
		t.Errorf("Bundle resolve = %s %v, want [false, true]", render(res), err)
	}
}

func TestStrict(t *testing.T) {
	t.Parallel()
	pat := parseJSON(t, patientJSON)
	tests := []struct {
		expr    string
		wantErr bool
	}{
		{"Patient.name.given", false},
		{"Patient.name.givn", true},
		{"name.where(use = 'official').famly", true},
		{"Patient.deceased.ofType(boolean)", false},
		{"(Patient.deceased as dateTime).day", true},
		{"Patient.contained.name", false}, // contained resources have no static type
		{"Patient.children().first()", true},
		{"Patient.gender.extension.url", false},
		{"iif(Patient.active, 1, 2)", false},
		{"iif('x', 1, 2)", true},
	}
	for _, tt := range tests {
		_, err := MustParse(tt.expr).Evaluate(context.Background(), Resource(pat), &Env{Strict: true})
		if (err != nil) != tt.wantErr {
			t.Errorf("strict Evaluate(%q) error %v, want error %v", tt.expr, err, tt.wantErr)
		}
	}
}

func TestStrictAs(t *testing.T) {
	t.Parallel()
	obs := parseJSON(t, observationJSON)
	e := MustParse("Observation.component.value.as(Quantity)")
	if _, err := e.Evaluate(context.Background(), Resource(obs), nil); err != nil {
		t.Errorf("lenient as() on many items: %v", err)
	}
	if _, err := e.Evaluate(context.Background(), Resource(obs), &Env{StrictAs: true}); err == nil {
		t.Errorf("StrictAs as() on many items: no error")
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	// A wide tree, so that descendants() has work to stop.
	var b strings.Builder
	b.WriteString(`{"resourceType": "Bundle", "entry": [`)
	for i := range 5000 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"resource": {"resourceType": "Basic", "code": {"coding": [{"code": "x"}]}}}`)
	}
	b.WriteString("]}")
	v := parseJSON(t, b.String())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := MustParse("descendants().count()").Evaluate(ctx, Resource(v), nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Evaluate with a cancelled context = %v, want context.Canceled", err)
	}
	res, err := MustParse("descendants().ofType(Coding).count()").Evaluate(context.Background(), Resource(v), nil)
	if err != nil || render(res) != "[5000]" {
		t.Errorf("descendants() = %s %v", render(res), err)
	}
}

// TestResultIsCallers checks that a caller may modify a result without
// changing what the compiled expression returns next time.
func TestResultIsCallers(t *testing.T) {
	t.Parallel()
	e := MustParse("'a'.first()")
	res, _ := e.Evaluate(context.Background(), Item{}, nil)
	res[0] = Integer(7)
	res, _ = e.Evaluate(context.Background(), Item{}, nil)
	if render(res) != "['a']" {
		t.Errorf("second evaluation = %s, want ['a']", render(res))
	}
	res, _ = MustParse("1 = 1").Evaluate(context.Background(), Item{}, nil)
	res[0] = Integer(7)
	if trueItems[0].n != 1 {
		t.Errorf("shared true modified")
	}
}

// TestConcurrent evaluates one compiled expression from many goroutines;
// run with -race.
func TestConcurrent(t *testing.T) {
	t.Parallel()
	pat := parseJSON(t, patientJSON)
	e := MustParse("Patient.name.where(use = 'official').given.first() & ' ' & (1.5 + 0.25).toString() & ' ' & (@2019-01-31 + 1 month).toString()")
	want := "['Peter 1.75 2019-02-28']"
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				res, err := e.Evaluate(context.Background(), Resource(pat), nil)
				if got := render(res); err != nil || got != want {
					t.Errorf("Evaluate = %s %v, want %s", got, err, want)
					return
				}
			}
		})
	}
	wg.Wait()
}
