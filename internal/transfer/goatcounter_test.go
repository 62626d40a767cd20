package transfer_test

import (
	"context"
	"os"
	"testing"

	"github.com/prawnhq/prawn/internal/pgtest"
	"github.com/prawnhq/prawn/internal/transfer"
)

// TestImportGoatCounter imports a GoatCounter export written from its documented columns (see
// testdata/README.md) and checks what every row became.
func TestImportGoatCounter(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/goatcounter-v2.csv")
	if err != nil {
		t.Fatal(err)
	}
	db := pgtest.New(t)
	res := importData(t, db.Store, transfer.FormatGoatCounter, data, transfer.ImportOptions{Host: "blog.example.com", ChunkSize: 4})
	if res.Records != 11 || res.Views != 8 || res.Chunks != 3 || res.LastLine != 13 {
		t.Errorf("import: %+v", res)
	}
	for reason, n := range map[string]int64{"bots": 1, "events": 1, "paths prawn does not count": 1} {
		if res.Skipped[reason] != n {
			t.Errorf("skipped %s = %d, want %d (%v)", reason, res.Skipped[reason], n, res.Skipped)
		}
	}
	check := func(what, sql string, want map[string]int64) {
		t.Helper()
		got := db.Counts(t, sql)
		if len(got) != len(want) {
			t.Errorf("%s: %v, want %v", what, got, want)
			return
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s[%q] = %d, want %d (all: %v)", what, k, got[k], v, got)
			}
		}
	}
	check("views by path", `SELECT path, views FROM totals WHERE host = 'blog.example.com'`, map[string]int64{
		"": 8, "/blog/hello": 3, "/about": 1, `/search,results "x"`: 1, "/launch": 2, "/nosession": 1})
	// Offsets move views to their UTC day: 20:15 at -05:00 on the 9th is 01:15 UTC on the 10th.
	check("views of the UTC days", `SELECT day::text, views FROM daily_stats WHERE path = ''`, map[string]int64{"2024-03-09": 2, "2024-03-10": 6})
	// A session is a visitor of its day: S1 twice on the 9th is one, and again on the 10th another.
	check("visitors of the UTC days", `SELECT day::text, visitors FROM daily_stats WHERE path = ''`, map[string]int64{"2024-03-09": 1, "2024-03-10": 4})
	check("quarter hours", `SELECT to_char(hour AT TIME ZONE 'UTC', 'DD HH24') || ' ' || q0 || q1 || q2 || q3, views FROM hourly_stats WHERE path = ''`, map[string]int64{
		"09 23 0011": 2, "10 01 0100": 1, "10 07 1000": 1, "10 12 2000": 2, "10 13 1000": 1, "10 14 0001": 1})
	dims := `SELECT (ARRAY['referrer_host','referrer','utm_source','utm_medium','utm_campaign','browser','os','device','country'])[dim] || ' ' || value, sum(views) FROM daily_breakdowns WHERE path = '' GROUP BY 1`
	check("breakdowns", dims, map[string]int64{
		"referrer_host news.ycombinator.com": 1, "referrer https://news.ycombinator.com/item": 1,
		"referrer_host www.google.com": 1, "referrer https://www.google.com/": 1,
		"referrer_host Hacker News": 1, "referrer Hacker News": 1,
		"referrer_host com.google.android.gm": 1, "referrer com.google.android.gm": 1,
		"utm_source newsletter": 1,
		"browser Firefox":       3, "browser Chrome": 1, "browser Safari": 1, "browser Edge": 2,
		"os Windows": 3, "os Android": 1, "os iOS": 1, "os macOS": 2,
		"device desktop": 5, "device mobile": 1, "device tablet": 1,
		"country US": 3, "country DE": 1, "country GB": 1, "country NL": 2,
	})
	check("visitors by browser", `SELECT value, sum(visitors) FROM daily_breakdowns WHERE path = '' AND dim = 6 GROUP BY 1`, map[string]int64{
		"Firefox": 2, "Chrome": 1, "Safari": 1, "Edge": 1})
	verifyOK(t, db.Store)

	again := importData(t, db.Store, transfer.FormatGoatCounter, data, transfer.ImportOptions{Host: "blog.example.com", ChunkSize: 4})
	if again.Chunks != 0 || again.Repeated != 3 || again.Views != 0 {
		t.Errorf("importing again: %+v", again)
	}
	// The same file for another host is other data.
	other := importData(t, db.Store, transfer.FormatGoatCounter, data, transfer.ImportOptions{Host: "other.example", ChunkSize: 4})
	if other.Chunks != 3 {
		t.Errorf("the same file for another host: %+v", other)
	}
	if n := db.Counts(t, `SELECT host, views FROM totals WHERE path = ''`); n["blog.example.com"] != 8 || n["other.example"] != 8 {
		t.Errorf("totals by host: %v", n)
	}
	if _, err := transfer.Import(context.Background(), db.Store, nil, transfer.ImportOptions{Format: "goatcounter", Host: "not a host"}); err == nil {
		t.Error("an invalid --host was accepted")
	}
}
