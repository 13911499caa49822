package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

type concept struct {
	Code    string    `json:"code"`
	Display string    `json:"display"`
	Concept []concept `json:"concept"`
}

type codeSystem struct {
	URL     string    `json:"url"`
	Content string    `json:"content"`
	Concept []concept `json:"concept"`
}

type valueSetFilter struct {
	Property string `json:"property"`
	Op       string `json:"op"`
	Value    string `json:"value"`
}

type valueSetInclude struct {
	System   string           `json:"system"`
	ValueSet []string         `json:"valueSet"`
	Concept  []concept        `json:"concept"`
	Filter   []valueSetFilter `json:"filter"`
}

type valueSet struct {
	URL     string `json:"url"`
	Compose *struct {
		Include []valueSetInclude `json:"include"`
		Exclude []valueSetInclude `json:"exclude"`
	} `json:"compose"`
	Expansion *struct {
		Contains []struct {
			System  string `json:"system"`
			Code    string `json:"code"`
			Display string `json:"display"`
		} `json:"contains"`
	} `json:"expansion"`
}

type coding struct{ system, code, display string }

// terminology expands value sets from the code systems in the spec's bundles.
type terminology struct {
	systems   map[string]*codeSystem
	valueSets map[string]*valueSet
}

func newTerminology() *terminology {
	return &terminology{systems: map[string]*codeSystem{}, valueSets: map[string]*valueSet{}}
}

func (t *terminology) add(raw json.RawMessage) error {
	var head struct {
		ResourceType string `json:"resourceType"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return err
	}
	switch head.ResourceType {
	case "CodeSystem":
		var cs codeSystem
		if err := json.Unmarshal(raw, &cs); err != nil {
			return err
		}
		if _, dup := t.systems[cs.URL]; !dup {
			t.systems[cs.URL] = &cs
		}
	case "ValueSet":
		var vs valueSet
		if err := json.Unmarshal(raw, &vs); err != nil {
			return err
		}
		if _, dup := t.valueSets[vs.URL]; !dup {
			t.valueSets[vs.URL] = &vs
		}
	}
	return nil
}

// expand returns the codes of the value set, or ok=false when its content
// is not wholly in the bundles (SNOMED CT, UCUM, BCP-47 ...).
func (t *terminology) expand(url string, depth int) ([]coding, bool) {
	vs := t.valueSets[url]
	if vs == nil || depth > 10 {
		return nil, false
	}
	if vs.Compose == nil {
		if vs.Expansion == nil {
			return nil, false
		}
		var out []coding
		for _, c := range vs.Expansion.Contains {
			out = append(out, coding{c.System, c.Code, c.Display})
		}
		return out, true
	}
	var out []coding
	for _, inc := range vs.Compose.Include {
		cs, ok := t.include(inc, depth)
		if !ok {
			return nil, false
		}
		out = append(out, cs...)
	}
	for _, exc := range vs.Compose.Exclude {
		cs, ok := t.include(exc, depth)
		if !ok {
			return nil, false
		}
		drop := map[coding]bool{}
		for _, c := range cs {
			drop[coding{c.system, c.code, ""}] = true
		}
		kept := out[:0]
		for _, c := range out {
			if !drop[coding{c.system, c.code, ""}] {
				kept = append(kept, c)
			}
		}
		out = kept
	}
	return out, true
}

func (t *terminology) include(inc valueSetInclude, depth int) ([]coding, bool) {
	var out []coding
	for _, ref := range inc.ValueSet {
		u, _, _ := strings.Cut(ref, "|")
		cs, ok := t.expand(u, depth+1)
		if !ok {
			return nil, false
		}
		out = append(out, cs...)
	}
	if inc.System == "" {
		return out, true
	}
	if len(inc.Concept) > 0 {
		sys := t.systems[inc.System]
		for _, c := range inc.Concept {
			d := c.Display
			if d == "" && sys != nil {
				d = findDisplay(sys.Concept, c.Code)
			}
			out = append(out, coding{inc.System, c.Code, d})
		}
		return out, true
	}
	sys := t.systems[inc.System]
	if sys == nil || (sys.Content != "complete" && sys.Content != "") {
		return nil, false
	}
	if len(inc.Filter) == 0 {
		walk(sys.Concept, func(c concept) { out = append(out, coding{inc.System, c.Code, c.Display}) })
		return out, true
	}
	if len(inc.Filter) != 1 || inc.Filter[0].Property != "concept" {
		return nil, false
	}
	f := inc.Filter[0]
	root := findConcept(sys.Concept, f.Value)
	if root == nil {
		return nil, false
	}
	switch f.Op {
	case "is-a":
		out = append(out, coding{inc.System, root.Code, root.Display})
		walk(root.Concept, func(c concept) { out = append(out, coding{inc.System, c.Code, c.Display}) })
	case "descendent-of":
		walk(root.Concept, func(c concept) { out = append(out, coding{inc.System, c.Code, c.Display}) })
	default:
		return nil, false
	}
	return out, true
}

func walk(cs []concept, fn func(concept)) {
	for _, c := range cs {
		fn(c)
		walk(c.Concept, fn)
	}
}

func findConcept(cs []concept, code string) *concept {
	for i := range cs {
		if cs[i].Code == code {
			return &cs[i]
		}
		if c := findConcept(cs[i].Concept, code); c != nil {
			return c
		}
	}
	return nil
}

func findDisplay(cs []concept, code string) string {
	if c := findConcept(cs, code); c != nil {
		return c.Display
	}
	return ""
}

// emit writes the expansions of the named value sets; those it cannot
// expand are listed as unknown so that validation can say so.
func (t *terminology) emit(urls map[string]bool) ([]byte, error) {
	sorted := make([]string, 0, len(urls))
	for u := range urls {
		sorted = append(sorted, u)
	}
	sort.Strings(sorted)
	var b bytes.Buffer
	var unknown []string
	b.WriteString("var valueSets = map[string][]Concept{\n")
	for _, u := range sorted {
		cs, ok := t.expand(u, 0)
		if !ok || len(cs) == 0 {
			unknown = append(unknown, u)
			continue
		}
		sort.Slice(cs, func(i, j int) bool {
			if cs[i].code != cs[j].code {
				return cs[i].code < cs[j].code
			}
			return cs[i].system < cs[j].system
		})
		fmt.Fprintf(&b, "%q: {\n", u)
		for i, c := range cs {
			if i > 0 && cs[i-1].code == c.code && cs[i-1].system == c.system {
				continue
			}
			fmt.Fprintf(&b, "{%q, %q, %q},\n", c.system, c.code, c.display)
		}
		b.WriteString("},\n")
	}
	b.WriteString("}\n\n// notBundled are value sets that required bindings name whose content\n// is not in the spec's bundles (external code systems such as BCP-47 or UCUM).\nvar notBundled = map[string]bool{\n")
	for _, u := range unknown {
		fmt.Fprintf(&b, "%q: true,\n", u)
	}
	b.WriteString("}\n")
	return b.Bytes(), nil
}
