package patch

import (
	"sharedcare/internal/fhir"
)

// maxGrowth bounds how many JSON nodes the copy operations of one JSON Patch
// may add beyond the size of the resource they start from: without it,
// thirty operations copying the root into itself would build a tree of a
// billion nodes.
const maxGrowth = 1 << 16

// nodes counts the JSON nodes of v.
func nodes(v *fhir.Value) int {
	n := 1
	for i := range v.Items {
		n += nodes(&v.Items[i])
	}
	return n
}

// tooDeep reports whether v nests deeper than fhir.Parse accepts, counting
// from depth: stored, such a resource could never be read back.
func tooDeep(v *fhir.Value, depth int) bool {
	if depth > fhir.MaxDepth {
		return true
	}
	for i := range v.Items {
		if tooDeep(&v.Items[i], depth+1) {
			return true
		}
	}
	return false
}

// sameMember reports whether member name is absent from both a and b, or
// present in both with the same scalar value.
func sameMember(a, b *fhir.Value, name string) bool {
	x, y := a.Get(name), b.Get(name)
	if x == nil || y == nil {
		return x == nil && y == nil
	}
	return x.Kind == y.Kind && x.Bool == y.Bool && x.Text == y.Text && len(x.Items) == 0 && len(y.Items) == 0
}

// keepsIdentity reports whether after is still the resource before was: a
// patch may change neither resourceType nor id
// (https://hl7.org/fhir/R4/http.html#patch: the URL names the resource).
func keepsIdentity(before, after *fhir.Value) bool {
	if after.Kind != fhir.Object {
		return false
	}
	if before.Kind != fhir.Object {
		return true
	}
	return sameMember(before, after, "resourceType") && sameMember(before, after, "id")
}
