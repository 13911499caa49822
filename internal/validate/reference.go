package validate

import (
	"slices"
	"strings"

	"sharedcare/internal/fhir"
	"sharedcare/internal/outcome"
)

// reference checks Reference.reference (https://hl7.org/fhir/R4/references.html#literal):
// a relative Type/id[/_history/vid], an absolute URL, "#id" naming a
// contained resource, or, inside a Bundle, a urn:uuid:/urn:oid: full URL
// or a conditional Type?query, which the server resolves when it processes
// the Bundle. e is the element holding the Reference: its target types,
// when the spec lists them, limit the type referred to.
func (w *walker) reference(v *fhir.Value, e *elemInfo) {
	ref := v.Get("reference")
	if ref == nil || ref.Kind != fhir.String || ref.Text == "" {
		return // a wrong kind or empty string is reported already
	}
	s := ref.Text
	var targets []string
	if e != nil {
		targets = e.Targets
	}
	switch {
	case s[0] == '#':
		if w.fragment(s[1:]) {
			return
		}
		if s == "#" {
			w.errorf(outcome.CodeInvariant, "reference", "ref-1: \"#\" refers to the containing resource, so only a contained resource may use it")
		} else {
			w.errorf(outcome.CodeInvariant, "reference", "ref-1: %q matches the id of no contained resource", clip(s))
		}
		return
	case strings.HasPrefix(s, "urn:uuid:"), strings.HasPrefix(s, "urn:oid:"):
		typ := "uuid"
		if strings.HasPrefix(s, "urn:oid:") {
			typ = "oid"
		}
		if !w.s.types[typ].prim.match(s) {
			w.errorf(outcome.CodeValue, "reference", "%q is not a valid %s", clip(s), typ)
		} else if w.bundles == 0 {
			w.errorf(outcome.CodeValue, "reference", "%q resolves only among the entries of a Bundle", clip(s))
		}
		return
	}
	if hasScheme(s) {
		// An absolute URL; when it ends in a RESTful Type/id, hold the type to
		// the targets too.
		tail := s
		if i := strings.Index(tail, "/_history/"); i >= 0 {
			tail = tail[:i]
		}
		j := strings.LastIndexByte(tail, '/')
		if j > 0 {
			k := strings.LastIndexByte(tail[:j], '/')
			if typ := tail[k+1 : j]; fhir.IsResourceType(typ) && isID(tail[j+1:]) {
				w.target(v, typ, targets)
			}
		}
		return
	}
	if q := strings.IndexByte(s, '?'); q >= 0 {
		typ := s[:q]
		switch {
		case w.bundles == 0:
			w.errorf(outcome.CodeValue, "reference", "a conditional reference (%s) resolves only in a transaction Bundle", clip(s))
		case !fhir.IsResourceType(typ):
			w.errorf(outcome.CodeValue, "reference", "%q in a conditional reference is not a resource type", clip(typ))
		default:
			w.target(v, typ, targets)
		}
		return
	}
	typ, rest, ok := strings.Cut(s, "/")
	if !ok {
		w.errorf(outcome.CodeValue, "reference", "%q is not a reference: expected Type/id, an absolute URL or #id", clip(s))
		return
	}
	id, version, versioned := strings.Cut(rest, "/_history/")
	switch {
	case !fhir.IsResourceType(typ):
		w.errorf(outcome.CodeValue, "reference", "%q is not a resource type", clip(typ))
	case !isID(id):
		w.errorf(outcome.CodeValue, "reference", "%q is not a valid id: expected Type/id or Type/id/_history/version", clip(rest))
	case versioned && !isID(version):
		w.errorf(outcome.CodeValue, "reference", "%q is not a valid version id", clip(version))
	default:
		w.target(v, typ, targets)
	}
}

// target checks that a reference to a resource of type typ is to one of
// the element's target types, and agrees with Reference.type.
func (w *walker) target(v *fhir.Value, typ string, targets []string) {
	if len(targets) > 0 && !slices.Contains(targets, typ) {
		w.errorf(outcome.CodeValue, "reference", "a reference to %s is not allowed here; allowed: %s", typ, strings.Join(targets, ", "))
	}
	// Reference.type is relative to http://hl7.org/fhir/StructureDefinition/;
	// other absolute URLs name logical models, which this cannot judge.
	t := strings.TrimPrefix(v.Str("type"), "http://hl7.org/fhir/StructureDefinition/")
	if t != "" && t != typ && !hasScheme(t) {
		w.errorf(outcome.CodeValue, "type", "Reference.type %q disagrees with the reference, which is to %s", clip(t), typ)
	}
}

// fragment marks the contained resource that "#id" names as referenced
// (dom-3) and reports whether there is one. A bare "#" names the container,
// which only a contained resource may refer to.
func (w *walker) fragment(id string) bool {
	if len(w.roots) == 0 {
		return false
	}
	r := &w.roots[len(w.roots)-1]
	if id == "" {
		if r.current < 0 {
			return false
		}
		r.contained[r.current].referenced = true
		return true
	}
	for i := range r.contained {
		if r.contained[i].id == id {
			r.contained[i].referenced = true
			return true
		}
	}
	return false
}

// hasScheme reports whether s starts with a URI scheme and a colon
// (RFC 3986: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":").
func hasScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		case i > 0 && c == ':':
			return true
		default:
			return false
		}
	}
	return false
}
