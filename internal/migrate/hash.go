package migrate

import (
	"crypto/sha256"
	"errors"
	"slices"

	"sharedcare/internal/fhir"
)

// Hash is a resource's content hash: SHA-256 of its canonical JSON
// without meta.versionId, meta.lastUpdated and meta.source, which each
// server sets for itself. Object members are sorted by name and nothing
// else changes (a decimal keeps its digits: 1.50 is not 1.5), so two
// servers holding the same resource give the same hash however they
// order or space its JSON.
type Hash [32]byte

// ContentHash returns a resource's type, id and content hash.
func ContentHash(body []byte) (typ, id string, h Hash, err error) {
	v, err := fhir.Parse(body)
	if err != nil {
		return "", "", h, err
	}
	if v.Kind != fhir.Object {
		return "", "", h, errors.New("not a JSON object")
	}
	typ, id = v.Str("resourceType"), v.Str("id")
	if typ == "" || id == "" {
		return "", "", h, errors.New("a resource needs a resourceType and an id")
	}
	if meta := v.Get("meta"); meta != nil && meta.Kind == fhir.Object {
		meta.Delete("versionId")
		meta.Delete("lastUpdated")
		meta.Delete("source")
		if len(meta.Keys) == 0 {
			v.Delete("meta")
		}
	}
	return typ, id, sha256.Sum256(fhir.Marshal(canonical(v))), nil
}

// canonical returns v with every object's members sorted by name.
func canonical(v fhir.Value) fhir.Value {
	switch v.Kind {
	case fhir.Object:
		idx := make([]int, len(v.Keys))
		for i := range idx {
			idx[i] = i
		}
		slices.SortFunc(idx, func(a, b int) int {
			switch {
			case v.Keys[a] < v.Keys[b]:
				return -1
			case v.Keys[a] > v.Keys[b]:
				return 1
			}
			return 0
		})
		out := fhir.Value{Kind: fhir.Object, Keys: make([]string, len(idx)), Items: make([]fhir.Value, len(idx))}
		for i, j := range idx {
			out.Keys[i], out.Items[i] = v.Keys[j], canonical(v.Items[j])
		}
		return out
	case fhir.Array:
		out := fhir.Value{Kind: fhir.Array, Items: make([]fhir.Value, len(v.Items))}
		for i := range v.Items {
			out.Items[i] = canonical(v.Items[i])
		}
		return out
	}
	return v
}
