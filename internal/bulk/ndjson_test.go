package bulk

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"

	"sharedcare/internal/fhir"
	"sharedcare/internal/outcome"
)

func TestLineReader(t *testing.T) {
	tests := []struct {
		name, in string
		max      int
		want     []string // "offset:line", or "offset:too long"
	}{
		{"lines", "a\nbb\nccc\n", 0, []string{"0:a", "2:bb", "5:ccc"}},
		{"no final newline", "a\nbb", 0, []string{"0:a", "2:bb"}},
		{"CRLF", "a\r\nbb\r\n", 0, []string{"0:a", "3:bb"}},
		{"blank lines skipped", "\n\na\n  \nb\n\n", 0, []string{"2:a", "7:b"}},
		{"empty", "", 0, nil},
		{"too long, then on", "aaaaaaaaaa\nb\ncccccccccccc", 4, []string{"0:too long", "11:b", "13:too long"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newLineReader(strings.NewReader(tt.in), 0)
			if tt.max > 0 {
				r.max = tt.max
			}
			var got []string
			for {
				line, off, err := r.next()
				if err == io.EOF {
					break
				}
				s := string(line)
				if errors.Is(err, errLineTooLong) {
					s = "too long"
				} else if err != nil {
					t.Fatal(err)
				}
				got = append(got, strings.Join([]string{itoa(off), s}, ":"))
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("lines of %q = %q, want %q", tt.in, got, tt.want)
			}
			if r.offset() != int64(len(tt.in)) {
				t.Errorf("offset at the end = %d, want %d", r.offset(), len(tt.in))
			}
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// FuzzNDJSON reads arbitrary bytes as an import input: no panics, every
// line found where its offset says, and a line accepted as a resource
// reads back the same once marshalled.
func FuzzNDJSON(f *testing.F) {
	f.Add([]byte("{\"resourceType\":\"Patient\",\"id\":\"a\"}\n{\"resourceType\":\"Patient\"\r\n\n{bad\n"))
	f.Add([]byte(`{"resourceType":"Observation","valueQuantity":{"value":1.50}}`))
	f.Add([]byte("\xff\xfe\n\x00\n[]\n\"x\"\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := newLineReader(bytes.NewReader(in), 0)
		r.max = 64
		for {
			line, off, err := r.next()
			if err == io.EOF {
				break
			}
			if errors.Is(err, errLineTooLong) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(in[off:], line) {
				t.Fatalf("line %q is not at offset %d", line, off)
			}
			var p pending
			err = parseLine(line, "Patient", &p)
			if err != nil {
				if _, ok := outcome.As(err); !ok {
					t.Fatalf("rejection %v is not an *outcome.Error", err)
				}
				continue
			}
			again, err := fhir.Parse(fhir.Marshal(*p.res))
			if err != nil || !bytes.Equal(fhir.Marshal(again), fhir.Marshal(*p.res)) {
				t.Fatalf("accepted %q does not round-trip: %v", line, err)
			}
		}
		if r.offset() != int64(len(in)) {
			t.Fatalf("offset at the end = %d, want %d", r.offset(), len(in))
		}
	})
}
