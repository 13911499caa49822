package store

import (
	"strconv"
	"time"

	"sharedcare/internal/fhir"
)

// InstantFormat is how lastUpdated is written: UTC, milliseconds.
const InstantFormat = "2006-01-02T15:04:05.000Z07:00"

// Stamp sets res's id, meta.versionId and meta.lastUpdated and returns its
// JSON. The rest of meta (profile, tag, security, source) is the client's.
func Stamp(res *fhir.Value, id string, versionID int64, lastUpdated time.Time) []byte {
	res.SetAfter("id", "resourceType", fhir.StringValue(id))
	meta := res.Get("meta")
	if meta == nil || meta.Kind != fhir.Object {
		res.SetAfter("meta", "id", fhir.Value{Kind: fhir.Object})
		meta = res.Get("meta")
	}
	meta.SetAfter("versionId", "", fhir.StringValue(strconv.FormatInt(versionID, 10)))
	meta.SetAfter("lastUpdated", "versionId", fhir.StringValue(lastUpdated.UTC().Format(InstantFormat)))
	return fhir.Marshal(*res)
}
