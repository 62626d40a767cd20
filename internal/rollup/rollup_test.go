package rollup_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prawnhq/prawn/internal/pgtest"
	"github.com/prawnhq/prawn/internal/rollup"
	"github.com/prawnhq/prawn/internal/stats"
	"github.com/prawnhq/prawn/internal/storage"
)

// rolled is what the rollups alone say: views per path of the default site, and its total.
func rolled(t *testing.T, db *pgtest.DB) (map[string]int64, int64) {
	t.Helper()
	per := db.Counts(t, "SELECT path, sum(views)::bigint FROM hourly_stats WHERE host = '' AND path <> '' GROUP BY path")
	total := db.Counts(t, "SELECT host, views FROM totals WHERE host = '' AND path = ''")[""]
	return per, total
}

func siteTotal(t *testing.T, db *pgtest.DB) int64 {
	t.Helper()
	n, err := (&stats.Service{Store: db.Store}).Total(context.Background(), stats.Scope{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRunFoldsEveryViewOnce(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	db.Paths(t, "/a", "/b", "/a", "/c", "/a")
	var biggest int64
	var res rollup.Result
	// Another test's open transaction may hold a run back: run until all five are in.
	pgtest.Eventually(t, 30*time.Second, func() error {
		var prev int64
		r, err := rollup.Run(ctx, db.Store, rollup.Options{BatchSize: 2, Wait: true, Progress: func(p rollup.Progress) {
			biggest = max(biggest, p.Folded-prev)
			prev = p.Folded
		}})
		if err != nil {
			return err
		}
		res.Folded, res.Batches = res.Folded+r.Folded, res.Batches+r.Batches
		if res.Folded < 5 {
			return fmt.Errorf("%d views folded", res.Folded)
		}
		return nil
	})
	if res.Folded != 5 || biggest > 2 || res.Batches < 3 {
		t.Errorf("run = %+v, biggest batch %d; want 5 views in batches of at most 2", res, biggest)
	}
	again, err := rollup.Run(ctx, db.Store, rollup.Options{})
	if err != nil || again.Folded != 0 {
		t.Errorf("second run = %+v, %v; want nothing folded", again, err)
	}
	per, total := rolled(t, db)
	if per["/a"] != 3 || per["/b"] != 1 || per["/c"] != 1 || total != 5 {
		t.Errorf("rollups = %v total %d", per, total)
	}
}

func TestOutOfOrderCommitIsFoldedOnce(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	a, b := db.Conn(t), db.Conn(t)
	txA, err := a.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := txA.Exec(ctx, "INSERT INTO views (path, visitor) VALUES ('/a', 1)"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Exec(ctx, "INSERT INTO views (path, visitor) VALUES ('/b', 1)"); err != nil { // B commits first
		t.Fatal(err)
	}
	if _, err := rollup.Run(ctx, db.Store, rollup.Options{}); err != nil {
		t.Fatal(err)
	}
	if n := siteTotal(t, db); n != 1 {
		t.Errorf("while A is open: total = %d; want 1 (B only)", n)
	}
	if err := txA.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if n := siteTotal(t, db); n != 2 {
		t.Errorf("after A commits, before the rollup: total = %d; want 2", n)
	}
	db.FoldAll(t)
	per, total := rolled(t, db)
	if per["/a"] != 1 || per["/b"] != 1 || total != 2 {
		t.Errorf("rollups = %v total %d; want /a and /b once each", per, total)
	}
	// One visitor, on two paths: one visitor-day of the site, one of each path; B was folded
	// first, so the site's visitor-day belongs to B's quarter hour.
	if v := db.Counts(t, "SELECT path, visitors FROM totals"); v[""] != 1 || v["/a"] != 1 || v["/b"] != 1 {
		t.Errorf("visitors = %v; want 1 each", v)
	}
	if n := siteTotal(t, db); n != 2 {
		t.Errorf("after the rollup: total = %d; want 2", n)
	}
	checkVerify(t, db)
}

func TestConcurrentRunsDoNotDoubleCount(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	const n = 2000
	views := make([]storage.View, n)
	for i := range views {
		views[i] = storage.View{Path: []string{"/x", "/y", "/z"}[i%3], Visitor: int64(1 + i%50), Browser: "Firefox"}
	}
	db.Insert(t, views...)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			_, err := rollup.Run(ctx, db.Store, rollup.Options{BatchSize: 100, Wait: true})
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	db.FoldAll(t)
	per, total := rolled(t, db)
	if total != n || per["/x"]+per["/y"]+per["/z"] != n || per["/x"] != 667 {
		t.Errorf("rollups = %v total %d; want %d", per, total, n)
	}
	if v := db.Counts(t, "SELECT path, visitors FROM totals"); v[""] != 50 || v["/x"] != 50 {
		t.Errorf("visitors = %v; want 50 on the site and on /x", v)
	}
	if b := db.Counts(t, "SELECT value, views FROM daily_breakdowns WHERE path = '' AND dim = 6"); b["Firefox"] != n {
		t.Errorf("browser breakdown = %v; want %d Firefox", b, n)
	}
	checkVerify(t, db)
}

func TestStatsCombineRollupsAndTail(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	// Two views an hour apart, folded; one more not yet folded.
	now := time.Now().UTC()
	for _, ago := range []time.Duration{2 * time.Hour, time.Hour} {
		db.InsertAt(t, now.Add(-ago), storage.View{Path: "/p"})
	}
	db.FoldAll(t)
	db.Paths(t, "/p")
	path := "/p"
	q, err := stats.NewQuery(stats.Scope{Path: &path}, nil, nil, "hour", "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	res, err := (&stats.Service{Store: db.Store}).Stats(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	var sum, nonZero int64
	for _, p := range res.Series {
		sum += p.Views
		if p.Views > 0 {
			nonZero++
		}
	}
	if res.Total.Views != 3 || sum != 3 || nonZero != 3 || res.Pending != 1 || res.Range.Views != 3 {
		t.Errorf("total %d, series sum %d in %d buckets, pending %d, range %d; want 3, 3, 3, 1, 3",
			res.Total.Views, sum, nonZero, res.Pending, res.Range.Views)
	}
}

// TestVisitorDaysClose: a day is closed once it has ended long enough ago: its dedup state is
// deleted, its counts stay, a view of it folded later counts as a view but not as a visitor, and
// verify still agrees.
func TestVisitorDaysClose(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	yesterday := storage.UTCDay(time.Now()).AddDate(0, 0, -1)
	db.InsertAt(t, yesterday.Add(10*time.Hour), storage.View{Path: "/a", Visitor: 1}, storage.View{Path: "/a", Visitor: 2})
	foldAllWith(t, db, rollup.Options{CloseAfter: 48 * time.Hour})
	if n := db.Counts(t, "SELECT day::text, count(*) FROM visitor_days GROUP BY 1")[yesterday.Format(time.DateOnly)]; n != 2 {
		t.Fatalf("dedup state of yesterday = %d rows, want 2", n)
	}
	// Close every day that ended at least a minute ago: yesterday.
	closeNow := rollup.Options{CloseAfter: time.Minute}
	if _, err := rollup.Run(ctx, db.Store, closeNow); err != nil {
		t.Fatal(err)
	}
	if n := db.Counts(t, "SELECT 'rows', count(*) FROM visitor_days WHERE day < current_date")["rows"]; n != 0 {
		t.Errorf("closed days keep %d dedup rows", n)
	}
	// Visitor 1 again and a new visitor 3, late: views, not visitors.
	db.InsertAt(t, yesterday.Add(11*time.Hour), storage.View{Path: "/a", Visitor: 1}, storage.View{Path: "/a", Visitor: 3})
	foldAllWith(t, db, closeNow)
	got := db.Counts(t, "SELECT 'x', views FROM totals WHERE path = ''")["x"]
	vis := db.Counts(t, "SELECT 'x', visitors FROM totals WHERE path = ''")["x"]
	if got != 4 || vis != 2 {
		t.Errorf("site: %d views, %d visitors; want 4 views, 2 visitors", got, vis)
	}
	checkVerify(t, db)
}

func TestVerifyFindsCorruptionAndRebuildRepairs(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	base := time.Now().UTC().Truncate(time.Hour).Add(-5 * time.Hour)
	if base.Hour() > 18 { // keep the five hours in one UTC day
		base = base.Add(-6 * time.Hour)
	}
	for i, p := range []string{"/a", "/a", "/b", "/c", "/a"} {
		db.InsertAt(t, base.Add(time.Duration(i)*50*time.Minute), storage.View{Path: p, Visitor: int64(i % 2), Country: "FR"})
	}
	// Before 05:00 UTC the five hours are yesterday's, which the default closes at 02:00 (its
	// visitor-days gone): keep the day open, so there is a visitor-day to corrupt at any hour.
	foldAllWith(t, db, rollup.Options{CloseAfter: 48 * time.Hour})
	checkVerify(t, db)

	// Corrupt one hourly row, drop another, skew a breakdown and a visitor-day.
	db.Exec(t, "UPDATE hourly_stats SET q1 = q1 + 7 WHERE path = '/a' AND hour = $1", base)
	db.Exec(t, "DELETE FROM hourly_stats WHERE path = '/c'")
	db.Exec(t, "UPDATE daily_breakdowns SET views = views + 1 WHERE dim = 9 AND path = ''")
	db.Exec(t, "UPDATE visitor_days SET hours = 0")
	rep, err := rollup.Verify(ctx, db.Store, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	tables := map[string]int{}
	for _, d := range rep.Diffs {
		tables[d.Table]++
		if d.Table == "hourly" && d.Key == fmt.Sprintf("host=%q path=%q hour=%s", "", "/a", base.Format(time.RFC3339)) &&
			(d.Raw[0] != 1 || d.Raw[1] != 0 || d.Rolled[1] != 7) {
			t.Errorf("/a diff = %+v", d)
		}
	}
	if tables["hourly"] != 2 || tables["breakdown"] != 1 || tables["visitor_day"] != 1 || tables["total"] != 0 {
		t.Fatalf("verify after corruption found %v: %+v", tables, rep.Diffs)
	}
	// Rebuilding repairs it; a reversed range is refused.
	if _, err := rollup.Rebuild(ctx, db.Store, base, base.Add(5*time.Hour)); err != nil {
		t.Fatal(err)
	}
	checkVerify(t, db)
	per, total := rolled(t, db)
	if per["/a"] != 3 || per["/b"] != 1 || per["/c"] != 1 || total != 5 {
		t.Errorf("after rebuild: rollups = %v total %d", per, total)
	}
	if _, err := rollup.Verify(ctx, db.Store, base.Add(48*time.Hour), base); !errors.Is(err, rollup.ErrInvalidRange) {
		t.Errorf("reversed range: err = %v", err)
	}
}

// foldAllWith runs rollups with opt until no view is left unfolded (another test's open
// transaction may hold a run back for a moment).
func foldAllWith(t *testing.T, db *pgtest.DB, opt rollup.Options) {
	t.Helper()
	opt.Wait = true
	pgtest.Eventually(t, 30*time.Second, func() error {
		if _, err := rollup.Run(context.Background(), db.Store, opt); err != nil {
			return err
		}
		if n := db.Unfolded(t); n > 0 {
			return fmt.Errorf("%d views unfolded", n)
		}
		return nil
	})
}

// checkVerify fails t when the rollups differ anywhere from the raw views.
func checkVerify(t *testing.T, db *pgtest.DB) {
	t.Helper()
	rep, err := rollup.Verify(context.Background(), db.Store, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range rep.Diffs {
		t.Errorf("verify: %s %s raw=%v rolled=%v", d.Table, d.Key, d.Raw, d.Rolled)
	}
}
