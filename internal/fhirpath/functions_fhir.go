package fhirpath

import (
	"strings"

	"sharedcare/internal/fhir"
)

// FHIR's additions to FHIRPath (https://hl7.org/fhir/R4/fhirpath.html#functions).

// fnExtension is extension(url): the input's extensions with that url.
func fnExtension(r *run, s scope, in []Item, c *call) ([]Item, error) {
	url, ok, err := r.stringArg(s, c, 0)
	if err != nil || !ok {
		return nil, err
	}
	var out []Item
	for _, it := range in {
		holder := it.node
		if it.typ != nil && it.typ.Kind == fhir.PrimitiveType || it.node == nil {
			holder = it.ext
		}
		if holder == nil || holder.Kind != fhir.Object {
			continue
		}
		exts := holder.Get("extension")
		if exts == nil || exts.Kind != fhir.Array {
			continue
		}
		for i := range exts.Items {
			e := &exts.Items[i]
			if e.Kind == fhir.Object && e.Str("url") == url {
				out = append(out, Item{node: e, typ: extensionType})
			}
		}
	}
	return out, nil
}

var extensionType = fhir.LookupType("Extension")

func fnHasValue(r *run, s scope, in []Item, c *call) ([]Item, error) {
	return boolResult(len(in) == 1 && in[0].typ != nil && in[0].typ.Kind == fhir.PrimitiveType && in[0].HasValue()), nil
}

// fnGetValue returns a FHIR primitive's value as a System value.
func fnGetValue(r *run, s scope, in []Item, c *call) ([]Item, error) {
	if len(in) != 1 || in[0].typ == nil || in[0].typ.Kind != fhir.PrimitiveType || !in[0].HasValue() {
		return nil, nil
	}
	v, ok := systemValue(in[0])
	if !ok {
		return nil, nil
	}
	return []Item{v}, nil
}

// systemValue converts a FHIR primitive to the System value it stands for.
func systemValue(it Item) (Item, bool) {
	switch it.kind {
	case KindString:
		s, ok := it.str()
		return String(s), ok
	case KindBoolean:
		b, ok := it.boolean()
		return Boolean(b), ok
	case KindInteger:
		n, ok := it.integer()
		return Integer(n), ok
	case KindDecimal:
		d, ok := it.decimal()
		return decItem(d), ok
	case KindDate, KindDateTime, KindTime:
		d, ok := it.dateTime()
		return dtItem(d), ok
	}
	return Item{}, false
}

// fnResolve is resolve(): for each Reference (or reference string) the
// resource it points to. It looks among the contained resources of
// %resource and %rootResource for "#id", then in a Bundle that
// %rootResource or %resource is, then asks Env.Resolve; failing all three,
// a relative or absolute RESTful reference ("Patient/123",
// "https://x/fhir/Patient/123/_history/2") gives a stub that has the
// reference's type and nothing else, which is what
// where(resolve() is Patient) in search parameters needs.
func fnResolve(r *run, s scope, in []Item, c *call) ([]Item, error) {
	var out []Item
	for _, it := range in {
		ref := ""
		switch {
		case it.kind == KindString:
			ref, _ = it.str()
		case it.node != nil && it.node.Kind == fhir.Object:
			ref = it.node.Str("reference")
		}
		if ref == "" {
			continue
		}
		res, ok, err := r.resolve(ref)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, res)
		}
	}
	return out, nil
}

func (r *run) resolve(ref string) (Item, bool, error) {
	containers, n := r.containers()
	if id, ok := strings.CutPrefix(ref, "#"); ok {
		for _, res := range containers[:n] {
			if id == "" {
				return res, true, nil // "#" is the container itself
			}
			if v := containedByID(res.node, id); v != nil {
				return objectItem(v, nil), true, nil
			}
		}
		return Item{}, false, nil
	}
	for _, res := range containers[:n] {
		if v := bundleEntry(res.node, ref); v != nil {
			return objectItem(v, nil), true, nil
		}
	}
	if r.env.Resolve != nil {
		if v, ok := r.env.Resolve(r.ctx, ref); ok && v != nil {
			return objectItem(v, nil), true, nil
		}
		if err := r.ctx.Err(); err != nil {
			return Item{}, false, &EvalError{Expr: r.expr.src, Msg: "cancelled", Err: err}
		}
	}
	if typ, _, ok := refTypeID(ref); ok {
		return Item{typ: fhir.LookupType(typ), s: ref}, true, nil
	}
	return Item{}, false, nil
}

// containers are the resources a local reference may point into: the
// first n of the array.
func (r *run) containers() (out [3]Item, n int) {
	for _, it := range [...]Item{r.env.RootResource, r.env.Resource} {
		if !it.isZero() && it.node != nil {
			out[n] = it
			n++
		}
	}
	if len(r.input) == 1 && r.input[0].IsResource() && r.input[0].node != nil {
		out[n] = r.input[0]
		n++
	}
	return out, n
}

func containedByID(res *fhir.Value, id string) *fhir.Value {
	list := res.Get("contained")
	if list == nil || list.Kind != fhir.Array {
		return nil
	}
	for i := range list.Items {
		if list.Items[i].Str("id") == id {
			return &list.Items[i]
		}
	}
	return nil
}

// bundleEntry finds ref among a Bundle's entries, by fullUrl or, for a
// relative reference, by type and id.
func bundleEntry(b *fhir.Value, ref string) *fhir.Value {
	if b.Str("resourceType") != "Bundle" {
		return nil
	}
	entries := b.Get("entry")
	if entries == nil || entries.Kind != fhir.Array {
		return nil
	}
	typ, id, relative := refTypeID(ref)
	relative = relative && !strings.Contains(ref, "://")
	for i := range entries.Items {
		e := &entries.Items[i]
		res := e.Get("resource")
		if res == nil {
			continue
		}
		full := e.Str("fullUrl")
		if full != "" && (full == ref || relative && strings.HasSuffix(full, "/"+typ+"/"+id)) {
			return res
		}
		if relative && res.Str("resourceType") == typ && res.Str("id") == id {
			return res
		}
	}
	return nil
}

// refTypeID reads the type and id of a RESTful reference: Patient/123,
// https://server/fhir/Patient/123, Patient/123/_history/4.
func refTypeID(ref string) (typ, id string, ok bool) {
	ref, _, _ = strings.Cut(ref, "/_history/")
	slash := strings.LastIndexByte(ref, '/')
	if slash < 0 {
		return "", "", false
	}
	id = ref[slash+1:]
	typ = ref[strings.LastIndexByte(ref[:slash], '/')+1 : slash]
	if !fhir.IsResourceType(typ) || id == "" {
		return "", "", false
	}
	return typ, id, true
}

// fnMemberOf asks Env.MemberOf whether a code, Coding or CodeableConcept is
// in a value set.
func fnMemberOf(r *run, s scope, in []Item, c *call) ([]Item, error) {
	it, ok, err := r.oneItem(in, c)
	if err != nil || !ok {
		return nil, err
	}
	vs, ok, err := r.stringArg(s, c, 0)
	if err != nil || !ok {
		return nil, err
	}
	if r.env.MemberOf == nil {
		return nil, r.errorf(c.pos, "memberOf(): no terminology service (Env.MemberOf)")
	}
	type coding struct{ system, code string }
	var codes []coding
	switch {
	case it.kind == KindString:
		code, _ := it.str()
		codes = append(codes, coding{"", code})
	case it.typ != nil && it.typ.Name == "Coding":
		codes = append(codes, coding{it.node.Str("system"), it.node.Str("code")})
	case it.typ != nil && it.typ.Name == "CodeableConcept":
		if list := it.node.Get("coding"); list != nil && list.Kind == fhir.Array {
			for i := range list.Items {
				codes = append(codes, coding{list.Items[i].Str("system"), list.Items[i].Str("code")})
			}
		}
	default:
		return nil, r.errorf(c.pos, "memberOf(): expected a code, Coding or CodeableConcept, got %s", typeOf(it))
	}
	for _, cd := range codes {
		if cd.code == "" {
			continue
		}
		ok, err := r.env.MemberOf(r.ctx, vs, cd.system, cd.code)
		if err != nil {
			return nil, &EvalError{Expr: r.expr.src, Offset: c.pos, Msg: "memberOf() failed", Err: err}
		}
		if ok {
			return trueItems, nil
		}
	}
	return falseItems, nil
}

const coreProfilePrefix = "http://hl7.org/fhir/StructureDefinition/"

// fnConformsTo asks Env.ConformsTo; without it, a core profile
// (http://hl7.org/fhir/StructureDefinition/<type>) is answered from the type
// and any other profile is an error.
func fnConformsTo(r *run, s scope, in []Item, c *call) ([]Item, error) {
	it, ok, err := r.oneItem(in, c)
	if err != nil || !ok {
		return nil, err
	}
	url, ok, err := r.stringArg(s, c, 0)
	if err != nil || !ok {
		return nil, err
	}
	if r.env.ConformsTo != nil {
		ok, err := r.env.ConformsTo(r.ctx, it, url)
		if err != nil {
			return nil, &EvalError{Expr: r.expr.src, Offset: c.pos, Msg: "conformsTo() failed", Err: err}
		}
		return boolResult(ok), nil
	}
	name, core := strings.CutPrefix(url, coreProfilePrefix)
	if !core || fhir.LookupType(name) == nil {
		return nil, r.errorf(c.pos, "conformsTo(): unknown profile (no Env.ConformsTo)")
	}
	return boolResult(it.typ != nil && fhir.Derives(it.typ.Name, name)), nil
}

// fnHTMLChecks is htmlChecks(): the narrative rules are the validator's job,
// so here it is always true.
func fnHTMLChecks(r *run, s scope, in []Item, c *call) ([]Item, error) {
	return trueItems, nil
}
