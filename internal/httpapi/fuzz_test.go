package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/prawnhq/prawn/internal/httpapi"
	"github.com/prawnhq/prawn/internal/pageview"
)

// FuzzRecordView sends arbitrary bodies (raw bytes), User-Agents and query strings through the
// real handler to POST /api/views: it must never panic or answer 5xx; errors are problem+json with
// the status they claim; a body that is not valid UTF-8 or a query string that does not parse
// strictly is a 400; a 201 records exactly the normalised path it answers, and that path has no
// U+FFFD unless the body spelled one.
func FuzzRecordView(f *testing.F) {
	for _, s := range []struct{ body, ua, query string }{
		{`{"path":"/a"}`, "Go-http-client/1.1", ""},
		{`{"path":"/a/../b?x#y","referrer":"https://Example.com/?q"}`, "", ""},
		{`{"path":"/caf%C3%A9"}`, "Mozilla/5.0", ""},
		{`{"path":"/a","extra":true}`, "", ""},
		{`{"path":"/a"}{"path":"/b"}`, "", ""},
		{`{"path":5}`, "", ""},
		{`{"path":"/a","referrer":null}`, "", ""},
		{`[]`, "", ""},
		{`null`, "", ""},
		{``, "", ""},
		{`{"path":"/a"}`, "Googlebot/2.1", ""},
		{`{"path":"/a"}`, "", "x=1"},
		{`{"path":"/\u0000"}`, "", ""},
		{`{"path":"` + strings.Repeat("/a", 300) + `"}`, "", ""},
		{`{"path":"/a","referrer":"` + strings.Repeat("%", 2000) + `"}`, "", ""},
		{"{\"path\":\"/a\xff\"}", "", ""},
		{"{\"path\":\"/a\xed\xa0\x80\"}", "", ""},
		{`{"path":"/a\ud800"}`, "", ""},
		{`{"path":"/a\ud83d\ude00"}`, "", ""},
		{`{"path":"/a\\ud800"}`, "", ""},
		{`{"path":"/a\ufffd"}`, "", ""},
		{`{"path":"/cafe\u0301"}`, "", ""},
		{`{"path":"/a\u200bb"}`, "", ""},
		{`{"path":"/a","referrer":"https://x.example/reset/TOKEN123"}`, "", ""},
		{`{"path":"/a"}`, "", "x=1;y=2"},
		{`{"path":"/a"}`, "", "%zz=1"},
		{`{"path":"/a"}`, "", ";"},
		{`{"path":"/a"}`, "", "%"},
	} {
		f.Add([]byte(s.body), s.ua, s.query)
	}
	rec := &fakeRecorder{}
	edge := httpapi.DefaultEdge()
	edge.RateLimit, edge.ReadRateLimit = 0, 0 // one client sends every input: the limit is not what this checks
	h, _ := edgeHandler(rec, edge)
	f.Fuzz(func(t *testing.T, body []byte, ua, query string) {
		target := "/api/views"
		if query != "" {
			target += "?" + query
		}
		req := httptest.NewRequest("POST", "/api/views", strings.NewReader(string(body)))
		req.URL.RawQuery = query
		req.RemoteAddr = "127.0.0.1:1"
		req.Header.Set("Content-Type", "application/json")
		if ua != "" {
			req.Header.Set("User-Agent", ua)
		}
		before := rec.count()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		status := w.Code
		switch status {
		case 200, 201, 400, 413:
		default:
			t.Fatalf("POST %s %q (UA %q) = %d %s", target, body, ua, status, w.Body)
		}
		if _, err := url.ParseQuery(query); err != nil && status != 400 {
			t.Fatalf("POST %s with a query net/url cannot parse (%v) = %d, want 400", target, err, status)
		}
		if !utf8.Valid(body) && status != 400 && status != 413 {
			t.Fatalf("POST %q (not UTF-8) = %d, want 400", body, status)
		}
		if status >= 400 {
			var p struct {
				Status int    `json:"status"`
				Detail string `json:"detail"`
			}
			if w.Header().Get("Content-Type") != "application/problem+json" || json.Unmarshal(w.Body.Bytes(), &p) != nil || p.Status != status || p.Detail == "" {
				t.Fatalf("POST %q = %d with a bad problem: %s %s", body, status, w.Header().Get("Content-Type"), w.Body)
			}
			if rec.count() != before {
				t.Fatalf("POST %q = %d but a view was recorded", body, status)
			}
			return
		}
		var v struct {
			Path    string `json:"path"`
			Counted bool   `json:"counted"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
			t.Fatalf("POST %q = %d %s: %v", body, status, w.Body, err)
		}
		if p, err := pageview.NormalizePath(v.Path); err != nil || p != v.Path {
			t.Fatalf("answered path %q is not normalised: %q %v", v.Path, p, err)
		}
		if lower := bytes.ToLower(body); strings.ContainsRune(v.Path, utf8.RuneError) && !bytes.Contains(lower, []byte(`\ufffd`)) &&
			!bytes.Contains(lower, []byte("%ef%bf%bd")) && !bytes.ContainsRune(body, utf8.RuneError) {
			t.Fatalf("POST %q = %d with path %q: a U+FFFD the body did not send", body, status, v.Path)
		}
		if v.Counted != (status == 201) || (status == 201 && rec.count() != before+1) {
			t.Fatalf("POST %q = %d counted=%v, recorded %d", body, status, v.Counted, rec.count()-before)
		}
	})
}

// FuzzBeacon sends arbitrary bodies under arbitrary Content-Types to POST /api/views, as the
// tracker's text/plain beacon and anything else would: never a panic or 5xx; errors are problems
// with the status they claim; only a 201 records a view.
func FuzzBeacon(f *testing.F) {
	for _, s := range []struct{ body, ctype string }{
		{`{"url":"https://blog.example/post?utm_source=x","referrer":"https://news.example/"}`, "text/plain;charset=UTF-8"},
		{`{"url":"https://blog.example/","bot":true}`, "text/plain"},
		{`{"url":"javascript:alert(1)"}`, "text/plain"},
		{"{\"path\":\"/\xff\"}", "text/plain"},
		{`{"path":"/a"}`, "application/x-www-form-urlencoded"},
		{`{"path":"/a"}`, "text/plain; charset=iso-8859-1"},
		{`{"path":"/a"}`, ""},
		{`{"path":"/a"}`, ";;;"},
	} {
		f.Add([]byte(s.body), s.ctype)
	}
	rec := &fakeRecorder{}
	edge := httpapi.DefaultEdge()
	edge.RateLimit, edge.ReadRateLimit = 0, 0 // one client sends every input: the limit is not what this checks
	h, _ := edgeHandler(rec, edge)
	f.Fuzz(func(t *testing.T, body []byte, ctype string) {
		req := httptest.NewRequest("POST", "/api/views", strings.NewReader(string(body)))
		req.RemoteAddr = "127.0.0.1:1"
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		before := rec.count()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		switch w.Code {
		case 200, 201, 400, 413, 415:
		default:
			t.Fatalf("POST %q (%q) = %d %s", body, ctype, w.Code, w.Body)
		}
		if w.Code >= 400 {
			var p struct {
				Status int    `json:"status"`
				Detail string `json:"detail"`
			}
			if w.Header().Get("Content-Type") != "application/problem+json" || json.Unmarshal(w.Body.Bytes(), &p) != nil || p.Status != w.Code || p.Detail == "" {
				t.Fatalf("POST %q (%q) = %d with a bad problem: %s", body, ctype, w.Code, w.Body)
			}
		}
		if recorded := rec.count() - before; recorded != map[bool]int{true: 1, false: 0}[w.Code == 201] {
			t.Fatalf("POST %q (%q) = %d, recorded %d", body, ctype, w.Code, recorded)
		}
	})
}
