package fhirpath

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"sharedcare/internal/fhir"
)

// modelTypes returns every type reachable from the resource types.
func modelTypes() []*fhir.Type {
	seen := map[string]bool{}
	var out []*fhir.Type
	var visit func(name string)
	visit = func(name string) {
		if seen[name] {
			return
		}
		seen[name] = true
		t := fhir.LookupType(name)
		if t == nil {
			return
		}
		out = append(out, t)
		visit(t.Base)
		for _, e := range t.Elements {
			for _, ty := range e.Types {
				visit(ty)
			}
		}
	}
	for _, rt := range fhir.ResourceTypes() {
		visit(rt)
	}
	return out
}

// TestModelExpressionsParse compiles every invariant and search parameter
// expression of the R4 model: the validator and the search indexer run them all.
func TestModelExpressionsParse(t *testing.T) {
	t.Parallel()
	n := 0
	try := func(where, src string) {
		if src == "" {
			return
		}
		n++
		if _, err := Parse(src); err != nil {
			t.Errorf("%s: Parse(%q): %v", where, src, err)
		}
	}
	for _, ty := range modelTypes() {
		for _, c := range ty.Constraints {
			try(ty.Name+" "+c.Key, c.Expression)
		}
		for _, e := range ty.Elements {
			for _, c := range e.Constraints {
				try(e.Path+" "+c.Key, c.Expression)
			}
		}
	}
	for _, rt := range fhir.ResourceTypes() {
		for _, p := range fhir.SearchParams(rt) {
			try(rt+"?"+p.Code, p.Expression)
			for _, c := range p.Components {
				try(rt+"?"+p.Code+"/"+c.Code, c.Expression)
			}
		}
	}
	t.Logf("%d expressions compiled", n)
}

// TestModelExpressionsEvaluate evaluates the spec's invariants on every
// element of the official suite's inputs, and every search parameter on
// each input, the way the validator and the indexer will: none may fail.
func TestModelExpressionsEvaluate(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob(filepath.Join(suiteDir, "json-converted", "*.json"))
	more, _ := filepath.Glob(filepath.Join(suiteDir, "*.json"))
	files = append(files, more...)
	if len(files) == 0 {
		t.Skip("official FHIRPath suite inputs not found")
	}
	ctx := context.Background()
	cache := map[string]*Expression{}
	compile := func(src string) *Expression {
		if e, ok := cache[src]; ok {
			return e
		}
		e := MustParse(src)
		cache[src] = e
		return e
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		v, err := fhir.Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		root := Resource(&v)
		env := &Env{Resource: root}
		// Every item in the tree, with the invariants of its type.
		items := []Item{root}
		for i := 0; i < len(items); i++ {
			items = allChildren(items, items[i])
		}
		evaluated := 0
		for _, it := range items {
			if it.typ == nil {
				continue
			}
			for ty := it.typ; ty != nil; ty = fhir.LookupType(ty.Base) {
				for _, c := range ty.Constraints {
					if _, err := compile(c.Expression).Evaluate(ctx, it, env); err != nil {
						t.Errorf("%s: %s %s on %s: %v", filepath.Base(f), ty.Name, c.Key, it.TypeName(), err)
					}
					evaluated++
				}
			}
		}
		for _, p := range fhir.SearchParams(root.TypeName()) {
			if p.Expression == "" {
				continue
			}
			res, err := compile(p.Expression).Evaluate(ctx, root, env)
			if err != nil {
				t.Errorf("%s: search parameter %s: %v", filepath.Base(f), p.Code, err)
			}
			for _, c := range p.Components {
				for _, it := range res {
					if _, err := compile(c.Expression).Evaluate(ctx, it, env); err != nil {
						t.Errorf("%s: search parameter %s component %s: %v", filepath.Base(f), p.Code, c.Code, err)
					}
				}
			}
			evaluated++
		}
		t.Logf("%s: %d items, %d evaluations", filepath.Base(f), len(items), evaluated)
	}
}
