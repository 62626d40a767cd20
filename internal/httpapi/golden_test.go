package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/prawnhq/prawn/internal/app"
	"github.com/prawnhq/prawn/internal/pgtest"
	"github.com/prawnhq/prawn/internal/rollup"
	"github.com/prawnhq/prawn/internal/storage"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestStatsGolden checks whole answers of the read operations against testdata/*.golden.json,
// with views at fixed times, some folded and some in the tail.
func TestStatsGolden(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.URL(t)
	store, err := storage.Open(ctx, url, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	insert := func(path, at string) {
		t.Helper()
		if _, err := conn.Exec(ctx, "INSERT INTO views (path, viewed_at) VALUES ($1, $2)", path, at); err != nil {
			t.Fatal(err)
		}
	}
	// 18:20 and 18:40 UTC fall on either side of midnight in Asia/Kolkata (UTC+5:30).
	for _, v := range [][2]string{
		{"/g", "2026-01-01T18:20:00Z"}, {"/g", "2026-01-01T18:40:00Z"}, {"/g", "2026-01-01T20:05:00Z"},
		{"/h", "2026-01-01T19:59:59Z"}, {"/g", "2026-01-02T03:00:00Z"},
	} {
		insert(v[0], v[1])
	}
	for left := int64(1); left > 0; {
		if _, err := rollup.Run(ctx, store, rollup.Options{}); err != nil {
			t.Fatal(err)
		}
		if left, err = store.Unfolded(ctx); err != nil {
			t.Fatal(err)
		}
	}
	insert("/g", "2026-01-01T21:10:00Z") // stays in the tail
	insert("/h", "2026-01-01T18:31:00Z")

	srv := httptest.NewServer(app.New(store, slog.New(slog.DiscardHandler)).Handler())
	defer srv.Close()
	for name, target := range map[string]string{
		"stats_path_hourly":  "/api/stats?path=/g&from=2026-01-01T18:00:00Z&to=2026-01-01T22:00:00Z",
		"stats_site_day_ist": "/api/stats?bucket=day&tz=Asia/Kolkata&from=2026-01-01T00:00:00Z&to=2026-01-03T00:00:00Z",
		"pages_range":        "/api/pages?from=2026-01-01T18:00:00Z&to=2026-01-02T00:00:00Z",
		"stats_unknown_path": "/api/stats?path=/nobody&from=2026-01-01T00:00:00Z&to=2026-01-01T02:00:00Z",
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
