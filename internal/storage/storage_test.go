package storage_test

// One test per query of queries/ (as sqlc's ondeck example does), through the store's methods,
// against a real Postgres: each checks what the query wrote or read, not only that it ran.

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prawnhq/prawn/internal/pgtest"
	"github.com/prawnhq/prawn/internal/rollup"
	"github.com/prawnhq/prawn/internal/storage"
)

var ctx = context.Background()

func TestMigrateIsIdempotentAndPingAnswers(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	applied, err := db.Migrate(ctx)
	if err != nil || len(applied) != 0 {
		t.Errorf("second migrate applied %v, %v; want nothing", applied, err)
	}
	if err := db.Ping(ctx); err != nil {
		t.Errorf("ping: %v", err)
	}
}

func TestUnreachableDatabaseIsUnavailable(t *testing.T) {
	t.Parallel()
	s, err := storage.Open(ctx, "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=1", storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Ping(ctx); !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("ping of a closed port = %v; want ErrUnavailable", err)
	}
}

// InsertViews
func TestInsertViewsStoresEveryField(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	db.Insert(t, storage.View{Host: "blog.example.com", Path: "/a", Referrer: "https://x.example/", RefHost: "x.example",
		UTMSource: "news", UTMMedium: "email", UTMCampaign: "launch", Browser: "Firefox", OS: "Linux",
		Device: "desktop", Country: "DE", Visitor: 42}, storage.View{Path: "/b"})
	row := db.Counts(t, `SELECT concat_ws('|', host, path, referrer, ref_host, utm_source, utm_medium, utm_campaign,
		browser, os, device, country, visitor), count(*) FROM views GROUP BY 1`)
	if row["blog.example.com|/a|https://x.example/|x.example|news|email|launch|Firefox|Linux|desktop|DE|42"] != 1 {
		t.Errorf("stored = %v", row)
	}
	nulls := db.Counts(t, `SELECT path, num_nulls(referrer, ref_host, utm_source, utm_medium, utm_campaign, browser, os, device, country, visitor) FROM views`)
	if nulls["/b"] != 10 || nulls["/a"] != 0 {
		t.Errorf("unknown fields must be NULL: %v", nulls)
	}
	if n := db.Counts(t, "SELECT host, count(*) FROM views GROUP BY 1")[""]; n != 1 {
		t.Errorf("a view without a host belongs to the default site: %d", n)
	}
}

// SeedViews, AnalyzeViews, VacuumRollups
func TestSeedViewsInTimeOrder(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	end := time.Now().Truncate(time.Second)
	n, err := db.SeedViews(ctx, 2000, storage.Seed{Host: "s.example", Paths: 10, Referrers: 5, VisitorPool: 100, End: end, Span: time.Hour})
	if err != nil || n != 2000 {
		t.Fatalf("seeded %d, %v", n, err)
	}
	c := db.Counts(t, `SELECT 'out of order', count(*) FROM (
		SELECT viewed_at < lag(viewed_at) OVER (ORDER BY id) AS back FROM views) x WHERE back`)
	if c["out of order"] != 0 {
		t.Errorf("%d views out of time order", c["out of order"])
	}
	k := db.Counts(t, `SELECT 'k', count(DISTINCT path) + 1000 * count(DISTINCT ref_host) + 1000000 * count(*) FILTER (WHERE viewed_at > $1 OR viewed_at < $2) FROM views WHERE host = 's.example'`, end, end.Add(-time.Hour))["k"]
	if k != 10+1000*5 {
		t.Errorf("distinct paths + 1000 x referrers + 1e6 x out of span = %d", k)
	}
	if err := db.Analyze(ctx); err != nil {
		t.Fatal(err)
	}
	if st := db.Counts(t, "SELECT relname::text, n_live_tup FROM pg_stat_user_tables WHERE relname = 'views'"); len(st) != 1 {
		t.Errorf("no statistics after analyze: %v", st)
	}
	if a := db.Counts(t, "SELECT 'analyzed', count(*) FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL"); a["analyzed"] < 6 {
		t.Errorf("analyzed %d tables, want views and every rollup", a["analyzed"])
	}
}

// TryRollupLock, RollupLock, PreferIndexOrder, GetFoldState, ListFoldBatch, ListVisitorDays,
// UpsertVisitorDays, AddHourly, AddDaily, AddBreakdowns, AdvanceFoldPoint, MarkRolled
func TestFoldBatch(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	at := time.Now().UTC().Truncate(time.Hour).Add(-time.Hour + 20*time.Minute)
	db.InsertAt(t, at, storage.View{Host: "h.example", Path: "/a", Visitor: 7, Browser: "Chrome", RefHost: "r.example", Referrer: "https://r.example/"},
		storage.View{Host: "h.example", Path: "/a", Visitor: 7})
	// A transaction still open holds its view (and everything after it) back.
	open := db.Conn(t)
	tx, err := open.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO views (path) VALUES ('/late')"); err != nil {
		t.Fatal(err)
	}
	var got storage.FoldInput
	var known int
	// Transaction ids are cluster-wide: another test's open transaction may hold the fold back
	// for a moment, so fold until the two committed views are in.
	var folded int64
	pgtest.Eventually(t, 10*time.Second, func() error {
		res, err := db.FoldBatch(ctx, 100, false, func(in storage.FoldInput) storage.FoldOutput {
			got, known = in, len(in.Known)
			return rollup.Compute(in)
		})
		if err != nil {
			return err
		}
		if folded += res.Folded; folded < 2 {
			return fmt.Errorf("folded %d views", folded)
		}
		return nil
	})
	if folded != 2 {
		t.Fatalf("folded %d views; want the 2 committed views, not the open one", folded)
	}
	if len(got.Views) != 2 || got.Views[0].ID > got.Views[1].ID || got.Views[0].Dims[storage.DimBrowser-1] != "Chrome" ||
		got.Views[0].Dims[storage.DimRefHost-1] != "r.example" || !got.Views[0].At.Equal(at) || known != 0 {
		t.Errorf("fold input = %+v", got)
	}
	hourly := db.Counts(t, "SELECT path || ' ' || hour::text, q1 * 100 + n1 * 10 + visitors FROM hourly_stats WHERE host = 'h.example'")
	key := at.Truncate(time.Hour).Format("2006-01-02 15:04:05+00")
	if hourly["/a "+key] != 211 || hourly[" "+key] != 211 {
		t.Errorf("hourly = %v; want 2 views in q1, 1 new visitor-day, 1 visitor for /a and the host", hourly)
	}
	if d := db.Counts(t, "SELECT path, views * 10 + visitors FROM daily_stats WHERE host = 'h.example'"); d["/a"] != 21 || d[""] != 21 {
		t.Errorf("daily = %v", d)
	}
	if tt := db.Counts(t, "SELECT path, views * 10 + visitors FROM totals WHERE host = 'h.example'"); tt["/a"] != 21 || tt[""] != 21 {
		t.Errorf("totals = %v", tt)
	}
	if b := db.Counts(t, "SELECT path || ' ' || dim || ' ' || value, views * 10 + visitors FROM daily_breakdowns"); b["/a 1 r.example"] != 11 ||
		b[" 6 Chrome"] != 11 || b[" 2 https://r.example/"] != 11 || len(b) != 4 {
		t.Errorf("breakdowns = %v; browser and full referrer per host only", b)
	}
	if v := db.Counts(t, "SELECT host || ' ' || array_to_string(paths, ','), hours FROM visitor_days"); v["h.example /a"] != 1<<at.Hour() {
		t.Errorf("visitor days = %v", v)
	}

	// Another fold while this one holds the lock is busy; with the lock free and nothing below the
	// horizon it rolls back and only marks the rollups up to date.
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	before := db.Counts(t, "SELECT 'at', (extract(epoch FROM rolled_at) * 1000000)::bigint FROM rollup_state")["at"]
	lock := db.Conn(t)
	ltx, err := lock.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ltx.Exec(ctx, "SELECT pg_advisory_xact_lock(1886544247)"); err != nil { // rollupLockKey
		t.Fatal(err)
	}
	if _, err := db.FoldBatch(ctx, 100, false, rollup.Compute); !errors.Is(err, storage.ErrRollupBusy) {
		t.Errorf("fold while another holds the lock = %v; want ErrRollupBusy", err)
	}
	if err := ltx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	// The second fold sees visitor 7's state: known, so no new visitor-day.
	db.Exec(t, "DELETE FROM views WHERE path = '/late'")
	db.InsertAt(t, at, storage.View{Host: "h.example", Path: "/a", Visitor: 7})
	if n := foldEverything(t, db); n != 1 {
		t.Errorf("second fold knew %d visitor-days, want 1", n)
	}
	if tt := db.Counts(t, "SELECT path, views * 10 + visitors FROM totals WHERE host = 'h.example'"); tt["/a"] != 31 {
		t.Errorf("totals after the second fold = %v", tt)
	}
	if _, err := db.FoldBatch(ctx, 100, true, rollup.Compute); err != nil {
		t.Fatal(err)
	}
	if after := db.Counts(t, "SELECT 'at', (extract(epoch FROM rolled_at) * 1000000)::bigint FROM rollup_state")["at"]; after <= before {
		t.Errorf("an empty fold did not move rolled_at (%d -> %d)", before, after)
	}
}

// CountUnfolded, CloseVisitorDays
func TestCloseVisitorDays(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	today := storage.UTCDay(time.Now())
	db.InsertAt(t, today.Add(-20*time.Hour), storage.View{Path: "/a", Visitor: 1})
	db.InsertAt(t, today.Add(time.Minute), storage.View{Path: "/a", Visitor: 1})
	// Yesterday has a view in the tail: it stays open.
	open, err := db.CloseVisitorDays(ctx, time.Minute)
	if err != nil || !open.Equal(today.AddDate(0, 0, -1)) {
		t.Errorf("with yesterday's view unfolded: open from %s, %v; want yesterday", open, err)
	}
	foldEverything(t, db)
	open, err = db.CloseVisitorDays(ctx, time.Minute)
	if err != nil || !open.Equal(today) {
		t.Errorf("open from %s, %v; want today", open, err)
	}
	if c := db.Counts(t, "SELECT day::text, count(*) FROM visitor_days GROUP BY 1"); len(c) != 1 || c[today.Format(time.DateOnly)] != 1 {
		t.Errorf("dedup state left = %v; want today's only", c)
	}
	if c := db.Counts(t, "SELECT day::text, folded_id FROM visitor_day_closes"); c[today.AddDate(0, 0, -1).Format(time.DateOnly)] == 0 {
		t.Errorf("no close record for yesterday: %v", c)
	}
	// A later close with a longer delay never reopens a day.
	if open, err = db.CloseVisitorDays(ctx, 72*time.Hour); err != nil || !open.Equal(today) {
		t.Errorf("open from %s, %v; want today still", open, err)
	}
}

// GetSalt, DeleteExpiredSalts
func TestSalts(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	today := storage.UTCDay(time.Now())
	a, err := db.Salt(ctx, today)
	if err != nil || len(a) != 16 {
		t.Fatalf("salt = %x, %v", a, err)
	}
	b, err := db.Salt(ctx, today.Add(5*time.Hour)) // any time of the day: the same salt
	if err != nil || string(a) != string(b) {
		t.Errorf("second salt of the day = %x, %v; want %x", b, err, a)
	}
	if _, err := db.Salt(ctx, today.AddDate(0, 0, -2)); !errors.Is(err, storage.ErrSaltGone) {
		t.Errorf("salt of a past day = %v; want ErrSaltGone (never created afterwards)", err)
	}
	db.Exec(t, "INSERT INTO visitor_salts (day, salt) VALUES ($1, $2)", today.AddDate(0, 0, -2), a)
	if n, err := db.DeleteExpiredSalts(ctx); err != nil || n != 1 {
		t.Errorf("deleted %d expired salts, %v; want 1", n, err)
	}
	if c := db.Counts(t, "SELECT 'n', count(*) FROM visitor_salts")["n"]; c != 1 {
		t.Errorf("%d salts left; want today's", c)
	}
}

// GetRollupState, ListHosts, GetTotals, ListHostTotals, ListTailViews, ListHours,
// ListDays, ListDayTops, SumPages, ListBreakdown
func TestReader(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	day := storage.UTCDay(time.Now()).AddDate(0, 0, -1)
	h9 := day.Add(9 * time.Hour)
	for i, p := range []string{"/a", "/a", "/a", "/b", "/b", "/c"} {
		db.InsertAt(t, h9.Add(time.Duration(i)*10*time.Minute), storage.View{Host: "x.example", Path: p, Visitor: int64(1 + i%2), Country: "NL"})
	}
	db.FoldAll(t)
	db.Insert(t, storage.View{Host: "y.example", Path: "/a"}) // in the tail only
	err := db.Read(ctx, func(r *storage.Reader) error {
		hosts, err := r.Hosts(ctx)
		if err != nil || fmt.Sprint(hosts) != "[x.example y.example]" {
			t.Errorf("hosts = %v, %v", hosts, err)
		}
		ht, err := r.HostTotals(ctx)
		if err != nil || len(ht) != 1 || ht[0].Views != 6 || ht[0].Visitors != 2 {
			t.Errorf("host totals = %+v, %v", ht, err)
		}
		tot, err := r.Totals(ctx, hosts, "/a")
		if err != nil || tot.Views != 3 || tot.Visitors != 2 {
			t.Errorf("totals of /a = %+v, %v", tot, err)
		}
		if n := r.Pending(); n != 1 {
			t.Errorf("pending = %d; want 1", n)
		}
		if err := r.Backlog(ctx); err != nil {
			t.Errorf("backlog of 1 view: %v", err)
		}
		tail, held, err := r.Tail(ctx, []string{"y.example"}, "/a", false)
		if err != nil || len(tail.Views) != 1 || held != nil || tail.Views[0].Host != "y.example" || !r.OpenFrom().Equal(tail.OpenFrom) {
			t.Errorf("tail = %+v, %v", tail, err)
		}
		hours, err := r.Hours(ctx, []string{"x.example"}, "", day, day.AddDate(0, 0, 1))
		if err != nil || len(hours) != 1 || !hours[0].Hour.Equal(h9) || hours[0].Views != [4]int64{2, 1, 2, 1} || hours[0].NewVisitors != [4]int64{2, 0, 0, 0} || hours[0].Visitors != 2 {
			t.Errorf("hours = %+v, %v", hours, err)
		}
		days, err := r.Days(ctx, []string{"x.example"}, "/b", day, day.AddDate(0, 0, 1))
		if err != nil || len(days) != 1 || !days[0].Day.Equal(day) || days[0].Views != 2 || days[0].Visitors != 2 {
			t.Errorf("days = %+v, %v", days, err)
		}
		tops, err := r.DayTops(ctx, []string{"x.example"}, day, day.AddDate(0, 0, 2), 2)
		if err != nil || len(tops) != 2 || tops[0].Path != "/a" || tops[1].Path != "/b" || tops[0].Views != 3 {
			t.Errorf("day tops = %+v, %v", tops, err)
		}
		span := storage.SplitDays(h9.Add(20*time.Minute).Truncate(time.Hour).Add(-48*time.Hour), day.AddDate(0, 0, 1).Add(2*time.Hour))
		sums, err := r.SumPages(ctx, []storage.PageRow{{Host: "x.example", Path: "/a"}, {Host: "x.example", Path: "/none"}}, span)
		if err != nil || len(sums) != 2 || sums[0].Views != 3 || sums[0].Visitors != 2 || sums[1].Views != 0 {
			t.Errorf("sum pages = %+v, %v", sums, err)
		}
		b, err := r.Breakdown(ctx, []string{"x.example"}, "", storage.DimCountry, day, day.AddDate(0, 0, 1), 5)
		if err != nil || len(b.Values) != 1 || b.Values[0].Value != "NL" || b.All.Views != 6 || b.AllValues != 1 {
			t.Errorf("breakdown = %+v, %v", b, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The counters, one statement each: x.example's /a is folded, y.example's is in the tail.
	if n, err := db.PathViews(ctx, "/a"); err != nil || n != 4 {
		t.Errorf("views of /a of every host = %d, %v; want 4", n, err)
	}
	if n, err := db.ScopeViews(ctx, "x.example", "/a"); err != nil || n != 3 {
		t.Errorf("views of x.example /a = %d, %v; want 3", n, err)
	}
	if n, err := db.SiteViews(ctx); err != nil || n != 7 {
		t.Errorf("views of the site = %d, %v; want 7", n, err)
	}
}

// A scope of several hosts reads one row per host and hour; Hours sums them per hour, in time order.
func TestReaderHoursMergesHosts(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	day := storage.UTCDay(time.Now()).AddDate(0, 0, -1)
	h3, h7 := day.Add(3*time.Hour), day.Add(7*time.Hour)
	// In key order (host first) a.example's 07:00 row comes before b.example's 03:00 row.
	db.InsertAt(t, h7, storage.View{Host: "a.example", Path: "/p", Visitor: 1}, storage.View{Host: "a.example", Path: "/p", Visitor: 2})
	db.InsertAt(t, h3, storage.View{Host: "b.example", Path: "/p", Visitor: 3})
	db.InsertAt(t, h7, storage.View{Host: "b.example", Path: "/p", Visitor: 4})
	db.InsertAt(t, h3, storage.View{Host: "c.example", Path: "/p", Visitor: 5}) // not in the scope
	db.FoldAll(t)
	err := db.Read(ctx, func(r *storage.Reader) error {
		hours, err := r.Hours(ctx, []string{"b.example", "a.example"}, "", day, day.AddDate(0, 0, 1))
		if err != nil {
			return err
		}
		got := make([]string, len(hours))
		for i, h := range hours {
			got[i] = fmt.Sprintf("%02d:%d/%d", h.Hour.Hour(), h.Views[0]+h.Views[1]+h.Views[2]+h.Views[3], h.Visitors)
		}
		if fmt.Sprint(got) != "[03:1/1 07:3/3]" {
			t.Errorf("hours of a.example+b.example = %v, want [03:1/1 07:3/3]", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// GetSiteViews, GetScopeViews, TailAtLeast
func TestOneStatementTotals(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	db.Insert(t, storage.View{Path: "/a"}, storage.View{Host: "x.example", Path: "/a"}, storage.View{Host: "x.example", Path: "/b"})
	db.FoldAll(t)
	db.Insert(t, storage.View{Host: "x.example", Path: "/a"}) // in the tail
	if ok, err := db.TailAtLeast(ctx, 1); err != nil || !ok {
		t.Errorf("tail of one has at least one view: %v, %v", ok, err)
	}
	if ok, err := db.TailAtLeast(ctx, 2); err != nil || ok {
		t.Errorf("tail of one has at least two views: %v, %v", ok, err)
	}
	if n, err := db.SiteViews(ctx); err != nil || n != 4 {
		t.Errorf("site views = %d, %v; want 4", n, err)
	}
	for _, c := range []struct {
		host, scope string
		want        int64
	}{{"x.example", "", 3}, {"x.example", "/a", 2}, {"", "/a", 1}, {"", "/b", 0}, {"y.example", "", 0}} {
		if n, err := db.ScopeViews(ctx, c.host, c.scope); err != nil || n != c.want {
			t.Errorf("views of %q %q = %d, %v; want %d", c.host, c.scope, n, err, c.want)
		}
	}
}

// ListStaleTables, AnalyzeViews, VacuumRollups (through AnalyzeIfStale)
func TestAnalyzeIfStale(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	views := make([]storage.View, 500)
	for i := range views {
		views[i] = storage.View{Path: fmt.Sprintf("/%d", i)}
	}
	db.Insert(t, views...)
	// The server counts changed rows a moment after the transaction; never analyzed, views is stale.
	pgtest.Eventually(t, 10*time.Second, func() error {
		did, err := db.AnalyzeIfStale(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !did {
			return errors.New("500 new rows in a table never analyzed: not stale yet")
		}
		return nil
	})
	if did, err := db.AnalyzeIfStale(ctx); err != nil || did {
		t.Errorf("right after ANALYZE: analyzed again = %v, %v", did, err)
	}
	if n := db.Counts(t, "SELECT 'n', reltuples::bigint FROM pg_class WHERE oid = 'views'::regclass")["n"]; n != 500 {
		t.Errorf("statistics say views has %d rows, want 500", n)
	}
	// The rollups were vacuumed too (their index-only reads need the visibility map).
	pgtest.Eventually(t, 10*time.Second, func() error {
		n := db.Counts(t, "SELECT 'n', count(*) FROM pg_stat_user_tables WHERE last_vacuum IS NOT NULL AND relname IN ('hourly_stats', 'daily_stats', 'totals', 'daily_breakdowns', 'visitor_days')")["n"]
		if n != 5 {
			return fmt.Errorf("%d of the 5 rollup tables vacuumed", n)
		}
		return nil
	})
}

// A read counts a tail of MaxTail views itself; one more view, of any host, and every read that
// needs the tail's rows refuses with ErrBacklog (a scope's views in such a tail are found only by
// walking all of it), while the counters still count it.
func TestTailBeyondMaxTailIsABacklog(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	if _, err := db.SeedViews(ctx, storage.MaxTail, storage.Seed{Paths: 3, Referrers: 1, VisitorPool: 10, End: time.Now(), Span: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if err := db.Read(ctx, func(r *storage.Reader) error {
		if n := r.Pending(); n != storage.MaxTail {
			t.Errorf("pending = %d; want %d", n, storage.MaxTail)
		}
		in, _, err := r.Tail(ctx, []string{""}, "", false)
		if err == nil && len(in.Views) != storage.MaxTail {
			t.Errorf("tail of %d views; want %d", len(in.Views), storage.MaxTail)
		}
		return err
	}); err != nil {
		t.Fatalf("a tail of MaxTail views: %v", err)
	}

	db.Insert(t, storage.View{Host: "other.example", Path: "/x"})
	err := db.Read(ctx, func(r *storage.Reader) error {
		if n := r.Pending(); n != storage.MaxTail+1 {
			t.Errorf("pending = %d; want %d", n, storage.MaxTail+1)
		}
		if _, err := r.Hosts(ctx); !errors.Is(err, storage.ErrBacklog) {
			t.Errorf("hosts beside MaxTail+1 views: %v; want ErrBacklog", err)
		}
		// other.example has one view in the tail, but finding it means walking the whole tail.
		_, _, err := r.Tail(ctx, []string{"other.example"}, "", false)
		return err
	})
	if !errors.Is(err, storage.ErrBacklog) {
		t.Errorf("a tail of MaxTail+1 views: %v; want ErrBacklog", err)
	}
	if n, err := db.SiteViews(ctx); err != nil || n != storage.MaxTail+1 {
		t.Errorf("the site counter still counts it: %d, %v", n, err)
	}
	if n, err := db.ScopeViews(ctx, "other.example", "/x"); err != nil || n != 1 {
		t.Errorf("the host's path counter still counts it: %d, %v", n, err)
	}
	if n, err := db.PathViews(ctx, "/x"); err != nil || n != 1 {
		t.Errorf("the path counter still counts it: %d, %v", n, err)
	}
}

// The counters hold the tail's counts (CountTail) and count only the views after them, while
// the fold point stays; every count stays exact: with a transaction that recorded a view before
// the count and commits after it, after more views, after a fold, and for the canary's host.
func TestCountersWithTheTailsCounts(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	a, b := "a.example", "b.example"
	db.Insert(t, storage.View{Host: a, Path: "/x"}, storage.View{Host: a, Path: "/x"}, storage.View{Host: a, Path: "/y"},
		storage.View{Host: b, Path: "/x"}, storage.View{Host: storage.CanaryHost, Path: "/x"})
	foldEverything(t, db)
	db.Insert(t, storage.View{Host: a, Path: "/x"}, storage.View{Host: a, Path: "/x"}, storage.View{Host: b, Path: "/y"},
		storage.View{Host: storage.CanaryHost, Path: "/x"})

	// want checks every counter against the raw views (rollups and tail alike).
	want := func(when string) {
		t.Helper()
		raw := db.Counts(t, `SELECT host || ' ' || path, count(*) FROM views GROUP BY 1
			UNION ALL SELECT host || ' ', count(*) FROM views GROUP BY 1
			UNION ALL SELECT '* ' || path, count(*) FROM views WHERE host <> $1 GROUP BY 1
			UNION ALL SELECT '* ', count(*) FROM views WHERE host <> $1`, storage.CanaryHost)
		for _, h := range []string{a, b, storage.CanaryHost} {
			for _, p := range []string{"", "/x", "/y"} {
				if n, err := db.ScopeViews(ctx, h, p); err != nil || n != raw[h+" "+p] {
					t.Errorf("%s: views of %s %q = %d, %v; want %d", when, h, p, n, err, raw[h+" "+p])
				}
			}
		}
		for _, p := range []string{"/x", "/y"} {
			if n, err := db.PathViews(ctx, p); err != nil || n != raw["* "+p] {
				t.Errorf("%s: views of %q = %d, %v; want %d", when, p, n, err, raw["* "+p])
			}
		}
		if n, err := db.SiteViews(ctx); err != nil || n != raw["* "] {
			t.Errorf("%s: site views = %d, %v; want %d", when, n, err, raw["* "])
		}
		unfolded := db.Unfolded(t)
		if err := db.Read(ctx, func(r *storage.Reader) error {
			if n := r.Pending(); n != unfolded {
				t.Errorf("%s: pending = %d; want %d", when, n, unfolded)
			}
			return nil
		}); err != nil {
			t.Errorf("%s: read: %v", when, err)
		}
	}
	want("before the tail is counted")
	if _, _, ok := db.HeldTail(); ok {
		t.Fatal("a tail of 4 views was counted for every scope: want that only beyond 10 000")
	}

	// A transaction that records a view and commits only after the count: its id is above the
	// count's horizon, so the counters count it themselves.
	open, err := db.Conn(t).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := open.Exec(ctx, `INSERT INTO views (host, path) VALUES ($1, '/x')`, a); err != nil {
		t.Fatal(err)
	}
	countUntil(t, db, 3) // the canary's view is not the site's; open's is above the horizon
	want("with the tail's counts")
	if err := open.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	want("after a transaction below the horizon's count commits")

	// More views, and a count that adds only them.
	db.Insert(t, storage.View{Host: a, Path: "/y"}, storage.View{Host: b, Path: "/x"})
	want("with views after the counts")
	countUntil(t, db, 6)
	want("after a second count")

	// A fold moves the fold point: the held counts are for the old one, so counters count the
	// tail themselves until the next count.
	foldEverything(t, db)
	db.Insert(t, storage.View{Host: b, Path: "/y"})
	want("after a fold")
	countUntil(t, db, 1)
	want("after a count following the fold")
}

// countUntil counts the tail until the held site count is want. The horizon is the cluster's
// oldest running transaction, of any database (other tests' too), so a count may stop short of
// views committed after that transaction began; every counter is exact all the same.
func countUntil(t *testing.T, db *pgtest.DB, want int64) {
	t.Helper()
	pgtest.Eventually(t, 30*time.Second, func() error {
		if err := db.CountTail(ctx); err != nil {
			return err
		}
		if site, _, ok := db.HeldTail(); !ok || site != want {
			return fmt.Errorf("held site count of the tail = %d, %v; want %d", site, ok, want)
		}
		return nil
	})
}

// A counter that walks a long tail starts counting it for every scope in the background.
func TestALongTailIsCounted(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	if _, err := db.SeedViews(ctx, 20_000, storage.Seed{Paths: 3, Referrers: 1, VisitorPool: 10, End: time.Now(), Span: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if n, err := db.SiteViews(ctx); err != nil || n != 20_000 {
		t.Fatalf("site views = %d, %v", n, err)
	}
	// The count that the walk started may have stopped at a horizon that another database's
	// transaction held back (see countUntil): each long walk starts another, a second apart.
	pgtest.Eventually(t, 30*time.Second, func() error {
		if site, _, ok := db.HeldTail(); !ok || site != 20_000 {
			if n, err := db.SiteViews(ctx); err != nil || n != 20_000 {
				t.Fatalf("site views = %d, %v", n, err)
			}
			return fmt.Errorf("held site count %d, %v; want 20000", site, ok)
		}
		return nil
	})
	db.Insert(t, storage.View{Path: "/page/1"})
	if n, err := db.SiteViews(ctx); err != nil || n != 20_001 {
		t.Errorf("site views after one more = %d, %v", n, err)
	}
}

// One count of the tail runs at a time in a database: while another process holds the lock,
// CountTail counts nothing and says so.
func TestOneTailCountAtATime(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	db.Paths(t, "/a", "/b")
	other := db.Conn(t)
	if _, err := other.Exec(ctx, "SELECT pg_advisory_lock($1)", storage.TailCountLockKey); err != nil {
		t.Fatal(err)
	}
	if err := db.CountTail(ctx); !errors.Is(err, storage.ErrTailCountBusy) {
		t.Errorf("count while another holds the lock: %v; want busy", err)
	}
	if _, _, ok := db.HeldTail(); ok {
		t.Error("counts held from a count that did not run")
	}
	if _, err := other.Exec(ctx, "SELECT pg_advisory_unlock($1)", storage.TailCountLockKey); err != nil {
		t.Fatal(err)
	}
	countUntil(t, db, 2)
}

// A tail of more scopes than the store holds counts for is not held: counters count it
// themselves.
func TestTailOfTooManyScopesIsNotHeld(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	db.SetTailMaxScopes(3)
	db.Paths(t, "/a", "/b")
	countUntil(t, db, 2) // 3 scopes: the host, /a, /b
	db.Paths(t, "/c")
	pgtest.Eventually(t, 30*time.Second, func() error {
		if err := db.CountTail(ctx); !storage.TooManyScopes(err) {
			return fmt.Errorf("count of 4 scopes: %v; want too many", err)
		}
		return nil
	})
	if _, _, ok := db.HeldTail(); ok {
		t.Error("counts of 4 scopes are held")
	}
	if n, err := db.SiteViews(ctx); err != nil || n != 3 {
		t.Errorf("site views = %d, %v; want 3", n, err)
	}
	if n, err := db.ScopeViews(ctx, "", "/c"); err != nil || n != 1 {
		t.Errorf("views of /c = %d, %v; want 1", n, err)
	}
}

// TestATailTooBigToFoldIsNotHeld: a fold of the tail that would take more memory than the store
// may give it is not held, and the reads beside that tail still refuse; with room, it is held,
// and a read then counts only the views after it itself.
func TestATailTooBigToFoldIsNotHeld(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	db.HoldTailFolds(rollup.Compute, 1<<30)
	db.SetTailFoldMaxBytes(10_000)
	if _, err := db.SeedViews(ctx, storage.MaxTail+100, storage.Seed{Paths: 20, Referrers: 5, VisitorPool: 1000, End: time.Now(), Span: time.Hour}); err != nil {
		t.Fatal(err)
	}
	pgtest.Eventually(t, 30*time.Second, func() error {
		if _, err := db.FoldTail(ctx); !storage.TailTooBig(err) {
			return fmt.Errorf("fold of %d views in 10 000 bytes: %v; want too big (or another transaction holds the horizon back)", storage.MaxTail+100, err)
		}
		return nil
	})
	if _, _, _, ok := db.HeldFold(); ok {
		t.Fatal("a fold too big is held")
	}
	refused := func() error {
		return db.Read(ctx, func(r *storage.Reader) error {
			_, err := r.Hosts(ctx)
			return err
		})
	}
	if err := refused(); !errors.Is(err, storage.ErrBacklog) {
		t.Errorf("hosts beside the tail without a held fold: %v; want ErrBacklog", err)
	}
	db.SetTailFoldMaxBytes(1 << 30)
	pgtest.Eventually(t, 30*time.Second, func() error {
		if _, err := db.FoldTail(ctx); err != nil {
			return err
		}
		if n, _, _, _ := db.HeldFold(); n != storage.MaxTail+100 {
			return fmt.Errorf("held the fold of %d views (another transaction holds the horizon back)", n)
		}
		return nil
	})
	db.Insert(t, storage.View{Host: "late.example", Path: "/x", Visitor: 7})
	if err := db.Read(ctx, func(r *storage.Reader) error {
		hosts, err := r.Hosts(ctx)
		if err != nil || fmt.Sprint(hosts) != "[ late.example]" {
			t.Errorf("hosts = %q, %v; want the default site and late.example", hosts, err)
		}
		in, held, err := r.Tail(ctx, []string{"", "late.example"}, "", true)
		if err != nil || len(in.Views) != 1 || in.Views[0].Host != "late.example" {
			t.Errorf("views counted by the read itself: %d, %v; want the one after the held fold", len(in.Views), err)
		}
		var views int64
		for _, part := range held {
			for k, c := range part.Days {
				if k.Path == "" {
					views += c.Views
				}
			}
		}
		if views != storage.MaxTail+100 {
			t.Errorf("the held fold's parts count %d views of the hosts; want %d", views, storage.MaxTail+100)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// TestTailFoldsInLayers: while the fold point stays, folds in memory fold the views after the
// held one (TestPlanFold decides which fold comes next), the held fold stays of every view below
// the horizon in at most two layers, and a read after the fold moved on lets it go.
func TestTailFoldsInLayers(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	db.HoldTailFolds(rollup.Compute, 1<<30)
	if _, err := db.SeedViews(ctx, 1000, storage.Seed{Paths: 5, Referrers: 5, VisitorPool: 100, End: time.Now(), Span: time.Hour}); err != nil {
		t.Fatal(err)
	}
	// Another database's transaction can hold the horizon back (see countUntil): a fold then
	// folds some of the new views, or none, and a later one the rest.
	layers := map[int]bool{}
	step := func(insert int, wantHeld int64) {
		t.Helper()
		views := make([]storage.View, insert)
		for i := range views {
			views[i] = storage.View{Path: "/late", Visitor: int64(1 + i%100)}
		}
		if insert > 0 {
			db.Insert(t, views...)
		}
		pgtest.Eventually(t, 2*time.Minute, func() error {
			if _, err := db.FoldTail(ctx); err != nil {
				return err
			}
			n, _, _, _ := db.HeldFold()
			if l := db.HeldFoldLayers(); l < 1 || l > 2 {
				t.Fatalf("the held fold has %d layers", l)
			}
			if n != wantHeld {
				return fmt.Errorf("the held fold is of %d views; want %d (or another transaction holds the horizon back)", n, wantHeld)
			}
			layers[db.HeldFoldLayers()] = true
			return nil
		})
	}
	step(0, 1000)
	step(10, 1010)
	step(300, 1310)
	step(1, 1311)
	if !layers[2] {
		t.Error("no fold in memory was of only the views after the held one")
	}
	db.FoldAll(t)
	if err := db.Read(ctx, func(*storage.Reader) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, _, _, ok := db.HeldFold(); ok {
		t.Error("a read after the fold moved on left the stale fold held")
	}
}

// SplitDays cuts a range of hours into whole days and the hours around them.
func TestSplitDays(t *testing.T) {
	d := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		from, to, fullFrom, fullTo time.Time
	}{
		{d.Add(5 * time.Hour), d.Add(72 * time.Hour), d.AddDate(0, 0, 1), d.AddDate(0, 0, 3)},
		{d, d.AddDate(0, 0, 2), d, d.AddDate(0, 0, 2)},
		{d.Add(5 * time.Hour), d.Add(30 * time.Hour), d.Add(30 * time.Hour), d.Add(30 * time.Hour)}, // no whole day
	} {
		s := storage.SplitDays(c.from, c.to)
		if !s.FullFrom.Equal(c.fullFrom) || !s.FullTo.Equal(c.fullTo) {
			t.Errorf("SplitDays(%s, %s) = %s .. %s; want %s .. %s", c.from, c.to, s.FullFrom, s.FullTo, c.fullFrom, c.fullTo)
		}
	}
}

// GetViewRange, DiffHourly, DiffDaily, DiffBreakdowns, DiffVisitorDays, DiffTotals,
// DeleteRollupDays, InsertHourlyFromRaw, InsertDailyFromHourly, InsertBreakdownsFromRaw,
// InsertVisitorDaysFromRaw, RecomputeTotals
func TestCheckAndRebuild(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	day := storage.UTCDay(time.Now())
	db.InsertAt(t, day.Add(time.Hour), storage.View{Path: "/a", Visitor: 5, OS: "Linux"}, storage.View{Path: "/b", Visitor: 5})
	db.FoldAll(t)
	first, last, err := db.ViewRange(ctx)
	if err != nil || !first.Equal(day.Add(time.Hour)) || !last.Equal(first) {
		t.Errorf("view range = %s .. %s, %v", first, last, err)
	}
	c, err := db.CheckRollups(ctx, day, day.AddDate(0, 0, 1))
	if err != nil || len(c.Diffs) != 0 {
		t.Fatalf("clean check = %+v, %v", c, err)
	}
	db.Exec(t, "UPDATE hourly_stats SET visitors = 9 WHERE path = '/a'")
	db.Exec(t, "UPDATE daily_stats SET views = 9 WHERE path = '/b'")
	db.Exec(t, "DELETE FROM daily_breakdowns")
	db.Exec(t, "UPDATE visitor_days SET paths = '{/z}', path_hours = '{1}'")
	db.Exec(t, "UPDATE totals SET visitors = 0 WHERE path = ''")
	c, err = db.CheckRollups(ctx, day, day.AddDate(0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	tables := map[string]int{}
	for _, d := range c.Diffs {
		tables[d.Table]++
	}
	if fmt.Sprint(tables) != "map[breakdown:1 daily:1 hourly:1 total:2 visitor_day:1]" {
		t.Errorf("diffs by table = %v: %+v", tables, c.Diffs)
	}
	removed, written, err := db.RebuildRollups(ctx, day, day.AddDate(0, 0, 1))
	if err != nil || removed != 3 || written != 3 {
		t.Errorf("rebuild removed %d and wrote %d hourly rows, %v; want 3 and 3", removed, written, err)
	}
	if c, err := db.CheckRollups(ctx, day, day.AddDate(0, 0, 1)); err != nil || len(c.Diffs) != 0 {
		t.Errorf("after rebuild: %+v, %v", c.Diffs, err)
	}
}

// foldEverything folds until no view is left, and returns how many visitor-days the last fold
// found in the dedup state.
func foldEverything(t *testing.T, db *pgtest.DB) int {
	t.Helper()
	var known int
	pgtest.Eventually(t, 10*time.Second, func() error {
		_, err := db.FoldBatch(ctx, 100, true, func(in storage.FoldInput) storage.FoldOutput {
			known = len(in.Known)
			return rollup.Compute(in)
		})
		if err != nil {
			return err
		}
		if n := db.Unfolded(t); n != 0 {
			return fmt.Errorf("%d views unfolded", n)
		}
		return nil
	})
	return known
}
