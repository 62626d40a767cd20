package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	openapi "github.com/prawnhq/prawn/api"
	"github.com/prawnhq/prawn/internal/app"
	"github.com/prawnhq/prawn/internal/auth"
	"github.com/prawnhq/prawn/internal/pgtest"
	"github.com/prawnhq/prawn/internal/storage"
)

// sample is a valid request of each operation of the contract.
var sample = map[string]struct {
	method, target, ctype, body string
	ok                          int
}{
	"recordView":       {"POST", "/api/views", "application/json", `{"path":"/auth"}`, 201},
	"recordPixel":      {"GET", "/api/views.gif?path=/auth", "", "", 200},
	"getBadge":         {"GET", "/api/badge.svg?path=/auth&record=true", "", "", 200},
	"getBadgeEndpoint": {"GET", "/api/badge.json?path=/auth", "", "", 200},
	"getHome":          {"GET", "/api/home", "", "", 200},
	"getStats":         {"GET", "/api/stats", "", "", 200},
	"listPages":        {"GET", "/api/pages", "", "", 200},
	"listHosts":        {"GET", "/api/hosts", "", "", 200},
	"getBreakdown":     {"GET", "/api/breakdown?by=browser", "", "", 200},
	"exportData":       {"GET", "/api/export?data=totals", "", "", 200},
	"importData":       {"POST", "/api/import?format=totals", "text/csv", "path,views\n/imported,3\n", 200},
	"getOpenAPI":       {"GET", "/api/openapi.yaml", "", "", 200},
	"getHealth":        {"GET", "/healthz", "", "", 200},
	"getReady":         {"GET", "/readyz", "", "", 200},
}

// contractOp is an operation as the contract declares it.
type contractOp struct {
	id          string
	scope       string // "" when it never takes a token
	always      bool   // a token even when stats are public
	publicTotal bool
}

// contractOps reads every operation's security from api/openapi.yaml, the source of what each
// needs.
func contractOps(t *testing.T) []contractOp {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(openapi.YAML)
	if err != nil {
		t.Fatal(err)
	}
	var ops []contractOp
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			c := contractOp{id: op.OperationID}
			c.scope, _ = op.Extensions["x-prawn-scope"].(string)
			c.publicTotal, _ = op.Extensions["x-prawn-public-total"].(bool)
			if op.Security != nil && len(*op.Security) == 1 {
				_, c.always = (*op.Security)[0]["token"]
			}
			ops = append(ops, c)
		}
	}
	return ops
}

// logBuffer collects what the server logs, at every level.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type tokens struct{ read, export, admin, revoked, unknown string }

func makeTokens(t *testing.T, s *storage.Store) tokens {
	t.Helper()
	mk := func(name, scope string) string {
		tok, hash, hint, err := auth.New()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateToken(context.Background(), name, scope, hash, hint); err != nil {
			t.Fatal(err)
		}
		return tok
	}
	tk := tokens{read: mk("r", "read"), export: mk("e", "export"), admin: mk("a", "admin"), revoked: mk("gone", "admin")}
	if ok, err := s.RevokeToken(context.Background(), 0, "gone"); err != nil || !ok {
		t.Fatalf("revoke: %v %v", ok, err)
	}
	unknown, _, _, _ := auth.New()
	tk.unknown = unknown
	return tk
}

func authServer(t *testing.T, private, publicTotals bool) (*httptest.Server, tokens, *logBuffer) {
	t.Helper()
	db := pgtest.New(t)
	logs := &logBuffer{}
	a := app.New(db.Store, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	a.Edge.PrivateStats, a.Edge.PublicTotals = private, publicTotals
	a.Edge.RateLimit, a.Edge.ReadRateLimit = 0, 0 // one client calls every operation many times
	// The matrix is about who may call what, not about time: under a loaded make test (-race, every
	// package at once) a recording INSERT ran past the default 800 ms and answered 503.
	a.Edge.DBTimeout = 10 * time.Second
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return srv, makeTokens(t, db.Store), logs
}

func callWithToken(t *testing.T, srv *httptest.Server, method, target, ctype, body, authz string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

var rank = map[string]int{"": 0, "read": 1, "export": 2, "admin": 3}

// TestAuthMatrix calls every operation of the contract with no token, an unknown token, a
// malformed header, a revoked token and tokens of each scope, with stats private and public,
// and checks each answer against the operation's security in the contract.
func TestAuthMatrix(t *testing.T) {
	t.Parallel()
	ops := contractOps(t)
	for _, op := range ops {
		if _, ok := sample[op.id]; !ok {
			t.Fatalf("operation %s of the contract has no sample request here: add one", op.id)
		}
	}
	for _, mode := range []struct {
		name                  string
		private, publicTotals bool
	}{{"private", true, false}, {"public", false, false}, {"private with public totals", true, true}} {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			srv, tk, logs := authServer(t, mode.private, mode.publicTotals)
			for _, op := range ops {
				s := sample[op.id]
				needed := op.scope != "" && (op.always || (mode.private && !(op.publicTotal && mode.publicTotals)))
				var invalidBody []byte
				for _, c := range []struct {
					who, header, scope string
				}{
					{"no token", "", ""}, {"unknown token", "Bearer " + tk.unknown, ""}, {"malformed header", "Basic cHJhd246eA==", ""},
					{"revoked token", "Bearer " + tk.revoked, ""}, {"read token", "Bearer " + tk.read, "read"},
					{"export token", "Bearer " + tk.export, "export"}, {"admin token", "bearer " + tk.admin, "admin"},
				} {
					resp, body := callWithToken(t, srv, s.method, s.target, s.ctype, s.body, c.header)
					want := s.ok
					switch {
					case !needed:
					case c.header == "" || c.scope == "":
						want = http.StatusUnauthorized
					case rank[c.scope] < rank[op.scope]:
						want = http.StatusForbidden
					}
					if resp.StatusCode != want {
						t.Errorf("%s with %s: %d %s, want %d", op.id, c.who, resp.StatusCode, body, want)
						continue
					}
					if want == http.StatusUnauthorized || want == http.StatusForbidden {
						wa := resp.Header.Get("WWW-Authenticate")
						if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" || !strings.HasPrefix(wa, `Bearer realm="prawn"`) {
							t.Errorf("%s with %s: Content-Type %q, WWW-Authenticate %q", op.id, c.who, ct, wa)
						}
						switch {
						case want == http.StatusForbidden && !strings.Contains(wa, `error="insufficient_scope"`):
							t.Errorf("%s with %s: WWW-Authenticate %q", op.id, c.who, wa)
						case c.header != "" && want == http.StatusUnauthorized && !strings.Contains(wa, `error="invalid_token"`):
							t.Errorf("%s with %s: WWW-Authenticate %q", op.id, c.who, wa)
						}
					}
					// An unknown, a malformed and a revoked token get the very same answer.
					if c.header != "" && c.scope == "" && want == http.StatusUnauthorized {
						if invalidBody == nil {
							invalidBody = body
						} else if !bytes.Equal(body, invalidBody) {
							t.Errorf("%s: the answer to a %s differs from that to an unknown token:\n%s\n%s", op.id, c.who, body, invalidBody)
						}
					}
				}
			}
			for _, tok := range []string{tk.read, tk.export, tk.admin, tk.revoked, tk.unknown} {
				if strings.Contains(logs.String(), tok[len(auth.Prefix):]) {
					t.Errorf("a token is in the server's log")
				}
			}
		})
	}
}

// TestPrivateStatsHideOperatorFigures: with private stats, the drop counters of GET /api/stats
// are shown to admin tokens only; with public stats, to everyone.
func TestPrivateStatsHideOperatorFigures(t *testing.T) {
	t.Parallel()
	for _, private := range []bool{true, false} {
		srv, tk, _ := authServer(t, private, false)
		for _, c := range []struct {
			token string
			shown bool
		}{{tk.read, !private}, {tk.export, !private}, {tk.admin, true}} {
			resp, body := callWithToken(t, srv, "GET", "/api/stats", "", "", "Bearer "+c.token)
			var m map[string]any
			if err := json.Unmarshal(body, &m); err != nil || resp.StatusCode != 200 {
				t.Fatalf("GET /api/stats: %d %s", resp.StatusCode, body)
			}
			if _, ok := m["dropped"]; ok != c.shown {
				t.Errorf("private=%v: dropped shown = %v, want %v", private, ok, c.shown)
			}
		}
	}
}
