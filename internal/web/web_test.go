package web

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/prawnhq/prawn/frontend"
)

var bigJS = strings.Repeat("console.log('prawn');\n", 200)

// trackerJS stands in for the built count.js: over 1 KB, so it is also sent gzipped.
var trackerJS = "(function(){" + strings.Repeat("navigator.sendBeacon('/api/views','{}');", 40) + "})();"

// built looks like `vite build` output.
var built = fstest.MapFS{
	"index.html":              {Data: []byte(`<!doctype html><html><body><div id="root"></div><script type="module" src="/assets/index-abc123.js"></script></body></html>`)},
	"docs.html":               {Data: []byte(`<!doctype html><html><body><div id="swagger"></div></body></html>`)},
	"favicon.svg":             {Data: []byte(`<svg xmlns="http://www.w3.org/2000/svg"></svg>`)},
	"assets/index-abc123.js":  {Data: []byte(bigJS)},
	"assets/index-abc123.css": {Data: []byte("body{margin:0}")},
	"count.js":                {Data: []byte(trackerJS)},
}

// placeholder looks like frontend/dist/placeholder.
var placeholder = fstest.MapFS{
	"index.html": {Data: []byte(`<!doctype html><html><body>not built: run make frontend</body></html>`)},
}

func serve(t *testing.T, h http.Handler, method, target string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestRoutes(t *testing.T) {
	h := newHandler(built)
	tests := []struct {
		name, method, target string
		status               int
		cache, ctype, body   string
		csp                  bool
	}{
		{"root is index.html", "GET", "/", 200, "no-cache", "text/html; charset=utf-8", `id="root"`, true},
		{"index.html by name", "GET", "/index.html", 200, "no-cache", "text/html; charset=utf-8", `id="root"`, true},
		{"hashed asset is immutable", "GET", "/assets/index-abc123.js", 200, "public, max-age=31536000, immutable", "text/javascript; charset=utf-8", "console.log", false},
		{"hashed css is immutable", "GET", "/assets/index-abc123.css", 200, "public, max-age=31536000, immutable", "text/css; charset=utf-8", "margin", false},
		{"missing asset is a 404 problem, not the app", "GET", "/assets/index-gone.js", 404, "no-store", "application/problem+json", `"detail":"no file at /assets/index-gone.js"`, false},
		{"other files revalidate", "GET", "/favicon.svg", 200, "no-cache", "image/svg+xml", "<svg", false},
		{"app route falls back to index.html", "GET", "/some/app/route", 200, "no-cache", "text/html; charset=utf-8", `id="root"`, true},
		{"app route with query", "GET", "/stats?range=7d", 200, "no-cache", "text/html; charset=utf-8", `id="root"`, true},
		{"unknown file is a 404 problem", "GET", "/robots.txt", 404, "no-store", "application/problem+json", `"status":404`, false},
		{"docs page", "GET", "/api/docs", 200, "no-cache", "text/html; charset=utf-8", `id="swagger"`, true},
		{"docs page with slash", "GET", "/api/docs/", 200, "no-cache", "text/html; charset=utf-8", `id="swagger"`, true},
		{"other api paths are problem+json 404s", "GET", "/api/nope", 404, "no-store", "application/problem+json", `"status":404`, false},
		{"dot segments cannot escape", "GET", "/assets/../../go.mod", 404, "no-store", "application/problem+json", "no file at", false},
		{"tracker", "GET", "/count.js", 200, "public, max-age=86400, stale-while-revalidate=604800", "text/javascript; charset=utf-8", "sendBeacon", false},
		{"tracker with a query", "GET", "/count.js?v=2", 200, "public, max-age=86400, stale-while-revalidate=604800", "text/javascript; charset=utf-8", "sendBeacon", false},
		{"HEAD works", "HEAD", "/", 200, "no-cache", "text/html; charset=utf-8", "", true},
		{"POST is refused", "POST", "/", 405, "no-store", "application/problem+json", "POST is not allowed on /; allowed: GET, HEAD", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := serve(t, h, tc.method, tc.target, nil)
			if rec.Code != tc.status {
				t.Fatalf("status = %d, want %d (body %q)", rec.Code, tc.status, rec.Body.String())
			}
			if got := rec.Header().Get("Cache-Control"); got != tc.cache {
				t.Errorf("Cache-Control = %q, want %q", got, tc.cache)
			}
			if got := rec.Header().Get("Content-Type"); got != tc.ctype {
				t.Errorf("Content-Type = %q, want %q", got, tc.ctype)
			}
			if !strings.Contains(rec.Body.String(), tc.body) {
				t.Errorf("body %q does not contain %q", rec.Body.String(), tc.body)
			}
			if got := rec.Header().Get("Content-Security-Policy") != ""; got != tc.csp {
				t.Errorf("CSP sent = %v, want %v", got, tc.csp)
			}
		})
	}
}

func TestProblemBody(t *testing.T) {
	rec := serve(t, newHandler(built), "GET", "/api/typo", nil)
	var p struct {
		Title  string `json:"title"`
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatalf("body is not JSON: %v", err)
	}
	if p.Status != 404 || p.Title != "Not Found" || !strings.Contains(p.Detail, "/api/typo") {
		t.Errorf("problem = %+v", p)
	}
}

func TestMethodNotAllowedSaysAllow(t *testing.T) {
	rec := serve(t, newHandler(built), "DELETE", "/assets/index-abc123.js", nil)
	if rec.Code != 405 || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("status %d, Allow %q", rec.Code, rec.Header().Get("Allow"))
	}
}

func TestGzip(t *testing.T) {
	h := newHandler(built)
	rec := serve(t, h, "GET", "/assets/index-abc123.js", http.Header{"Accept-Encoding": {"br, gzip"}})
	if rec.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding = %q, want gzip", rec.Header().Get("Content-Encoding"))
	}
	if rec.Header().Get("Vary") != "Accept-Encoding" {
		t.Errorf("Vary = %q", rec.Header().Get("Vary"))
	}
	zr, err := gzip.NewReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(zr)
	if err != nil || string(got) != bigJS {
		t.Errorf("gunzipped body differs (err %v, %d bytes)", err, len(got))
	}

	plain := serve(t, h, "GET", "/assets/index-abc123.js", http.Header{"Accept-Encoding": {"gzip;q=0"}})
	if plain.Header().Get("Content-Encoding") != "" || plain.Body.String() != bigJS {
		t.Errorf("gzip;q=0 still got %q", plain.Header().Get("Content-Encoding"))
	}
	if plain.Header().Get("ETag") == rec.Header().Get("ETag") {
		t.Error("gzip and identity responses share an ETag")
	}
}

func TestConditionalGet(t *testing.T) {
	h := newHandler(built)
	first := serve(t, h, "GET", "/", nil)
	etag := first.Header().Get("ETag")
	if etag == "" {
		t.Fatal("no ETag on index.html")
	}
	again := serve(t, h, "GET", "/", http.Header{"If-None-Match": {etag}})
	if again.Code != http.StatusNotModified {
		t.Errorf("status = %d, want 304", again.Code)
	}
}

func TestTracker(t *testing.T) {
	h := newHandler(built)
	rec := serve(t, h, "GET", "/count.js", nil)
	if rec.Code != 200 || rec.Body.String() != trackerJS {
		t.Fatalf("GET /count.js = %d, %d bytes", rec.Code, rec.Body.Len())
	}
	for key, want := range map[string]string{
		"Cache-Control":                "public, max-age=86400, stale-while-revalidate=604800",
		"Content-Type":                 "text/javascript; charset=utf-8",
		"Access-Control-Allow-Origin":  "*",
		"Cross-Origin-Resource-Policy": "cross-origin",
		"X-Content-Type-Options":       "nosniff",
	} {
		if got := rec.Header().Get(key); got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	if csp := rec.Header().Get("Content-Security-Policy"); csp != "" {
		t.Errorf("the script carries the page's CSP %q", csp)
	}
	etag := rec.Header().Get("ETag")
	if !regexp.MustCompile(`^"[0-9a-f]{24}"$`).MatchString(etag) {
		t.Fatalf("ETag = %q, want a strong hash", etag)
	}

	again := serve(t, h, "GET", "/count.js", http.Header{"If-None-Match": {etag}})
	if again.Code != http.StatusNotModified || again.Body.Len() != 0 {
		t.Errorf("If-None-Match %s: status %d, %d bytes; want 304, empty", etag, again.Code, again.Body.Len())
	}
	if again.Header().Get("ETag") != etag || again.Header().Get("Cache-Control") != cacheTracker {
		t.Errorf("304 headers: ETag %q, Cache-Control %q", again.Header().Get("ETag"), again.Header().Get("Cache-Control"))
	}
	stale := serve(t, h, "GET", "/count.js", http.Header{"If-None-Match": {`"0123456789abcdef01234567"`}})
	if stale.Code != 200 || stale.Body.String() != trackerJS {
		t.Errorf("an old ETag: status %d, want the script", stale.Code)
	}

	gz := serve(t, h, "GET", "/count.js", http.Header{"Accept-Encoding": {"gzip"}})
	if gz.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding = %q, want gzip", gz.Header().Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(gz.Body)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(zr); err != nil || string(got) != trackerJS {
		t.Errorf("gunzipped tracker differs (err %v, %d bytes)", err, len(got))
	}
	gzTag := gz.Header().Get("ETag")
	if gzTag == etag || gzTag == "" {
		t.Errorf("gzip ETag %q, identity ETag %q: want two different tags", gzTag, etag)
	}
	gzAgain := serve(t, h, "GET", "/count.js", http.Header{"Accept-Encoding": {"gzip"}, "If-None-Match": {gzTag}})
	if gzAgain.Code != http.StatusNotModified {
		t.Errorf("gzip If-None-Match: status %d, want 304", gzAgain.Code)
	}

	head := serve(t, h, "HEAD", "/count.js", nil)
	if head.Code != 200 || head.Body.Len() != 0 || head.Header().Get("ETag") != etag {
		t.Errorf("HEAD /count.js: status %d, %d bytes, ETag %q", head.Code, head.Body.Len(), head.Header().Get("ETag"))
	}
	if post := serve(t, h, "POST", "/count.js", nil); post.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /count.js: status %d, want 405", post.Code)
	}
}

func TestTrackerMissing(t *testing.T) {
	rec := serve(t, newHandler(placeholder), "GET", "/count.js", nil)
	if rec.Code != 404 || rec.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("placeholder /count.js: status %d, Cache-Control %q; want 404, no-store", rec.Code, rec.Header().Get("Cache-Control"))
	}
}

func TestPlaceholderServesEveryPage(t *testing.T) {
	h := newHandler(placeholder)
	for _, target := range []string{"/", "/some/route", "/api/docs"} {
		rec := serve(t, h, "GET", target, nil)
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), "make frontend") {
			t.Errorf("%s: status %d body %q", target, rec.Code, rec.Body.String())
		}
	}
	if rec := serve(t, h, "GET", "/assets/index-abc123.js", nil); rec.Code != 404 {
		t.Errorf("asset in placeholder: status %d, want 404", rec.Code)
	}
}

// TestEmbedded checks what this binary really embeds: the placeholder on a clean
// clone, the Vite build after `make frontend`.
func TestEmbedded(t *testing.T) {
	fsys, isBuilt := frontend.Files()
	rec := serve(t, Handler(), "GET", "/", nil)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "<html") {
		t.Fatalf("GET / = %d %q", rec.Code, rec.Body.String())
	}
	if !isBuilt {
		t.Log("frontend not built: the placeholder is embedded")
		if !strings.Contains(rec.Body.String(), "make frontend") {
			t.Error("the placeholder does not say how to build the page")
		}
		return
	}
	// The build must not need 'unsafe-inline': no inline scripts, no style attributes.
	inlineScript := regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`)
	for _, name := range []string{"index.html", "docs.html"} {
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			t.Fatalf("build lacks %s: %v", name, err)
		}
		if inlineScript.Match(body) || bytes.Contains(body, []byte(" style=")) {
			t.Errorf("%s has inline script or style:\n%s", name, body)
		}
	}
	checkEmbeddedTracker(t, fsys)
	docs := serve(t, Handler(), "GET", "/api/docs", nil)
	if !strings.Contains(docs.Body.String(), `id="swagger"`) {
		t.Errorf("/api/docs is not the docs page: %q", docs.Body.String())
	}
}

// checkEmbeddedTracker checks the built count.js: served, within its 1 KB gzip
// goal, and not part of the page (no page file loads or contains it).
func checkEmbeddedTracker(t *testing.T, fsys fs.FS) {
	t.Helper()
	rec := serve(t, Handler(), "GET", "/count.js", nil)
	if rec.Code != 200 || !strings.HasPrefix(rec.Body.String(), "(function(") {
		t.Fatalf("GET /count.js = %d %.80q, want the tracker's IIFE", rec.Code, rec.Body.String())
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write(rec.Body.Bytes())
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("count.js: %d bytes, %d gzipped", rec.Body.Len(), buf.Len())
	if buf.Len() > 1024 {
		t.Errorf("count.js is %d bytes gzipped, over its 1024-byte goal", buf.Len())
	}
	index, err := fs.ReadFile(fsys, "index.html")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(index, []byte("count.js")) {
		t.Error("index.html loads the tracker")
	}
	assets, err := fs.Glob(fsys, "assets/*.js")
	if err != nil || len(assets) == 0 {
		t.Fatalf("no page scripts in the build (%v)", err)
	}
	for _, name := range assets {
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(body, []byte("prerenderingchange")) {
			t.Errorf("%s contains the tracker's code", name)
		}
	}
}

// gzipAt compresses s at a level of the test's choosing, so that its bytes differ from what
// the handler would make itself.
func gzipAt(t *testing.T, s string, level int) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, level)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = zw.Write([]byte(s))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// The build's .gz copies are sent byte for byte (they are what the first-load budget counts),
// small files included; a stale copy that does not decompress to the file is never sent.
func TestPrecompressedCopies(t *testing.T) {
	small := "export const a=1;export const b=2;export const c=3;export const d=4;export const e=5;export const f=6;"
	fsys := fstest.MapFS{
		"index.html":             {Data: []byte(`<!doctype html><div id="root"></div>`)},
		"assets/index-abc123.js": {Data: []byte(bigJS)},
		// Level 1: other bytes than the handler's own level 9.
		"assets/index-abc123.js.gz":   {Data: gzipAt(t, bigJS, gzip.BestSpeed)},
		"assets/runtime-abc123.js":    {Data: []byte(strings.Repeat(small, 5))},
		"assets/runtime-abc123.js.gz": {Data: gzipAt(t, strings.Repeat(small, 5), gzip.BestCompression)},
		"assets/stale-abc123.js":      {Data: []byte(bigJS + "// rebuilt\n")},
		"assets/stale-abc123.js.gz":   {Data: gzipAt(t, bigJS, gzip.BestSpeed)},
	}
	h := newHandler(fsys)
	gz := http.Header{"Accept-Encoding": {"gzip"}}
	for _, c := range []struct{ name, file string }{{"precompressed", "assets/index-abc123.js"}, {"under 1 KB", "assets/runtime-abc123.js"}} {
		rec := serve(t, h, "GET", "/"+c.file, gz)
		if rec.Header().Get("Content-Encoding") != "gzip" || !bytes.Equal(rec.Body.Bytes(), fsys[c.file+".gz"].Data) {
			t.Errorf("%s: Content-Encoding %q, %d bytes: want the build's copy (%d bytes)", c.name, rec.Header().Get("Content-Encoding"), rec.Body.Len(), len(fsys[c.file+".gz"].Data))
		}
	}
	rec := serve(t, h, "GET", "/assets/stale-abc123.js", gz)
	zr, err := gzip.NewReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	if string(plain) != bigJS+"// rebuilt\n" {
		t.Errorf("a stale .gz copy was sent: got %d bytes of the old file", len(plain))
	}
	plainRec := serve(t, h, "GET", "/assets/index-abc123.js", nil)
	if plainRec.Header().Get("Content-Encoding") != "" || plainRec.Body.String() != bigJS {
		t.Errorf("without Accept-Encoding: Content-Encoding %q", plainRec.Header().Get("Content-Encoding"))
	}
}
