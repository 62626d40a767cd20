package httpapi_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prawnhq/prawn/internal/app"
	"github.com/prawnhq/prawn/internal/pgtest"
	"github.com/prawnhq/prawn/internal/storage"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestStatsGolden checks whole answers of the read operations against testdata/*.golden.json,
// with views at fixed times, some folded and some in the tail.
func TestStatsGolden(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	at := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	g := storage.View{Path: "/g", Visitor: 1, Browser: "Firefox", Country: "DE", RefHost: "news.example", Referrer: "https://news.example/item"}
	h := storage.View{Path: "/h", Visitor: 2, Browser: "Safari", Device: "mobile"}
	blog := storage.View{Host: "blog.example.com", Path: "/post", Visitor: 1, UTMSource: "newsletter"}
	// Those days are long over: open them for visitors for the first fold (which then closes
	// them), so the views folded later count as views only.
	db.Exec(t, "UPDATE rollup_state SET visitors_open_from = '2026-01-01'")
	// 18:20 and 18:40 UTC fall on either side of midnight in Asia/Kolkata (UTC+5:30).
	db.InsertAt(t, at("2026-01-01T18:20:00Z"), g)
	db.InsertAt(t, at("2026-01-01T18:40:00Z"), g)
	db.InsertAt(t, at("2026-01-01T20:05:00Z"), g, blog)
	db.InsertAt(t, at("2026-01-01T19:59:59Z"), h)
	db.InsertAt(t, at("2026-01-02T03:00:00Z"), g)
	db.FoldAll(t)
	db.InsertAt(t, at("2026-01-01T21:10:00Z"), g) // stays in the tail
	db.InsertAt(t, at("2026-01-01T18:31:00Z"), h, blog)
	store := db.Store

	srv := httptest.NewServer(app.New(store, slog.New(slog.DiscardHandler)).Handler())
	defer srv.Close()
	for name, target := range map[string]string{
		"stats_path_hourly":  "/api/stats?path=/g&from=2026-01-01T18:00:00Z&to=2026-01-01T22:00:00Z",
		"stats_site_day_ist": "/api/stats?bucket=day&tz=Asia/Kolkata&from=2026-01-01T00:00:00Z&to=2026-01-03T00:00:00Z",
		"pages_range":        "/api/pages?from=2026-01-01T18:00:00Z&to=2026-01-02T00:00:00Z",
		"stats_unknown_path": "/api/stats?path=/nobody&from=2026-01-01T00:00:00Z&to=2026-01-01T02:00:00Z",
		"stats_default_site": "/api/stats?host=&from=2026-01-01T18:00:00Z&to=2026-01-01T22:00:00Z",
		"pages_blog":         "/api/pages?host=blog.example.com&from=2026-01-01T00:00:00Z&to=2026-01-03T00:00:00Z",
		"hosts":              "/api/hosts",
		"breakdown_browser":  "/api/breakdown?by=browser&host=&from=2026-01-01T00:00:00Z&to=2026-01-03T00:00:00Z",
		"breakdown_referrer": "/api/breakdown?by=referrer_host&path=/g&from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z",
		"breakdown_campaign": "/api/breakdown?by=utm_source&from=2026-01-01T00:00:00Z&to=2026-01-03T00:00:00Z",
	} {
		resp, err := srv.Client().Get(srv.URL + target)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("%s: %v: %s", name, err, body)
		}
		if _, ok := m["asOf"].(string); ok {
			m["asOf"] = "(time of the last rollup)"
		}
		if d, ok := m["dropped"].(map[string]any); ok {
			d["since"] = "(process start)"
		}
		got, _ := json.MarshalIndent(m, "", "  ")
		got = append(got, '\n')
		file := filepath.Join("testdata", name+".golden.json")
		if *update {
			if err := os.WriteFile(file, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("%v (run go test -run Golden -update to create it)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: GET %s\n got: %s\nwant: %s", name, target, got, want)
		}
	}
}
