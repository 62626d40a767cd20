package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prawnhq/prawn/internal/app"
	"github.com/prawnhq/prawn/internal/pageview"
	"github.com/prawnhq/prawn/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	a := app.New(pgtest.Store(t), slog.New(slog.DiscardHandler))
	a.Web = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<html>page</html>")
	})
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return srv
}

func do(t *testing.T, srv *httptest.Server, method, path, body string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if strings.Contains(resp.Header.Get("Content-Type"), "json") {
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("%s %s: body is not JSON: %q", method, path, raw)
		}
	}
	return resp, m
}

func TestRecordThenRead(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	resp, body := do(t, srv, "POST", "/api/views", `{"path":"/a/","referrer":"https://example.com/"}`)
	if resp.StatusCode != 201 || body["path"] != "/a" {
		t.Fatalf("POST /api/views = %d %v", resp.StatusCode, body)
	}
	do(t, srv, "POST", "/api/views", `{"path":"/a?x=1"}`)
	do(t, srv, "POST", "/api/views", `{"path":"/b"}`)

	resp, body = do(t, srv, "GET", "/api/stats?path=/a", "")
	if resp.StatusCode != 200 || body["total"] != 2.0 || body["bucket"] != "hour" {
		t.Fatalf("GET /api/stats?path=/a = %d %v", resp.StatusCode, body)
	}
	series := body["series"].([]any)
	var sum float64
	for _, b := range series {
		sum += b.(map[string]any)["views"].(float64)
	}
	if len(series) != 25 || sum != 2 {
		t.Errorf("series: %d buckets summing to %v; want 25 summing to 2", len(series), sum)
	}

	_, body = do(t, srv, "GET", "/api/stats", "")
	if body["total"] != 3.0 || body["path"] != nil {
		t.Errorf("site stats = %v", body)
	}
	_, body = do(t, srv, "GET", "/api/home", "")
	if body["pageViews"] != 4.0 {
		t.Errorf("/api/home = %v, want 4 (three views and this one)", body)
	}
	_, body = do(t, srv, "GET", "/api/pages?limit=2", "")
	pages := body["pages"].([]any)
	if len(pages) != 2 || pages[0].(map[string]any)["path"] != "/a" || pages[0].(map[string]any)["views"] != 2.0 {
		t.Errorf("/api/pages = %v", body)
	}
}

func TestOperations(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	for _, tt := range []struct {
		path, ctype, contains string
	}{
		{"/healthz", "application/json", `"ok"`},
		{"/readyz", "application/json", `"ok"`},
		{"/api/openapi.yaml", "application/yaml", "openapi: 3.0.3"},
		{"/", "text/html", "<html>"},
		{"/some/page", "text/html", "<html>"},
	} {
		resp, err := srv.Client().Get(srv.URL + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), tt.ctype) || !strings.Contains(string(b), tt.contains) {
			t.Errorf("GET %s = %d %s %.60q", tt.path, resp.StatusCode, resp.Header.Get("Content-Type"), b)
		}
	}
}

func TestErrorsAreProblems(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	for _, tt := range []struct {
		method, path, body string
		status             int
		detail             string
	}{
		{"POST", "/api/views", `{"path":"nope"}`, 400, `path must start with "/"`},
		{"POST", "/api/views", `{}`, 400, "give the page's url (or its path)"},
		{"POST", "/api/views", `{"path":5}`, 400, `field "path" must be a string`},
		{"POST", "/api/views", `{"path":`, 400, "ends in the middle"},
		{"POST", "/api/views", `not json`, 400, "not valid JSON"},
		{"POST", "/api/views", ``, 400, "request body is empty"},
		{"POST", "/api/views", `[]`, 400, "must be a JSON object"},
		{"POST", "/api/views", `{"path":"/` + strings.Repeat("a", 600) + `"}`, 400, "at most 512"},
		{"POST", "/api/views", `{"path":"/a","referrer":"` + strings.Repeat("r", 9000) + `"}`, 413, "at most 8192"},
		{"POST", "/api/views", `{"path":"/a\u0007"}`, 400, "control character"},
		{"GET", "/api/stats?bucket=week", "", 400, `bucket must be "hour" or "day"`},
		{"GET", "/api/stats?tz=Nowhere/City", "", 400, "unknown time zone"},
		{"GET", "/api/stats?from=yesterday", "", 400, `"from" must be an RFC 3339 time`},
		{"GET", "/api/stats?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "", 400, "must be before"},
		{"GET", "/api/stats?from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", "", 400, "more than 1500"},
		{"GET", "/api/pages?limit=0", "", 400, "limit must be between 1 and 100"},
		{"GET", "/api/pages?limit=ten", "", 400, `"limit" must be a whole number`},
		{"GET", "/api/nothing", "", 404, "no API operation at /api/nothing"},
		{"DELETE", "/api/views", "", 405, "DELETE is not allowed on /api/views"},
		{"PUT", "/healthz", "", 405, "PUT is not allowed"},
	} {
		resp, body := do(t, srv, tt.method, tt.path, tt.body)
		detail, _ := body["detail"].(string)
		if resp.StatusCode != tt.status || resp.Header.Get("Content-Type") != "application/problem+json" ||
			!strings.Contains(detail, tt.detail) || body["status"] != float64(tt.status) || body["title"] == "" {
			t.Errorf("%s %.60s: %d %s %v; want %d problem with detail containing %q",
				tt.method, tt.path, resp.StatusCode, resp.Header.Get("Content-Type"), body, tt.status, tt.detail)
		}
	}
	// Nothing of the rejected requests was recorded.
	if _, body := do(t, srv, "GET", "/api/stats", ""); body["total"] != 0.0 {
		t.Errorf("after only bad requests, total = %v", body["total"])
	}
}

func TestHeadHomeDoesNotCount(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	for range 3 {
		resp, err := srv.Client().Head(srv.URL + "/api/home")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("HEAD /api/home = %d", resp.StatusCode)
		}
	}
	if _, body := do(t, srv, "GET", "/api/stats", ""); body["total"] != 0.0 {
		t.Errorf("after three HEAD /api/home, total = %v; want 0", body["total"])
	}
	if _, body := do(t, srv, "GET", "/api/home", ""); body["pageViews"] != 1.0 {
		t.Errorf("GET /api/home after the HEADs = %v; want 1", body["pageViews"])
	}
}

// TestFloodOfNewPathsIsBounded is issue 18 finding 1's last part, against a real Postgres: a
// flood of made-up paths (each a rollup row per hour and per day, kept for ever) was counted path
// by path. Now a host gains at most PRAWN_MAX_NEW_PATHS new paths a day; the views beyond count
// for the site under /(other), so totals stay exact and the paths stay bounded.
func TestFloodOfNewPathsIsBounded(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	a := app.New(db.Store, slog.New(slog.DiscardHandler))
	a.Budget = pageview.NewBudget(5, nil)
	a.Edge.RateLimit = 0
	h := a.Handler()
	const flood = 40
	other := 0
	for i := range flood {
		// From as many addresses: the rate limit is not what bounds this.
		resp, body := serve(h, "POST", "/api/views", fmt.Sprintf("198.51.100.%d:1", i), fmt.Sprintf(`{"path":"/junk/%d"}`, i))
		if resp.StatusCode != 201 {
			t.Fatalf("view %d = %d %v", i, resp.StatusCode, body)
		}
		if body["path"] == pageview.OtherPath {
			other++
		} else if body["path"] != fmt.Sprintf("/junk/%d", i) {
			t.Errorf("view %d answered path %v", i, body["path"])
		}
	}
	if other != flood-5 {
		t.Errorf("%d views counted under %s, want %d", other, pageview.OtherPath, flood-5)
	}
	var paths int
	if err := db.Conn(t).QueryRow(context.Background(), "SELECT count(DISTINCT path) FROM views").Scan(&paths); err != nil {
		t.Fatal(err)
	}
	if paths != 6 {
		t.Errorf("%d distinct paths stored, want 6 (5 and %s)", paths, pageview.OtherPath)
	}
	db.FoldAll(t)
	_, stats := serve(h, "GET", "/api/stats", "192.0.2.1:1", "")
	_, pages := serve(h, "GET", "/api/pages?limit=100", "192.0.2.1:1", "")
	list, _ := pages["pages"].([]any)
	if stats["total"] != float64(flood) || len(list) != 6 {
		t.Errorf("after the flood: total %v, %d pages listed; want %d and 6", stats["total"], len(list), flood)
	}
	if first, _ := list[0].(map[string]any); first["path"] != pageview.OtherPath || first["views"] != float64(flood-5) {
		t.Errorf("top page = %v, want %s with %d views", first, pageview.OtherPath, flood-5)
	}
}

// TestReadsInFlightAreBounded is issue 18 finding 1's cost part, against a real Postgres whose
// rollups another transaction holds locked (every read takes as long as its deadline): one
// client's reads beyond ReadsPerClient wait for its own instead of taking more connections, other
// clients' reads get theirs, and reads never take more than MaxReads connections. Postgres itself
// says how many reads wait on the lock.
func TestReadsInFlightAreBounded(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	lockWaiters, unlock := lockTable(t, db, "totals")
	a := app.New(db.Store, slog.New(slog.DiscardHandler))
	a.Edge.ReadsPerClient, a.Edge.MaxReads, a.Edge.DBTimeout = 1, 2, 3*time.Second
	h := a.Handler()
	answers := make(chan int, 8)
	read := func(addr string) {
		resp, _ := serve(h, "GET", "/api/hosts", addr, "")
		answers <- resp.StatusCode
	}
	waiting := func(want int) {
		t.Helper()
		count := lockWaiters
		for i := 0; count() != want && i < 100; i++ {
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(200 * time.Millisecond) // and no more arrive
		if n := count(); n != want {
			t.Errorf("%d reads wait on the database, want %d", n, want)
		}
	}
	for range 3 {
		go read("198.51.100.1:1") // one client, three reads at once: one reaches the database
	}
	waiting(1)
	go read("198.51.100.2:1") // another client is not held up by the first
	waiting(2)
	go read("198.51.100.3:1") // a third finds both of the server's read slots taken
	waiting(2)
	unlock()
	for range 5 {
		if code := <-answers; code != 200 && code != 429 && code != 503 {
			t.Errorf("a read answered %d", code)
		}
	}
	if resp, _ := serve(h, "GET", "/api/hosts", "198.51.100.1:4", ""); resp.StatusCode != 200 {
		t.Errorf("a read once the lock is gone = %d", resp.StatusCode)
	}
}
