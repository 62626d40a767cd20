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

// built looks like `vite build` output.
var built = fstest.MapFS{
	"index.html":              {Data: []byte(`<!doctype html><html><body><div id="root"></div><script type="module" src="/assets/index-abc123.js"></script></body></html>`)},
	"docs.html":               {Data: []byte(`<!doctype html><html><body><div id="swagger"></div></body></html>`)},
	"favicon.svg":             {Data: []byte(`<svg xmlns="http://www.w3.org/2000/svg"></svg>`)},
	"assets/index-abc123.js":  {Data: []byte(bigJS)},
	"assets/index-abc123.css": {Data: []byte("body{margin:0}")},
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
		{"missing asset is a 404, not the app", "GET", "/assets/index-gone.js", 404, "no-store", "text/plain; charset=utf-8", "not found", false},
		{"other files revalidate", "GET", "/favicon.svg", 200, "no-cache", "image/svg+xml", "<svg", false},
		{"app route falls back to index.html", "GET", "/some/app/route", 200, "no-cache", "text/html; charset=utf-8", `id="root"`, true},
		{"app route with query", "GET", "/stats?range=7d", 200, "no-cache", "text/html; charset=utf-8", `id="root"`, true},
		{"unknown file is a 404", "GET", "/robots.txt", 404, "", "text/plain; charset=utf-8", "not found", false},
		{"docs page", "GET", "/api/docs", 200, "no-cache", "text/html; charset=utf-8", `id="swagger"`, true},
		{"docs page with slash", "GET", "/api/docs/", 200, "no-cache", "text/html; charset=utf-8", `id="swagger"`, true},
		{"other api paths are problem+json 404s", "GET", "/api/nope", 404, "no-store", "application/problem+json", `"status":404`, false},
		{"dot segments cannot escape", "GET", "/assets/../../go.mod", 404, "", "text/plain; charset=utf-8", "not found", false},
		{"HEAD works", "HEAD", "/", 200, "no-cache", "text/html; charset=utf-8", "", true},
		{"POST is refused", "POST", "/", 405, "", "text/plain; charset=utf-8", "method not allowed", false},
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
	docs := serve(t, Handler(), "GET", "/api/docs", nil)
	if !strings.Contains(docs.Body.String(), `id="swagger"`) {
		t.Errorf("/api/docs is not the docs page: %q", docs.Body.String())
	}
}
