package auth

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"sharedcare/internal/fhir"
)

// Context is the context a SMART resource scope applies in
// (https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html).
type Context uint8

const (
	// PatientContext scopes ("patient/...") reach only the compartment of
	// the patient in context: the patient user, or the launch patient.
	PatientContext Context = iota + 1
	// UserContext scopes ("user/...") reach what the signed-in user may
	// see under the access rules.
	UserContext
	// SystemContext scopes ("system/...") are granted to backend services.
	SystemContext
)

var contextNames = [...]string{PatientContext: "patient", UserContext: "user", SystemContext: "system"}

// String returns "patient", "user" or "system".
func (c Context) String() string {
	if int(c) < len(contextNames) && contextNames[c] != "" {
		return contextNames[c]
	}
	return "unknown"
}

// Op is one kind of access to a resource, as SMART v2 names them.
type Op uint8

const (
	Create Op = iota // c
	Read             // r: read, vread, history of one resource
	Update           // u: update, patch
	Delete           // d
	Search           // s: search, history of a type
)

// String returns the SMART v2 letter of the operation: c, r, u, d or s.
func (o Op) String() string {
	if o <= Search {
		return string("cruds"[o])
	}
	return "?"
}

// Ops is a set of operations.
type Ops uint8

// Has reports whether o is in the set.
func (s Ops) Has(o Op) bool { return s&(1<<o) != 0 }

// All operations, and the v1 shorthands.
const (
	AllOps   Ops = 1<<Create | 1<<Read | 1<<Update | 1<<Delete | 1<<Search
	v1Read   Ops = 1<<Read | 1<<Search
	v1Write  Ops = 1<<Create | 1<<Update | 1<<Delete
	maxScope     = 1024 // longest scope string accepted, in bytes
)

// String returns the SMART v2 letters of the set, in order ("rs", "cruds").
func (s Ops) String() string {
	var b strings.Builder
	for o := Create; o <= Search; o++ {
		if s.Has(o) {
			b.WriteByte("cruds"[o])
		}
	}
	return b.String()
}

// Scopes that are not about resources.
const (
	ScopeOpenID        = "openid"
	ScopeFHIRUser      = "fhirUser"
	ScopeProfile       = "profile"
	ScopeLaunch        = "launch"
	ScopeLaunchPatient = "launch/patient"
	ScopeOfflineAccess = "offline_access"
	ScopeOnlineAccess  = "online_access"
)

// Scope is one scope. A resource scope has a Context; any other scope
// (openid, launch/patient, or one this server does not know) has only Name.
type Scope struct {
	Name    string  // as written, e.g. "patient/Observation.rs?category=laboratory"
	Context Context // 0 for a scope that is not a resource scope
	Type    string  // resource type, or "*" for every type
	Ops     Ops
	// Params are the SMART v2 search constraints after "?": the scope
	// grants only resources that match them. nil when there are none.
	Params url.Values
}

// Resource reports whether s is a resource scope.
func (s Scope) Resource() bool { return s.Context != 0 }

// Known reports whether s is a resource scope or a scope this server
// acts on (openid, fhirUser, launch, launch/patient, offline_access ...).
func (s Scope) Known() bool {
	switch s.Name {
	case ScopeOpenID, ScopeFHIRUser, ScopeProfile, ScopeLaunch, ScopeLaunchPatient, ScopeOfflineAccess, ScopeOnlineAccess:
		return true
	}
	return s.Resource()
}

// covers reports whether s grants at least what o asks for.
func (s Scope) covers(o Scope) bool {
	if !s.Resource() || !o.Resource() {
		return s.Name == o.Name
	}
	if s.Context != o.Context || (s.Type != "*" && s.Type != o.Type) || s.Ops&o.Ops != o.Ops {
		return false
	}
	if s.Params == nil {
		return true
	}
	return o.Params != nil && sameParams(s.Params, o.Params)
}

func sameParams(a, b url.Values) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// Scopes is a set of scopes in the order they were written, without
// duplicates.
type Scopes []Scope

// ParseScopes parses a space-separated scope string (RFC 6749 §3.3) with
// SMART v1 resource scopes ("patient/Observation.read", "user/*.write",
// "system/*.*") and v2 ones ("patient/Observation.rs", "user/*.cruds",
// "patient/Observation.rs?category=laboratory"). Scopes it does not know,
// if well formed, are kept (Known reports false) so that the caller can
// drop them; a malformed scope, a resource scope naming an unknown
// resource type or letters out of order ("sr") is an error.
func ParseScopes(s string) (Scopes, error) {
	if len(s) > maxScope {
		return nil, fmt.Errorf("scope is longer than %d bytes", maxScope)
	}
	var out Scopes
	for _, tok := range strings.Split(s, " ") {
		if tok == "" {
			continue
		}
		sc, err := parseScope(tok)
		if err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(out, func(o Scope) bool { return o.Name == sc.Name }) {
			out = append(out, sc)
		}
	}
	return out, nil
}

func parseScope(tok string) (Scope, error) {
	for i := 0; i < len(tok); i++ {
		// scope-token = 1*( %x21 / %x23-5B / %x5D-7E ): no space, quote or backslash.
		if c := tok[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return Scope{}, fmt.Errorf("scope %q: character %q is not allowed", tok, c)
		}
	}
	sc := Scope{Name: tok}
	ctxName, rest, ok := strings.Cut(tok, "/")
	switch ctxName {
	case "patient":
		sc.Context = PatientContext
	case "user":
		sc.Context = UserContext
	case "system":
		sc.Context = SystemContext
	default:
		return sc, nil // openid, launch/patient, or a scope we do not know
	}
	if !ok {
		return sc, fmt.Errorf("scope %q: want %s/Type.ops", tok, ctxName)
	}
	rest, query, hasQuery := strings.Cut(rest, "?")
	typ, ops, ok := strings.Cut(rest, ".")
	if !ok {
		return sc, fmt.Errorf("scope %q: want %s/Type.ops", tok, ctxName)
	}
	if typ != "*" && !fhir.IsResourceType(typ) {
		return sc, fmt.Errorf("scope %q: %q is not a FHIR R4 resource type", tok, typ)
	}
	sc.Type = typ
	v2 := true
	switch ops {
	case "read":
		sc.Ops, v2 = v1Read, false
	case "write":
		sc.Ops, v2 = v1Write, false
	case "*":
		sc.Ops, v2 = AllOps, false
	default:
		// v2: a non-empty subsequence of c r u d s, in that order.
		next := 0
		for i := 0; i < len(ops); i++ {
			j := strings.IndexByte("cruds"[next:], ops[i])
			if j < 0 {
				return sc, fmt.Errorf("scope %q: permissions %q are not some of c, r, u, d, s in that order", tok, ops)
			}
			next += j + 1
			sc.Ops |= 1 << Op(next-1)
		}
		if sc.Ops == 0 {
			return sc, fmt.Errorf("scope %q: no permissions after the dot", tok)
		}
	}
	if hasQuery {
		if !v2 {
			return sc, fmt.Errorf("scope %q: search constraints need SMART v2 permissions (.rs, not .read)", tok)
		}
		params, err := url.ParseQuery(query)
		if err != nil || len(params) == 0 {
			return sc, fmt.Errorf("scope %q: malformed search constraint %q", tok, query)
		}
		for k, v := range params {
			if k == "" || slices.Contains(v, "") {
				return sc, fmt.Errorf("scope %q: malformed search constraint %q", tok, query)
			}
		}
		sc.Params = params
	}
	return sc, nil
}

// String returns the scopes as a space-separated string that ParseScopes
// reads back to the same Scopes.
func (ss Scopes) String() string {
	names := make([]string, len(ss))
	for i, s := range ss {
		names[i] = s.Name
	}
	return strings.Join(names, " ")
}

// Has reports whether the scope named name ("launch/patient", "openid") is
// in the set.
func (ss Scopes) Has(name string) bool {
	return slices.ContainsFunc(ss, func(s Scope) bool { return s.Name == name })
}

// Allows reports whether a scope without search constraints grants op on
// resources of type typ in context c. A scope with constraints
// ("patient/Observation.rs?category=laboratory") never makes Allows true:
// it grants only some resources, which AllowsWhere reports, so a caller that
// does not enforce constraints refuses rather than shows too much.
func (ss Scopes) Allows(c Context, typ string, op Op) bool {
	for _, s := range ss {
		if s.Context == c && (s.Type == "*" || s.Type == typ) && s.Ops.Has(op) && s.Params == nil {
			return true
		}
	}
	return false
}

// AllowsWhere reports whether some scope grants op on resources of type
// typ in context c, and on which: when ok is true and where is nil, on
// every resource; otherwise only on resources that match at least one of
// where's search constraints (each of which holds FHIR search parameters
// of typ, all of which must match). Enforcing them is the caller's job: add
// them to a search as alternatives, or check a read resource against them.
func (ss Scopes) AllowsWhere(c Context, typ string, op Op) (where []url.Values, ok bool) {
	if ss.Allows(c, typ, op) {
		return nil, true
	}
	for _, s := range ss {
		if s.Context == c && (s.Type == "*" || s.Type == typ) && s.Ops.Has(op) {
			where = append(where, s.Params)
		}
	}
	return where, len(where) > 0
}

// Within returns the scopes of ss that grant does cover: resource scopes a
// scope of grant includes (same context, its type or "*", a superset of the
// operations, no constraint or the same one), and other scopes by name. The
// order of ss is kept.
func (ss Scopes) Within(grant Scopes) Scopes {
	var out Scopes
	for _, s := range ss {
		if slices.ContainsFunc(grant, func(g Scope) bool { return g.covers(s) }) {
			out = append(out, s)
		}
	}
	return out
}
