package lambda

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/jackc/pgx/v5"

	"github.com/prawnhq/prawn/internal/app"
	"github.com/prawnhq/prawn/internal/config"
	"github.com/prawnhq/prawn/internal/pageview"
	"github.com/prawnhq/prawn/internal/pgtest"
	"github.com/prawnhq/prawn/internal/rollup"
	"github.com/prawnhq/prawn/internal/stats"
	"github.com/prawnhq/prawn/internal/storage"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// fixture decodes testdata/name into v.
func fixture(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func quietLog() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// testApp is prawn on a fresh migrated database, with the URL to look behind it.
func testApp(t *testing.T) (*app.App, string) {
	t.Helper()
	url := pgtest.URL(t)
	store, err := storage.Open(context.Background(), url, storage.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	return app.New(store, quietLog()), url
}

func queryInt(t *testing.T, url, sql string, args ...any) int64 {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var n int64
	if err := c.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func invokeAPI(t *testing.T, h *API, name string) events.APIGatewayV2HTTPResponse {
	t.Helper()
	var ev events.APIGatewayV2HTTPRequest
	fixture(t, name, &ev)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := h.Handle(ctx, ev)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return resp
}

func TestAPIRecordsAndReadsThroughTheServeHandler(t *testing.T) {
	t.Parallel()
	a, url := testApp(t)
	h := NewAPI(a.Handler(), nil, a.Log)

	resp := invokeAPI(t, h, "api-post-view.json")
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /api/views: status %d, body %s", resp.StatusCode, resp.Body)
	}
	if got := resp.Headers["X-Request-Id"]; got != "fixture-post-1" {
		t.Errorf("X-Request-Id = %q, want the request's fixture-post-1", got)
	}
	if !strings.HasPrefix(resp.Headers["Content-Type"], "application/json") {
		t.Errorf("Content-Type = %q", resp.Headers["Content-Type"])
	}
	resp = invokeAPI(t, h, "api-post-view-base64.json")
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /api/views (base64 body): status %d, body %s", resp.StatusCode, resp.Body)
	}
	if n := queryInt(t, url, "SELECT count(*) FROM views WHERE path = '/docs'"); n != 2 {
		t.Fatalf("views of /docs in the database = %d, want 2", n)
	}
	if n := queryInt(t, url, "SELECT count(*) FROM views WHERE referrer = 'https://example.org/'"); n != 1 {
		t.Errorf("views with the base64 body's referrer = %d, want 1", n)
	}

	resp = invokeAPI(t, h, "api-get-stats.json")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/stats: status %d, body %s", resp.StatusCode, resp.Body)
	}
	var stats struct {
		Path  string `json:"path"`
		Total int64  `json:"total"`
		Tz    string `json:"tz"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &stats); err != nil {
		t.Fatalf("stats body %q: %v", resp.Body, err)
	}
	if stats.Path != "/docs" || stats.Total != 2 || stats.Tz != "Europe/Paris" {
		t.Errorf("stats = %+v, want path /docs, total 2, tz Europe/Paris (from the query string)", stats)
	}

	resp = invokeAPI(t, h, "api-get-unknown.json")
	if resp.StatusCode != http.StatusNotFound || !strings.HasPrefix(resp.Headers["Content-Type"], "application/problem+json") {
		t.Errorf("GET /api/nope: status %d, type %q; want 404 problem+json", resp.StatusCode, resp.Headers["Content-Type"])
	}
}

func TestAPIPassesCookiesHeadersQueryAndBinaryBodies(t *testing.T) {
	t.Parallel()
	var got *http.Request
	var body []byte
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		body, _ = io.ReadAll(r.Body)
		http.SetCookie(w, &http.Cookie{Name: "a", Value: "1", Path: "/"})
		http.SetCookie(w, &http.Cookie{Name: "b", Value: "2", HttpOnly: true})
		w.Header().Set("Content-Type", "application/octet-stream")
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte{0xff, 0xfe, 0x00})
	})
	resp := invokeAPI(t, NewAPI(echo, nil, quietLog()), "api-echo.json")

	if got.Method != http.MethodPut {
		t.Errorf("method = %s", got.Method)
	}
	if got.URL.Path != "/echo/a b" {
		t.Errorf("path = %q", got.URL.Path)
	}
	if q := got.URL.Query(); len(q["q"]) != 2 || q.Get("name") != "Jürgen" {
		t.Errorf("query = %v", q)
	}
	if c, err := got.Cookie("session"); err != nil || c.Value != "abc123" {
		t.Errorf("cookie session = %v, %v", c, err)
	}
	if c, err := got.Cookie("theme"); err != nil || c.Value != "dark" {
		t.Errorf("cookie theme = %v, %v", c, err)
	}
	if got.Header.Get("X-Custom") != "one" || len(got.Header.Values("Accept")) != 2 {
		t.Errorf("headers = %v", got.Header)
	}
	if got.RemoteAddr != "198.51.100.7" {
		t.Errorf("RemoteAddr = %q, want the source IP", got.RemoteAddr)
	}
	if !bytes.Equal(body, []byte{0, 1, 2, 0xff}) {
		t.Errorf("body = %v, want the base64-decoded bytes", body)
	}

	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("status = %d", resp.StatusCode)
	}
	if len(resp.Cookies) != 2 || !strings.HasPrefix(resp.Cookies[0], "a=1") || !strings.Contains(resp.Cookies[1], "HttpOnly") {
		t.Errorf("response cookies = %q, want both Set-Cookie values", resp.Cookies)
	}
	if _, ok := resp.Headers["Set-Cookie"]; ok {
		t.Errorf("Set-Cookie left in headers: %v", resp.Headers)
	}
	if !resp.IsBase64Encoded || resp.Body != "//4A" {
		t.Errorf("binary response: base64 %v body %q, want true //4A", resp.IsBase64Encoded, resp.Body)
	}
}

// counter is an AuthCounter for tests.
type counter struct{ n atomic.Uint64 }

func (c *counter) AuthFailures() uint64 { return c.n.Load() }

func TestAPIRetriesOnceAfterTheDatabaseRefusedThePassword(t *testing.T) {
	t.Parallel()
	var db counter
	var calls int
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if calls == 1 { // the pool's connection attempt was refused: rotated secret
			db.n.Add(1)
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	resp := invokeAPI(t, NewAPI(h, &db, quietLog()), "api-get-stats.json")
	if resp.StatusCode != http.StatusOK || calls != 2 {
		t.Errorf("status %d after %d calls, want 200 after 2", resp.StatusCode, calls)
	}

	calls = 0
	plain := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	resp = invokeAPI(t, NewAPI(plain, &db, quietLog()), "api-get-stats.json")
	if resp.StatusCode != http.StatusServiceUnavailable || calls != 1 {
		t.Errorf("status %d after %d calls, want 503 after 1: only refused passwords are retried", resp.StatusCode, calls)
	}
}

func TestRollupFoldsOnAScheduledEvent(t *testing.T) {
	t.Parallel()
	a, url := testApp(t)
	api := NewAPI(a.Handler(), nil, a.Log)
	invokeAPI(t, api, "api-post-view.json")
	invokeAPI(t, api, "api-post-view-base64.json")

	var ev events.EventBridgeEvent
	fixture(t, "scheduled-event.json", &ev)
	if ev.DetailType != "Scheduled Event" {
		t.Fatalf("fixture detail-type = %q", ev.DetailType)
	}
	h, err := New(HandlerRollup, a, nil)
	if err != nil {
		t.Fatal(err)
	}
	handle := h.(func(context.Context, events.EventBridgeEvent) (RollupSummary, error))
	// The fold stops short of transactions still running anywhere on the server (other tests'),
	// so a run may fold fewer; run again until both views are in, as the schedule would.
	var folded int64
	var sum RollupSummary
	pgtest.Eventually(t, 15*time.Second, func() error {
		var err error
		sum, err = handle(context.Background(), ev)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Busy || sum.Batches < 1 {
			t.Fatalf("summary = %+v, want a run", sum)
		}
		if folded += sum.Folded; folded != 2 {
			return fmt.Errorf("folded %d views in all, want 2", folded)
		}
		return nil
	})
	if n := queryInt(t, url, "SELECT views FROM totals WHERE path = '/docs'"); n != 2 {
		t.Errorf("totals for /docs = %d, want 2", n)
	}
	b, _ := json.Marshal(sum)
	if !strings.Contains(string(b), `"folded":`) || !strings.Contains(string(b), `"duration_ms":`) {
		t.Errorf("summary JSON = %s", b)
	}

	sum, err = handle(context.Background(), ev)
	if err != nil || sum.Folded != 0 {
		t.Errorf("second run: %+v, %v; want nothing folded", sum, err)
	}
}

func TestRollupFailureIsAnInvocationError(t *testing.T) {
	t.Parallel()
	// Nothing listens on port 1: the rollup cannot reach the database.
	store, err := storage.Open(context.Background(), "postgres://prawn@127.0.0.1:1/prawn?sslmode=disable&connect_timeout=2", storage.Options{MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	r := &Rollup{Store: store, Log: quietLog()}
	var ev events.EventBridgeEvent
	fixture(t, "scheduled-event.json", &ev)
	if _, err := r.Handle(context.Background(), ev); err == nil || !strings.Contains(err.Error(), "rollup failed") {
		t.Errorf("err = %v, want a rollup failure", err)
	}
}

func TestMigrateBringsTheSchemaUpToDateOnAnyEvent(t *testing.T) {
	t.Parallel()
	a, url := testApp(t)
	ctx := context.Background()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	// An empty database, as RDS creates it.
	if _, err := c.Exec(ctx, "DROP SCHEMA public CASCADE; CREATE SCHEMA public"); err != nil {
		t.Fatal(err)
	}
	c.Close(ctx)

	m := &Migrate{Store: a.Store, Log: a.Log}
	sum, err := m.Handle(ctx, readRaw(t, "cfn-create.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Applied) == 0 || sum.Skipped != "" {
		t.Fatalf("summary = %+v, want migrations applied", sum)
	}
	if n := queryInt(t, url, "SELECT count(*) FROM rollup_state"); n != 1 {
		t.Errorf("rollup_state rows = %d, want 1 after migrating", n)
	}

	for _, payload := range []string{`{}`, `null`, `"hello"`, `[1,2]`} {
		sum, err := m.Handle(ctx, json.RawMessage(payload))
		if err != nil || len(sum.Applied) != 0 || sum.Applied == nil {
			t.Errorf("payload %s: %+v, %v; want an up-to-date schema and an empty list", payload, sum, err)
		}
	}

	sum, err = m.Handle(ctx, readRaw(t, "cfn-delete.json"))
	if err != nil || sum.Skipped == "" {
		t.Errorf("CloudFormation Delete: %+v, %v; want skipped", sum, err)
	}
	b, _ := json.Marshal(sum)
	if !strings.Contains(string(b), `"applied":[]`) {
		t.Errorf("summary JSON = %s", b)
	}
}

func readRaw(t *testing.T, name string) json.RawMessage {
	t.Helper()
	var raw json.RawMessage
	fixture(t, name, &raw)
	return raw
}

func TestMainRefusesAnUnknownOrMissingHandler(t *testing.T) {
	t.Parallel()
	for _, h := range []string{"", "serve", "API"} {
		err := Main(func(name string) string {
			if name == "_HANDLER" {
				return h
			}
			return ""
		})
		if err == nil || !strings.Contains(err.Error(), "api, rollup, migrate") || !strings.Contains(err.Error(), "_HANDLER") {
			t.Errorf("_HANDLER=%q: err = %v, want one naming the valid handlers", h, err)
		}
	}
}

func TestMainRefusesMissingDatabaseSettings(t *testing.T) {
	t.Parallel()
	err := Main(func(name string) string {
		if name == "_HANDLER" {
			return "api"
		}
		return ""
	})
	if err == nil || !strings.Contains(err.Error(), "DB_HOST") || !strings.Contains(err.Error(), "DB_SECRET_ARN") {
		t.Errorf("err = %v, want one naming the missing settings", err)
	}
}

func TestMainReadsTheConfiguration(t *testing.T) {
	t.Parallel()
	env := func(vars map[string]string) func(string) string { return func(k string) string { return vars[k] } }
	err := Main(env(map[string]string{"_HANDLER": "api", "PRAWN_INGEST_FLUSHERS": "2", "PRAWN_RATE_LIMIT": "fast"}))
	if err == nil || !strings.Contains(err.Error(), "PRAWN_RATE_LIMIT") {
		t.Errorf("api with a bad PRAWN_RATE_LIMIT: err = %v, want it named", err)
	}
	err = Main(env(map[string]string{"_HANDLER": "api", "PRAWN_INGEST_FLUSHERS": "2"}))
	if err == nil || !strings.Contains(err.Error(), "PRAWN_INGEST_FLUSHERS=2 with the pool of a Lambda instance (2 connections)") {
		t.Errorf("api with as many flushers as connections: err = %v", err)
	}
	// The rollup and migrate handlers record nothing: the ingest settings are not checked
	// against their pool (init goes on to the database settings).
	err = Main(env(map[string]string{"_HANDLER": "rollup", "PRAWN_INGEST_FLUSHERS": "2"}))
	if err == nil || strings.Contains(err.Error(), "PRAWN_INGEST_FLUSHERS") || !strings.Contains(err.Error(), "DB_HOST") {
		t.Errorf("rollup: err = %v, want only the missing database settings", err)
	}
}

// commitThenRefuse records a view for real and then fails as a connection does whose password was
// refused after the COMMIT went out (a rotated secret while the answer was lost): the view is
// stored, the request answers 503 and the instance has seen a refused password.
type commitThenRefuse struct {
	pageview.Recorder
	db *counter
}

func (c commitThenRefuse) Record(ctx context.Context, v pageview.View) error {
	if err := c.Recorder.Record(ctx, v); err != nil {
		return err
	}
	c.db.n.Add(1)
	return fmt.Errorf("%w: the connection broke after the commit and the new one was refused", pageview.ErrUnavailable)
}

// TestAPIDoesNotRecordTwiceAfterARefusedPassword is issue 18's item 4: one event, and the view it
// recorded must be stored once, even though the answer is 503 and a password was refused.
func TestAPIDoesNotRecordTwiceAfterARefusedPassword(t *testing.T) {
	t.Parallel()
	a, url := testApp(t)
	var db counter
	a.Recorder = commitThenRefuse{Recorder: a.Recorder, db: &db}
	h, err := New(HandlerAPI, a, &db)
	if err != nil {
		t.Fatal(err)
	}
	handle := h.(func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error))
	var ev events.APIGatewayV2HTTPRequest
	fixture(t, "api-post-view.json", &ev)
	resp, err := handle(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503", resp.StatusCode)
	}
	if n := queryInt(t, url, "SELECT count(*) FROM views WHERE path = '/docs'"); n != 1 {
		t.Errorf("one event stored %d views, want 1: a request that may have written is never re-run", n)
	}
}

// A read that fails after a refused password, before anything was recorded, is still retried.
func TestAPIRetriesAReadAfterARefusedPassword(t *testing.T) {
	t.Parallel()
	var db counter
	calls := 0
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if calls == 1 {
			db.n.Add(1)
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	if resp := invokeAPI(t, NewAPI(h, &db, quietLog()), "api-get-stats.json"); resp.StatusCode != http.StatusOK || calls != 2 {
		t.Errorf("status %d after %d calls, want 200 after 2", resp.StatusCode, calls)
	}
}

// TestMigrateProvisionsTheAppRole runs the migrate handler with a role to provision and checks the
// role in the real database.
func TestMigrateProvisionsTheAppRole(t *testing.T) {
	t.Parallel()
	a, url := testApp(t)
	name := fmt.Sprintf("prawn_app_lambda_%d", time.Now().UnixNano()%1_000_000_000)
	t.Cleanup(func() {
		c := connect(t, url)
		for _, q := range []string{"DROP OWNED BY " + name, "DROP ROLE " + name} {
			if _, err := c.Exec(context.Background(), q); err != nil {
				t.Log(err)
			}
		}
	})
	m := &Migrate{Store: a.Store, Log: quietLog(), AppRole: func(context.Context) (storage.AppRole, bool, error) {
		return storage.AppRole{Name: name, Password: "from-the-app-secret"}, true, nil
	}}
	sum, err := m.Handle(context.Background(), json.RawMessage(`{}`))
	if err != nil || sum.AppRole != name || sum.AppRoleAuth != "password" {
		t.Fatalf("summary %+v, %v", sum, err)
	}
	if n := queryInt(t, url, `SELECT count(*) FROM information_schema.role_table_grants WHERE grantee = $1 AND table_name = 'views' AND privilege_type IN ('SELECT', 'INSERT', 'UPDATE', 'DELETE')`, name); n != 4 {
		t.Errorf("privileges on views = %d, want SELECT, INSERT, UPDATE, DELETE", n)
	}
	if n := queryInt(t, url, `SELECT count(*) FROM information_schema.role_table_grants WHERE grantee = $1 AND table_name = 'goose_db_version'`, name); n != 0 {
		t.Errorf("privileges on the migrations' table = %d, want none", n)
	}
	m.AppRole = func(context.Context) (storage.AppRole, bool, error) {
		return storage.AppRole{}, false, fmt.Errorf("secret unreadable")
	}
	if _, err := m.Handle(context.Background(), json.RawMessage(`{}`)); err == nil || !strings.Contains(err.Error(), "app role") {
		t.Errorf("unreadable app secret: %v, want a failed migration (the deploy fails)", err)
	}
}

// logLines collects JSON log lines.
type logLines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logLines) messages() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(l.buf.String()), "\n") {
		var m struct {
			Msg   string `json:"msg"`
			Level string `json:"level"`
		}
		if json.Unmarshal([]byte(line), &m) == nil && strings.HasPrefix(m.Msg, "canary_") {
			out = append(out, m.Level+" "+m.Msg)
		}
	}
	return out
}

// TestRollupChecksTheCanary: after each run the rollup logs canary_ok when the synthetic view of
// the current or the previous UTC hour is counted, canary_missing (a warning) otherwise; the
// canary's views never reach the every-host numbers.
func TestRollupChecksTheCanary(t *testing.T) {
	t.Parallel()
	a, _ := testApp(t)
	var logs logLines
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	now := time.Now().UTC()
	r := &Rollup{Store: a.Store, Log: log, CanaryPath: "/_prawn/canary", Stats: a.Stats, Now: func() time.Time { return now }}
	var ev events.EventBridgeEvent
	fixture(t, "scheduled-event.json", &ev)
	if _, err := r.Handle(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	// The hourly canary event, through the api handler.
	api := NewAPI(a.Handler(), nil, a.Log)
	resp := invokeAPI(t, api, "canary-event.json")
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("canary event: %d %s", resp.StatusCode, resp.Body)
	}
	if _, err := r.Handle(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	now = now.Truncate(time.Hour).Add(time.Hour + 59*time.Minute) // the next hour: still counted
	if _, err := r.Handle(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Hour) // two hours later: missing
	if _, err := r.Handle(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	want := []string{"WARN canary_missing", "INFO canary_ok", "INFO canary_ok", "WARN canary_missing"}
	if got := logs.messages(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("canary log lines %v, want %v", got, want)
	}
	// Out of the owner's numbers: every-host reads leave the canary's host out.
	if n, err := a.Stats.Total(context.Background(), stats.Scope{}); err != nil || n != 0 {
		t.Errorf("every-host total %d, %v; want 0 (the canary is not a view of any site)", n, err)
	}
	if resp := invokeAPI(t, api, "api-get-hosts.json"); !strings.Contains(resp.Body, `"hosts":[]`) {
		t.Errorf("GET /api/hosts = %s, want no host", resp.Body)
	}
}

// manyViews returns n views of path, each of its own visitor.
func manyViews(path string, n int) []storage.View {
	out := make([]storage.View, n)
	for i := range out {
		out[i] = storage.View{Host: "busy.example", Path: path, Visitor: int64(i + 1)}
	}
	return out
}

// A lingering rollup folds again while views keep arriving (here 1 200 that commit while its
// first fold runs), and stops once a fold finds fewer than LingerViews and fewer wait, long
// before its Linger is over.
func TestRollupLingersWhileViewsArrive(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	db.Insert(t, manyViews("/first", 1500)...)
	var once sync.Once
	r := &Rollup{Store: db.Store, Log: quietLog(), Linger: time.Minute, Options: rollupOptions(func() {
		once.Do(func() { db.Insert(t, manyViews("/later", 1200)...) })
	})}
	var ev events.EventBridgeEvent
	fixture(t, "scheduled-event.json", &ev)
	type result struct {
		sum RollupSummary
		err error
	}
	done := make(chan result, 1)
	go func() {
		sum, err := r.Handle(context.Background(), ev)
		done <- result{sum, err}
	}()
	var res result
	select {
	case res = <-done:
	case <-time.After(45 * time.Second):
		t.Fatal("the rollup still lingers 45 s after the last views arrived (Linger 1 minute)")
	}
	if res.err != nil || res.sum.Folded != 2700 || res.sum.Runs < 3 || res.sum.Busy {
		t.Errorf("summary %+v, %v; want 2700 views folded in at least 3 runs (1 500, 1 200, none)", res.sum, res.err)
	}
	if n := db.Unfolded(t); n != 0 {
		t.Errorf("%d views left unfolded", n)
	}
}

// Without views to speak of a lingering rollup runs once, as one without Linger does.
func TestRollupDoesNotLingerWhenQuiet(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	db.Insert(t, manyViews("/a", 10)...)
	var ev events.EventBridgeEvent
	fixture(t, "scheduled-event.json", &ev)
	for _, linger := range []time.Duration{0, time.Minute} {
		r := &Rollup{Store: db.Store, Log: quietLog(), Linger: linger}
		sum, err := r.Handle(context.Background(), ev)
		if err != nil || sum.Runs != 1 {
			t.Errorf("linger %s: summary %+v, %v; want 1 run", linger, sum, err)
		}
	}
}

// rollupOptions are rollup.Options whose Progress calls f after every batch.
func rollupOptions(f func()) rollup.Options {
	return rollup.Options{Progress: func(rollup.Progress) { f() }}
}

// PRAWN_ROLLUP_LINGER reaches the rollup handler the way the bootstrap builds it (configuration,
// app, New): a fold of 1 500 views is followed by another run only when it is set.
func TestRollupLingerSetting(t *testing.T) {
	t.Parallel()
	var ev events.EventBridgeEvent
	fixture(t, "scheduled-event.json", &ev)
	for _, c := range []struct {
		linger   string
		moreRuns bool
	}{{"", false}, {"1m", true}} {
		db := pgtest.New(t)
		cfg, err := config.Load(func(k string) string {
			if k == "PRAWN_ROLLUP_LINGER" {
				return c.linger
			}
			return ""
		}, config.LambdaJob)
		if err != nil {
			t.Fatal(err)
		}
		a, err := app.Build(db.Store, cfg, quietLog())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close() })
		h, err := New(HandlerRollup, a, nil)
		if err != nil {
			t.Fatal(err)
		}
		db.Insert(t, manyViews("/a", 1500)...)
		handle := h.(func(context.Context, events.EventBridgeEvent) (RollupSummary, error))
		sum, err := handle(context.Background(), ev)
		if err != nil || (sum.Runs > 1) != c.moreRuns || (c.moreRuns && sum.Folded != 1500) {
			t.Errorf("PRAWN_ROLLUP_LINGER=%q: summary %+v, %v; want more than one run: %v", c.linger, sum, err, c.moreRuns)
		}
	}
}

// TestMemoryLimitFollowsTheFunction: 90 % of the function's memory, unless GOMEMLIMIT is set or
// the size is unknown.
func TestMemoryLimitFollowsTheFunction(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want int64
		ok   bool
	}{
		{map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256"}, 256 << 20 * 9 / 10, true},
		{map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256", "GOMEMLIMIT": "100MiB"}, 0, false},
		{map[string]string{}, 0, false},
		{map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "lots"}, 0, false},
	} {
		n, ok := memoryLimit(func(k string) string { return c.env[k] })
		if n != c.want || ok != c.ok {
			t.Errorf("%v: memory limit %d, %v; want %d, %v", c.env, n, ok, c.want, c.ok)
		}
	}
}
