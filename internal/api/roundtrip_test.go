package api_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"sharedcare/internal/fhir"
	"sharedcare/internal/terminology"
)

// minimalValue builds the smallest valid JSON for a FHIR type: its
// required elements, recursively, or one simple element when none is
// required (an element may not be empty).
func minimalValue(t *testing.T, typ string, el *fhir.Element, depth int) any {
	ty := fhir.LookupType(typ)
	if ty == nil {
		t.Fatalf("unknown type %s", typ)
	}
	if ty.Kind == fhir.PrimitiveType {
		return minimalPrimitive(typ, el)
	}
	switch typ {
	case "Reference":
		return map[string]any{"display": "x"}
	case "CodeableConcept":
		if el != nil && el.Binding != nil && el.Binding.Strength == "required" {
			if cs := terminology.Expansion(el.Binding.ValueSet); len(cs) > 0 {
				return map[string]any{"coding": []any{map[string]any{"system": cs[0].System, "code": cs[0].Code}}}
			}
		}
		return map[string]any{"text": "x"}
	case "Extension":
		return map[string]any{"url": "http://example.org/ext", "valueString": "x"}
	case "Narrative":
		return map[string]any{"status": "generated", "div": `<div xmlns="http://www.w3.org/1999/xhtml">x</div>`}
	}
	obj := map[string]any{}
	for i := range ty.Elements {
		e := &ty.Elements[i]
		if e.Min == 0 || depth > 12 {
			continue
		}
		name := e.Name
		if e.Choice {
			name += fhir.ChoiceSuffix(e.Types[0])
		}
		v := minimalValue(t, e.Types[0], e, depth+1)
		if e.Repeating() {
			obj[name] = []any{v}
		} else {
			obj[name] = v
		}
	}
	if len(obj) == 0 {
		// Nothing is required: give the element one simple child.
		for i := range ty.Elements {
			e := &ty.Elements[i]
			if e.Name == "id" || e.Name == "extension" || e.Name == "modifierExtension" || e.Choice || len(e.Types) != 1 {
				continue
			}
			if pt := fhir.LookupType(e.Types[0]); pt != nil && pt.Kind == fhir.PrimitiveType && e.Types[0] != "xhtml" {
				v := minimalPrimitive(e.Types[0], e)
				if e.Repeating() {
					obj[e.Name] = []any{v}
				} else {
					obj[e.Name] = v
				}
				break
			}
		}
	}
	return obj
}

func minimalPrimitive(typ string, el *fhir.Element) any {
	if el != nil && el.Binding != nil && el.Binding.Strength == "required" && typ == "code" {
		if cs := terminology.Expansion(el.Binding.ValueSet); len(cs) > 0 {
			return cs[0].Code
		}
	}
	switch typ {
	case "boolean":
		return true
	case "integer", "unsignedInt":
		return 0
	case "positiveInt":
		return 1
	case "decimal":
		return 1.5
	case "date":
		return "2024-01-31"
	case "dateTime":
		return "2024-01-31T09:30:00Z"
	case "instant":
		return "2024-01-31T09:30:00.000Z"
	case "time":
		return "09:30:00"
	case "uri", "url", "canonical":
		return "http://example.org/x"
	case "oid":
		return "urn:oid:1.2.3"
	case "uuid":
		return "urn:uuid:3e8f2bda-ff2f-4a4b-9a8e-3c8bd0b3c2a1"
	case "id":
		return "x1"
	case "base64Binary":
		return "aGVsbG8="
	case "code":
		return "x"
	}
	return "x"
}

// invariantFields complete the minimal resources of the types whose
// invariants ask for more than their required elements.
var invariantFields = map[string]string{
	"AllergyIntolerance":         `{"clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical","code":"active"}]}}`,
	"Appointment":                `{"status":"proposed","participant":[{"status":"accepted","actor":{"display":"x"}}]}`,
	"AppointmentResponse":        `{"actor":{"display":"x"}}`,
	"CapabilityStatement":        `{"kind":"instance","implementation":{"description":"x"},"rest":[{"mode":"server"}]}`,
	"Consent":                    `{"policyRule":{"text":"x"}}`,
	"EventDefinition":            `{"trigger":[{"type":"named-event","name":"x"}]}`,
	"ImmunizationRecommendation": `{"recommendation":[{"vaccineCode":[{"text":"x"}],"forecastStatus":{"text":"x"}}]}`,
	"InsurancePlan":              `{"name":"x"}`,
	"Linkage":                    `{"item":[{"type":"source","resource":{"display":"a"}},{"type":"alternate","resource":{"display":"b"}}]}`,
	"Organization":               `{"name":"x"}`,
	"StructureDefinition":        `{"name":"X","kind":"resource","abstract":false,"type":"Patient","baseDefinition":"http://hl7.org/fhir/StructureDefinition/Patient","derivation":"constraint","differential":{"element":[{"id":"Patient","path":"Patient"}]}}`,
	"TerminologyCapabilities":    `{"kind":"instance","implementation":{"description":"x"}}`,
}

// TestRoundTripAllTypes creates a minimal valid resource of every R4 type,
// reads it back unchanged, updates, reads its history and deletes it.
func TestRoundTripAllTypes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		types := fhir.ResourceTypes()
		if len(types) != 146 {
			t.Fatalf("%d resource types, want the 146 of R4", len(types))
		}
		for _, typ := range types {
			t.Run(typ, func(t *testing.T) {
				res := minimalValue(t, typ, nil, 0).(map[string]any)
				res["resourceType"] = typ
				if extra, ok := invariantFields[typ]; ok {
					var m map[string]any
					if err := json.Unmarshal([]byte(extra), &m); err != nil {
						t.Fatal(err)
					}
					for k, v := range m {
						res[k] = v
					}
				}
				body, _ := json.Marshal(res)
				c := srv.do(t, "POST", "/fhir/"+typ, string(body))
				if c.Status != 201 {
					t.Fatalf("POST %s = %d\n%s\n%s", typ, c.Status, body, c.Body)
				}
				created := c.JSON(t)
				id := created["id"].(string)
				got := srv.do(t, "GET", "/fhir/"+typ+"/"+id, "").JSON(t)
				delete(got, "id")
				delete(got, "meta")
				if !reflect.DeepEqual(normalizeJSON(got), normalizeJSON(res)) {
					t.Fatalf("read back %s differs:\n got %v\nwant %v", typ, got, res)
				}
				res["id"] = id
				body, _ = json.Marshal(res)
				if u := srv.do(t, "PUT", "/fhir/"+typ+"/"+id, string(body)); u.Status != 200 {
					t.Fatalf("PUT %s = %d %s", typ, u.Status, u.Body)
				}
				h := srv.do(t, "GET", "/fhir/"+typ+"/"+id+"/_history", "").JSON(t)
				if n := len(h["entry"].([]any)); n != 2 {
					t.Errorf("history of %s has %d entries, want 2", typ, n)
				}
				if d := srv.do(t, "DELETE", "/fhir/"+typ+"/"+id, ""); d.Status != 204 {
					t.Errorf("DELETE %s = %d", typ, d.Status)
				}
				if g := srv.do(t, "GET", "/fhir/"+typ+"/"+id, ""); g.Status != 410 {
					t.Errorf("GET deleted %s = %d, want 410", typ, g.Status)
				}
			})
		}
	})
}

func normalizeJSON(v any) any {
	b, _ := json.Marshal(v)
	var out any
	json.Unmarshal(b, &out)
	return fmt.Sprint(out)
}
