package store

import (
	"bytes"
	"strconv"
	"time"

	"sharedcare/internal/fhir"
)

// InstantFormat is how lastUpdated is written: UTC, milliseconds.
const InstantFormat = "2006-01-02T15:04:05.000Z07:00"

// Template is a resource's JSON with its meta.versionId and
// meta.lastUpdated left to fill in. Building one marshals the resource, so
// callers do it before a transaction, off the path that a backend may run
// one write at a time; Fill is a few copies.
type Template struct {
	prefix, middle, suffix []byte
}

// The markers stand in for the version and time while the resource is
// marshalled. Each is one JSON string; a resource can only hold the same
// bytes in a value that contains both a NUL and these exact letters, which
// validation refuses (control characters are not allowed in FHIR strings).
const (
	versionMarker = "\x00sharedcare-version\x00"
	updatedMarker = "\x00sharedcare-updated\x00"
)

var (
	versionQuoted = fhir.AppendQuoted(nil, versionMarker)
	updatedQuoted = fhir.AppendQuoted(nil, updatedMarker)
)

// NewTemplate sets res's id and marshals it with meta.versionId and
// meta.lastUpdated to be filled in; res's meta is left as it was. The rest
// of meta (profile, tag, security, source) is the client's.
func NewTemplate(res *fhir.Value, id string) *Template {
	res.SetAfter("id", "resourceType", fhir.StringValue(id))
	old := res.Get("meta")
	meta := fhir.Value{Kind: fhir.Object}
	if old != nil && old.Kind == fhir.Object {
		meta.Keys = append([]string(nil), old.Keys...)
		meta.Items = append([]fhir.Value(nil), old.Items...)
	}
	meta.SetAfter("versionId", "", fhir.StringValue(versionMarker))
	meta.SetAfter("lastUpdated", "versionId", fhir.StringValue(updatedMarker))
	saved := *res
	stamped := fhir.Value{Kind: fhir.Object, Keys: append([]string(nil), saved.Keys...), Items: append([]fhir.Value(nil), saved.Items...)}
	stamped.SetAfter("meta", "id", meta)
	b := fhir.Marshal(stamped)
	i := bytes.Index(b, versionQuoted)
	j := bytes.Index(b, updatedQuoted)
	return &Template{prefix: b[:i], middle: b[i+len(versionQuoted) : j], suffix: b[j+len(updatedQuoted):]}
}

// Fill returns the resource's JSON with the given version and time.
func (t *Template) Fill(versionID int64, lastUpdated time.Time) []byte {
	out := make([]byte, 0, len(t.prefix)+len(t.middle)+len(t.suffix)+48)
	out = append(out, t.prefix...)
	out = append(out, '"')
	out = strconv.AppendInt(out, versionID, 10)
	out = append(out, '"')
	out = append(out, t.middle...)
	out = append(out, '"')
	out = lastUpdated.UTC().AppendFormat(out, InstantFormat)
	out = append(out, '"')
	return append(out, t.suffix...)
}

// Stamp sets res's id, meta.versionId and meta.lastUpdated and returns its
// JSON.
func Stamp(res *fhir.Value, id string, versionID int64, lastUpdated time.Time) []byte {
	return NewTemplate(res, id).Fill(versionID, lastUpdated)
}

// Matches reports whether body, a stored version at versionID stamped
// lastUpdated, holds the same resource as the template: the same bytes
// once meta.versionId and meta.lastUpdated are set alike. Both come from
// the same marshalling, so equal content gives equal bytes.
func (t *Template) Matches(body []byte, versionID int64, lastUpdated time.Time) bool {
	if len(body) == 0 {
		return false
	}
	return bytes.Equal(t.Fill(versionID, lastUpdated), body)
}
