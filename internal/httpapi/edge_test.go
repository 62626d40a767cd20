package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prawnhq/prawn/internal/app"
	"github.com/prawnhq/prawn/internal/config"
	"github.com/prawnhq/prawn/internal/httpapi"
	"github.com/prawnhq/prawn/internal/pageview"
	"github.com/prawnhq/prawn/internal/pgtest"
	"github.com/prawnhq/prawn/internal/stats"
)

// fakeRecorder records views in memory, or fails or panics as told.
type fakeRecorder struct {
	mu    sync.Mutex
	views []pageview.View
	err   error
	panic bool
	block bool // wait for the context to end
}

func (f *fakeRecorder) Record(ctx context.Context, v pageview.View) error {
	if f.panic {
		panic("boom: secret internals")
	}
	if f.block {
		<-ctx.Done()
		return ctx.Err()
	}
	if f.err != nil {
		return f.err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.views = append(f.views, v)
	return nil
}

func (f *fakeRecorder) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.views)
}

// edgeHandler is the real handler around a fake recorder and a stats service without a database
// (only requests that fail validation may reach it).
func edgeHandler(rec pageview.Recorder, edge httpapi.Edge) (http.Handler, *httpapi.Server) {
	s := &httpapi.Server{Recorder: rec, Stats: &stats.Service{}, Ready: func(context.Context) error { return nil },
		Log: slog.New(slog.DiscardHandler)}
	return httpapi.NewHandler(s, httpapi.Options{Log: slog.New(slog.DiscardHandler), Edge: edge}), s
}

// serve sends one request straight to h from remote, with headers.
func serve(h http.Handler, method, target, remote, body string, headers ...string) (*http.Response, map[string]any) {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.RemoteAddr = remote
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	resp := rec.Result()
	var m map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &m)
	return resp, m
}

func TestUnknownInputsAreRejected(t *testing.T) {
	t.Parallel()
	h, _ := edgeHandler(&fakeRecorder{}, httpapi.Edge{})
	for _, tt := range []struct {
		method, target, body, detail string
	}{
		{"GET", "/api/stats?path=/a&bucket=hour&foo=1", "", `unknown query parameter "foo"; this operation takes: bucket, from, host, path, to, tz`},
		{"GET", "/api/pages?path=/a", "", `unknown query parameter "path"; this operation takes: from, host, limit, to`},
		{"GET", "/healthz?verbose=1", "", `unknown query parameter "verbose": this operation takes none`},
		{"GET", "/api/home?x", "", `unknown query parameter "x"`},
		{"POST", "/api/views?path=/a", `{"path":"/a"}`, `unknown query parameter "path"`},
		{"POST", "/api/views", `{"path":"/a","count":1000}`, `unknown field "count"; allowed fields: bot, host, path, referrer, url, utmCampaign, utmMedium, utmSource`},
		{"POST", "/api/views", `{"Path":"/a"}`, `unknown field "Path"`},
		{"POST", "/api/views", `{"path":"/a"} {"path":"/b"}`, "more than one JSON value"},
		{"POST", "/api/views", `{"path":"/a"}x`, "more than one JSON value"},
	} {
		resp, body := serve(h, tt.method, tt.target, "192.0.2.1:1", tt.body)
		detail, _ := body["detail"].(string)
		if resp.StatusCode != 400 || resp.Header.Get("Content-Type") != "application/problem+json" || !strings.Contains(detail, tt.detail) {
			t.Errorf("%s %s %s = %d %v; want 400 with %q", tt.method, tt.target, tt.body, resp.StatusCode, body, tt.detail)
		}
	}
}

// TestMalformedInputsAreRejected is issue 18 findings 6 and 8: invalid UTF-8 and lone surrogate
// escapes in a body were stored as U+FFFD, and a query string net/url could not parse was dropped
// in silence (?path=/x;y read the whole site). Both are 400 problems now, and nothing is recorded.
func TestMalformedInputsAreRejected(t *testing.T) {
	t.Parallel()
	rec := &fakeRecorder{}
	h, _ := edgeHandler(rec, httpapi.Edge{})
	for _, tt := range []struct {
		method, target, body, detail string
	}{
		{"POST", "/api/views", "{\"path\":\"/a\xff\"}", "request body is not valid UTF-8 (at byte 11)"},
		{"POST", "/api/views", "{\"path\":\"/a\xed\xa0\x80\"}", "not valid UTF-8"}, // a surrogate in UTF-8
		{"POST", "/api/views", `{"path":"/a\ud800"}`, `lone surrogate escape at byte 11 (\ud800)`},
		{"POST", "/api/views", `{"path":"/a\uDC00"}`, "lone surrogate"},
		{"POST", "/api/views", `{"path":"/a\ud800\u0041"}`, "lone surrogate"},
		{"POST", "/api/views", `{"path":"/a","referrer":"https://x.example/\ud83d"}`, "lone surrogate"},
		{"GET", "/api/stats?path=/x;y", "", `the query string has a ";"`},
		{"GET", "/api/stats?%zz=1", "", `invalid percent-escape "%zz"`},
		{"GET", "/api/pages?limit=500;", "", `the query string has a ";"`},
		{"GET", "/api/stats?path=/a%", "", "invalid percent-escape"},
		{"POST", "/api/views?;", `{"path":"/a"}`, `the query string has a ";"`},
	} {
		resp, body := serve(h, tt.method, tt.target, "192.0.2.1:1", tt.body)
		detail, _ := body["detail"].(string)
		if resp.StatusCode != 400 || resp.Header.Get("Content-Type") != "application/problem+json" || !strings.Contains(detail, tt.detail) {
			t.Errorf("%s %s %q = %d %v; want 400 with %q", tt.method, tt.target, tt.body, resp.StatusCode, body, tt.detail)
		}
	}
	if n := rec.count(); n != 0 {
		t.Errorf("%d views recorded from malformed requests", n)
	}
	for _, body := range []string{`{"path":"/a\ud83d\ude00"}`, `{"path":"/a\\ud800"}`, `{"path":"/caf\u00e9"}`} {
		if resp, b := serve(h, "POST", "/api/views", "192.0.2.1:1", body); resp.StatusCode != 201 {
			t.Errorf("valid %s = %d %v", body, resp.StatusCode, b)
		}
	}
}

func TestBodyOverLimitWithoutContentLength(t *testing.T) {
	t.Parallel()
	rec := &fakeRecorder{}
	h, s := edgeHandler(rec, httpapi.Edge{})
	srv := httptest.NewServer(h)
	defer srv.Close()
	// A chunked body has no Content-Length: the limit must hold while reading.
	body := io.MultiReader(strings.NewReader(`{"path":"/a","referrer":"`), strings.NewReader(strings.Repeat("x", httpapi.MaxBodyBytes)), strings.NewReader(`"}`))
	resp, err := srv.Client().Post(srv.URL+"/api/views", "application/json", io.NopCloser(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 413 || resp.Header.Get("Content-Type") != "application/problem+json" || !strings.Contains(string(b), "larger than 8192 bytes") {
		t.Errorf("chunked oversize body = %d %s", resp.StatusCode, b)
	}
	if rec.count() != 0 || s.Drops.Snapshot().TooLarge != 1 {
		t.Errorf("recorded %d, tooLarge %d; want 0 and 1", rec.count(), s.Drops.Snapshot().TooLarge)
	}
}

func TestInternalErrorsDoNotLeak(t *testing.T) {
	t.Parallel()
	for name, rec := range map[string]*fakeRecorder{
		"error": {err: fmt.Errorf("insert into views: %w", errors.New("pq: secret internals at 10.0.0.7"))},
		"panic": {panic: true},
	} {
		h, _ := edgeHandler(rec, httpapi.Edge{})
		resp, body := serve(h, "POST", "/api/views", "192.0.2.1:1", `{"path":"/a"}`)
		raw, _ := json.Marshal(body)
		if resp.StatusCode != 500 || resp.Header.Get("Content-Type") != "application/problem+json" ||
			strings.Contains(string(raw), "secret") || strings.Contains(string(raw), "boom") ||
			!strings.Contains(body["detail"].(string), "internal error; reference "+resp.Header.Get("X-Request-Id")) {
			t.Errorf("%s: %d %s", name, resp.StatusCode, raw)
		}
	}
}

func TestClosedStoreDoesNotLeak(t *testing.T) {
	t.Parallel()
	store := pgtest.Store(t)
	a := app.New(store, slog.New(slog.DiscardHandler))
	h := a.Handler()
	store.Close()
	for _, target := range []string{"/api/stats", "/api/pages"} {
		resp, body := serve(h, "GET", target, "192.0.2.1:1", "")
		raw, _ := json.Marshal(body)
		if resp.StatusCode < 500 || resp.Header.Get("Content-Type") != "application/problem+json" ||
			strings.Contains(string(raw), "closed") || strings.Contains(string(raw), "pool") {
			t.Errorf("GET %s on a closed store = %d %s", target, resp.StatusCode, raw)
		}
	}
}

func TestDBDeadlineAnswers503(t *testing.T) {
	t.Parallel()
	h, _ := edgeHandler(&fakeRecorder{block: true}, httpapi.Edge{DBTimeout: 200 * time.Millisecond})
	start := time.Now()
	resp, body := serve(h, "POST", "/api/views", "192.0.2.1:1", `{"path":"/a"}`)
	took := time.Since(start)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || took > time.Second {
		t.Errorf("hung database: %d %v after %s; want 503 with Retry-After within 1s", resp.StatusCode, body, took)
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	rec := &fakeRecorder{}
	h, s := edgeHandler(rec, httpapi.Edge{RateLimit: 1, RateBurst: 3,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	post := func(remote string, headers ...string) *http.Response {
		resp, _ := serve(h, "POST", "/api/views", remote, `{"path":"/a"}`, headers...)
		return resp
	}
	for i := range 3 {
		if r := post("203.0.113.5:1000"); r.StatusCode != 201 {
			t.Fatalf("view %d within the burst = %d", i, r.StatusCode)
		}
	}
	r := post("203.0.113.5:1001")
	ra, _ := strconv.Atoi(r.Header.Get("Retry-After"))
	if r.StatusCode != 429 || ra < 1 || r.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("view over the burst = %d Retry-After %q", r.StatusCode, r.Header.Get("Retry-After"))
	}
	// X-Forwarded-For from an untrusted peer changes nothing.
	if r := post("203.0.113.5:1002", "X-Forwarded-For", "198.51.100.1"); r.StatusCode != 429 {
		t.Errorf("spoofed X-Forwarded-For = %d, want 429", r.StatusCode)
	}
	// Another client has its own bucket.
	if r := post("203.0.113.6:1000"); r.StatusCode != 201 {
		t.Errorf("other client = %d", r.StatusCode)
	}
	// Behind a trusted proxy, the forwarded client is limited, each on its own.
	for i := range 4 {
		want := 201
		if i == 3 {
			want = 429
		}
		if r := post("10.1.2.3:5000", "X-Forwarded-For", "198.51.100.7, 10.9.9.9"); r.StatusCode != want {
			t.Errorf("forwarded client view %d = %d, want %d", i, r.StatusCode, want)
		}
	}
	if r := post("10.1.2.3:5000", "X-Forwarded-For", "198.51.100.8"); r.StatusCode != 201 {
		t.Errorf("second forwarded client = %d", r.StatusCode)
	}
	if got := s.Drops.Snapshot().RateLimited; got != 3 {
		t.Errorf("rateLimited = %d, want 3", got)
	}
}

// TestLoopbackIsLimitedUnlessOptedIn is issue 18 finding 2: loopback was exempt, so behind a
// reverse proxy on the same machine nothing was limited, and with the proxy trusted a missing or
// malformed X-Forwarded-For, or one naming loopback, fell back to the exempt proxy. Now loopback
// is limited unless PRAWN_RATE_EXEMPT_LOOPBACK opts in, and the opt-in never covers a request
// through a trusted proxy: whatever its headers say, it is limited by the client they name or by
// the proxy's own bucket.
func TestLoopbackIsLimitedUnlessOptedIn(t *testing.T) {
	t.Parallel()
	post := func(h http.Handler, headers ...string) int {
		resp, _ := serve(h, "POST", "/api/views", "127.0.0.1:9", `{"path":"/a"}`, headers...)
		return resp.StatusCode
	}
	h, _ := edgeHandler(&fakeRecorder{}, httpapi.Edge{RateLimit: 1, RateBurst: 2})
	if codes := []int{post(h), post(h), post(h)}; codes[2] != 429 {
		t.Errorf("loopback by default: %v, want the third limited", codes)
	}
	exempt, _ := edgeHandler(&fakeRecorder{}, httpapi.Edge{RateLimit: 1, RateBurst: 2, RateExemptLoopback: true})
	for i := range 50 {
		if code := post(exempt); code != 201 {
			t.Fatalf("loopback with RateExemptLoopback, view %d = %d", i, code)
		}
	}
	for _, bypass := range [][]string{
		nil,
		{"X-Real-IP", "198.51.100.2"},
		{"Forwarded", "for=198.51.100.2"},
		{"X-Forwarded-For", "unknown"},
		{"X-Forwarded-For", "a b"},
		{"X-Forwarded-For", "198.51.100.3, unknown"},
		{"X-Forwarded-For", "127.0.0.5"},
		{"X-Forwarded-For", "::1"},
		{"X-Forwarded-For", "::ffff:127.0.0.1"},
	} {
		// A proxy on loopback, trusted, with the exemption on: the bypass is limited all the same.
		h, _ := edgeHandler(&fakeRecorder{}, httpapi.Edge{RateLimit: 1, RateBurst: 2, RateExemptLoopback: true,
			TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
		if codes := []int{post(h, bypass...), post(h, bypass...), post(h, bypass...)}; codes[0] != 201 || codes[2] != 429 {
			t.Errorf("through a trusted loopback proxy with %q: %v, want [201 201 429]", bypass, codes)
		}
		// ...and the proxy's own bucket is what they share: a visitor it names is apart.
		if code := post(h, "X-Forwarded-For", "198.51.100.9"); code != 201 {
			t.Errorf("after %q, a named visitor = %d, want 201 (a bucket of its own)", bypass, code)
		}
	}
}

// TestLoopbackWarning: the first request from loopback while no proxy is trusted logs a warning,
// once.
func TestLoopbackWarning(t *testing.T) {
	t.Parallel()
	var logs strings.Builder
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, nil))
	s := &httpapi.Server{Recorder: &fakeRecorder{}, Stats: &stats.Service{}, Log: log}
	h := httpapi.NewHandler(s, httpapi.Options{Log: log, Edge: httpapi.DefaultEdge()})
	serve(h, "POST", "/api/views", "192.0.2.1:1", `{"path":"/a"}`)
	mu.Lock()
	if logs.Len() != 0 {
		t.Errorf("a request from elsewhere logged: %s", logs.String())
	}
	mu.Unlock()
	for range 3 {
		serve(h, "POST", "/api/views", "127.0.0.1:1", `{"path":"/a"}`)
	}
	mu.Lock()
	defer mu.Unlock()
	if n := strings.Count(logs.String(), "PRAWN_TRUSTED_PROXIES is not set"); n != 1 {
		t.Errorf("loopback warnings logged: %d, want 1:\n%s", n, logs.String())
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// TestReadsAreRateLimited is issue 18 finding 1's first part: reads have a per-client limit of
// their own, apart from recording's.
func TestReadsAreRateLimited(t *testing.T) {
	t.Parallel()
	h, _ := edgeHandler(&fakeRecorder{}, httpapi.Edge{RateLimit: 100, RateBurst: 100, ReadRateLimit: 1, ReadRateBurst: 2})
	const client = "192.0.2.7:1"
	var codes []int
	for _, target := range []string{"/api/stats?bucket=week", "/api/pages?limit=0", "/api/breakdown?by=nothing"} {
		resp, _ := serve(h, "GET", target, client, "")
		codes = append(codes, resp.StatusCode)
	}
	if codes[0] != 400 || codes[1] != 400 || codes[2] != 429 {
		t.Errorf("reads from one client: %v, want [400 400 429] (the third over the read burst)", codes)
	}
	resp, body := serve(h, "GET", "/api/hosts", client, "")
	if detail, _ := body["detail"].(string); resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || !strings.Contains(detail, "too many reads") {
		t.Errorf("read over the limit = %d %v", resp.StatusCode, body)
	}
	if resp, _ := serve(h, "POST", "/api/views", client, `{"path":"/a"}`); resp.StatusCode != 201 {
		t.Errorf("recording after the reads ran out = %d, want 201: reads and views have their own buckets", resp.StatusCode)
	}
	if resp, _ := serve(h, "GET", "/healthz", client, ""); resp.StatusCode != 200 {
		t.Errorf("meta after the reads ran out = %d, want 200", resp.StatusCode)
	}
	if resp, _ := serve(h, "GET", "/api/stats?bucket=week", "192.0.2.8:1", ""); resp.StatusCode != 400 {
		t.Errorf("another client's read = %d, want 400 (not limited)", resp.StatusCode)
	}
}

// TestOriginSecret is issue 15 §1: with PRAWN_ORIGIN_SECRET every request without the header is a
// 403 problem, and only requests with it have CloudFront-Viewer-Address believed; without a
// secret nothing is refused and a forged CloudFront-Viewer-Address gets no trust.
func TestOriginSecret(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-0f-the-cdn-0123456789abcdef"
	var logs strings.Builder
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	newHandler := func(secret string) http.Handler {
		s := &httpapi.Server{Recorder: &fakeRecorder{}, Stats: &stats.Service{}, Ready: func(context.Context) error { return nil }, Log: log}
		return httpapi.NewHandler(s, httpapi.Options{Log: log, Edge: httpapi.Edge{RateLimit: 1, RateBurst: 1, OriginSecret: config.Secret(secret)}})
	}
	h := newHandler(secret)
	const edgeAddr = "130.176.12.34:443"
	for _, headers := range [][]string{nil, {"X-Origin-Verify", "wrong"}, {"X-Origin-Verify", secret[:len(secret)-1]}, {"X-Origin-Verify", secret + "x"}} {
		for _, target := range []string{"/api/views", "/healthz", "/api/stats"} {
			method, body := "GET", ""
			if target == "/api/views" {
				method, body = "POST", `{"path":"/a"}`
			}
			resp, p := serve(h, method, target, edgeAddr, body, headers...)
			if resp.StatusCode != 403 || resp.Header.Get("Content-Type") != "application/problem+json" || p["detail"] == nil {
				t.Errorf("%s %s with %q = %d %v, want a 403 problem", method, target, headers, resp.StatusCode, p)
			}
		}
	}
	withSecret := func(viewer string) int {
		resp, _ := serve(h, "POST", "/api/views", edgeAddr, `{"path":"/a"}`, "X-Origin-Verify", secret, "CloudFront-Viewer-Address", viewer)
		return resp.StatusCode
	}
	if a, b, c := withSecret("198.51.100.40:1000"), withSecret("198.51.100.40:1001"), withSecret("2a00:1450:4001:81b::200e:443"); a != 201 || b != 429 || c != 201 {
		t.Errorf("through the CDN: viewer A %d, A again %d, viewer B %d; want 201 429 201 (each viewer its own bucket)", a, b, c)
	}
	// No secret configured: nothing is refused, and the header is not believed.
	open := newHandler("")
	forged := func(viewer string) int {
		resp, _ := serve(open, "POST", "/api/views", edgeAddr, `{"path":"/a"}`, "CloudFront-Viewer-Address", viewer, "X-Origin-Verify", "anything")
		return resp.StatusCode
	}
	if a, b := forged("198.51.100.41:1"), forged("198.51.100.42:1"); a != 201 || b != 429 {
		t.Errorf("forged CloudFront-Viewer-Address without a secret: %d then %d; want 201 then 429 (limited by the peer)", a, b)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Contains(logs.String(), secret) {
		t.Errorf("the secret was logged: %s", logs.String())
	}
	if got := fmt.Sprintf("%v %+v %#v", httpapi.Edge{OriginSecret: secret}, httpapi.Edge{OriginSecret: secret}, httpapi.Edge{OriginSecret: secret}); strings.Contains(got, secret) {
		t.Errorf("an Edge prints its secret: %s", got)
	}
}

func TestBotsAndPrefetchesAreNotCounted(t *testing.T) {
	t.Parallel()
	rec := &fakeRecorder{}
	h, s := edgeHandler(rec, httpapi.Edge{})
	for _, tt := range []struct {
		headers []string
		status  int
		reason  string
	}{
		{[]string{"User-Agent", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"}, 200, "bot"},
		{[]string{"User-Agent", "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"}, 200, "bot"},
		{[]string{"Sec-Purpose", "prefetch"}, 200, "prefetch"},
		{[]string{"Sec-Purpose", "prefetch;prerender"}, 200, "prefetch"},
		{[]string{"Purpose", "prefetch"}, 200, "prefetch"},
		{[]string{"User-Agent", "Go-http-client/1.1"}, 201, ""},
		{[]string{"User-Agent", "curl/8.5.0"}, 201, ""},
		{[]string{"User-Agent", "python-requests/2.32.3"}, 201, ""},
		{[]string{"User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"}, 201, ""},
	} {
		resp, body := serve(h, "POST", "/api/views", "192.0.2.1:1", `{"path":"/p/"}`, tt.headers...)
		reason, _ := body["reason"].(string)
		if resp.StatusCode != tt.status || body["path"] != "/p" || body["counted"] != (tt.status == 201) || reason != tt.reason {
			t.Errorf("%v: %d %v; want %d reason %q", tt.headers, resp.StatusCode, body, tt.status, tt.reason)
		}
	}
	// A bot's invalid view is still invalid.
	if resp, _ := serve(h, "POST", "/api/views", "192.0.2.1:1", `{"path":"x"}`, "User-Agent", "Googlebot/2.1"); resp.StatusCode != 400 {
		t.Errorf("bot with a bad path = %d, want 400", resp.StatusCode)
	}
	d := s.Drops.Snapshot()
	if rec.count() != 4 || d.Bot != 2 || d.Prefetch != 3 || d.Invalid != 1 {
		t.Errorf("recorded %d, dropped %+v; want 4 recorded, 2 bots, 3 prefetches, 1 invalid", rec.count(), d)
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	h, _ := edgeHandler(&fakeRecorder{}, httpapi.Edge{CORSOrigins: []string{"https://blog.example"}})
	resp, _ := serve(h, "OPTIONS", "/api/views", "192.0.2.1:1", "", "Origin", "https://blog.example",
		"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type")
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "https://blog.example" ||
		resp.Header.Get("Access-Control-Allow-Methods") != "POST" || !strings.EqualFold(resp.Header.Get("Access-Control-Allow-Headers"), "content-type") {
		t.Errorf("allowed preflight = %d %v", resp.StatusCode, resp.Header)
	}
	resp, body := serve(h, "OPTIONS", "/api/views", "192.0.2.1:1", "", "Origin", "https://evil.example", "Access-Control-Request-Method", "POST")
	if resp.StatusCode != 403 || resp.Header.Get("Access-Control-Allow-Origin") != "" || !strings.Contains(body["detail"].(string), "evil.example") {
		t.Errorf("refused preflight = %d %v %v", resp.StatusCode, resp.Header, body)
	}
	resp, _ = serve(h, "POST", "/api/views", "192.0.2.1:1", `{"path":"/a"}`, "Origin", "https://blog.example")
	if resp.StatusCode != 201 || resp.Header.Get("Access-Control-Allow-Origin") != "https://blog.example" || !strings.Contains(resp.Header.Get("Vary"), "Origin") {
		t.Errorf("allowed POST = %d %v", resp.StatusCode, resp.Header)
	}
	resp, _ = serve(h, "POST", "/api/views", "192.0.2.1:1", `{"path":"/a"}`, "Origin", "https://evil.example")
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("other origin's POST got CORS headers: %v", resp.Header)
	}
	// Reads are public: any origin's preflight passes, for GET only.
	resp, _ = serve(h, "OPTIONS", "/api/stats", "192.0.2.1:1", "", "Origin", "https://evil.example", "Access-Control-Request-Method", "GET")
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "https://evil.example" || resp.Header.Get("Access-Control-Allow-Methods") != "GET" {
		t.Errorf("preflight of a read = %d %v", resp.StatusCode, resp.Header)
	}
	resp, _ = serve(h, "OPTIONS", "/api/stats", "192.0.2.1:1", "", "Origin", "https://evil.example", "Access-Control-Request-Method", "DELETE")
	if resp.StatusCode != 403 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight of DELETE on a read = %d %v", resp.StatusCode, resp.Header)
	}
	// Without configured origins recording has no CORS at all.
	h2, _ := edgeHandler(&fakeRecorder{}, httpapi.Edge{})
	resp, _ = serve(h2, "OPTIONS", "/api/views", "192.0.2.1:1", "", "Origin", "https://blog.example", "Access-Control-Request-Method", "POST")
	if resp.StatusCode != 405 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight with CORS off = %d %v", resp.StatusCode, resp.Header)
	}
	resp, _ = serve(h2, "POST", "/api/views", "192.0.2.1:1", `{"path":"/a"}`, "Origin", "https://blog.example")
	if resp.StatusCode != 201 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("POST with CORS off = %d %v", resp.StatusCode, resp.Header)
	}
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	h, _ := edgeHandler(&fakeRecorder{}, httpapi.Edge{})
	want := map[string]string{
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
		"Referrer-Policy":         "no-referrer",
		"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
	}
	for _, target := range []string{"/healthz", "/api/nothing", "/api/stats?bucket=week", "/api/openapi.yaml"} {
		resp, _ := serve(h, "GET", target, "192.0.2.1:1", "")
		for k, v := range want {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("GET %s: %s = %q, want %q", target, k, got, v)
			}
		}
		if resp.Header.Get("Permissions-Policy") == "" || resp.Header.Get("Strict-Transport-Security") != "" {
			t.Errorf("GET %s: Permissions-Policy %q, HSTS %q", target, resp.Header.Get("Permissions-Policy"), resp.Header.Get("Strict-Transport-Security"))
		}
	}
	// The page keeps the policy internal/web chose.
	s := &httpapi.Server{Recorder: &fakeRecorder{}, Stats: &stats.Service{}, Log: slog.New(slog.DiscardHandler)}
	page := httpapi.NewHandler(s, httpapi.Options{Log: slog.New(slog.DiscardHandler), Edge: httpapi.Edge{HSTS: true},
		Web: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Security-Policy", "default-src 'self'")
			io.WriteString(w, "<html></html>")
		})})
	resp, _ := serve(page, "GET", "/", "192.0.2.1:1", "")
	if resp.Header.Get("Content-Security-Policy") != "default-src 'self'" || resp.Header.Get("X-Content-Type-Options") != "nosniff" ||
		!strings.HasPrefix(resp.Header.Get("Strict-Transport-Security"), "max-age=") {
		t.Errorf("page headers: %v", resp.Header)
	}
	// Over TLS HSTS is on without configuration.
	tls := httptest.NewTLSServer(h)
	defer tls.Close()
	r, err := tls.Client().Get(tls.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.Header.Get("Strict-Transport-Security") == "" {
		t.Error("no HSTS over TLS")
	}
}

func TestDroppedInStats(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	do(t, srv, "POST", "/api/views", `{"path":"nope"}`)
	do(t, srv, "POST", "/api/views", `{"path":"/a","x":1}`)
	req, _ := http.NewRequest("POST", srv.URL+"/api/views", strings.NewReader(`{"path":"/a"}`))
	req.Header.Set("User-Agent", "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	_, body := do(t, srv, "GET", "/api/stats", "")
	d, _ := body["dropped"].(map[string]any)
	if d == nil || d["invalid"] != 2.0 || d["bot"] != 1.0 || d["rateLimited"] != 0.0 || d["since"] == nil || body["total"] != 0.0 {
		t.Errorf("stats = %v", body)
	}
	// A bot gets the count from /api/home without adding to it.
	req, _ = http.NewRequest("GET", srv.URL+"/api/home", nil)
	req.Header.Set("User-Agent", "Googlebot/2.1 (+http://www.google.com/bot.html)")
	resp, err = srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var home map[string]any
	json.NewDecoder(resp.Body).Decode(&home)
	resp.Body.Close()
	if resp.StatusCode != 200 || home["pageViews"] != 0.0 || home["counted"] != false {
		t.Errorf("bot GET /api/home = %d %v", resp.StatusCode, home)
	}
}

func TestConfigDefaultsMatchEdge(t *testing.T) {
	c, err := config.Load(func(string) string { return "" }, config.Serve)
	if err != nil {
		t.Fatal(err)
	}
	d := httpapi.DefaultEdge()
	if c.RateLimit != d.RateLimit || c.RateBurst != d.RateBurst || c.ReadRateLimit != d.ReadRateLimit || c.ReadRateBurst != d.ReadRateBurst ||
		c.RateExemptLoopback != d.RateExemptLoopback || c.OriginSecret != d.OriginSecret ||
		c.MaxConns != httpapi.DefaultMaxConns || c.MaxConnsPerClient != httpapi.DefaultMaxConnsPerClient ||
		c.DBTimeout != d.DBTimeout || c.HSTS || len(c.CORSOrigins) != 0 || len(c.TrustedProxies) != 0 {
		t.Errorf("config defaults %+v differ from httpapi.DefaultEdge %+v", c, d)
	}
	c, err = config.Load(func(k string) string {
		return map[string]string{"PRAWN_TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1", "PRAWN_CORS_ORIGINS": "https://a.example,*"}[k]
	}, config.Serve)
	if err != nil || len(c.TrustedProxies) != 2 || c.TrustedProxies[1] != netip.MustParsePrefix("127.0.0.1/32") || len(c.CORSOrigins) != 2 {
		t.Errorf("config = %+v, %v", c, err)
	}
	_, err = config.Load(func(k string) string {
		return map[string]string{"PRAWN_TRUSTED_PROXIES": "cloudfront", "PRAWN_CORS_ORIGINS": "https://a.example/path",
			"PRAWN_RATE_LIMIT": "-1", "PRAWN_RATE_BURST": "0", "PRAWN_HSTS": "yes please", "PRAWN_DB_TIMEOUT": "soon"}[k]
	}, config.Serve)
	for _, name := range []string{"PRAWN_TRUSTED_PROXIES", "PRAWN_CORS_ORIGINS", "PRAWN_RATE_LIMIT", "PRAWN_RATE_BURST", "PRAWN_HSTS", "PRAWN_DB_TIMEOUT"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("invalid %s not reported: %v", name, err)
		}
	}
}

// TestEdgeFollowsTheOperationsKind checks that the edge applies by kind: the recording operations
// share one rate limit per client and answer CORS to the configured origins; reads (without a
// read limit configured) are not rate limited and answer every origin (Access-Control-Allow-Origin: *, no credentials); meta
// operations have neither.
func TestEdgeFollowsTheOperationsKind(t *testing.T) {
	t.Parallel()
	store := pgtest.Store(t)
	s := &httpapi.Server{Recorder: &fakeRecorder{}, Stats: &stats.Service{Store: store}, Ready: store.Ping, Log: slog.New(slog.DiscardHandler)}
	h := httpapi.NewHandler(s, httpapi.Options{Log: slog.New(slog.DiscardHandler), Edge: httpapi.Edge{
		RateLimit: 1, RateBurst: 1, CORSOrigins: []string{"https://blog.example"}}})
	const client = "192.0.2.9:1"
	origin := []string{"Origin", "https://blog.example"}
	resp, body := serve(h, "GET", "/api/home", client, "", origin...)
	if resp.StatusCode != 200 || body["counted"] != true || resp.Header.Get("Access-Control-Allow-Origin") != "https://blog.example" {
		t.Errorf("GET /api/home = %d %v %v; want 200, counted, readable by the configured origin", resp.StatusCode, body, resp.Header)
	}
	for _, req := range [][2]string{{"GET", "/api/home"}, {"POST", "/api/views"}} {
		body := ""
		if req[0] == "POST" {
			body = `{"path":"/a"}`
		}
		if resp, _ := serve(h, req[0], req[1], client, body); resp.StatusCode != 429 {
			t.Errorf("%s %s after the burst = %d, want 429: the recording operations share the client's bucket", req[0], req[1], resp.StatusCode)
		}
	}
	// A badge that only shows its count is a read, but one that README images make through a few
	// image proxies: it is limited by the recording bucket (spent above), and readable anywhere.
	for _, target := range []string{"/api/badge.svg?path=/a", "/api/badge.svg?path=/a&record=false"} {
		if resp, _ := serve(h, "GET", target, client, "", "Origin", "https://other.example"); resp.StatusCode != 429 || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("GET %s after the burst = %d, ACAO %q; want 429 (the recording bucket), ACAO *", target, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
		}
	}
	for _, target := range []string{"/api/stats", "/api/pages", "/api/hosts", "/api/breakdown?by=browser", "/api/badge.json?path=/a",
		"/healthz", "/readyz", "/api/openapi.yaml"} {
		want := "*"
		if !strings.HasPrefix(target, "/api/") || target == "/api/openapi.yaml" {
			want = ""
		}
		for range 3 {
			resp, _ := serve(h, "GET", target, client, "", "Origin", "https://other.example")
			if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != want || resp.Header.Get("Access-Control-Allow-Credentials") != "" {
				t.Errorf("GET %s = %d, ACAO %q; want 200 without rate limit, ACAO %q", target, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"), want)
			}
		}
	}
	// Errors of reads are readable too.
	if resp, _ := serve(h, "GET", "/api/stats?bucket=week", client, "", "Origin", "https://other.example"); resp.StatusCode != 400 || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("bad read = %d ACAO %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}
	// The pixel and a recording badge record: the client's bucket is empty.
	for _, target := range []string{"/api/views.gif?path=/a", "/api/badge.svg?path=/a&record=true", "/api/badge.svg?path=/a&record=1"} {
		if resp, _ := serve(h, "GET", target, client, ""); resp.StatusCode != 429 {
			t.Errorf("GET %s after the burst = %d, want 429", target, resp.StatusCode)
		}
	}
	resp, _ = serve(h, "OPTIONS", "/api/home", client, "", "Origin", "https://blog.example", "Access-Control-Request-Method", "GET")
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Methods") != "GET" {
		t.Errorf("preflight of GET /api/home = %d %v", resp.StatusCode, resp.Header)
	}
	resp, body = serve(h, "OPTIONS", "/api/views", client, "")
	if detail, _ := body["detail"].(string); resp.StatusCode != 405 || resp.Header.Get("Allow") != "POST" || detail != "OPTIONS is not allowed on /api/views; allowed: POST" {
		t.Errorf("OPTIONS /api/views that is no preflight = %d Allow %q %v", resp.StatusCode, resp.Header.Get("Allow"), body)
	}
	if d := s.Drops.Snapshot(); d.RateLimited != 5 {
		t.Errorf("rateLimited = %d, want 5", d.RateLimited)
	}
}

// TestRouterAnswersAreProblems checks the ServeMux's own answers: 404, 405 with Allow and 400
// for a target of * become problems; its redirects to a clean path stay redirects.
func TestRouterAnswersAreProblems(t *testing.T) {
	t.Parallel()
	h, _ := edgeHandler(&fakeRecorder{}, httpapi.Edge{})
	for _, tt := range []struct {
		method, target string
		status         int
		detail         string
	}{
		{"GET", "/nothing", 404, "nothing at /nothing"},
		{"POST", "/api/stats", 405, "POST is not allowed on /api/stats; allowed: GET, HEAD, OPTIONS"},
		{"GET", "*", 400, "GET * is not a request this server answers"},
	} {
		req := httptest.NewRequest(tt.method, "/", nil)
		req.RequestURI, req.URL.Path = tt.target, tt.target
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		var p map[string]any
		err := json.Unmarshal(w.Body.Bytes(), &p)
		if w.Code != tt.status || w.Header().Get("Content-Type") != "application/problem+json" || err != nil || p["detail"] != tt.detail {
			t.Errorf("%s %s = %d %s %q; want a %d problem saying %q", tt.method, tt.target, w.Code, w.Header().Get("Content-Type"), w.Body, tt.status, tt.detail)
		}
	}
	// Issue 18 finding 9: the ServeMux redirected unclean API paths with a text/html 307.
	for _, tt := range []struct{ method, target, meant string }{
		{"GET", "/api//stats", "/api/stats"},
		{"POST", "/api//views", "/api/views"},
		{"GET", "/api/../api/home", "/api/home"},
		{"GET", "/api/./pages", "/api/pages"},
		{"GET", "//healthz", "/healthz"},
		{"GET", "/api", "/api/"},
		{"POST", "//about", "/about"},
	} {
		req := httptest.NewRequest(tt.method, "/", strings.NewReader(`{"path":"/a"}`))
		req.URL.Path, req.RequestURI = tt.target, tt.target
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		var p map[string]any
		err := json.Unmarshal(w.Body.Bytes(), &p)
		if w.Code != 404 || w.Header().Get("Content-Type") != "application/problem+json" || err != nil || w.Header().Get("Location") != "" ||
			!strings.Contains(fmt.Sprint(p["detail"]), "did you mean "+tt.meant+"?") {
			t.Errorf("%s %s = %d %s Location %q %s; want a 404 problem naming %s", tt.method, tt.target, w.Code, w.Header().Get("Content-Type"), w.Header().Get("Location"), w.Body, tt.meant)
		}
	}
}
