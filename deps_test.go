package sharedcare_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// allowed is the import policy of docs/ARCHITECTURE.md as data: each
// package and the project packages its non-test code may import. Layers,
// bottom up: (1) outcome, nhs, terminology, traffic (2) fhir (3) fhirpath (4)
// validate, search (5) store (6) store backends, audit (7) auth, access
// (8) record (9) faces: api, web, bulk, subscription, hl7v2 — which never
// import each other, nor store, access or audit (10) server (11) cmd.
// Clients (synth, load, migrate, conformance) speak HTTP and import only
// layers 1-2 and each other. Change it with ARCHITECTURE.md, deliberately.
var allowed = map[string][]string{
	"internal/outcome":         {},
	"internal/requestid":       {},
	"internal/traffic":         {},
	"internal/nhs":             {},
	"internal/terminology":     {},
	"internal/fhir":            {"internal/outcome"},
	"internal/fhir/gen":        {},
	"internal/fhirpath":        {"internal/fhir", "internal/outcome"},
	"internal/validate":        {"internal/fhir", "internal/fhirpath", "internal/terminology", "internal/outcome"},
	"internal/search":          {"internal/fhir", "internal/fhirpath", "internal/terminology", "internal/outcome"},
	"internal/patch":           {"internal/fhir", "internal/fhirpath", "internal/outcome"},
	"internal/store":           {"internal/fhir", "internal/search", "internal/outcome"},
	"internal/store/storetest": {"internal/store", "internal/fhir", "internal/search", "internal/outcome"},
	"internal/store/sqlbuild":  {"internal/fhir", "internal/search"},
	"internal/store/sqlite":    {"internal/store", "internal/store/sqlbuild", "internal/fhir", "internal/search", "internal/outcome"},
	"internal/store/postgres":  {"internal/store", "internal/store/sqlbuild", "internal/fhir", "internal/search", "internal/outcome"},
	"internal/audit":           {"internal/store", "internal/fhir", "internal/outcome"},
	"internal/auth":            {"internal/store", "internal/fhir", "internal/outcome", "internal/nhs"},
	"internal/access":          {"internal/auth", "internal/store", "internal/search", "internal/fhir", "internal/outcome"},
	"internal/record": {"internal/store", "internal/search", "internal/validate", "internal/fhirpath", "internal/fhir",
		"internal/outcome", "internal/auth", "internal/access", "internal/audit", "internal/terminology", "internal/patch", "internal/requestid"},
	"internal/api":          {"internal/record", "internal/search", "internal/patch", "internal/fhir", "internal/outcome", "internal/auth", "internal/requestid"},
	"internal/web":          {"internal/record", "internal/search", "internal/fhir", "internal/outcome", "internal/auth", "internal/nhs"},
	"internal/bulk":         {"internal/record", "internal/search", "internal/fhir", "internal/outcome", "internal/auth", "internal/traffic"},
	"internal/subscription": {"internal/record", "internal/search", "internal/fhirpath", "internal/fhir", "internal/outcome", "internal/auth"},
	"internal/hl7v2":        {"internal/record", "internal/fhir", "internal/outcome", "internal/nhs"},
	"internal/server": {"internal/api", "internal/web", "internal/bulk", "internal/subscription", "internal/hl7v2",
		"internal/record", "internal/auth", "internal/access", "internal/audit", "internal/store", "internal/store/sqlite",
		"internal/store/postgres", "internal/validate", "internal/fhirpath", "internal/search", "internal/fhir",
		"internal/terminology", "internal/outcome", "internal/synth", "internal/nhs", "internal/traffic"},
	"internal/synth":       {"internal/fhir", "internal/nhs", "internal/outcome"},
	"internal/load":        {"internal/fhir", "internal/nhs", "internal/outcome", "internal/synth"},
	"internal/migrate":     {"internal/fhir", "internal/outcome"},
	"internal/conformance": {"internal/fhir", "internal/outcome", "internal/nhs"},
}

func TestImportPolicy(t *testing.T) {
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		rel := strings.TrimPrefix(p.ImportPath, "sharedcare/")
		if rel == "sharedcare" || strings.HasPrefix(rel, "cmd/") {
			continue // commands wire everything together
		}
		allow, ok := allowed[rel]
		if !ok {
			t.Errorf("package %s is not in the import policy (deps_test.go, docs/ARCHITECTURE.md)", rel)
			continue
		}
		for _, imp := range p.Imports {
			dep, ok := strings.CutPrefix(imp, "sharedcare/")
			if !ok {
				continue
			}
			if !slices.Contains(allow, dep) {
				t.Errorf("%s imports %s, which the import policy does not allow", rel, dep)
			}
		}
	}
}
