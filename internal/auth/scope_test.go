package auth

import (
	"net/url"
	"reflect"
	"strings"
	"testing"
)

func TestParseScopes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    []Scope // nil with wantErr
		wantErr bool
	}{
		{"", nil, false},
		{"   ", nil, false},
		{"patient/Observation.read", []Scope{{Name: "patient/Observation.read", Context: PatientContext, Type: "Observation", Ops: 1<<Read | 1<<Search}}, false},
		{"user/*.write", []Scope{{Name: "user/*.write", Context: UserContext, Type: "*", Ops: 1<<Create | 1<<Update | 1<<Delete}}, false},
		{"system/*.*", []Scope{{Name: "system/*.*", Context: SystemContext, Type: "*", Ops: AllOps}}, false},
		{"patient/Observation.rs", []Scope{{Name: "patient/Observation.rs", Context: PatientContext, Type: "Observation", Ops: 1<<Read | 1<<Search}}, false},
		{"user/*.cruds", []Scope{{Name: "user/*.cruds", Context: UserContext, Type: "*", Ops: AllOps}}, false},
		{"user/Patient.c", []Scope{{Name: "user/Patient.c", Context: UserContext, Type: "Patient", Ops: 1 << Create}}, false},
		{"user/Patient.ud", []Scope{{Name: "user/Patient.ud", Context: UserContext, Type: "Patient", Ops: 1<<Update | 1<<Delete}}, false},
		{"system/Patient.r", []Scope{{Name: "system/Patient.r", Context: SystemContext, Type: "Patient", Ops: 1 << Read}}, false},
		{"patient/Observation.rs?category=laboratory", []Scope{{Name: "patient/Observation.rs?category=laboratory", Context: PatientContext, Type: "Observation", Ops: 1<<Read | 1<<Search, Params: url.Values{"category": {"laboratory"}}}}, false},
		{"patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs&status=final",
			[]Scope{{Name: "patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs&status=final", Context: PatientContext, Type: "Observation", Ops: 1<<Read | 1<<Search,
				Params: url.Values{"category": {"http://terminology.hl7.org/CodeSystem/observation-category|vital-signs"}, "status": {"final"}}}}, false},
		{"launch launch/patient openid fhirUser offline_access online_access profile",
			[]Scope{{Name: "launch"}, {Name: "launch/patient"}, {Name: "openid"}, {Name: "fhirUser"}, {Name: "offline_access"}, {Name: "online_access"}, {Name: "profile"}}, false},
		{"email nationalrbacaccess", []Scope{{Name: "email"}, {Name: "nationalrbacaccess"}}, false},
		{"openid  openid patient/*.rs", []Scope{{Name: "openid"}, {Name: "patient/*.rs", Context: PatientContext, Type: "*", Ops: 1<<Read | 1<<Search}}, false},

		{"patient/Observation", nil, true},
		{"patient", nil, true},
		{"patient/", nil, true},
		{"patient/.rs", nil, true},
		{"patient/Observation.", nil, true},
		{"patient/Observation.sr", nil, true},                            // out of order
		{"patient/Observation.rr", nil, true},                            // repeated
		{"patient/Observation.x", nil, true},                             // not a permission
		{"patient/Observation.READ", nil, true},                          // case matters
		{"patient/NotAType.rs", nil, true},                               // unknown type
		{"patient/observation.rs", nil, true},                            // types are capitalised
		{"*/Observation.rs", []Scope{{Name: "*/Observation.rs"}}, false}, // not a SMART context: an unknown scope
		{"patient/Observation.read?category=x", nil, true},               // constraints need v2
		{"patient/Observation.rs?", nil, true},
		{"patient/Observation.rs?category", nil, true},
		{"patient/Observation.rs?=x", nil, true},
		{"patient/Observation.rs?category=%zz", nil, true},
		{"patient/Observation.rs\tuser/*.rs", nil, true},
		{`openid "x"`, nil, true},
		{"openid\\", nil, true},
		{"patient/Observation.rés", nil, true},
		{strings.Repeat("a", maxScope+1), nil, true},
	}
	for _, tt := range tests {
		got, err := ParseScopes(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseScopes(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if tt.wantErr {
			continue
		}
		if !reflect.DeepEqual([]Scope(got), tt.want) {
			t.Errorf("ParseScopes(%q) =\n %#v\nwant\n %#v", tt.in, got, tt.want)
		}
	}
}

func TestScopesAllows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		scopes string
		ctx    Context
		typ    string
		op     Op
		want   bool
	}{
		{"patient/Observation.read", PatientContext, "Observation", Read, true},
		{"patient/Observation.read", PatientContext, "Observation", Search, true},
		{"patient/Observation.read", PatientContext, "Observation", Create, false},
		{"patient/Observation.read", PatientContext, "Observation", Update, false},
		{"patient/Observation.read", PatientContext, "Observation", Delete, false},
		{"patient/Observation.read", UserContext, "Observation", Read, false},
		{"patient/Observation.read", PatientContext, "Patient", Read, false},
		{"patient/*.read", PatientContext, "Patient", Read, true},
		{"user/*.write", UserContext, "Patient", Create, true},
		{"user/*.write", UserContext, "Patient", Update, true},
		{"user/*.write", UserContext, "Patient", Delete, true},
		{"user/*.write", UserContext, "Patient", Read, false},
		{"user/*.write", UserContext, "Patient", Search, false},
		{"system/*.*", SystemContext, "Patient", Delete, true},
		{"system/*.*", UserContext, "Patient", Read, false},
		{"user/Patient.r", UserContext, "Patient", Read, true},
		{"user/Patient.r", UserContext, "Patient", Search, false},
		{"user/Patient.s", UserContext, "Patient", Search, true},
		{"user/Patient.s", UserContext, "Patient", Read, false},
		{"user/*.cruds", UserContext, "Encounter", Update, true},
		{"user/*.cud", UserContext, "Encounter", Search, false},
		{"patient/Observation.rs?category=laboratory", PatientContext, "Observation", Read, false},
		{"patient/Observation.rs?category=laboratory patient/Observation.rs", PatientContext, "Observation", Read, true},
		{"openid fhirUser launch/patient", PatientContext, "Patient", Read, false},
		{"", PatientContext, "Patient", Read, false},
	}
	for _, tt := range tests {
		ss, err := ParseScopes(tt.scopes)
		if err != nil {
			t.Fatalf("ParseScopes(%q): %v", tt.scopes, err)
		}
		if got := ss.Allows(tt.ctx, tt.typ, tt.op); got != tt.want {
			t.Errorf("ParseScopes(%q).Allows(%s, %s, %s) = %v, want %v", tt.scopes, tt.ctx, tt.typ, tt.op, got, tt.want)
		}
	}
}

func TestScopesAllowsWhere(t *testing.T) {
	t.Parallel()
	ss, err := ParseScopes("patient/Observation.rs?category=laboratory patient/Observation.r?category=vital-signs patient/Condition.rs")
	if err != nil {
		t.Fatal(err)
	}
	where, ok := ss.AllowsWhere(PatientContext, "Observation", Read)
	if !ok || len(where) != 2 || where[0].Get("category") != "laboratory" || where[1].Get("category") != "vital-signs" {
		t.Errorf("AllowsWhere(patient, Observation, r) = %v, %v; want the two category constraints", where, ok)
	}
	where, ok = ss.AllowsWhere(PatientContext, "Observation", Search)
	if !ok || len(where) != 1 || where[0].Get("category") != "laboratory" {
		t.Errorf("AllowsWhere(patient, Observation, s) = %v, %v; want category=laboratory", where, ok)
	}
	if where, ok := ss.AllowsWhere(PatientContext, "Condition", Search); !ok || where != nil {
		t.Errorf("AllowsWhere(patient, Condition, s) = %v, %v; want unconstrained", where, ok)
	}
	if where, ok := ss.AllowsWhere(PatientContext, "Observation", Create); ok {
		t.Errorf("AllowsWhere(patient, Observation, c) = %v, %v; want refused", where, ok)
	}
}

func TestScopesWithin(t *testing.T) {
	t.Parallel()
	tests := []struct{ asked, grant, want string }{
		{"patient/Observation.rs openid launch", "patient/*.read openid", "patient/Observation.rs openid"},
		{"patient/*.cruds", "patient/*.rs", ""},
		{"patient/Observation.rs?category=laboratory", "patient/*.rs", "patient/Observation.rs?category=laboratory"},
		{"patient/Observation.rs", "patient/Observation.rs?category=laboratory", ""},
		{"user/Patient.r", "patient/*.*", ""},
		{"system/*.rs", "system/*.*", "system/*.rs"},
		{"email", "user/*.rs", ""},
	}
	for _, tt := range tests {
		asked, _ := ParseScopes(tt.asked)
		grant, _ := ParseScopes(tt.grant)
		if got := asked.Within(grant).String(); got != tt.want {
			t.Errorf("%q.Within(%q) = %q, want %q", tt.asked, tt.grant, got, tt.want)
		}
	}
}

func TestKindString(t *testing.T) {
	t.Parallel()
	for _, k := range []Kind{Patient, Clinician, Admin, System, Dev} {
		if got, ok := ParseKind(k.String()); !ok || got != k {
			t.Errorf("ParseKind(%q) = %v, %v; want %v", k.String(), got, ok, k)
		}
	}
	if Kind(0).String() != "unknown" || Kind(99).String() != "unknown" {
		t.Errorf("Kind(0), Kind(99) = %q, %q; want unknown", Kind(0), Kind(99))
	}
}

func FuzzParseScopes(f *testing.F) {
	for _, s := range []string{"patient/Observation.read", "user/*.cruds openid fhirUser", "system/*.*", "launch launch/patient offline_access",
		"patient/Observation.rs?category=laboratory&status=final", "patient/Observation.sr", "user/Patient.r?x=%zz", "*/*.*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ss, err := ParseScopes(s)
		if err != nil {
			return
		}
		back, err := ParseScopes(ss.String())
		if err != nil {
			t.Fatalf("ParseScopes(%q) accepted, but its String %q is refused: %v", s, ss.String(), err)
		}
		if !reflect.DeepEqual(back, ss) || back.String() != ss.String() {
			t.Fatalf("round trip of %q: %#v, then %#v", s, ss, back)
		}
		for _, sc := range ss {
			if sc.Resource() && sc.Ops == 0 {
				t.Fatalf("ParseScopes(%q): resource scope %q with no permissions", s, sc.Name)
			}
			if sc.Resource() && ss.Allows(sc.Context, sc.Type, Read) && !sc.Ops.Has(Read) && len(ss) == 1 {
				t.Fatalf("ParseScopes(%q).Allows read without r", s)
			}
		}
	})
}
