package rollup_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/prawnhq/prawn/internal/pgtest"
	"github.com/prawnhq/prawn/internal/rollup"
	"github.com/prawnhq/prawn/internal/stats"
	"github.com/prawnhq/prawn/internal/storage"
)

// TestVisitorsAreExact: N visitors each viewing M pages R times give exactly N visitors and
// N·M·R views, per host, per path and in every hour, whatever the batch sizes of the fold; the
// rollups equal the raw views' definition (verify); and the counts read before the fold (from the
// tail) equal the counts read after it.
func TestVisitorsAreExact(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	const visitors, pages, reloads = 7, 4, 3
	day := storage.UTCDay(time.Now().UTC())
	hour := day.Add(9 * time.Hour)
	var views []storage.View
	for v := range visitors {
		for p := range pages {
			for range reloads {
				views = append(views, storage.View{Host: "blog.example.com", Path: fmt.Sprintf("/post/%d", p),
					Visitor: int64(1000 + v), Browser: []string{"Chrome", "Firefox"}[v%2], Country: "DE",
					RefHost: "news.example.org", Referrer: "https://news.example.org/"})
			}
		}
	}
	rand.Shuffle(len(views), func(i, j int) { views[i], views[j] = views[j], views[i] })
	// The same views in two hours: every visitor is a visitor of both hours but one visitor-day.
	db.InsertAt(t, hour.Add(5*time.Minute), views...)
	db.InsertAt(t, hour.Add(time.Hour+50*time.Minute), views...)
	// A view without a visitor, and one of another host by visitor 1000.
	db.InsertAt(t, hour.Add(20*time.Minute), storage.View{Host: "blog.example.com", Path: "/post/0"})
	db.InsertAt(t, hour.Add(20*time.Minute), storage.View{Host: "docs.example.com", Path: "/", Visitor: 1000})

	svc := stats.Service{Store: db.Store}
	read := func() (stats.Result, stats.Result, []stats.Page) {
		t.Helper()
		host := "blog.example.com"
		q, err := stats.NewQuery(stats.Scope{Host: &host}, ptr(day), ptr(day.Add(24*time.Hour)), "hour", "", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		site, err := svc.Stats(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		path := "/post/1"
		q.Path = &path
		one, err := svc.Stats(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		pq, err := stats.NewPagesQuery(stats.Scope{}, ptr(day), ptr(day.Add(24*time.Hour)), nil, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		top, err := svc.TopPages(ctx, pq)
		if err != nil {
			t.Fatal(err)
		}
		return site, one, top
	}
	beforeSite, beforeOne, beforeTop := read()

	for db.Unfolded(t) > 0 {
		if _, err := rollup.Run(ctx, db.Store, rollup.Options{BatchSize: 1 + rand.IntN(17), Wait: true}); err != nil {
			t.Fatal(err)
		}
	}
	site, one, top := read()

	wantViews := int64(2*visitors*pages*reloads + 1)
	if site.Total.Views != wantViews || site.Total.Visitors != visitors {
		t.Errorf("site totals = %+v, want %d views and %d visitors", site.Total, wantViews, visitors)
	}
	if one.Total.Views != 2*visitors*reloads || one.Total.Visitors != visitors {
		t.Errorf("path totals = %+v, want %d views and %d visitors", one.Total, 2*visitors*reloads, visitors)
	}
	at := func(r stats.Result, h time.Time) stats.Point {
		for _, p := range r.Series {
			if p.Start.Equal(h) {
				return p
			}
		}
		t.Fatalf("no bucket at %s", h)
		return stats.Point{}
	}
	if p := at(site, hour); p.Visitors != visitors || p.Views != visitors*pages*reloads+1 {
		t.Errorf("hour %s = %+v, want %d visitors", hour, p, visitors)
	}
	if p := at(site, hour.Add(time.Hour)); p.Visitors != visitors || p.Views != visitors*pages*reloads {
		t.Errorf("hour %s = %+v, want %d visitors", hour.Add(time.Hour), p, visitors)
	}
	if site.Range.Visitors != visitors {
		t.Errorf("range visitors = %d, want %d (one visitor-day each)", site.Range.Visitors, visitors)
	}
	if len(top) != pages+1 || top[len(top)-1].Host != "docs.example.com" || top[0].Visitors != visitors {
		t.Errorf("top pages = %+v", top)
	}
	if fmt.Sprint(beforeSite.Total, beforeSite.Series) != fmt.Sprint(site.Total, site.Series) ||
		fmt.Sprint(beforeOne.Total, beforeOne.Series) != fmt.Sprint(one.Total, one.Series) ||
		fmt.Sprint(beforeTop) != fmt.Sprint(top) {
		t.Errorf("reads from the tail differ from reads of the rollups:\n%+v\n%+v\n%+v\n%+v\n%v\n%v",
			beforeSite.Total, site.Total, beforeOne.Total, one.Total, beforeTop, top)
	}
	rep, err := rollup.Verify(ctx, db.Store, day, day.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range rep.Diffs {
		t.Errorf("verify: %s %s raw=%v rolled=%v", d.Table, d.Key, d.Raw, d.Rolled)
	}
}

func ptr[T any](v T) *T { return &v }

// TestLargeFoldsCopyNewVisitorDays: a batch with thousands of new visitor-days writes them with
// COPY, and one that then sees many of them again updates them; the rollups and the dedup state
// equal the raw views' definition (verify) and the visitors read equal the distinct ids.
func TestLargeFoldsCopyNewVisitorDays(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	hour := storage.UTCDay(time.Now().UTC()).Add(time.Duration(time.Now().UTC().Hour()) * time.Hour)
	views := func(first, n int, path string) []storage.View {
		out := make([]storage.View, n)
		for i := range out {
			out[i] = storage.View{Host: "blog.example.com", Path: path, Visitor: int64(1 + first + i), Browser: "Firefox", RefHost: "news.example.org"}
		}
		return out
	}
	// One fold of a whole insert (other tests' open transactions can hold the horizon back for a
	// while: the fold then folds nothing yet).
	foldOnce := func(n int64) {
		t.Helper()
		pgtest.Eventually(t, 20*time.Second, func() error {
			res, err := rollup.Run(ctx, db.Store, rollup.Options{BatchSize: 100_000, Wait: true})
			switch {
			case err != nil:
				t.Fatal(err)
			case res.Folded != 0 && res.Folded != n:
				t.Fatalf("folded %d views at once, want all %d", res.Folded, n)
			case res.Folded == 0:
				return fmt.Errorf("nothing folded yet")
			}
			return nil
		})
	}
	db.InsertAt(t, hour, views(0, 6000, "/a")...) // 6 000 new visitor-days: COPY
	foldOnce(6000)
	// 3 000 of them again on another path, and 4 000 new ones: updates and COPY in one batch.
	db.InsertAt(t, hour.Add(time.Minute), views(3000, 7000, "/b")...)
	foldOnce(7000)
	checkVerify(t, db)
	host := "blog.example.com"
	q, err := stats.NewQuery(stats.Scope{Host: &host}, ptr(hour), ptr(hour.Add(time.Hour)), "hour", "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	got, err := (&stats.Service{Store: db.Store}).Stats(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if got.Range.Views != 13000 || got.Range.Visitors != 10000 {
		t.Errorf("site: %+v; want 13000 views and 10000 visitors", got.Range)
	}
	if n := db.Counts(t, "SELECT 'rows', count(*) FROM visitor_days")["rows"]; n != 10000 {
		t.Errorf("visitor_days holds %d rows, want 10000", n)
	}
}
