// Package web serves prawn's page: the Vite build embedded by package frontend,
// or the placeholder page when the binary was built before the frontend.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/prawnhq/prawn/frontend"
)

// Cache policies: Vite names files under assets/ by their content hash, so they
// never change; every other file is revalidated on each use, except the tracker.
// /count.js keeps its URL across releases, so it cannot be immutable: browsers
// and proxies keep it a day (and use it up to a week longer while revalidating),
// then its ETag makes the check a 304.
const (
	cacheImmutable  = "public, max-age=31536000, immutable"
	cacheRevalidate = "no-cache"
	cacheTracker    = "public, max-age=86400, stale-while-revalidate=604800"
)

// trackerFile is the tracker's name in the build; it is served at /count.js.
const trackerFile = "count.js"

// contentSecurityPolicy is sent with the HTML pages: the build has no inline
// scripts or style attributes, so nothing needs 'unsafe-inline'. Images may be
// data: URIs (Swagger UI's icons).
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

// Handler returns the handler for prawn's page. It serves the embedded build:
// hashed files under /assets/ with a one-year immutable cache, index.html with
// no-cache for / and for every unknown path without a file extension (the
// single-page app's routes), the API reference page for GET /api/docs, and the
// tracker script for GET /count.js (a day's cache, loadable from any origin).
// Other /api/ paths get a problem+json 404, as the API would answer them. Before
// the frontend was built, every page route shows the placeholder page instead.
func Handler() http.Handler {
	fsys, _ := frontend.Files()
	return newHandler(fsys)
}

type handler struct {
	fsys  fs.FS
	files sync.Map // name → *file, loaded on first use
}

// file is one embedded file with its validators and, when worth it, a gzip copy.
type file struct {
	name    string
	body    []byte
	gz      []byte
	etag    string
	ctype   string
	modTime time.Time
}

func newHandler(fsys fs.FS) http.Handler {
	return &handler{fsys: fsys}
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeProblem(w, r, http.StatusMethodNotAllowed, r.Method+" is not allowed on "+r.URL.Path+"; allowed: GET, HEAD")
		return
	}
	p := path.Clean("/" + r.URL.Path)
	switch {
	case p == "/api/docs":
		h.servePage(w, r, "docs.html")
	case p == "/api" || strings.HasPrefix(p, "/api/"):
		notFoundProblem(w, r)
	case p == "/"+trackerFile:
		h.serveTracker(w, r)
	case p == "/" || p == "/index.html":
		h.servePage(w, r, "index.html")
	case strings.HasPrefix(p, "/assets/"):
		h.serveFile(w, r, strings.TrimPrefix(p, "/"), cacheImmutable)
	default:
		name := strings.TrimPrefix(p, "/")
		if f := h.load(name); f != nil {
			h.send(w, r, f, cacheRevalidate)
			return
		}
		if strings.Contains(path.Base(p), ".") {
			writeProblem(w, r, http.StatusNotFound, "no file at "+r.URL.Path) // a missing file, not an app route
			return
		}
		h.servePage(w, r, "index.html")
	}
}

// servePage sends an HTML page, falling back to index.html (the placeholder
// has nothing else).
func (h *handler) servePage(w http.ResponseWriter, r *http.Request, name string) {
	f := h.load(name)
	if f == nil {
		f = h.load("index.html")
	}
	if f == nil {
		writeProblem(w, r, http.StatusInternalServerError, "the page is missing from this build")
		return
	}
	w.Header().Set("Content-Security-Policy", contentSecurityPolicy)
	h.send(w, r, f, cacheRevalidate)
}

// serveTracker sends count.js. Other sites' pages load it, so it may be read
// across origins (crossorigin attribute, subresource integrity, and pages that
// require Cross-Origin-Resource-Policy).
func (h *handler) serveTracker(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Cross-Origin-Resource-Policy", "cross-origin")
	h.serveFile(w, r, trackerFile, cacheTracker)
}

func (h *handler) serveFile(w http.ResponseWriter, r *http.Request, name, cache string) {
	f := h.load(name)
	if f == nil {
		writeProblem(w, r, http.StatusNotFound, "no file at "+r.URL.Path)
		return
	}
	h.send(w, r, f, cache)
}

func (h *handler) send(w http.ResponseWriter, r *http.Request, f *file, cache string) {
	hdr := w.Header()
	hdr.Set("Cache-Control", cache)
	hdr.Set("Content-Type", f.ctype)
	hdr.Set("X-Content-Type-Options", "nosniff")
	body, etag := f.body, f.etag
	if f.gz != nil {
		hdr.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			hdr.Set("Content-Encoding", "gzip")
			body, etag = f.gz, strings.TrimSuffix(f.etag, `"`)+`-gz"`
		}
	}
	hdr.Set("ETag", etag)
	http.ServeContent(w, r, f.name, f.modTime, bytes.NewReader(body))
}

// load returns the named file, or nil when there is none (or it is a folder).
func (h *handler) load(name string) *file {
	if v, ok := h.files.Load(name); ok {
		return v.(*file)
	}
	if !fs.ValidPath(name) {
		return nil
	}
	body, err := fs.ReadFile(h.fsys, name)
	if err != nil {
		return nil // missing, or a directory
	}
	sum := sha256.Sum256(body)
	f := &file{
		name:  name,
		body:  body,
		etag:  `"` + hex.EncodeToString(sum[:12]) + `"`,
		ctype: contentType(name),
	}
	if gz := precompressed(h.fsys, name, body); gz != nil {
		f.gz = gz
	} else if compressible(f.ctype) && len(body) > 1024 {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = zw.Write(body)
		if zw.Close() == nil && buf.Len() < len(body) {
			f.gz = buf.Bytes()
		}
	}
	v, _ := h.files.LoadOrStore(name, f)
	return v.(*file)
}

// precompressed returns the build's gzip copy of a file (NAME.gz, written by vite.gzip.ts at
// zlib level 9: the bytes the first-load budget counts), or nil when there is none, it is not
// smaller, or it does not decompress to the file (a stale copy is never sent).
func precompressed(fsys fs.FS, name string, body []byte) []byte {
	gz, err := fs.ReadFile(fsys, name+".gz")
	if err != nil || len(gz) >= len(body) {
		return nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil
	}
	plain, err := io.ReadAll(io.LimitReader(zr, int64(len(body))+1))
	if err != nil || !bytes.Equal(plain, body) {
		return nil
	}
	return gz
}

// contentType is the file's media type by its extension. JavaScript is always
// text/javascript (RFC 9239), whatever the system's MIME table says.
func contentType(name string) string {
	if path.Ext(name) == ".js" {
		return "text/javascript; charset=utf-8"
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

func compressible(ctype string) bool {
	for _, prefix := range []string{"text/", "application/javascript", "application/json", "image/svg+xml"} {
		if strings.HasPrefix(ctype, prefix) {
			return true
		}
	}
	return false
}

// acceptsGzip reports whether the request's Accept-Encoding allows gzip
// (a "gzip;q=0" refusal counts as no).
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(coding) != "gzip" {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}

// notFoundProblem answers an unknown /api/ path the way the API does: RFC 9457.
func notFoundProblem(w http.ResponseWriter, r *http.Request) {
	writeProblem(w, r, http.StatusNotFound, "no API operation at "+r.URL.Path)
}

// writeProblem answers with an RFC 9457 problem, as every error of prawn is.
func writeProblem(w http.ResponseWriter, r *http.Request, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{
		"type":   "about:blank",
		"title":  http.StatusText(status),
		"status": status,
		"detail": detail,
	})
}
