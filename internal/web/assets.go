package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"mime"
	"net/http"
	"path"
	"strings"
)

//go:embed static
var staticFiles embed.FS

// asset is one static file, served under a name that carries a hash of its
// content, so that it can be cached for a year: a new version is a new name.
type asset struct {
	name, ctype string
	raw, gz     []byte
}

// assets are the static files, gzipped once at start at the best
// compression (they are sent many times; pages are compressed per request,
// at the fastest level, by the server's middleware).
type assets struct {
	byName map[string]*asset // by hashed name
	CSS    string            // URL of the stylesheet
	JS     string            // URL of the script
	Icon   string            // URL of the favicon
	icon   *asset
}

func loadAssets() *assets {
	a := &assets{byName: map[string]*asset{}}
	read := func(file string) []byte {
		raw, err := staticFiles.ReadFile("static/" + file)
		if err != nil {
			panic("web: embedded asset " + file + " missing: " + err.Error()) // a build error, not input
		}
		return raw
	}
	add := func(file string, raw []byte) string {
		sum := sha256.Sum256(raw)
		ext := path.Ext(file)
		name := strings.TrimSuffix(file, ext) + "." + hex.EncodeToString(sum[:5]) + ext
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		zw.Write(raw)
		zw.Close()
		as := &asset{name: name, ctype: mime.TypeByExtension(ext), raw: raw, gz: b.Bytes()}
		if ext == ".svg" {
			as.ctype = "image/svg+xml"
		}
		a.byName[name] = as
		return "/static/" + name
	}
	// One stylesheet, the design system's and ours: on a 300 ms line each
	// request saved is worth more than the bytes.
	a.CSS = add("style.css", bytes.Join([][]byte{read("nhsuk.css"), read("app.css")}, []byte("\n")))
	a.JS = add("app.js", read("app.js"))
	a.Icon = add("favicon.svg", read("favicon.svg"))
	a.icon = a.byName[strings.TrimPrefix(a.Icon, "/static/")]
	return a
}

// serve handles GET /static/{name}.
func (a *assets) serve(w http.ResponseWriter, r *http.Request) {
	as := a.byName[r.PathValue("name")]
	if as == nil {
		http.NotFound(w, r)
		return
	}
	a.write(w, r, as, "public, max-age=31536000, immutable")
}

// favicon answers browsers that ask for /favicon.ico whatever the page
// says, so that the request costs a few hundred bytes, once a day.
func (a *assets) favicon(w http.ResponseWriter, r *http.Request) {
	a.write(w, r, a.icon, "public, max-age=86400")
}

func (a *assets) write(w http.ResponseWriter, r *http.Request, as *asset, cache string) {
	h := w.Header()
	h.Set("Content-Type", as.ctype)
	h.Set("Cache-Control", cache)
	h.Set("ETag", `"`+as.name+`"`)
	h.Add("Vary", "Accept-Encoding")
	if etagMatch(r.Header.Get("If-None-Match"), `"`+as.name+`"`) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := as.raw
	if acceptsGzip(r.Header.Get("Accept-Encoding")) && len(as.gz) < len(as.raw) {
		h.Set("Content-Encoding", "gzip") // already compressed: the server's middleware passes it through
		body = as.gz
	}
	w.Write(body)
}

func acceptsGzip(ae string) bool {
	for _, part := range strings.Split(ae, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") {
			return !strings.Contains(strings.ReplaceAll(params, " ", ""), "q=0") || strings.Contains(params, "q=0.")
		}
	}
	return false
}
