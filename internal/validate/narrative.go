package validate

import (
	"encoding/xml"
	"errors"
	"io"
	"strings"

	"sharedcare/internal/outcome"
)

// The narrative rules (https://hl7.org/fhir/R4/narrative.html#xhtml): the
// div is well-formed XHTML with a <div xmlns="http://www.w3.org/1999/xhtml">
// root, holds only the basic formatting elements and attributes of HTML 4.0
// chapters 7-11 (less section 9.4, ins and del) and 15, links and images
// (txt-1) - no head, body, scripts, forms, frames, objects, base/link/xlink
// or event attributes - and has some non-whitespace content (txt-2). Since
// narrative is shown to clinicians and patients in browsers, anything that
// could run is refused here, not left to the pages that display it.

const xhtmlNS = "http://www.w3.org/1999/xhtml"

// htmlElement reports whether txt-1 allows the element.
func htmlElement(name string) bool {
	switch name {
	case // 7 global structure, 8 language, 9 text (less 9.4: ins, del)
		"div", "span", "h1", "h2", "h3", "h4", "h5", "h6", "address", "bdo",
		"em", "strong", "dfn", "code", "samp", "kbd", "var", "cite", "abbr", "acronym",
		"blockquote", "q", "sub", "sup", "p", "br", "pre",
		// 10 lists, 11 tables
		"ul", "ol", "li", "dl", "dt", "dd",
		"table", "caption", "thead", "tfoot", "tbody", "colgroup", "col", "tr", "th", "td",
		// links and images, 15 alignment, font styles and rules
		"a", "img", "map", "area",
		"tt", "i", "b", "big", "small", "u", "s", "strike", "font", "center", "hr":
		return true
	}
	return false
}

// htmlAttribute reports whether txt-1 allows the attribute (lower case):
// the core and language attributes, and the presentational, table, link
// and image attributes of the same chapters.
func htmlAttribute(name string) bool {
	switch name {
	case "id", "class", "style", "title", "lang", "dir",
		"align", "valign", "char", "charoff", "width", "height", "border", "bgcolor",
		"summary", "frame", "rules", "cellspacing", "cellpadding", "span", "abbr", "axis",
		"headers", "scope", "rowspan", "colspan", "nowrap",
		"href", "name", "rel", "rev", "charset", "type", "hreflang", "shape", "coords", "target",
		"src", "alt", "longdesc", "usemap", "ismap", "hspace", "vspace", "nohref",
		"cite", "datetime", "start", "value", "compact", "clear", "noshade", "size",
		"color", "face", "accesskey", "tabindex":
		return true
	}
	return false
}

// urlAttribute reports whether an attribute (lower case) holds a URL, where
// a script could hide behind a scheme.
func urlAttribute(name string) bool {
	switch name {
	case "href", "src", "longdesc", "usemap", "cite":
		return true
	}
	return false
}

// narrative checks the XHTML of Narrative.div at the current path.
func (w *walker) narrative(s string) {
	d := xml.NewDecoder(strings.NewReader(s))
	d.Strict = true
	d.Entity = xml.HTMLEntity // the spec's examples use &nbsp; and friends
	depth, roots := 0, 0
	content := false
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			w.errorf(outcome.CodeValue, "", "the narrative is not well-formed XHTML: %v", err)
			return
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
				if roots > 1 || t.Name.Local != "div" || t.Name.Space != xhtmlNS {
					w.errorf(outcome.CodeValue, "", "the narrative must be one <div xmlns=%q> element", xhtmlNS)
					return
				}
			} else if t.Name.Space != xhtmlNS || !htmlElement(t.Name.Local) {
				w.errorf(outcome.CodeInvariant, "", "txt-1: <%s> is not allowed in narrative", t.Name.Local)
				return
			}
			if t.Name.Local == "img" {
				content = true
			}
			if !w.htmlAttributes(t) {
				return
			}
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			if strings.TrimSpace(string(t)) != "" {
				if depth == 0 {
					w.errorf(outcome.CodeValue, "", "the narrative must be one <div xmlns=%q> element, with no text outside it", xhtmlNS)
					return
				}
				content = true
			}
		case xml.ProcInst, xml.Directive:
			w.errorf(outcome.CodeValue, "", "the narrative must be one <div> element, with no XML declaration, processing instruction or DOCTYPE")
			return
		}
	}
	if roots == 0 {
		w.errorf(outcome.CodeValue, "", "the narrative must be one <div xmlns=%q> element", xhtmlNS)
	} else if !content {
		w.errorf(outcome.CodeInvariant, "", "txt-2: the narrative must have some non-whitespace content")
	}
}

// htmlAttributes checks an element's attributes, reporting the first one
// txt-1 does not allow.
func (w *walker) htmlAttributes(t xml.StartElement) bool {
	for _, a := range t.Attr {
		name := a.Name.Local
		switch {
		case a.Name.Space == "" && name == "xmlns", a.Name.Space == "xmlns":
			continue // namespace declarations; elements outside xhtml are refused
		case a.Name.Space == "http://www.w3.org/XML/1998/namespace" && (name == "lang" || name == "space"):
			continue
		case a.Name.Space == "" && len(name) > 2 && strings.EqualFold(name[:2], "on"):
			w.errorf(outcome.CodeInvariant, "", "txt-1: event attribute %s on <%s> is not allowed in narrative", name, t.Name.Local)
			return false
		case a.Name.Space != "" || !htmlAttribute(strings.ToLower(name)):
			w.errorf(outcome.CodeInvariant, "", "txt-1: attribute %s on <%s> is not allowed in narrative", attrName(a.Name), t.Name.Local)
			return false
		}
		lower := strings.ToLower(name)
		if urlAttribute(lower) && activeURL(a.Value) {
			w.errorf(outcome.CodeInvariant, "", "txt-1: a script URL in %s on <%s> is not allowed in narrative", name, t.Name.Local)
			return false
		}
		if lower == "style" && activeStyle(a.Value) {
			w.errorf(outcome.CodeInvariant, "", "txt-1: style on <%s> may not run script or load anything", t.Name.Local)
			return false
		}
	}
	return true
}

func attrName(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}

// activeURL reports whether a URL would run script when followed or loaded.
func activeURL(u string) bool {
	u = strings.ToLower(strings.Map(dropSpace, u))
	return strings.HasPrefix(u, "javascript:") || strings.HasPrefix(u, "vbscript:") ||
		strings.HasPrefix(u, "data:text/html") || strings.HasPrefix(u, "data:image/svg")
}

// activeStyle reports whether inline CSS could run script or fetch from
// outside: "internally contained style attributes" may embed data: images,
// as the spec's own narratives do, but load nothing.
func activeStyle(css string) bool {
	css = strings.ToLower(strings.Map(dropSpace, css))
	if strings.Contains(css, "expression(") || strings.Contains(css, "javascript:") ||
		strings.Contains(css, "@import") || strings.Contains(css, "behavior:") {
		return true
	}
	for rest := css; ; {
		i := strings.Index(rest, "url(")
		if i < 0 {
			return false
		}
		rest = strings.TrimLeft(rest[i+len("url("):], `"'`)
		if !strings.HasPrefix(rest, "data:image/") || strings.HasPrefix(rest, "data:image/svg") {
			return true
		}
	}
}

// dropSpace removes whitespace and control characters, which browsers
// ignore inside a scheme ("java\tscript:").
func dropSpace(r rune) rune {
	if r <= ' ' {
		return -1
	}
	return r
}
