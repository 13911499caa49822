package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, in string
		wantErr  bool
		out      string // compact re-encoding; "" means same as in
	}{
		{"object order kept", `{"b":1,"a":2}`, false, ""},
		{"decimal precision kept", `{"v":1.50,"w":1e3,"x":-0.0}`, false, ""},
		{"escapes", `{"s":"a\"b\\c\n\u00e9\ud83d\ude00"}`, false, `{"s":"a\"b\\c\né😀"}`},
		{"html escaped on output", `{"s":"<b>&"}`, false, `{"s":"\u003cb\u003e\u0026"}`},
		{"nested", `{"a":[1,{"b":[true,false,null]}],"c":{}}`, false, ""},
		{"duplicate member", `{"a":1,"a":2}`, true, ""},
		{"duplicate element name", `{"family":"a","given":[],"family":"b"}`, true, ""},
		{"duplicate element name, one escaped", `{"family":"a","f\u0061mily":"b"}`, true, ""},
		{"escaped element name", `{"f\u0061mily":"a"}`, false, `{"family":"a"}`},
		{"element name with a control character", "{\"fam\x01ily\":1}", true, ""},
		{"objects in arrays in objects", `{"a":[{"b":{"c":[1,{"d":2}],"e":3}},[]],"f":{"g":[]}}`, false, ""},
		{"trailing comma", `{"a":1,}`, true, ""},
		{"trailing data", `{} {}`, true, ""},
		{"bad number", `{"a":01}`, true, ""},
		{"bare word", `{"a":nope}`, true, ""},
		{"control char", "{\"a\":\"x\ty\"}", true, ""},
		{"bad utf8", "{\"a\":\"\xff\"}", true, ""},
		{"unterminated", `{"a":"x`, true, ""},
		{"lone surrogate becomes U+FFFD", `{"a":"\ud800"}`, false, "{\"a\":\"\uFFFD\"}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := Parse([]byte(tt.in))
			if tt.wantErr {
				var se *SyntaxError
				if !errors.As(err, &se) {
					t.Fatalf("Parse(%q) = %v, want a *SyntaxError", tt.in, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			want := tt.out
			if want == "" {
				want = tt.in
			}
			if got := string(Marshal(v)); got != want {
				t.Errorf("Marshal(Parse(%q)) = %s, want %s", tt.in, got, want)
			}
		})
	}
}

func TestParseDepthLimit(t *testing.T) {
	deep := bytes.Repeat([]byte("["), MaxDepth+5)
	if _, err := Parse(deep); err == nil {
		t.Fatal("Parse of deeply nested arrays succeeded")
	}
}

// FuzzParse: no input panics; accepted input round-trips to the same
// value, and agrees with encoding/json on validity where both apply.
func FuzzParse(f *testing.F) {
	for _, s := range []string{`{"resourceType":"Patient","name":[{"family":"Smith"}]}`, `{"a":1.50}`, `[]`, `"x"`, `{"a":"\u00e9"}`, `{"a":{"b":[null,true]}}`, `{"family":"x","f\u0061mily":"y"}`, `{"a":[{"b":{"c":[1,{"d":2}],"e":3}},[]],"f":{"g":[]}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Parse(data)
		if err != nil {
			return
		}
		out := Marshal(v)
		v2, err := Parse(out)
		if err != nil {
			t.Fatalf("re-parse of %q: %v", out, err)
		}
		if out2 := Marshal(v2); !bytes.Equal(out, out2) {
			t.Fatalf("round trip changed: %q then %q", out, out2)
		}
		if !json.Valid(data) {
			t.Fatalf("accepted input encoding/json rejects: %q", data)
		}
		if !json.Valid(MarshalIndent(v)) {
			t.Fatalf("indented output is not JSON")
		}
	})
}
