package transfer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prawnhq/prawn/internal/app"
	"github.com/prawnhq/prawn/internal/pgtest"
	"github.com/prawnhq/prawn/internal/rollup"
	"github.com/prawnhq/prawn/internal/storage"
	"github.com/prawnhq/prawn/internal/transfer"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// seeded is a database with history on two hosts over five whole UTC days before today, every
// dimension drawn, visitors counted on every day (the days are then closed, so an export carries
// their visitor ids), and views of closed days folded late (which count as views only).
func seeded(t *testing.T) (db *pgtest.DB, from, to time.Time) {
	t.Helper()
	ctx := context.Background()
	db = pgtest.New(t)
	// Count visitors on every day of the history, as a database that has run all along does.
	db.Exec(t, "UPDATE rollup_state SET visitors_open_from = '2000-01-01'")
	to = storage.UTCDay(time.Now())
	from = to.AddDate(0, 0, -5)
	for _, host := range []string{"", "blog.example.com"} {
		if _, err := db.SeedViews(ctx, 6000, storage.Seed{Host: host, Paths: 40, Referrers: 30, VisitorPool: 1500,
			End: to.Add(-time.Minute), Span: 5*24*time.Hour - 2*time.Minute}); err != nil {
			t.Fatal(err)
		}
	}
	db.FoldAll(t)
	if _, err := db.CloseVisitorDays(ctx, time.Nanosecond); err != nil {
		t.Fatal(err)
	}
	// Late views of closed days: a visitor already seen, and one new, on the first day.
	day := from.Add(10*time.Hour + 7*time.Minute)
	db.InsertAt(t, day, storage.View{Path: "/page/1", Visitor: 1, Browser: "Firefox", Country: "DE"},
		storage.View{Host: "blog.example.com", Path: "/late", Visitor: 987654321, Referrer: "https://late.example/x", RefHost: "late.example"})
	db.FoldAll(t)
	if n := db.Counts(t, "SELECT 'v', sum(visitors) FROM totals WHERE path = ''")["v"]; n < 1000 {
		t.Fatalf("the seeded history counts %d visitors; the round trip needs visitors to mean anything", n)
	}
	return db, from, to
}

func exportAll(t *testing.T, s *storage.Store, data, format string) []byte {
	t.Helper()
	q, err := transfer.NewExportQuery(transfer.ExportOptions{Data: data, Format: format})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := transfer.Export(context.Background(), s, q, &b, nil); err != nil {
		t.Fatalf("export %s %s: %v", data, format, err)
	}
	return b.Bytes()
}

func importData(t *testing.T, s *storage.Store, format string, data []byte, opt transfer.ImportOptions) transfer.ImportResult {
	t.Helper()
	opt.Format = format
	if opt.Source == "" {
		opt.Source = "test"
	}
	res, err := transfer.Import(context.Background(), s, bytes.NewReader(data), opt)
	if err != nil {
		t.Fatalf("import %s: %v", format, err)
	}
	return res
}

// rollupRows is every rollup row of the database, as text, by table.
func rollupRows(t *testing.T, db *pgtest.DB) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	conn := db.Conn(t)
	for table, sql := range map[string]string{
		"hourly":     "SELECT format('%s|%s|%s|%s %s %s %s|%s %s %s %s|%s', host, path, hour, q0, q1, q2, q3, n0, n1, n2, n3, visitors) FROM hourly_stats",
		"daily":      "SELECT format('%s|%s|%s|%s|%s', host, path, day, views, visitors) FROM daily_stats",
		"breakdowns": "SELECT format('%s|%s|%s|%s|%s|%s|%s', host, path, dim, day, value, views, visitors) FROM daily_breakdowns",
		"totals":     "SELECT format('%s|%s|%s|%s', host, path, views, visitors) FROM totals",
	} {
		rows, err := conn.Query(context.Background(), sql)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out[table] = append(out[table], s)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		slices.Sort(out[table])
	}
	return out
}

// answers are the API's answers about a range: hosts, stats (hourly; daily in a half-hour zone;
// of a path), top pages and every breakdown, of every host and of each, without the fields
// that tell when they were read.
func answers(t *testing.T, s *storage.Store, from, to time.Time) map[string]string {
	t.Helper()
	a := app.New(s, slog.New(slog.DiscardHandler))
	a.Edge.ReadRateLimit = 0 // one client reads every answer: the limit is not what this checks
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	r := url.Values{"from": {from.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}}.Encode()
	paths := []string{"/api/hosts"}
	for _, host := range []string{"", "host=&", "host=blog.example.com&"} {
		paths = append(paths, "/api/stats?"+host+r, "/api/stats?bucket=day&tz=Asia/Kolkata&"+host+r,
			"/api/stats?path=/page/1&"+host+r, "/api/pages?limit=100&"+host+r)
		for _, by := range []string{"referrer_host", "utm_source", "utm_medium", "utm_campaign", "browser", "os", "device", "country"} {
			paths = append(paths, "/api/breakdown?limit=100&by="+by+"&"+host+r)
		}
		paths = append(paths, "/api/breakdown?limit=100&by=referrer_host&path=/page/2&"+host+r)
		if host != "" {
			paths = append(paths, "/api/breakdown?limit=100&by=referrer&"+host+r)
		}
	}
	out := map[string]string{}
	for _, p := range paths {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s = %d %s", p, resp.StatusCode, body)
		}
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatal(err)
		}
		delete(m, "asOf")
		delete(m, "dropped")
		b, _ := json.Marshal(m)
		out[p] = string(b)
	}
	return out
}

func verifyOK(t *testing.T, s *storage.Store) {
	t.Helper()
	rep, err := rollup.Verify(context.Background(), s, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range rep.Diffs {
		t.Errorf("verify: %s %s raw=%v rolled=%v", d.Table, d.Key, d.Raw, d.Rolled)
	}
}

func sameMaps(t *testing.T, what string, want, got map[string][]string) {
	t.Helper()
	for k := range want {
		if !slices.Equal(want[k], got[k]) {
			t.Errorf("%s %s: %d rows in the source, %d after the round trip; first difference: %s", what, k, len(want[k]), len(got[k]), firstDiff(want[k], got[k]))
		}
	}
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("%q vs %q", a[i], b[i])
		}
	}
	return "(one is a prefix of the other)"
}

// TestRoundTrip: export → empty database → import gives the same rollups, row by row, and the
// same answers from every read, for CSV and for JSON lines; verify agrees on both sides; and
// importing again, or the other format of the same export, changes nothing.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	src, from, to := seeded(t)
	want := rollupRows(t, src)
	wantAnswers := answers(t, src.Store, from, to)
	verifyOK(t, src.Store)
	csvData := exportAll(t, src.Store, "views", "csv")
	jsonData := exportAll(t, src.Store, "views", "jsonl")
	if n := bytes.Count(csvData, []byte("\n")); n != 12002+1 {
		t.Errorf("the CSV export has %d lines, want a header and 12002 views", n)
	}
	if !bytes.Contains(csvData, []byte(",Firefox,")) || !bytes.Contains(jsonData, []byte(`"visitor":"`)) || !bytes.Contains(jsonData, []byte(`"utmCampaign":"launch-`)) {
		t.Errorf("the exports lack dimensions or visitors:\n%s", csvData[:min(len(csvData), 600)])
	}

	for _, c := range []struct {
		format string
		data   []byte
	}{{"csv", csvData}, {"jsonl", jsonData}} {
		t.Run(c.format, func(t *testing.T) {
			dst := pgtest.New(t)
			res := importData(t, dst.Store, transfer.FormatPrawn, c.data, transfer.ImportOptions{ChunkSize: 5000})
			if res.Views != 12002 || res.Chunks != 3 || res.Repeated != 0 {
				t.Errorf("import: %+v", res)
			}
			sameMaps(t, "rollups", want, rollupRows(t, dst))
			got := answers(t, dst.Store, from, to)
			for p, w := range wantAnswers {
				if got[p] != w {
					t.Errorf("GET %s after the round trip:\n got %s\nwant %s", p, got[p], w)
				}
			}
			verifyOK(t, dst.Store)
			// Again, and in the other format: every chunk is already in.
			again := importData(t, dst.Store, transfer.FormatPrawn, c.data, transfer.ImportOptions{ChunkSize: 5000})
			other := importData(t, dst.Store, transfer.FormatPrawn, map[string][]byte{"csv": jsonData, "jsonl": csvData}[c.format], transfer.ImportOptions{ChunkSize: 5000})
			if again.Chunks != 0 || again.Repeated != 3 || other.Chunks != 0 || other.Repeated != 3 {
				t.Errorf("importing again: %+v; the other format: %+v", again, other)
			}
			sameMaps(t, "rollups after importing again", want, rollupRows(t, dst))
			// The imported history exports as it came in.
			if re := exportAll(t, dst.Store, "views", c.format); !bytes.Equal(re, c.data) {
				t.Errorf("exporting the imported history gives other bytes (%d vs %d)", len(re), len(c.data))
			}
		})
	}
}

// TestExportsRollupsAndRanges: rollup exports hold the rollups; exports of disjoint ranges add
// up to the export of their union; one host's export holds only its views; today's visitor ids
// are never written.
func TestExportsRollupsAndRanges(t *testing.T) {
	t.Parallel()
	db, from, to := seeded(t)
	ctx := context.Background()
	db.Insert(t, storage.View{Path: "/today", Visitor: 0x7777777777}) // today is open: its visitor is not exported
	db.FoldAll(t)
	all := exportAll(t, db.Store, "views", "csv")
	if i := bytes.Index(all, []byte("/today")); i < 0 || bytes.Contains(all, []byte("7777777777")) {
		t.Errorf("today's view is missing, or its visitor id is written: %q", all[max(i-100, 0):])
	}
	part := func(q transfer.ExportOptions) []byte {
		eq, err := transfer.NewExportQuery(q)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if _, err := transfer.Export(ctx, db.Store, eq, &b, nil); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	end := time.Now().Add(time.Hour)
	// Split at a UTC midnight, the parts are the whole, byte for byte; split anywhere, they hold
	// the same views.
	for _, mid := range []time.Time{from.AddDate(0, 0, 2), from.Add(50*time.Hour + 17*time.Minute)} {
		first, second := part(transfer.ExportOptions{From: &from, To: &mid}), part(transfer.ExportOptions{From: &mid, To: &end})
		header, rest, _ := bytes.Cut(second, []byte("\n"))
		joined := append(append([]byte{}, first...), rest...)
		if !bytes.HasPrefix(first, append(header, '\n')) || len(joined) != len(all) {
			t.Fatalf("exports of [from, %s) and [%s, end): %d + %d bytes, the whole is %d", mid, mid, len(first), len(rest), len(all))
		}
		if mid.Equal(storage.UTCDay(mid)) && !bytes.Equal(joined, all) {
			t.Errorf("exports split at midnight %s do not add up to the whole export", mid)
		}
		a, b := strings.Split(string(joined), "\n"), strings.Split(string(all), "\n")
		slices.Sort(a)
		slices.Sort(b)
		if !slices.Equal(a, b) {
			t.Errorf("exports split at %s hold other views than the whole", mid)
		}
	}
	blog := "blog.example.com"
	one := part(transfer.ExportOptions{Host: &blog, Format: "jsonl"})
	if n := bytes.Count(one, []byte("\n")); n != 6001 || bytes.Count(one, []byte(`"host":"blog.example.com"`)) != 6001 {
		t.Errorf("the export of one host has %d lines, want its 6001 views", n)
	}
	for data, table := range map[string]string{"hourly": "hourly_stats", "daily": "daily_stats", "breakdowns": "daily_breakdowns", "totals": "totals"} {
		out := exportAll(t, db.Store, data, "csv")
		lines := int64(bytes.Count(out, []byte("\n"))) - 1
		if n := db.Counts(t, "SELECT 'n', count(*) FROM "+table)["n"]; lines != n {
			t.Errorf("export of %s: %d rows, the table has %d", data, lines, n)
		}
	}
	daily := exportAll(t, db.Store, "daily", "jsonl")
	if !bytes.Contains(daily, []byte(`{"host":"","path":"","date":"`)) || !bytes.Contains(daily, []byte(`,"views":`)) {
		t.Errorf("daily JSON lines: %s", daily[:min(200, len(daily))])
	}
	if _, err := transfer.NewExportQuery(transfer.ExportOptions{Data: "totals", From: &from}); err == nil {
		t.Error("a totals export with a range was accepted")
	}
	if !from.Before(to) {
		t.Fatal("empty history")
	}
}

// TestImportTotals: a badge counter's history lands in the rollups (dated counts in their day's
// first quarter hour, undated ones in totals only), no visitors, verify knows what stands
// behind each count, and rebuild keeps it.
func TestImportTotals(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	dated := "path,date,views\n/a,2024-03-01,120\n/a,2024-03-02,0\n/b/,2024-03-02,7\n/a,2024-03-02,5\n"
	res := importData(t, db.Store, transfer.FormatTotals, []byte(dated), transfer.ImportOptions{Host: "Badges.Example.com"})
	if res.Views != 132 || res.Skipped["rows of 0 views"] != 1 {
		t.Errorf("dated totals: %+v", res)
	}
	undated := "\xef\xbb\xbfhost,path,views\r\nbadges.example.com,/a,1000\r\n,/legacy,3\r\n"
	importData(t, db.Store, transfer.FormatTotals, []byte(undated), transfer.ImportOptions{})
	got := db.Counts(t, `SELECT host || ' ' || path, views FROM totals`)
	want := map[string]int64{"badges.example.com ": 1132, "badges.example.com /a": 1125, "badges.example.com /b": 7, " ": 3, " /legacy": 3}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("totals[%q] = %d, want %d (all: %v)", k, got[k], v, got)
		}
	}
	hours := db.Counts(t, `SELECT path || ' ' || to_char(hour AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'), q0 FROM hourly_stats WHERE host = 'badges.example.com'`)
	if hours["/a 2024-03-01 00:00"] != 120 || hours[" 2024-03-02 00:00"] != 12 || len(hours) != 5 {
		t.Errorf("hourly rollups: %v", hours)
	}
	if v := db.Counts(t, "SELECT 'v', sum(visitors) FROM totals")["v"]; v != 0 {
		t.Errorf("totals count %d visitors, want none", v)
	}
	verifyOK(t, db.Store)
	if _, err := rollup.Rebuild(ctx, db.Store, time.Time{}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	verifyOK(t, db.Store)
	if got2 := db.Counts(t, `SELECT host || ' ' || path, views FROM totals`); fmt.Sprint(got2) != fmt.Sprint(got) {
		t.Errorf("rebuild changed the totals: %v, was %v", got2, got)
	}
	// A totals file imported again changes nothing.
	again := importData(t, db.Store, transfer.FormatTotals, []byte(dated), transfer.ImportOptions{Host: "badges.example.com"})
	if again.Chunks != 0 || again.Repeated != 1 {
		t.Errorf("importing again: %+v", again)
	}
	// Corrupting an imported count is found.
	db.Exec(t, "UPDATE daily_stats SET views = views + 1 WHERE host = 'badges.example.com' AND path = '/a' AND day = '2024-03-01'")
	rep, err := rollup.Verify(ctx, db.Store, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Diffs) == 0 || !strings.Contains(rep.Diffs[0].Key, `path="/a" day=2024-03-01`) {
		t.Errorf("verify after corrupting an imported count: %+v", rep.Diffs)
	}
}
