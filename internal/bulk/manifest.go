package bulk

import (
	"net/http"
	"slices"
	"strconv"

	"sharedcare/internal/fhir"
	"sharedcare/internal/outcome"
)

// Input is one file to import: its resource type and where to read it.
type Input struct {
	Type string `json:"type"`
	URL  string `json:"url"`
}

// ImportRequest is an $import kick-off: the Bulk Data import proposal's
// manifest (https://github.com/smart-on-fhir/bulk-import/blob/master/import.md).
type ImportRequest struct {
	InputFormat string
	InputSource string
	Inputs      []Input
}

// maxInputs bounds the files one import may list.
const maxInputs = 10_000

// ParseManifest reads an import manifest: the proposal's JSON object
// ({"inputFormat", "inputSource", "storageDetail", "input": [{"type",
// "url"}]}), or a Parameters resource with the same names (inputFormat,
// inputSource, storageDetail with a part "type", and input with parts
// "type" and "url"), as later drafts send. Every fault is an
// *outcome.Error, all of them in one.
func ParseManifest(b []byte) (*ImportRequest, error) {
	v, err := fhir.Parse(b)
	if err != nil {
		return nil, outcome.Newf(http.StatusBadRequest, outcome.CodeStructure, "", "the import manifest is not JSON: %v", err)
	}
	if v.Kind != fhir.Object {
		return nil, outcome.New(http.StatusBadRequest, outcome.CodeStructure, "", "the import manifest must be a JSON object")
	}
	var errs outcome.List
	req := &ImportRequest{}
	storage := ""
	if v.Str("resourceType") == "Parameters" {
		params := v.Get("parameter")
		if params == nil || params.Kind != fhir.Array {
			return nil, outcome.New(http.StatusBadRequest, outcome.CodeRequired, "Parameters.parameter", "the Parameters holds no parameter")
		}
		for i := range params.Items {
			p := &params.Items[i]
			at := "Parameters.parameter[" + strconv.Itoa(i) + "]"
			switch p.Str("name") {
			case "inputFormat":
				req.InputFormat = primitive(p)
			case "inputSource":
				req.InputSource = primitive(p)
			case "storageDetail":
				storage = partValue(p, "type")
			case "input":
				req.Inputs = append(req.Inputs, Input{Type: partValue(p, "type"), URL: partValue(p, "url")})
			case "mode", "inputDetails":
			default:
				errs.Add(outcome.CodeNotSupported, at+".name", "the import parameter %q is not supported", p.Str("name"))
			}
		}
	} else {
		for _, k := range v.Keys {
			switch k {
			case "inputFormat", "inputSource", "storageDetail", "input", "extension", "mode":
			default:
				errs.Add(outcome.CodeNotSupported, k, "the import manifest field %q is not supported", k)
			}
		}
		req.InputFormat, req.InputSource = v.Str("inputFormat"), v.Str("inputSource")
		if sd := v.Get("storageDetail"); sd != nil {
			if sd.Kind != fhir.Object {
				errs.Add(outcome.CodeStructure, "storageDetail", "storageDetail must be an object")
			}
			storage = sd.Str("type")
		}
		in := v.Get("input")
		if in != nil && in.Kind != fhir.Array {
			errs.Add(outcome.CodeStructure, "input", "input must be an array")
		} else if in != nil {
			for i := range in.Items {
				item := &in.Items[i]
				if item.Kind != fhir.Object {
					errs.Add(outcome.CodeStructure, "input["+strconv.Itoa(i)+"]", "each input must be an object with type and url")
					continue
				}
				req.Inputs = append(req.Inputs, Input{Type: item.Str("type"), URL: item.Str("url")})
			}
		}
	}
	if !slices.Contains(ndjsonFormats, req.InputFormat) || req.InputFormat == "" {
		if req.InputFormat == "" {
			errs.Add(outcome.CodeRequired, "inputFormat", "inputFormat is required (application/fhir+ndjson)")
		} else {
			errs.Add(outcome.CodeNotSupported, "inputFormat", "inputFormat %q is not supported; this server reads application/fhir+ndjson", req.InputFormat)
		}
	}
	if storage != "" && storage != "https" {
		errs.Add(outcome.CodeNotSupported, "storageDetail.type", "storageDetail type %q is not supported; this server reads https URLs", storage)
	}
	switch n := len(req.Inputs); {
	case n == 0:
		errs.Add(outcome.CodeRequired, "input", "input lists no files to import")
	case n > maxInputs:
		errs.Add(outcome.CodeTooCostly, "input", "an import may list at most %d files, not %d", maxInputs, n)
	}
	for i, in := range req.Inputs {
		at := "input[" + strconv.Itoa(i) + "]"
		if !fhir.IsResourceType(in.Type) {
			errs.Add(outcome.CodeValue, at+".type", "input type %q is not a FHIR R4 resource type", in.Type)
		}
		if in.URL == "" {
			errs.Add(outcome.CodeRequired, at+".url", "the input has no url")
		}
	}
	if err := errs.Err(http.StatusBadRequest); err != nil {
		return nil, err
	}
	return req, nil
}

// primitive is a parameter's value, whatever its value[x].
func primitive(p *fhir.Value) string {
	for i, k := range p.Keys {
		if len(k) > 5 && k[:5] == "value" && p.Items[i].Kind == fhir.String {
			return p.Items[i].Text
		}
	}
	return ""
}

// partValue is the value of a parameter's part named name.
func partValue(p *fhir.Value, name string) string {
	parts := p.Get("part")
	if parts == nil || parts.Kind != fhir.Array {
		return ""
	}
	for i := range parts.Items {
		if parts.Items[i].Str("name") == name {
			return primitive(&parts.Items[i])
		}
	}
	return ""
}
