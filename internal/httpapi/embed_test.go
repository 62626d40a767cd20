package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"image/gif"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prawnhq/prawn/internal/app"
	"github.com/prawnhq/prawn/internal/config"
	"github.com/prawnhq/prawn/internal/httpapi"
	"github.com/prawnhq/prawn/internal/pgtest"
	"github.com/prawnhq/prawn/internal/stats"
	"github.com/prawnhq/prawn/internal/storage"
	"github.com/prawnhq/prawn/internal/visitor"
)

const (
	chromeWin  = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36"
	iphone     = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
	camo       = "github-camo (876de43e)"
	googlebot  = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
	imgAccept  = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8" // Chromium's <img>
	viewsByKey = "SELECT host || ' ' || path, count(*) FROM views GROUP BY 1"
)

// embedApp is the real app (group commit, visitor ids from the store's salt) on a fresh
// database, configured by env.
func embedApp(t *testing.T, env map[string]string) (*pgtest.DB, http.Handler) {
	t.Helper()
	db := pgtest.New(t)
	cfg, err := config.Load(func(k string) string { return env[k] }, config.Serve)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Build(db.Store, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return db, a.Handler()
}

// call sends one request to h from remote; headers are name, value pairs (Set, not Add).
func call(h http.Handler, method, target, remote, body string, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.RemoteAddr = remote
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func jsonOf(t *testing.T, w *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatalf("answer %d %s is not JSON: %q", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	return m
}

// dropped reads GET /api/stats's dropped counters.
func dropped(t *testing.T, h http.Handler) map[string]any {
	t.Helper()
	d, _ := jsonOf(t, call(h, "GET", "/api/stats", "192.0.2.1:1", ""))["dropped"].(map[string]any)
	return d
}

func wantRows(t *testing.T, db *pgtest.DB, sql string, want map[string]int64) {
	t.Helper()
	got := db.Counts(t, sql)
	if len(got) != len(want) {
		t.Errorf("%s:\n got %v\nwant %v", sql, got, want)
		return
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s:\n got %v\nwant %v", sql, got, want)
			return
		}
	}
}

// TestTextPlainBeacon posts what /count.js sends — the view as JSON in a text/plain body, as
// navigator.sendBeacon and a no-cors fetch send it — and hostile variations, checking the rows.
func TestTextPlainBeacon(t *testing.T) {
	t.Parallel()
	db, h := embedApp(t, nil)
	const remote = "203.0.113.10:5000"
	for _, tt := range []struct {
		ctype, body string
		status      int
		detail      string
	}{
		{"text/plain;charset=UTF-8", `{"url":"https://Blog.Example/post/?utm_source=news&x=1","referrer":"https://news.example/item?id=1"}`, 201, ""},
		{"text/plain", `{"url":"https://blog.example/post","path":"/canonical"}`, 201, ""},
		{"Text/Plain; charset=utf-8", `{"url":"https://blog.example/"}`, 201, ""},
		{"", `{"path":"/no-type"}`, 201, ""},
		{"text/plain", `{"url":"https://blog.example/robot","bot":true}`, 200, ""},
		{"text/plain", `{"url":"https://blog.example/x","bot":"yes"}`, 400, `field "bot" must be a boolean`},
		{"text/plain", `not json`, 400, "not valid JSON"},
		{"text/plain", ``, 400, "request body is empty"},
		{"text/plain", `{"url":"https://blog.example/x","cookie":"1"}`, 400, `unknown field "cookie"`},
		{"text/plain", `{"url":"https://blog.example/x"}{"url":"https://blog.example/y"}`, 400, "more than one JSON value"},
		{"text/plain", `["https://blog.example/x"]`, 400, "must be a JSON object"},
		{"text/plain", "{\"path\":\"/caf\xe9\"}", 400, "not valid UTF-8"},
		{"text/plain", `{"path":"/a\u0007"}`, 400, "control character"},
		{"text/plain", `{"url":"javascript:alert(1)"}`, 400, "url must be an absolute http or https URL"},
		{"text/plain", `{"url":"data:text/html,<script>alert(1)</script>"}`, 400, "url must be an absolute http or https URL"},
		{"text/plain", `{"url":"https://blog.example/` + strings.Repeat("a", 64<<10) + `"}`, 413, "at most 8192"},
		{"text/plain", `{"url":"https://blog.example/` + strings.Repeat("a", 3000) + `"}`, 400, "url is 3021 bytes long, at most 2048"},
		{"text/plain; charset=latin1", `{"path":"/a"}`, 415, "must be UTF-8"},
		{"application/x-www-form-urlencoded", `path=/a`, 415, "a body of type application/x-www-form-urlencoded is not read here; send application/json or text/plain"},
		{"text/html", `{"path":"/a"}`, 415, "not read here"},
		{"not a type;;", `{"path":"/a"}`, 415, "is not a media type"},
	} {
		var headers []string
		if tt.ctype != "" {
			headers = []string{"Content-Type", tt.ctype}
		}
		w := call(h, "POST", "/api/views", remote, tt.body, append(headers, "User-Agent", chromeWin)...)
		if w.Code != tt.status {
			t.Errorf("%q %.80s = %d %s; want %d", tt.ctype, tt.body, w.Code, w.Body, tt.status)
			continue
		}
		if tt.status >= 400 {
			if p := jsonOf(t, w); w.Header().Get("Content-Type") != "application/problem+json" || !strings.Contains(p["detail"].(string), tt.detail) {
				t.Errorf("%q %.80s = %d %v; want detail %q", tt.ctype, tt.body, w.Code, p, tt.detail)
			}
		}
	}
	if w := call(h, "POST", "/api/views", remote, `{"url":"https://blog.example/robot","bot":true}`, "Content-Type", "text/plain"); jsonOf(t, w)["reason"] != "bot" {
		t.Errorf("bot: true = %s", w.Body)
	}
	wantRows(t, db, viewsByKey, map[string]int64{"blog.example /post": 1, "blog.example /canonical": 1, "blog.example /": 1, " /no-type": 1})
	wantRows(t, db, "SELECT concat_ws('|', path, utm_source, ref_host, referrer), count(*) FROM views WHERE utm_source IS NOT NULL GROUP BY 1",
		map[string]int64{"/post|news|news.example|https://news.example/item": 1})
	d := dropped(t, h)
	if d["bot"] != 2.0 || d["invalid"] != 15.0 || d["tooLarge"] != 1.0 {
		t.Errorf("dropped = %v; want 2 bots, 15 invalid (400 and 415), 1 too large", d)
	}
}

// TestVisitorsAndDimensions checks what every recording operation stores about its viewer: the
// visitor id (the same for one client on one host, another for another User-Agent or host), the
// browser, OS and device, and the country from the trusted proxy's header only; and that neither
// the address nor the User-Agent is stored.
func TestVisitorsAndDimensions(t *testing.T) {
	t.Parallel()
	db, h := embedApp(t, map[string]string{"PRAWN_TRUSTED_PROXIES": "10.0.0.0/8", "PRAWN_COUNTRY_HEADER": "CF-IPCountry"})
	const proxy = "10.1.2.3:443"
	post := func(remote, body string, headers ...string) {
		t.Helper()
		w := call(h, "POST", "/api/views", remote, body, append([]string{"Content-Type", "text/plain"}, headers...)...)
		if w.Code != 201 {
			t.Fatalf("POST %s = %d %s", body, w.Code, w.Body)
		}
	}
	fwd := func(addr string) []string { return []string{"X-Forwarded-For", addr} }
	post(proxy, `{"url":"https://a.example/1"}`, append(fwd("203.0.113.7"), "User-Agent", chromeWin, "CF-IPCountry", "de")...)
	post(proxy, `{"url":"https://a.example/2"}`, append(fwd("203.0.113.7"), "User-Agent", chromeWin, "CF-IPCountry", "DE")...)
	post(proxy, `{"url":"https://a.example/3"}`, append(fwd("203.0.113.7"), "User-Agent", iphone, "CF-IPCountry", "XX")...)
	post(proxy, `{"url":"https://b.example/1"}`, append(fwd("203.0.113.7"), "User-Agent", chromeWin, "CF-IPCountry", "T1")...)
	post(proxy, `{"url":"https://b.example/2"}`, append(fwd("203.0.113.8"), "User-Agent", chromeWin, "CF-IPCountry", "<script>")...)
	// Not from a trusted proxy: the header is not believed.
	post("198.51.100.2:1", `{"url":"https://c.example/1"}`, "User-Agent", chromeWin, "CF-IPCountry", "FR")
	post("198.51.100.2:1", `{"url":"https://c.example/2"}`, "User-Agent", "curl/8.5.0", "CF-IPCountry", "FR")
	// The other recording operations store the same.
	if w := call(h, "GET", "/api/views.gif?path=/pixel&host=d.example", proxy, "", append(fwd("203.0.113.9"), "User-Agent", iphone, "CF-IPCountry", "jp")...); w.Code != 200 {
		t.Fatalf("pixel = %d", w.Code)
	}
	if w := call(h, "GET", "/api/badge.svg?path=/badge&host=d.example&record=true", proxy, "", append(fwd("203.0.113.9"), "User-Agent", iphone, "CF-IPCountry", "JP")...); w.Code != 200 {
		t.Fatalf("badge = %d", w.Code)
	}
	if w := call(h, "GET", "/api/home", proxy, "", append(fwd("203.0.113.9"), "User-Agent", iphone, "CF-IPCountry", "JP")...); w.Code != 200 {
		t.Fatalf("home = %d", w.Code)
	}

	wantRows(t, db, "SELECT concat_ws('|', host, path, browser, os, device, country, visitor IS NOT NULL), count(*) FROM views GROUP BY 1", map[string]int64{
		"a.example|/1|Chrome|Windows|desktop|DE|t": 1,
		"a.example|/2|Chrome|Windows|desktop|DE|t": 1,
		"a.example|/3|Safari|iOS|mobile|t":         1,
		"b.example|/1|Chrome|Windows|desktop|t":    1,
		"b.example|/2|Chrome|Windows|desktop|t":    1,
		"c.example|/1|Chrome|Windows|desktop|t":    1,
		"c.example|/2|t":                           1,
		"d.example|/pixel|Safari|iOS|mobile|JP|t":  1,
		"d.example|/badge|Safari|iOS|mobile|JP|t":  1,
		"|/|Safari|iOS|mobile|JP|t":                1,
	})
	// One client on one host is one visitor; another User-Agent, address or host is another.
	wantRows(t, db, "SELECT 'distinct', count(DISTINCT visitor) FROM views", map[string]int64{"distinct": 8})
	wantRows(t, db, "SELECT 'a1=a2', count(DISTINCT visitor) FROM views WHERE host = 'a.example' AND path IN ('/1', '/2')", map[string]int64{"a1=a2": 1})
	wantRows(t, db, "SELECT 'pixel=badge', count(DISTINCT visitor) FROM views WHERE host = 'd.example'", map[string]int64{"pixel=badge": 1})
	// Nothing of the address or the User-Agent is stored anywhere in a row.
	wantRows(t, db, `SELECT 'leaks', count(*) FROM views v WHERE row_to_json(v)::text ~ '203\.0\.113|198\.51\.100|Mozilla|iPhone OS|curl'`, map[string]int64{"leaks": 0})
}

// failingSalts fails until ok is set.
type failingSalts struct {
	mu sync.Mutex
	ok bool
}

func (f *failingSalts) Salt(ctx context.Context, day time.Time) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.ok {
		return nil, errors.New("connection refused")
	}
	return bytes.Repeat([]byte{7}, visitor.SaltLen), nil
}

// logRecords keeps the messages logged at warn and above, and info.
type logRecords struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecords) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var attrs []string
	r.Attrs(func(a slog.Attr) bool { attrs = append(attrs, a.String()); return true })
	l.msgs = append(l.msgs, r.Level.String()+" "+r.Message+" "+strings.Join(attrs, " "))
	return nil
}
func (l *logRecords) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecords) WithGroup(string) slog.Handler      { return l }

// TestSaltFailureNeverFailsAView: without the day's salt views count, with no visitor id, and the
// failure is logged once when it starts and once when it ends, without the address or UA.
func TestSaltFailureNeverFailsAView(t *testing.T) {
	t.Parallel()
	rec := &fakeRecorder{}
	salts := &failingSalts{}
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	var clock sync.Mutex
	logs := &logRecords{}
	s := &httpapi.Server{Recorder: rec, Stats: &stats.Service{}, Ready: func(context.Context) error { return nil }, Log: slog.New(logs),
		Visitors: visitor.New(salts, func() time.Time { clock.Lock(); defer clock.Unlock(); return now })}
	h := httpapi.NewHandler(s, httpapi.Options{Log: slog.New(slog.DiscardHandler), Edge: httpapi.Edge{}})
	for i := range 6 {
		if i == 3 {
			clock.Lock()
			now = now.Add(2 * time.Second) // past the Hasher's retry delay
			clock.Unlock()
		}
		if w := call(h, "POST", "/api/views", "203.0.113.50:1", `{"path":"/a"}`, "User-Agent", chromeWin); w.Code != 201 {
			t.Fatalf("view %d without a salt = %d %s", i, w.Code, w.Body)
		}
	}
	salts.mu.Lock()
	salts.ok = true
	salts.mu.Unlock()
	clock.Lock()
	now = now.Add(2 * time.Second)
	clock.Unlock()
	for range 2 {
		if w := call(h, "POST", "/api/views", "203.0.113.50:1", `{"path":"/a"}`, "User-Agent", chromeWin); w.Code != 201 {
			t.Fatalf("view with the salt back = %d", w.Code)
		}
	}
	rec.mu.Lock()
	var ids []int64
	for _, v := range rec.views {
		ids = append(ids, v.Visitor)
	}
	rec.mu.Unlock()
	if len(ids) != 8 || ids[0] != 0 || ids[5] != 0 || ids[6] == 0 || ids[6] != ids[7] {
		t.Errorf("visitor ids %v; want six 0 (no salt), then two equal non-zero ids", ids)
	}
	logs.mu.Lock()
	defer logs.mu.Unlock()
	if len(logs.msgs) != 2 || !strings.HasPrefix(logs.msgs[0], "WARN views are recorded without visitor ids") ||
		!strings.HasPrefix(logs.msgs[1], "INFO visitor ids are back") {
		t.Errorf("logged %q; want one warning, then one info", logs.msgs)
	}
	for _, m := range logs.msgs {
		if strings.Contains(m, "203.0.113") || strings.Contains(m, "Mozilla") {
			t.Errorf("log holds the client's address or User-Agent: %q", m)
		}
	}
}

// TestSites: with PRAWN_SITES only the listed hosts (and the default site) are counted, by
// every recording operation; the others are answered, not stored, and tallied as foreignHost.
func TestSites(t *testing.T) {
	t.Parallel()
	db, h := embedApp(t, map[string]string{"PRAWN_SITES": "blog.example, docs.example"})
	const remote = "203.0.113.20:1"
	for _, tt := range []struct {
		body   string
		status int
		reason string
	}{
		{`{"url":"https://blog.example/a"}`, 201, ""},
		{`{"url":"https://BLOG.example./b"}`, 201, ""},
		{`{"path":"/c","host":"docs.example"}`, 201, ""},
		{`{"path":"/d"}`, 201, ""},
		{`{"url":"https://evil.example/a"}`, 200, "foreignHost"},
		{`{"url":"https://sub.blog.example/a"}`, 200, "foreignHost"},
		{`{"path":"/e","host":"127.0.0.1"}`, 200, "foreignHost"},
	} {
		w := call(h, "POST", "/api/views", remote, tt.body, "Content-Type", "text/plain")
		m := jsonOf(t, w)
		if reason, _ := m["reason"].(string); w.Code != tt.status || reason != tt.reason || m["counted"] != (tt.status == 201) {
			t.Errorf("%s = %d %v; want %d reason %q", tt.body, w.Code, m, tt.status, tt.reason)
		}
	}
	if w := call(h, "GET", "/api/views.gif?path=/p", remote, "", "Referer", "https://evil.example/page"); w.Code != 200 || w.Header().Get("Content-Type") != "image/gif" {
		t.Errorf("pixel on a foreign page = %d %s", w.Code, w.Header().Get("Content-Type"))
	}
	if w := call(h, "GET", "/api/views.gif?path=/p", remote, "", "Referer", "https://blog.example/page"); w.Code != 200 {
		t.Errorf("pixel on a listed page = %d", w.Code)
	}
	w := call(h, "GET", "/api/badge.svg?path=/a&host=evil.example&record=true", remote, "")
	if w.Code != 200 || !strings.Contains(w.Body.String(), `aria-label="views: 0"`) {
		t.Errorf("recording badge of a foreign host = %d %.200s", w.Code, w.Body)
	}
	wantRows(t, db, viewsByKey, map[string]int64{"blog.example /a": 1, "blog.example /b": 1, "docs.example /c": 1, " /d": 1, "blog.example /p": 1})
	if d := dropped(t, h); d["foreignHost"] != 5.0 {
		t.Errorf("dropped = %v; want 5 foreignHost", d)
	}
}

// TestPixel checks GET /api/views.gif: the transparent GIF that no cache keeps, the host from the
// parameter or the Referer, bots and prefetches answered but not counted, camo counted, and
// errors as images for <img> and as problems for API clients.
func TestPixel(t *testing.T) {
	t.Parallel()
	db, h := embedApp(t, nil)
	const remote = "203.0.113.30:1"
	w := call(h, "GET", "/api/views.gif?path=/post/", remote, "", "Referer", "https://Blog.Example:8443/post/?secret=1#x", "Accept", imgAccept)
	img, err := gif.Decode(bytes.NewReader(w.Body.Bytes()))
	if w.Code != 200 || w.Header().Get("Content-Type") != "image/gif" || w.Header().Get("Cache-Control") != "no-store" || err != nil {
		t.Fatalf("pixel = %d %v %v", w.Code, w.Header(), err)
	}
	if b := img.Bounds(); b.Dx() != 1 || b.Dy() != 1 {
		t.Errorf("pixel is %v", b)
	}
	if _, _, _, a := img.At(0, 0).RGBA(); a != 0 {
		t.Errorf("pixel is not transparent: alpha %d", a)
	}
	for _, tt := range []struct {
		target  string
		headers []string
	}{
		{"/api/views.gif?path=/q&host=docs.example", []string{"Referer", "https://blog.example/"}}, // host wins
		{"/api/views.gif?path=/r", nil}, // no Referer: the default site
		{"/api/views.gif?path=/s", []string{"Referer", "android-app://com.example.app/"}},
		{"/api/views.gif?path=/t", []string{"Referer", "not a url at all"}},
		{"/api/views.gif?path=/camo", []string{"User-Agent", camo, "Accept", "image/*"}},
	} {
		if w := call(h, "GET", tt.target, remote, "", tt.headers...); w.Code != 200 || w.Header().Get("Content-Type") != "image/gif" {
			t.Errorf("GET %s %v = %d", tt.target, tt.headers, w.Code)
		}
	}
	// Bots, prefetches and HEAD get the image and are not counted.
	for _, headers := range [][]string{{"User-Agent", googlebot}, {"Sec-Purpose", "prefetch"}, {"Purpose", "prefetch"}} {
		if w := call(h, "GET", "/api/views.gif?path=/bot", remote, "", headers...); w.Code != 200 || w.Body.Len() != 43 {
			t.Errorf("%v = %d, %d bytes", headers, w.Code, w.Body.Len())
		}
	}
	if w := call(h, "HEAD", "/api/views.gif?path=/bot", remote, ""); w.Code != 200 {
		t.Errorf("HEAD = %d", w.Code)
	}
	// Bad input: an image for <img>, a problem for others; nothing stored.
	for _, target := range []string{"/api/views.gif", "/api/views.gif?path=javascript:alert(1)", "/api/views.gif?path=data:image/gif;base64,R0lG",
		"/api/views.gif?path=/" + strings.Repeat("a", 64<<10), "/api/views.gif?path=/a%00b", "/api/views.gif?path=/a&label=x",
		"/api/views.gif?path=/a&host=not_a..host", "/api/views.gif?path=/a&path=/b"} {
		w := call(h, "GET", target, remote, "", "Accept", imgAccept)
		if w.Code != 400 || w.Header().Get("Content-Type") != "image/gif" || w.Body.Len() != 43 || w.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("<img> GET %.80s = %d %s %d bytes", target, w.Code, w.Header().Get("Content-Type"), w.Body.Len())
		}
		w = call(h, "GET", target, remote, "")
		if w.Code != 400 || w.Header().Get("Content-Type") != "application/problem+json" || jsonOf(t, w)["detail"] == "" {
			t.Errorf("API GET %.80s = %d %s", target, w.Code, w.Header().Get("Content-Type"))
		}
	}
	wantRows(t, db, viewsByKey, map[string]int64{"blog.example /post": 1, "docs.example /q": 1, " /r": 1, " /s": 1, " /t": 1, " /camo": 1})
	if d := dropped(t, h); d["bot"] != 1.0 || d["prefetch"] != 3.0 || d["invalid"] != 16.0 {
		t.Errorf("dropped = %v; want 1 bot, 3 prefetches (HEAD too), 16 invalid", d)
	}
}

// TestPixelIsRateLimited: the pixel shares the recording limit, and an <img> over it gets the
// pixel with 429 and Retry-After.
func TestPixelIsRateLimited(t *testing.T) {
	t.Parallel()
	rec := &fakeRecorder{}
	h, s := edgeHandler(rec, httpapi.Edge{RateLimit: 1, RateBurst: 2})
	for i := range 3 {
		w := call(h, "GET", "/api/views.gif?path=/a", "203.0.113.40:1", "", "Accept", imgAccept)
		if want := map[bool]int{true: 200, false: 429}[i < 2]; w.Code != want || w.Header().Get("Content-Type") != "image/gif" {
			t.Errorf("pixel %d = %d %s, want %d", i, w.Code, w.Header().Get("Content-Type"), want)
		}
		if i == 2 && w.Header().Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	if rec.count() != 2 || s.Drops.Snapshot().RateLimited != 1 {
		t.Errorf("recorded %d, rate limited %d", rec.count(), s.Drops.Snapshot().RateLimited)
	}
}

var ariaLabel = regexp.MustCompile(`aria-label="([^"]*)"`)

// TestBadge checks GET /api/badge.svg: the count (abbreviated) in an SVG with its title and
// aria-label, caching (a short public cache and 304 when only showing; no-cache when recording,
// which always records), read-then-record, camo counted, hostile parameters refused.
func TestBadge(t *testing.T) {
	t.Parallel()
	db, h := embedApp(t, nil)
	const remote = "203.0.113.60:1"
	views := make([]string, 1234)
	for i := range views {
		views[i] = "/readme"
	}
	db.Paths(t, views...)
	db.Insert(t, storage.View{Host: "blog.example", Path: "/post"})

	w := call(h, "GET", "/api/badge.svg?path=/readme", remote, "", "Accept", imgAccept)
	etag := w.Header().Get("ETag")
	if w.Code != 200 || w.Header().Get("Content-Type") != "image/svg+xml" || w.Header().Get("Cache-Control") != "public, max-age=300" ||
		!strings.HasPrefix(etag, `"`) || w.Header().Get("Content-Security-Policy") != "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'" ||
		w.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("badge = %d %v", w.Code, w.Header())
	}
	body := w.Body.String()
	if m := ariaLabel.FindStringSubmatch(body); m == nil || m[1] != "views: 1.2k" || !strings.Contains(body, "<title>views: 1.2k</title>") {
		t.Errorf("badge = %s", body)
	}
	if err := xml.Unmarshal(w.Body.Bytes(), new(struct{})); err != nil {
		t.Errorf("badge is not XML: %v", err)
	}
	// Showing only: the client's copy is current.
	if w := call(h, "GET", "/api/badge.svg?path=/readme", remote, "", "If-None-Match", etag); w.Code != 304 || w.Body.Len() != 0 || w.Header().Get("ETag") != etag {
		t.Errorf("If-None-Match = %d %d bytes", w.Code, w.Body.Len())
	}
	// Recording: no cache may answer it (no-cache), and it always records before the answer is
	// chosen; the badge held is still current when the abbreviated count did not change.
	w = call(h, "GET", "/api/badge.svg?path=/readme&record=true", remote, "", "If-None-Match", etag, "User-Agent", chromeWin)
	if w.Code != 304 || w.Header().Get("Cache-Control") != "no-cache" || w.Header().Get("ETag") != etag {
		t.Errorf("recording badge, 1235 views, holding the 1.2k badge = %d %v", w.Code, w.Header())
	}
	w = call(h, "GET", "/api/badge.svg?path=/readme&record=true", remote, "", "User-Agent", chromeWin)
	if m := ariaLabel.FindStringSubmatch(w.Body.String()); w.Code != 200 || w.Header().Get("Cache-Control") != "no-cache" || m == nil || m[1] != "views: 1.2k" || w.Header().Get("ETag") != etag {
		t.Errorf("recording badge = %d %v %v", w.Code, w.Header(), m)
	}
	wantRows(t, db, "SELECT path, count(*) FROM views WHERE path = '/readme' GROUP BY 1", map[string]int64{"/readme": 1236})
	// Exact counts on another page; a bot is shown the count without adding to it, and then 304.
	w = call(h, "GET", "/api/badge.svg?path=/post&host=blog.example&record=true&label=readers&color=4c1&style=flat-square", remote, "", "User-Agent", chromeWin)
	if m := ariaLabel.FindStringSubmatch(w.Body.String()); m == nil || m[1] != "readers: 2" || !strings.Contains(w.Body.String(), `fill="#4c1"`) || !strings.Contains(w.Body.String(), `shape-rendering="crispEdges"`) {
		t.Errorf("blog badge = %s", w.Body)
	}
	etag = w.Header().Get("ETag")
	w = call(h, "GET", "/api/badge.svg?path=/post&host=blog.example&record=true&label=readers&color=4c1&style=flat-square", remote, "", "User-Agent", googlebot, "If-None-Match", `W/"x", `+etag)
	if w.Code != 304 || w.Header().Get("Cache-Control") != "no-cache" {
		t.Errorf("bot with the current badge = %d %v", w.Code, w.Header())
	}
	// GitHub's camo fetches for a reader: counted.
	w = call(h, "GET", "/api/badge.svg?path=/post&host=blog.example&record=true&style=for-the-badge", remote, "", "User-Agent", camo, "Accept", "image/*")
	if m := ariaLabel.FindStringSubmatch(w.Body.String()); m == nil || m[1] != "VIEWS: 3" {
		t.Errorf("camo badge = %s", w.Body)
	}
	wantRows(t, db, viewsByKey, map[string]int64{" /readme": 1236, "blog.example /post": 3})

	// Hostile and bad parameters: refused; an error badge (400) for <img>, a problem for others.
	for _, tt := range []struct{ query, detail string }{
		{"path=/a&label=" + urlEscape(`<script>alert(1)</script>`+strings.Repeat("x", 60)), "label is 85 bytes long, at most 64"},
		{"path=/a&label=a%07b", "label holds a control character"},
		{"path=/a&label=%ff", "label is not valid UTF-8"},
		{"path=/a&color=" + urlEscape(`red" onload="alert(1)`), "is neither a name"},
		{"path=/a&color=javascript:alert(1)", "is neither a name"},
		{"path=/a&color=url(%23x)", "is neither a name"},
		{"path=/a&style=plastic", `style "plastic" is not one of flat, flat-square, for-the-badge`},
		{"path=/a&style=%3Cscript%3E", "is not one of"},
		{"path=/a&record=maybe", `parameter "record" must be true or false`},
		{"path=javascript:alert(1)", `path must start with "/"`},
		{"path=/" + strings.Repeat("a", 600), "at most 512"},
		{"path=/a&host=evil..example", "is not a hostname"},
		{"path=/a&logo=x", `unknown query parameter "logo"`},
		{"label=x", `parameter "path" is required`},
	} {
		w := call(h, "GET", "/api/badge.svg?"+tt.query, remote, "", "Accept", imgAccept)
		title := regexp.MustCompile(`<title>([^<]*)</title>`).FindStringSubmatch(w.Body.String())
		if w.Code != 400 || w.Header().Get("Content-Type") != "image/svg+xml" || w.Header().Get("Cache-Control") != "no-store" ||
			title == nil || !strings.HasPrefix(title[1], "prawn: invalid: ") || !strings.Contains(xmlUnescape(title[1]), tt.detail) ||
			strings.Contains(w.Body.String(), "<script") || w.Header().Get("Content-Security-Policy") == "" {
			t.Errorf("<img> badge?%.60s = %d %s %.300s; want an error badge saying %q", tt.query, w.Code, w.Header().Get("Content-Type"), w.Body, tt.detail)
		}
		w = call(h, "GET", "/api/badge.svg?"+tt.query+"&record=true", remote, "")
		if tt.query == "path=/a&record=maybe" {
			w = call(h, "GET", "/api/badge.svg?"+tt.query, remote, "")
		}
		if p := jsonOf(t, w); w.Code != 400 || w.Header().Get("Content-Type") != "application/problem+json" || !strings.Contains(p["detail"].(string), tt.detail) {
			t.Errorf("API badge?%.60s = %d %v; want a problem saying %q", tt.query, w.Code, p, tt.detail)
		}
	}
	// A hostile label that is allowed stays text.
	w = call(h, "GET", "/api/badge.svg?path=/readme&label="+urlEscape(`"><script>x</script>`), remote, "")
	if w.Code != 200 || strings.Contains(w.Body.String(), "<script") || !strings.Contains(w.Body.String(), "&lt;script&gt;") {
		t.Errorf("hostile label = %d %s", w.Code, w.Body)
	}
	wantRows(t, db, viewsByKey, map[string]int64{" /readme": 1236, "blog.example /post": 3})
}

// TestBadgeReadsBeforeItRecords: when the count cannot be read, nothing is recorded (a 503 never
// hides a committed view).
func TestBadgeReadsBeforeItRecords(t *testing.T) {
	t.Parallel()
	store := pgtest.Store(t)
	store.Close()
	rec := &fakeRecorder{}
	s := &httpapi.Server{Recorder: rec, Stats: &stats.Service{Store: store}, Ready: store.Ping, Log: slog.New(slog.DiscardHandler)}
	h := httpapi.NewHandler(s, httpapi.Options{Log: slog.New(slog.DiscardHandler), Edge: httpapi.DefaultEdge()})
	w := call(h, "GET", "/api/badge.svg?path=/a&record=true", "203.0.113.70:1", "", "Accept", imgAccept)
	if w.Code < 500 || w.Header().Get("Content-Type") != "image/svg+xml" || !strings.Contains(w.Body.String(), "<title>prawn: error: internal error; reference ") || rec.count() != 0 {
		t.Errorf("badge on a closed store = %d %s %.300s, recorded %d", w.Code, w.Header().Get("Content-Type"), w.Body, rec.count())
	}
}

// TestBadgeEndpoint checks GET /api/badge.json against shields.io's endpoint schema; it never
// records and is readable from any origin.
func TestBadgeEndpoint(t *testing.T) {
	t.Parallel()
	db, h := embedApp(t, nil)
	db.Paths(t, "/a", "/a", "/b")
	w := call(h, "GET", "/api/badge.json?path=/a&color=%234C1&label=readers", "203.0.113.80:1", "", "Origin", "https://blog.example")
	var got map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || w.Code != 200 || w.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("badge.json = %d %s %v", w.Code, w.Body, err)
	}
	want := map[string]any{"schemaVersion": 1.0, "label": "readers", "message": "2", "color": "#4c1", "cacheSeconds": 300.0}
	if len(got) != len(want) {
		t.Errorf("badge.json = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("badge.json %s = %v, want %v", k, got[k], v)
		}
	}
	if got := jsonOf(t, call(h, "GET", "/api/badge.json?path=/nobody", "203.0.113.80:1", "")); got["message"] != "0" || got["label"] != "views" || got["color"] != "blue" {
		t.Errorf("defaults = %v", got)
	}
	for _, q := range []string{"path=/a&record=true", "path=/a&color=expression(x)", "path=/a&style=flat", "path=/a&label=%00"} {
		if w := call(h, "GET", "/api/badge.json?"+q, "203.0.113.80:1", "", "Accept", imgAccept); w.Code != 400 || w.Header().Get("Content-Type") != "application/problem+json" {
			t.Errorf("badge.json?%s = %d %s", q, w.Code, w.Header().Get("Content-Type"))
		}
	}
	wantRows(t, db, viewsByKey, map[string]int64{" /a": 2, " /b": 1})
}

func urlEscape(s string) string {
	r := strings.NewReplacer("%", "%25", " ", "%20", "\"", "%22", "<", "%3C", ">", "%3E", "&", "%26", "#", "%23", "=", "%3D", "'", "%27", "(", "%28", ")", "%29")
	return r.Replace(s)
}

func xmlUnescape(s string) string {
	return strings.NewReplacer("&quot;", `"`, "&apos;", "'", "&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(s)
}
