package migrate

import (
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Report is what a migration found: each type's resources at the source
// and at the target, and how many are the same by content hash.
type Report struct {
	From, To string
	Scope    string
	Patients int
	// Extract and Load name the means used: "bulk $export" or "paged
	// search", "bulk $import" or "batch PUT"; Verify the means of reading
	// the target back.
	Extract, Load, Verify string
	Started, Finished     time.Time
	Types                 []TypeReport
	// Missing, Different and Extra name (up to 100 each) the resources
	// the target lacks, holds with other content, or holds beyond the
	// source's.
	Missing, Different, Extra []string
	// ImportErrors counts the resources the target rejected; Issues
	// quotes the first rejections.
	ImportErrors int
	Issues       []string
	// OK is set when every resource of the source is at the target with
	// the same content, and nothing else is.
	OK bool
}

// TypeReport is one resource type's part of a report.
type TypeReport struct {
	Type                            string
	Source, Target                  int
	Same, Missing, Different, Extra int
}

const maxListed = 100

// verify hashes both sides' files and compares them.
func (m *migration) verify() (*Report, error) {
	src, err := hashes(m.path("source"), m.st.Source.Files)
	if err != nil {
		return nil, fmt.Errorf("migrate: hashing the source's files: %w", err)
	}
	dst, err := hashes(m.path("target"), m.st.Target.Files)
	if err != nil {
		return nil, fmt.Errorf("migrate: hashing the target's files: %w", err)
	}
	r := &Report{From: m.st.From, To: m.st.To, Scope: m.st.Scope, Patients: len(m.st.Patients),
		Extract: m.st.Source.Method, Load: m.st.Load.Method, Verify: m.st.Target.Method,
		Started: m.st.Started, Finished: time.Now().UTC(), ImportErrors: m.st.Load.Errors, Issues: m.st.Load.Issues}
	types := map[string]*TypeReport{}
	row := func(key string) *TypeReport {
		typ, _, _ := strings.Cut(key, "/")
		if types[typ] == nil {
			types[typ] = &TypeReport{Type: typ}
		}
		return types[typ]
	}
	for _, k := range slices.Sorted(maps.Keys(src)) {
		t := row(k)
		t.Source++
		h, ok := dst[k]
		switch {
		case !ok:
			t.Missing++
			if len(r.Missing) < maxListed {
				r.Missing = append(r.Missing, k)
			}
		case h != src[k]:
			t.Different++
			if len(r.Different) < maxListed {
				r.Different = append(r.Different, k)
			}
		default:
			t.Same++
		}
	}
	for _, k := range slices.Sorted(maps.Keys(dst)) {
		t := row(k)
		t.Target++
		if _, ok := src[k]; !ok {
			t.Extra++
			if len(r.Extra) < maxListed {
				r.Extra = append(r.Extra, k)
			}
		}
	}
	r.OK = true
	for _, k := range slices.Sorted(maps.Keys(types)) {
		t := types[k]
		r.Types = append(r.Types, *t)
		if t.Missing+t.Different+t.Extra > 0 {
			r.OK = false
		}
	}
	return r, nil
}

// hashes reads files and returns each resource's content hash by
// Type/id. A resource in two files (a scope resource also exported)
// counts once.
func hashes(dir string, files []file) (map[string]Hash, error) {
	out := map[string]Hash{}
	for _, f := range files {
		err := eachLine(filepath.Join(dir, f.Name), func(line []byte) error {
			typ, id, h, err := ContentHash(line)
			if err != nil {
				return fmt.Errorf("%s: %w", f.Name, err)
			}
			out[typ+"/"+id] = h
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Markdown renders the report for people.
func (r *Report) Markdown() string {
	var b strings.Builder
	verdict := "**verified**: every resource is at the target with the same content"
	if !r.OK {
		verdict = "**NOT verified**: the target differs from the source (see below)"
	}
	fmt.Fprintf(&b, "# Migration of %s\n\n", r.Scope)
	fmt.Fprintf(&b, "| | |\n|---|---|\n| from | %s |\n| to | %s |\n| patients | %d |\n| read by | %s |\n| written by | %s |\n| read back by | %s |\n| took | %s |\n| result | %s |\n\n",
		r.From, r.To, r.Patients, r.Extract, r.Load, r.Verify, r.Finished.Sub(r.Started).Round(time.Second), verdict)
	b.WriteString("| type | source | target | same | missing | different | extra |\n|---|---:|---:|---:|---:|---:|---:|\n")
	var tot TypeReport
	for _, t := range r.Types {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d | %d |\n", t.Type, t.Source, t.Target, t.Same, t.Missing, t.Different, t.Extra)
		tot.Source, tot.Target, tot.Same = tot.Source+t.Source, tot.Target+t.Target, tot.Same+t.Same
		tot.Missing, tot.Different, tot.Extra = tot.Missing+t.Missing, tot.Different+t.Different, tot.Extra+t.Extra
	}
	fmt.Fprintf(&b, "| **all** | **%d** | **%d** | **%d** | **%d** | **%d** | **%d** |\n", tot.Source, tot.Target, tot.Same, tot.Missing, tot.Different, tot.Extra)
	list := func(title string, keys []string) {
		if len(keys) > 0 {
			fmt.Fprintf(&b, "\n%s (first %d):\n\n", title, len(keys))
			for _, k := range keys {
				fmt.Fprintf(&b, "- %s\n", k)
			}
		}
	}
	list("Missing at the target", r.Missing)
	list("Different at the target", r.Different)
	list("At the target only", r.Extra)
	if r.ImportErrors > 0 {
		fmt.Fprintf(&b, "\nThe target rejected %d resources; the first:\n\n", r.ImportErrors)
		for _, is := range r.Issues {
			fmt.Fprintf(&b, "- %s\n", is)
		}
	}
	return b.String()
}

// JSON renders the report for programs.
func (r *Report) JSON() []byte {
	b, _ := json.MarshalIndent(r, "", "  ")
	return b
}
