// Command gen turns the official FHIR R4 (4.0.1) definitions into the
// compact Go tables that internal/fhir and internal/terminology embed: the
// type model, the search parameters, the compartments and the expansions of
// the value sets that required bindings use.
//
// The definitions come from HL7's npm package hl7.fhir.r4.examples@4.0.1
// (CC0), fetched once into the user cache and checked against its published
// sha512; -src reads the same Bundle-*.json files from a folder instead (for
// example ../shared/testdata/r4-definitions). See README.md beside this file.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"go/format"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
)

const (
	pkgName    = "hl7.fhir.r4.examples"
	pkgVersion = "4.0.1"
	pkgURL     = "https://registry.npmjs.org/hl7.fhir.r4.examples/-/hl7.fhir.r4.examples-4.0.1.tgz"
	pkgSHA512  = "DXBdIZOeQaSKIgCU7w6HOC7sw/6BzylmipLkBW4f//pT+Bc94x+8LImwTdvaNThPJoOzpBzvxAzNqjeu3X/zLw=="
)

var sourceFiles = []string{
	"Bundle-resources.json", "Bundle-types.json", "Bundle-searchParams.json",
	"Bundle-valuesets.json", "Bundle-v2-valuesets.json", "Bundle-v3-valuesets.json",
}

func main() {
	src := flag.String("src", "", "folder holding the Bundle-*.json definitions; empty: the npm package")
	out := flag.String("out", ".", "the internal/fhir folder to write into")
	flag.Parse()
	files, err := load(*src)
	if err != nil {
		log.Fatal(err)
	}
	g := newGenerator(files)
	if err := g.run(*out); err != nil {
		log.Fatal(err)
	}
}

// load returns the named definition files' contents.
func load(src string) (map[string][]byte, error) {
	files := map[string][]byte{}
	if src != "" {
		for _, name := range sourceFiles {
			b, err := os.ReadFile(filepath.Join(src, name))
			if err != nil {
				return nil, err
			}
			files[name] = b
		}
		return files, nil
	}
	tgz, err := fetchPackage()
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		name := strings.TrimPrefix(h.Name, "package/")
		if slices.Contains(sourceFiles, name) {
			b, err := io.ReadAll(tr)
			if err != nil {
				return nil, err
			}
			files[name] = b
		}
	}
	for _, name := range sourceFiles {
		if files[name] == nil {
			return nil, fmt.Errorf("%s@%s has no %s", pkgName, pkgVersion, name)
		}
	}
	return files, nil
}

// fetchPackage returns the package tarball from the cache, downloading it on
// first use; either way its sha512 must match the registry's integrity value.
func fetchPackage() ([]byte, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	path := filepath.Join(dir, "sharedcare", fmt.Sprintf("%s-%s.tgz", pkgName, pkgVersion))
	b, err := os.ReadFile(path)
	if err != nil {
		log.Printf("downloading %s", pkgURL)
		resp, err := http.Get(pkgURL)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %s", pkgURL, resp.Status)
		}
		if b, err = io.ReadAll(resp.Body); err != nil {
			return nil, err
		}
	}
	sum := sha512.Sum512(b)
	if got := base64.StdEncoding.EncodeToString(sum[:]); got != pkgSHA512 {
		return nil, fmt.Errorf("%s: sha512 %s, want %s", pkgURL, got, pkgSHA512)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err == nil {
		_ = os.WriteFile(path, b, 0o644)
	}
	return b, nil
}

// JSON shapes of the definitions, as much of them as the generator reads.
type bundle struct {
	Entry []struct {
		Resource json.RawMessage `json:"resource"`
	} `json:"entry"`
}

type structureDefinition struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
	URL          string `json:"url"`
	Kind         string `json:"kind"`
	Abstract     bool   `json:"abstract"`
	Type         string `json:"type"`
	BaseDef      string `json:"baseDefinition"`
	Derivation   string `json:"derivation"`
	Snapshot     struct {
		Element []elementDefinition `json:"element"`
	} `json:"snapshot"`
}

type elementDefinition struct {
	ID               string `json:"id"`
	Path             string `json:"path"`
	Min              int    `json:"min"`
	Max              string `json:"max"`
	IsSummary        bool   `json:"isSummary"`
	IsModifier       bool   `json:"isModifier"`
	ContentReference string `json:"contentReference"`
	Type             []struct {
		Code          string      `json:"code"`
		TargetProfile []string    `json:"targetProfile"`
		Extension     []extension `json:"extension"`
	} `json:"type"`
	Binding *struct {
		Strength string `json:"strength"`
		ValueSet string `json:"valueSet"`
	} `json:"binding"`
	Constraint []struct {
		Key        string `json:"key"`
		Severity   string `json:"severity"`
		Human      string `json:"human"`
		Expression string `json:"expression"`
		Source     string `json:"source"`
	} `json:"constraint"`
}

type extension struct {
	URL         string `json:"url"`
	ValueURL    string `json:"valueUrl"`
	ValueString string `json:"valueString"`
}

type searchParameter struct {
	ResourceType string   `json:"resourceType"`
	URL          string   `json:"url"`
	Code         string   `json:"code"`
	Base         []string `json:"base"`
	Type         string   `json:"type"`
	Expression   string   `json:"expression"`
	Target       []string `json:"target"`
	Component    []struct {
		Definition string `json:"definition"`
		Expression string `json:"expression"`
	} `json:"component"`
}

type compartmentDefinition struct {
	ResourceType string `json:"resourceType"`
	Code         string `json:"code"`
	Resource     []struct {
		Code  string   `json:"code"`
		Param []string `json:"param"`
	} `json:"resource"`
}

type generator struct {
	files       map[string][]byte
	sds         map[string]*structureDefinition
	resources   []string
	searchDefs  []searchParameter
	compartment []compartmentDefinition
	terminology *terminology
}

func newGenerator(files map[string][]byte) *generator {
	return &generator{files: files, sds: map[string]*structureDefinition{}}
}

func (g *generator) entries(file string) []json.RawMessage {
	var b bundle
	if err := json.Unmarshal(g.files[file], &b); err != nil {
		log.Fatalf("%s: %v", file, err)
	}
	out := make([]json.RawMessage, len(b.Entry))
	for i, e := range b.Entry {
		out[i] = e.Resource
	}
	return out
}

func (g *generator) run(out string) error {
	for _, file := range []string{"Bundle-types.json", "Bundle-resources.json"} {
		for _, raw := range g.entries(file) {
			var head struct {
				ResourceType string `json:"resourceType"`
			}
			_ = json.Unmarshal(raw, &head)
			switch head.ResourceType {
			case "StructureDefinition":
				var sd structureDefinition
				if err := json.Unmarshal(raw, &sd); err != nil {
					return err
				}
				if sd.Derivation == "constraint" || sd.Kind == "logical" {
					continue // profiles (SimpleQuantity ...) and logical models are not types
				}
				g.sds[sd.ID] = &sd
				if sd.Kind == "resource" && !sd.Abstract {
					g.resources = append(g.resources, sd.ID)
				}
			case "CompartmentDefinition":
				var cd compartmentDefinition
				if err := json.Unmarshal(raw, &cd); err != nil {
					return err
				}
				g.compartment = append(g.compartment, cd)
			}
		}
	}
	sort.Strings(g.resources)
	for _, raw := range g.entries("Bundle-searchParams.json") {
		var sp searchParameter
		if err := json.Unmarshal(raw, &sp); err != nil {
			return err
		}
		g.searchDefs = append(g.searchDefs, sp)
	}
	g.terminology = newTerminology()
	for _, f := range []string{"Bundle-valuesets.json", "Bundle-v3-valuesets.json", "Bundle-v2-valuesets.json"} {
		for _, raw := range g.entries(f) {
			if err := g.terminology.add(raw); err != nil {
				return err
			}
		}
	}

	types, required, err := g.model()
	if err != nil {
		return err
	}
	if err := write(filepath.Join(out, "model_gen.go"), "profiles-resources.json and profiles-types.json", types); err != nil {
		return err
	}
	sp, err := g.searchParams()
	if err != nil {
		return err
	}
	if err := write(filepath.Join(out, "search_gen.go"), "search-parameters.json and the CompartmentDefinitions in profiles-resources.json", sp); err != nil {
		return err
	}
	vs, err := g.terminology.emit(required)
	if err != nil {
		return err
	}
	return writePkg(filepath.Join(out, "..", "terminology", "valuesets_gen.go"), "terminology",
		"valuesets.json, v2-tables.json and v3-codesystems.json", vs)
}

func write(path, from string, body []byte) error { return writePkg(path, "fhir", from, body) }

func writePkg(path, pkg, from string, body []byte) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code generated by internal/fhir/gen from %s (FHIR %s, npm %s). DO NOT EDIT.\n\npackage %s\n\n", from, pkgVersion, pkgName, pkg)
	b.Write(body)
	src, err := format.Source(b.Bytes())
	if err != nil {
		os.WriteFile(path+".broken", b.Bytes(), 0o644)
		return fmt.Errorf("gofmt %s: %w", path, err)
	}
	return os.WriteFile(path, src, 0o644)
}

const (
	extFHIRType = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
	extRegex    = "http://hl7.org/fhir/StructureDefinition/regex"
	sdPrefix    = "http://hl7.org/fhir/StructureDefinition/"
)

// genType is a type being emitted.
type genType struct {
	name, kind, base string
	abstract         bool
	json, regex      string
	elements         []genElement
	constraints      []string
}

type genElement struct {
	name, path  string
	min, max    int
	types       []string
	choice      bool
	summary     bool
	modifier    bool
	targets     []string
	binding     string
	constraints []string
}

// model builds the type table and returns it with the value sets that
// required bindings name.
func (g *generator) model() ([]byte, map[string]bool, error) {
	var out []*genType
	required := map[string]bool{}
	names := make([]string, 0, len(g.sds))
	for n := range g.sds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		sd := g.sds[n]
		ts, err := g.typesOf(sd, required)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", n, err)
		}
		out = append(out, ts...)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "var resourceTypes = %#v\n\n", g.resources)
	b.WriteString("var types = map[string]*Type{\n")
	for _, t := range out {
		fmt.Fprintf(&b, "%q: {Name: %q, Kind: %s", t.name, t.name, t.kind)
		if t.base != "" {
			fmt.Fprintf(&b, ", Base: %q", t.base)
		}
		if t.abstract {
			b.WriteString(", Abstract: true")
		}
		if t.json != "" {
			fmt.Fprintf(&b, ", JSON: %s, Regex: %q", t.json, t.regex)
		}
		if len(t.constraints) > 0 {
			fmt.Fprintf(&b, ", Constraints: []Constraint{%s}", strings.Join(t.constraints, ", "))
		}
		if len(t.elements) > 0 {
			b.WriteString(", Elements: []Element{\n")
			for _, e := range t.elements {
				fmt.Fprintf(&b, "{Name: %q, Path: %q, Min: %d, Max: %d", e.name, e.path, e.min, e.max)
				if len(e.types) > 0 {
					fmt.Fprintf(&b, ", Types: %s", stringSlice(e.types))
				}
				if e.choice {
					b.WriteString(", Choice: true")
				}
				if e.summary {
					b.WriteString(", Summary: true")
				}
				if e.modifier {
					b.WriteString(", Modifier: true")
				}
				if len(e.targets) > 0 {
					fmt.Fprintf(&b, ", Targets: %s", stringSlice(e.targets))
				}
				if e.binding != "" {
					b.WriteString(", Binding: " + e.binding)
				}
				if len(e.constraints) > 0 {
					fmt.Fprintf(&b, ", Constraints: []Constraint{%s}", strings.Join(e.constraints, ", "))
				}
				b.WriteString("},\n")
			}
			b.WriteString("}")
		}
		b.WriteString("},\n")
	}
	b.WriteString("}\n")
	return b.Bytes(), required, nil
}

func stringSlice(s []string) string {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = fmt.Sprintf("%q", x)
	}
	return "[]string{" + strings.Join(q, ", ") + "}"
}

// typesOf returns the type sd defines and the backbone types inside it.
func (g *generator) typesOf(sd *structureDefinition, required map[string]bool) ([]*genType, error) {
	kind := map[string]string{"primitive-type": "PrimitiveType", "complex-type": "ComplexType", "resource": "ResourceType"}[sd.Kind]
	if kind == "" {
		return nil, fmt.Errorf("unknown kind %q", sd.Kind)
	}
	root := &genType{name: sd.ID, kind: kind, base: strings.TrimPrefix(sd.BaseDef, sdPrefix), abstract: sd.Abstract}
	if sd.Derivation == "" {
		root.base = ""
	}
	byPath := map[string]*genType{sd.Type: root}
	out := []*genType{root}
	elems := sd.Snapshot.Element
	if len(elems) == 0 {
		return nil, fmt.Errorf("no snapshot")
	}
	root.constraints = constraints(elems[0].Constraint)
	// Backbone paths: any element that has children.
	hasChildren := map[string]bool{}
	for _, e := range elems[1:] {
		hasChildren[e.Path[:strings.LastIndexByte(e.Path, '.')]] = true
	}
	for _, e := range elems[1:] {
		parentPath := e.Path[:strings.LastIndexByte(e.Path, '.')]
		parent := byPath[parentPath]
		if parent == nil {
			return nil, fmt.Errorf("%s: parent %s unknown", e.Path, parentPath)
		}
		name := e.Path[len(parentPath)+1:]
		if kind == "PrimitiveType" && name == "value" {
			root.json, root.regex = primitiveJSON(sd.ID, e)
			continue
		}
		ge := genElement{path: e.Path, min: e.Min, summary: e.IsSummary, modifier: e.IsModifier, constraints: constraints(e.Constraint)}
		ge.max = -1
		if e.Max != "*" {
			fmt.Sscan(e.Max, &ge.max)
		}
		if base, ok := strings.CutSuffix(name, "[x]"); ok {
			ge.name, ge.choice = base, true
		} else {
			ge.name = name
		}
		switch {
		case e.ContentReference != "":
			ref := strings.TrimPrefix(e.ContentReference, "#")
			ge.types = []string{ref}
		case hasChildren[e.Path]:
			bt := &genType{name: e.Path, kind: "BackboneType"}
			if len(e.Type) > 0 {
				bt.base = e.Type[0].Code
			}
			byPath[e.Path] = bt
			out = append(out, bt)
			ge.types = []string{e.Path}
		default:
			for _, t := range e.Type {
				code := t.Code
				if strings.HasPrefix(code, "http://hl7.org/fhirpath/System.") {
					code = extValue(t.Extension, extFHIRType)
					if code == "" && t.Code == "http://hl7.org/fhirpath/System.String" {
						code = "string" // xhtml.id has no fhir-type extension
					}
					if code == "" {
						return nil, fmt.Errorf("%s: system type %s with no fhir-type", e.Path, t.Code)
					}
				}
				// Resource.id is of type id (https://hl7.org/fhir/R4/resource.html#id)
				// though the snapshot's fhir-type extension says string.
				if kind == "ResourceType" && parentPath == sd.Type && name == "id" {
					code = "id"
				}
				ge.types = append(ge.types, code)
				for _, tp := range t.TargetProfile {
					tn := strings.TrimPrefix(tp, sdPrefix)
					if tn != "Resource" && !slices.Contains(ge.targets, tn) {
						ge.targets = append(ge.targets, tn)
					}
				}
			}
		}
		if e.Binding != nil && e.Binding.ValueSet != "" {
			vs, _, _ := strings.Cut(e.Binding.ValueSet, "|")
			ge.binding = fmt.Sprintf("&Binding{Strength: %q, ValueSet: %q}", e.Binding.Strength, vs)
			if e.Binding.Strength == "required" {
				required[vs] = true
			}
		}
		parent.elements = append(parent.elements, ge)
	}
	// A choice name could clash with another element's JSON name; the spec
	// avoids that, and Type.Child relies on it.
	for _, t := range out {
		seen := map[string]string{}
		for _, e := range t.elements {
			keys := []string{e.name}
			if e.choice {
				keys = keys[:0]
				for _, ty := range e.types {
					keys = append(keys, e.name+strings.ToUpper(ty[:1])+ty[1:])
				}
			}
			for _, k := range keys {
				if p, dup := seen[k]; dup {
					return nil, fmt.Errorf("JSON name %s of %s clashes with %s", k, e.path, p)
				}
				seen[k] = e.path
			}
		}
	}
	return out, nil
}

// primitiveJSON returns the JSON kind constant and regex of a primitive.
func primitiveJSON(name string, e elementDefinition) (string, string) {
	regex := ""
	if len(e.Type) > 0 {
		regex = extValue(e.Type[0].Extension, extRegex)
	}
	switch name {
	case "boolean":
		return "Bool", regex
	case "integer", "decimal", "positiveInt", "unsignedInt":
		return "Number", regex
	}
	return "String", regex
}

func extValue(exts []extension, url string) string {
	for _, x := range exts {
		if x.URL == url {
			if x.ValueURL != "" {
				return x.ValueURL
			}
			return x.ValueString
		}
	}
	return ""
}

func constraints(cs []struct {
	Key        string `json:"key"`
	Severity   string `json:"severity"`
	Human      string `json:"human"`
	Expression string `json:"expression"`
	Source     string `json:"source"`
}) []string {
	var out []string
	for _, c := range cs {
		if c.Key == "ele-1" || c.Expression == "" {
			continue // ele-1 (no empty elements) is checked natively everywhere
		}
		out = append(out, fmt.Sprintf("{Key: %q, Severity: %q, Human: %q, Expression: %q}", c.Key, c.Severity, c.Human, c.Expression))
	}
	return out
}

var identRe = regexp.MustCompile(`^\(*\s*([A-Za-z]+)`)

// splitUnion splits a FHIRPath expression at its top-level '|' operators.
func splitUnion(expr string) []string {
	var parts []string
	depth, start := 0, 0
	inStr := false
	for i := 0; i < len(expr); i++ {
		c := expr[i]
		switch {
		case inStr:
			if c == '\\' {
				i++
			} else if c == '\'' {
				inStr = false
			}
		case c == '\'':
			inStr = true
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == '|' && depth == 0:
			parts = append(parts, strings.TrimSpace(expr[start:i]))
			start = i + 1
		}
	}
	return append(parts, strings.TrimSpace(expr[start:]))
}

// branchesFor keeps the branches of expr rooted at typ (or at Resource or
// DomainResource, rewritten to start at typ).
func branchesFor(expr, typ string) string {
	var keep []string
	for _, p := range splitUnion(expr) {
		m := identRe.FindStringSubmatchIndex(p)
		if m == nil {
			continue
		}
		root := p[m[2]:m[3]]
		rest := p[m[3]:]
		if !strings.HasPrefix(rest, ".") && !strings.HasPrefix(rest, " ") && rest != "" && !strings.HasPrefix(rest, ")") {
			continue
		}
		switch {
		case root[0] >= 'a' && root[0] <= 'z':
			// A few spec expressions are relative ("name | alias" on
			// InsurancePlan): they start at the resource.
			keep = append(keep, p[:m[2]]+typ+"."+p[m[2]:])
		case root == typ:
			keep = append(keep, p)
		case root == "Resource" || root == "DomainResource":
			keep = append(keep, p[:m[2]]+typ+rest)
		}
	}
	return strings.Join(keep, " | ")
}

func (g *generator) searchParams() ([]byte, error) {
	byURL := map[string]*searchParameter{}
	for i := range g.searchDefs {
		byURL[g.searchDefs[i].URL] = &g.searchDefs[i]
	}
	perType := map[string][]string{}
	for _, sp := range g.searchDefs {
		var bases []string
		for _, b := range sp.Base {
			if b == "Resource" || b == "DomainResource" {
				for _, r := range g.resources {
					if b == "DomainResource" && (r == "Bundle" || r == "Binary" || r == "Parameters") {
						continue
					}
					bases = append(bases, r)
				}
			} else {
				bases = append(bases, b)
			}
		}
		for _, typ := range bases {
			expr := ""
			if sp.Expression != "" {
				expr = branchesFor(sp.Expression, typ)
				if expr == "" {
					return nil, fmt.Errorf("search parameter %s: no branch of %q starts at %s", sp.URL, sp.Expression, typ)
				}
			}
			var comps []string
			for _, c := range sp.Component {
				def := byURL[c.Definition]
				if def == nil {
					return nil, fmt.Errorf("search parameter %s: component %s unknown", sp.URL, c.Definition)
				}
				comps = append(comps, fmt.Sprintf("{Code: %q, Type: %q, Expression: %q}", def.Code, def.Type, c.Expression))
			}
			s := fmt.Sprintf("{Code: %q, Type: %q, URL: %q, Expression: %q", sp.Code, sp.Type, sp.URL, expr)
			if len(sp.Target) > 0 {
				s += ", Targets: " + stringSlice(sp.Target)
			}
			if len(comps) > 0 {
				s += ", Components: []SearchComponent{" + strings.Join(comps, ", ") + "}"
			}
			perType[typ] = append(perType[typ], sp.Code+"\x00"+s+"}")
		}
	}
	var b bytes.Buffer
	b.WriteString("var searchParams = map[string][]SearchParam{\n")
	for _, typ := range g.resources {
		ps := perType[typ]
		sort.Strings(ps)
		fmt.Fprintf(&b, "%q: {\n", typ)
		for i, p := range ps {
			code, lit, _ := strings.Cut(p, "\x00")
			if i > 0 && strings.HasPrefix(ps[i-1], code+"\x00") {
				return nil, fmt.Errorf("%s: search parameter %s defined twice", typ, code)
			}
			b.WriteString(lit + ",\n")
		}
		b.WriteString("},\n")
	}
	b.WriteString("}\n\nvar compartments = map[string]map[string][]string{\n")
	sort.Slice(g.compartment, func(i, j int) bool { return g.compartment[i].Code < g.compartment[j].Code })
	for _, cd := range g.compartment {
		fmt.Fprintf(&b, "%q: {\n", cd.Code)
		for _, r := range cd.Resource {
			if len(r.Param) == 0 {
				continue
			}
			fmt.Fprintf(&b, "%q: %s,\n", r.Code, stringSlice(r.Param))
		}
		b.WriteString("},\n")
	}
	b.WriteString("}\n")
	return b.Bytes(), nil
}
