package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sharedcare/internal/fhir"
	"sharedcare/internal/nhs"
	"sharedcare/internal/synth"
)

func runGenerateTest(t *testing.T, stdout *bytes.Buffer, args ...string) {
	t.Helper()
	cfg, err := generateFlags(args, io.Discard)
	if err != nil {
		t.Fatalf("generateFlags(%q): %v", args, err)
	}
	if err := generate(context.Background(), cfg, stdout, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("generate %q: %v", args, err)
	}
}

func TestGenerateNDJSON(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	runGenerateTest(t, nil, "-patients", "10", "-format", "ndjson", "-out", dir, "-practices", "3")
	lines := map[string]int{}
	ids := map[string]bool{}
	for _, typ := range []string{"Organization", "Practitioner", "PractitionerRole", "Patient", "Encounter",
		"Condition", "Observation", "DiagnosticReport", "MedicationRequest", "Immunization", "DocumentReference"} {
		f, err := os.Open(filepath.Join(dir, typ+".ndjson"))
		if err != nil {
			t.Errorf("%s.ndjson: %v", typ, err)
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			v, err := fhir.Parse(sc.Bytes())
			if err != nil || v.Str("resourceType") != typ {
				t.Fatalf("%s.ndjson line %d: %v, resourceType %q", typ, lines[typ]+1, err, v.Str("resourceType"))
			}
			if key := typ + "/" + v.Str("id"); ids[key] {
				t.Errorf("%s twice", key)
			} else {
				ids[key] = true
			}
			if typ == "Patient" {
				if n := v.Get("identifier").Items[0]; n.Str("system") != nhs.NHSNumberSystem || !nhs.ValidNumber(n.Str("value")) {
					t.Errorf("Patient %s: NHS number identifier %s", v.Str("id"), fhir.Marshal(n))
				}
			}
			lines[typ]++
		}
		if err := sc.Err(); err != nil {
			t.Errorf("%s.ndjson: %v", typ, err)
		}
		f.Close()
	}
	if lines["Patient"] != 10 {
		t.Errorf("Patient.ndjson has %d lines, want 10", lines["Patient"])
	}
	if lines["Organization"] < 3 || lines["Observation"] < 10 {
		t.Errorf("lines per type %v: want at least the 3 practices and some observations", lines)
	}
}

func TestGenerateBundles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	runGenerateTest(t, nil, "-patients", "10", "-out", dir, "-seed", "77")
	// A second shard of the same population writes the same files.
	shard := t.TempDir()
	runGenerateTest(t, nil, "-patients", "4", "-start", "6", "-out", shard, "-seed", "77")
	var stdout bytes.Buffer
	runGenerateTest(t, &stdout, "-patients", "10", "-out", "-", "-seed", "77")
	streamed := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	if len(streamed) != 11 {
		t.Fatalf("standard output has %d lines, want 11 (shared, then 10 patients)", len(streamed))
	}
	for i := -1; i < 10; i++ {
		name := "shared.json"
		if i >= 0 {
			name = fmt.Sprintf("patient-%07d.json", i)
		}
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if streamed[i+1] != string(data) {
			t.Errorf("%s differs from line %d of standard output", name, i+2)
		}
		if i >= 6 {
			if again, err := os.ReadFile(filepath.Join(shard, name)); err != nil || !bytes.Equal(again, data) {
				t.Errorf("%s from the shard -start 6 differs from the whole run (%v)", name, err)
			}
		}
		b, err := fhir.Parse(data)
		if err != nil || b.Str("resourceType") != "Bundle" || b.Str("type") != "transaction" {
			t.Fatalf("%s: %v, %s %s", name, err, b.Str("resourceType"), b.Str("type"))
		}
		for _, e := range b.Get("entry").Items {
			r, req := e.Get("resource"), e.Get("request")
			if req.Str("method") != "PUT" || req.Str("url") != r.Str("resourceType")+"/"+r.Str("id") || e.Str("fullUrl") != "urn:uuid:"+r.Str("id") {
				t.Fatalf("%s: entry %s %s for %s/%s", name, req.Str("method"), req.Str("url"), r.Str("resourceType"), r.Str("id"))
			}
		}
		if i >= 0 && b.Get("entry").Items[0].Get("resource").Str("resourceType") != "Patient" {
			t.Errorf("%s: first entry is not the Patient", name)
		}
	}
	if _, err := os.Stat(filepath.Join(shard, "patient-0000005.json")); err == nil {
		t.Errorf("the shard -start 6 wrote patient 5")
	}
}

func TestGenerateFlags(t *testing.T) {
	tests := []struct {
		args    []string
		env     map[string]string
		wantErr string // "" for success
	}{
		{nil, nil, ""},
		{[]string{"-patients", "x"}, nil, "-patients (SHAREDCARE_PATIENTS)"},
		{[]string{"-patients", "-1"}, nil, "-patients (SHAREDCARE_PATIENTS)"},
		{[]string{"-format", "csv"}, nil, "-format (SHAREDCARE_FORMAT)"},
		{[]string{"-format", "ndjson"}, nil, "-out (SHAREDCARE_OUT)"},
		{[]string{"-seed", "-3"}, nil, "-seed (SHAREDCARE_SEED)"},
		{[]string{"-practices", "0"}, nil, "-practices (SHAREDCARE_PRACTICES)"},
		{[]string{"-history-years", "0"}, nil, "-history-years (SHAREDCARE_HISTORY_YEARS)"},
		{[]string{"-until", "1 May 2025"}, nil, "-until (SHAREDCARE_UNTIL)"},
		{[]string{"-start", "89100000"}, nil, "-start (SHAREDCARE_START)"},
		{[]string{"extra"}, nil, "unexpected argument"},
		{nil, map[string]string{"SHAREDCARE_PATIENTS": "many"}, "-patients (SHAREDCARE_PATIENTS)"},
		{[]string{"-patients", "5"}, map[string]string{"SHAREDCARE_PATIENTS": "many"}, ""}, // the flag beats the environment
		{nil, map[string]string{"SHAREDCARE_FORMAT": "ndjson", "SHAREDCARE_OUT": "somewhere"}, ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			cfg, err := generateFlags(tt.args, io.Discard)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("generateFlags(%q) with env %v: %v", tt.args, tt.env, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("generateFlags(%q) with env %v = %v, want an error naming %s", tt.args, tt.env, err, tt.wantErr)
			case tt.env["SHAREDCARE_FORMAT"] == "ndjson" && cfg.Format != "ndjson":
				t.Errorf("SHAREDCARE_FORMAT=ndjson gave format %q", cfg.Format)
			}
		})
	}
}

// FuzzGenerateFlags feeds arbitrary values to every flag: parsing never
// panics, and an accepted configuration is within the limits synth takes.
func FuzzGenerateFlags(f *testing.F) {
	f.Add("10", "0", "0", "bundle", "-", "10", "10", "2026-10-01")
	f.Add("1000000", "18446744073709551615", "5", "ndjson", "out", "8000", "100", "2000-02-29")
	f.Add("-1", "x", "", "csv", "", "0", "101", "2025-13-01")
	f.Fuzz(func(t *testing.T, patients, seed, start, format, out, practices, years, until string) {
		args := []string{"-patients", patients, "-seed", seed, "-start", start, "-format", format, "-out", out,
			"-practices", practices, "-history-years", years, "-until", until}
		cfg, err := generateFlags(args, io.Discard)
		if err != nil {
			return
		}
		if cfg.Patients < 0 || cfg.Start < 0 || cfg.Start+cfg.Patients > nhs.TestNumbers {
			t.Fatalf("accepted -patients %d -start %d", cfg.Patients, cfg.Start)
		}
		if (cfg.Format != "bundle" && cfg.Format != "ndjson") || cfg.Out == "" || (cfg.Out == "-" && cfg.Format == "ndjson") {
			t.Fatalf("accepted -format %q -out %q", cfg.Format, cfg.Out)
		}
		if _, err := synth.New(cfg.Options); err != nil {
			t.Fatalf("accepted options that synth.New rejects: %v", err)
		}
	})
}
