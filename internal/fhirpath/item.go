package fhirpath

import (
	"strconv"
	"strings"

	"sharedcare/internal/fhir"
)

// Kind is the System type an item's value has or converts to
// (http://hl7.org/fhirpath/N1/#types): a FHIR string, code or uri is a
// String, a FHIR Quantity (or Age, Duration ...) a Quantity.
type Kind uint8

const (
	KindNone     Kind = iota // no System value: a resource, a complex FHIR type, a type()
	KindBoolean              // System.Boolean
	KindString               // System.String
	KindInteger              // System.Integer
	KindDecimal              // System.Decimal
	KindDate                 // System.Date
	KindDateTime             // System.DateTime
	KindTime                 // System.Time
	KindQuantity             // System.Quantity
)

var kindNames = [...]string{"", "Boolean", "String", "Integer", "Decimal", "Date", "DateTime", "Time", "Quantity"}

// String returns the System type's name without namespace ("Integer"), or "" for KindNone.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return ""
}

// Item is one element of a FHIRPath collection: a node of a FHIR resource
// (a resource, a complex value, a primitive), or a value an expression
// computed (a System value). Items are small values, cheap to copy; an item
// refers into the fhir.Value tree it came from, which must not change while
// the item is in use.
type Item struct {
	node *fhir.Value // the JSON node: an object, or a primitive's scalar; nil for computed values and value-less primitives
	ext  *fhir.Value // a primitive's "_name" sibling: its id and extensions
	typ  *fhir.Type  // FHIR type; nil for System values and JSON of no known type
	kind Kind
	n    int64  // computed Boolean (0/1) or Integer
	s    string // computed String
	x    any    // computed Decimal (dec), Date/DateTime/Time (DateTime), Quantity (quantity), type() (typeInfo)
}

// typeInfo is the value of type(): http://hl7.org/fhirpath/N1/#reflection.
type typeInfo struct{ namespace, name string }

// Resource returns the item for a resource, typed from its resourceType.
func Resource(v *fhir.Value) Item {
	return Item{node: v, typ: fhir.LookupType(v.Str("resourceType"))}
}

// Node returns the item for a node of the given FHIR type, for example the
// Patient.contact at index 1 with typeName "Patient.contact", or a
// HumanName. For a primitive type, v is the JSON scalar (see Primitive to
// include its extensions). A typeName the model does not know leaves the
// item untyped: its children are still reachable by name. An abstract
// resource type (Resource, DomainResource) defers to v's resourceType.
func Node(v *fhir.Value, typeName string) Item {
	t := fhir.LookupType(typeName)
	if t != nil && t.Kind == fhir.PrimitiveType {
		return Primitive(v, nil, typeName)
	}
	return objectItem(v, t)
}

// Primitive returns the item for a FHIR primitive: v is its JSON value (nil
// or JSON null when it has only extensions) and ext its "_name" sibling
// holding id and extensions (nil when absent).
func Primitive(v, ext *fhir.Value, typeName string) Item {
	if v != nil && v.Kind == fhir.Null {
		v = nil
	}
	t := fhir.LookupType(typeName)
	return Item{node: v, ext: ext, typ: t, kind: primitiveKind(t, v)}
}

// String makes a System.String, for example for Env.Vars.
func String(s string) Item { return Item{kind: KindString, s: s} }

// Boolean makes a System.Boolean.
func Boolean(b bool) Item {
	if b {
		return Item{kind: KindBoolean, n: 1}
	}
	return Item{kind: KindBoolean}
}

// Integer makes a System.Integer.
func Integer(n int64) Item { return Item{kind: KindInteger, n: n} }

// Decimal makes a System.Decimal: it parses a decimal literal such as "1.50"; ok is false when text is not one.
func Decimal(text string) (Item, bool) {
	d, ok := parseDec(text)
	if !ok {
		return Item{}, false
	}
	return decItem(d), true
}

func decItem(d dec) Item            { return Item{kind: KindDecimal, x: d} }
func dtItem(d DateTime) Item        { return Item{kind: d.Kind, x: d} }
func qtyItem(q quantity) Item       { return Item{kind: KindQuantity, x: q} }
func typeItem(ns, name string) Item { return Item{x: typeInfo{ns, name}} }

// objectItem types an object node: an abstract resource type (or none)
// defers to the node's own resourceType.
func objectItem(v *fhir.Value, t *fhir.Type) Item {
	if v == nil || v.Kind == fhir.Null {
		return Item{}
	}
	if t == nil || (t.Kind == fhir.ResourceType && t.Abstract) {
		if rt := v.Str("resourceType"); rt != "" {
			if r := fhir.LookupType(rt); r != nil {
				t = r
			}
		}
	}
	if t == nil && v.Kind != fhir.Object {
		return Item{node: v, kind: jsonKind(v)}
	}
	return Item{node: v, typ: t, kind: complexKind(t)}
}

// jsonKind is the System type of an untyped JSON scalar.
func jsonKind(v *fhir.Value) Kind {
	switch v.Kind {
	case fhir.Bool:
		return KindBoolean
	case fhir.String:
		return KindString
	case fhir.Number:
		if strings.ContainsAny(v.Text, ".eE") {
			return KindDecimal
		}
		return KindInteger
	}
	return KindNone
}

// primitiveKind maps a FHIR primitive type to its System type
// (https://hl7.org/fhir/R4/fhirpath.html#types).
func primitiveKind(t *fhir.Type, v *fhir.Value) Kind {
	if t == nil {
		if v == nil {
			return KindNone
		}
		return jsonKind(v)
	}
	for ; t != nil; t = fhir.LookupType(t.Base) {
		switch t.Name {
		case "boolean":
			return KindBoolean
		case "string", "code", "id", "markdown", "uri", "url", "canonical", "oid", "uuid", "base64Binary", "xhtml":
			return KindString
		case "integer", "positiveInt", "unsignedInt":
			return KindInteger
		case "decimal":
			return KindDecimal
		case "date":
			return KindDate
		case "dateTime", "instant":
			return KindDateTime
		case "time":
			return KindTime
		}
	}
	return KindNone
}

// complexKind is KindQuantity for Quantity and its specialisations.
func complexKind(t *fhir.Type) Kind {
	if t == nil {
		return KindNone
	}
	switch t.Name {
	case "Quantity", "Age", "Count", "Distance", "Duration", "MoneyQuantity", "SimpleQuantity":
		return KindQuantity
	}
	return KindNone
}

func (it Item) isZero() bool {
	return it.node == nil && it.ext == nil && it.typ == nil && it.kind == KindNone && it.x == nil
}

// TypeName returns the item's FHIR type: "Patient", "HumanName",
// "Patient.contact", "dateTime", "code"; "" for a System value.
func (it Item) TypeName() string {
	if it.typ == nil {
		return ""
	}
	return it.typ.Name
}

// Kind returns the System type of the item's value, or the one a FHIR
// primitive or Quantity converts to; KindNone for other complex values.
func (it Item) Kind() Kind { return it.kind }

// Value returns the JSON node the item stands for (an object, or a
// primitive's scalar), or nil for a computed value or a primitive that has
// only extensions.
func (it Item) Value() *fhir.Value { return it.node }

// Extensions returns a primitive's "_name" sibling object holding its id and
// extensions (https://hl7.org/fhir/R4/json.html#primitive), or nil.
func (it Item) Extensions() *fhir.Value { return it.ext }

// IsResource reports whether the item is a resource. That includes the
// stub resolve() gives for a reference it could only type from its text,
// whose Value is nil.
func (it Item) IsResource() bool { return it.typ != nil && it.typ.Kind == fhir.ResourceType }

// HasValue reports whether the item has a System value: a FHIR primitive with
// a value (not only extensions), or a computed value.
func (it Item) HasValue() bool {
	if it.node == nil {
		return it.typ == nil && it.kind != KindNone
	}
	return it.kind != KindNone && it.node.Kind != fhir.Object && it.node.Kind != fhir.Array
}

// AsString returns the value of a String item (a FHIR string, code, uri,
// id, markdown ... or a computed String).
func (it Item) AsString() (string, bool) {
	if it.kind != KindString {
		return "", false
	}
	return it.str()
}

// AsBool returns the value of a Boolean item.
func (it Item) AsBool() (bool, bool) {
	if it.kind != KindBoolean {
		return false, false
	}
	return it.boolean()
}

// AsInteger returns the value of an Integer item.
func (it Item) AsInteger() (int64, bool) {
	if it.kind != KindInteger {
		return 0, false
	}
	return it.integer()
}

// AsDecimal returns a Decimal item's value as written ("1.50") and as a float64.
func (it Item) AsDecimal() (text string, f float64, ok bool) {
	if it.kind != KindDecimal {
		return "", 0, false
	}
	d, ok := it.decimal()
	if !ok {
		return "", 0, false
	}
	return d.String(), d.Float64(), true
}

// AsDateTime returns a Date, DateTime or Time item's value with its precision.
func (it Item) AsDateTime() (DateTime, bool) {
	switch it.kind {
	case KindDate, KindDateTime, KindTime:
		return it.dateTime()
	}
	return DateTime{}, false
}

// AsQuantity returns the parts of a FHIR Quantity (or Age, Duration ...)
// element, or of a computed quantity. A FHIR Quantity without a value still
// answers, with Value "".
func (it Item) AsQuantity() (Quantity, bool) {
	if it.kind != KindQuantity {
		return Quantity{}, false
	}
	if it.node == nil {
		q, ok := it.x.(quantity)
		if !ok {
			return Quantity{}, false
		}
		return q.public(), true
	}
	v := it.node
	q := Quantity{Unit: v.Str("unit"), Code: v.Str("code"), System: v.Str("system")}
	if n := v.Get("value"); n != nil && n.Kind == fhir.Number {
		q.Value = n.Text
	}
	return q, true
}

// Text returns the item's value as toString() gives it: "true", "1.50",
// "2019-03", "5 'mg'", any String as it is. ok is false for items with no
// System value.
func (it Item) Text() (string, bool) {
	switch it.kind {
	case KindString:
		return it.str()
	case KindBoolean:
		b, ok := it.boolean()
		return strconv.FormatBool(b), ok
	case KindInteger:
		n, ok := it.integer()
		return strconv.FormatInt(n, 10), ok
	case KindDecimal:
		d, ok := it.decimal()
		if !ok {
			return "", false
		}
		return d.String(), true
	case KindDate, KindDateTime, KindTime:
		d, ok := it.dateTime()
		if !ok {
			return "", false
		}
		return d.String(), true
	case KindQuantity:
		q, ok := it.quantity()
		if !ok {
			return "", false
		}
		return q.String(), true
	}
	return "", false
}

// String describes the item for tests and debugging: its value as text
// (strings quoted), or its type name. It shows patient data, so it does not
// belong in logs.
func (it Item) String() string {
	if s, ok := it.Text(); ok {
		if it.kind == KindString {
			return "'" + s + "'"
		}
		return s
	}
	if ti, ok := it.x.(typeInfo); ok {
		return ti.namespace + "." + ti.name
	}
	if it.typ != nil {
		return it.typ.Name
	}
	return "{}"
}

// Internal accessors: they convert a FHIR primitive's JSON text, and report
// false when the item has no value of the kind asked for.

func (it Item) str() (string, bool) {
	if it.node == nil {
		if it.typ != nil || it.kind != KindString {
			return "", false
		}
		return it.s, true
	}
	if it.node.Kind != fhir.String {
		return "", false
	}
	return it.node.Text, true
}

func (it Item) boolean() (bool, bool) {
	if it.node == nil {
		if it.typ != nil || it.kind != KindBoolean {
			return false, false
		}
		return it.n != 0, true
	}
	if it.node.Kind != fhir.Bool {
		return false, false
	}
	return it.node.Bool, true
}

func (it Item) integer() (int64, bool) {
	if it.node == nil {
		if it.typ != nil || it.kind != KindInteger {
			return 0, false
		}
		return it.n, true
	}
	if it.node.Kind != fhir.Number {
		return 0, false
	}
	n, err := strconv.ParseInt(it.node.Text, 10, 64)
	return n, err == nil
}

func (it Item) decimal() (dec, bool) {
	if it.node == nil {
		d, ok := it.x.(dec)
		return d, ok && it.typ == nil
	}
	if it.node.Kind != fhir.Number {
		return dec{}, false
	}
	return parseDec(it.node.Text)
}

func (it Item) dateTime() (DateTime, bool) {
	if it.node == nil {
		d, ok := it.x.(DateTime)
		return d, ok && it.typ == nil
	}
	if it.node.Kind != fhir.String {
		return DateTime{}, false
	}
	return parseDateTime(it.node.Text, it.kind)
}

// quantity converts a computed quantity, or a FHIR Quantity whose unit is
// read from its UCUM code when it has one
// (https://hl7.org/fhir/R4/fhirpath.html#quantity).
func (it Item) quantity() (quantity, bool) {
	if it.node == nil {
		q, ok := it.x.(quantity)
		return q, ok && it.typ == nil
	}
	v := it.node
	n := v.Get("value")
	if n == nil || n.Kind != fhir.Number {
		return quantity{}, false
	}
	d, ok := parseDec(n.Text)
	if !ok {
		return quantity{}, false
	}
	unit := v.Str("unit")
	if code := v.Str("code"); code != "" && (v.Str("system") == ucumSystem || v.Str("system") == "") {
		unit = code
	}
	if unit == "" {
		unit = "1"
	}
	return quantity{value: d, unit: unit}, true
}

// number returns an Integer or Decimal value as a decimal.
func (it Item) number() (dec, bool) {
	switch it.kind {
	case KindInteger:
		n, ok := it.integer()
		return decFromInt(n), ok
	case KindDecimal:
		return it.decimal()
	}
	return dec{}, false
}
