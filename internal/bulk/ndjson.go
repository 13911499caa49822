package bulk

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// maxLine bounds one NDJSON line (one resource): a larger one is
// reported and skipped, so that one bad line cannot take the memory.
const maxLine = 16 << 20

// errLineTooLong is a line longer than maxLine; the reader has skipped it.
var errLineTooLong = errors.New("line too long")

// lineReader reads NDJSON (https://github.com/ndjson/ndjson-spec) a line
// at a time, keeping the byte offset of each line so that an import can
// record how far it got and resume there.
type lineReader struct {
	r   *bufio.Reader
	off int64 // offset of the next line
	max int
	buf []byte
}

// newLineReader reads r, whose first byte is at offset off of its file.
func newLineReader(r io.Reader, off int64) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 256<<10), off: off, max: maxLine}
}

// next returns the next non-blank line, without its line ending (LF or
// CRLF), and the offset it starts at; the line is valid until the next
// call. At the end it returns io.EOF; a last line without a newline is a
// line. A line longer than the limit returns errLineTooLong, having been
// skipped, and reading can go on.
func (l *lineReader) next() (line []byte, off int64, err error) {
	for {
		off = l.off
		l.buf = l.buf[:0]
		tooLong := false
		for {
			chunk, err := l.r.ReadSlice('\n')
			l.off += int64(len(chunk))
			if !tooLong {
				if len(l.buf)+len(chunk) > l.max+2 {
					tooLong, l.buf = true, l.buf[:0]
				} else {
					l.buf = append(l.buf, chunk...)
				}
			}
			if err == bufio.ErrBufferFull {
				continue
			}
			if err == io.EOF {
				if l.off == off {
					return nil, off, io.EOF
				}
				break
			}
			if err != nil {
				return nil, off, err
			}
			break
		}
		if tooLong {
			return nil, off, errLineTooLong
		}
		line = bytes.TrimRight(l.buf, "\r\n")
		if len(bytes.TrimSpace(line)) == 0 {
			continue // blank lines carry nothing; ndjson allows a trailing one
		}
		return line, off, nil
	}
}

// offset is the offset just past the last line returned.
func (l *lineReader) offset() int64 { return l.off }
