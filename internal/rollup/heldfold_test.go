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

// TestReadsBesideAHeldFold: beside a tail longer than MaxTail the reads other than the counters
// refuse (ErrBacklog) until the Store holds the tail's fold; then they answer, counting only the
// views after it themselves (here views of visitor-days the held fold met, of a path and of a
// host it did not), and every answer equals the answer read once everything is folded.
func TestReadsBesideAHeldFold(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	db.Store.HoldTailFolds(rollup.Compute, 1<<30)
	ctx := context.Background()
	now := time.Now().UTC()
	today := storage.UTCDay(now)
	// Folded history over the three days before today.
	if _, err := db.Store.SeedViews(ctx, 5_000, storage.Seed{Paths: 40, Referrers: 30, VisitorPool: 800, End: today, Span: 72 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	db.FoldAll(t)
	// A tail of more than MaxTail views today, in the last hour (or since midnight), not folded.
	span := min(time.Hour, now.Sub(today))
	if span < time.Second {
		span = time.Second
	}
	const tail = storage.MaxTail + 5_000
	if _, err := db.Store.SeedViews(ctx, tail, storage.Seed{Paths: 200, Referrers: 40, VisitorPool: 3_000, End: now, Span: span}); err != nil {
		t.Fatal(err)
	}

	svc := stats.Service{Store: db.Store}
	from, to := today.AddDate(0, 0, -3), today.AddDate(0, 0, 1)
	host, path := "", "/page/1"
	read := func() (string, error) {
		var out []any
		hosts, err := svc.Hosts(ctx)
		if err != nil {
			return "", fmt.Errorf("hosts: %w", err)
		}
		out = append(out, hosts)
		for _, sc := range []stats.Scope{{}, {Host: &host}, {Host: &host, Path: &path}, {Path: &path}} {
			for _, b := range [][2]string{{"hour", "UTC"}, {"day", "UTC"}, {"day", "Asia/Kolkata"}} {
				q, err := stats.NewQuery(sc, &from, &to, b[0], b[1], now)
				if err != nil {
					return "", err
				}
				r, err := svc.Stats(ctx, q)
				if err != nil {
					return "", fmt.Errorf("stats: %w", err)
				}
				out = append(out, r.Total, r.Range, r.Series)
			}
			dims := []string{"referrer_host", "utm_source"}
			if sc.Path == nil {
				dims = append(dims, "browser", "country") // counted per host only
			}
			for _, by := range dims {
				bq, err := stats.NewBreakdownQuery(sc, by, &from, &to, nil, now)
				if err != nil {
					return "", err
				}
				b, err := svc.Breakdown(ctx, bq)
				if err != nil {
					return "", fmt.Errorf("breakdown: %w", err)
				}
				out = append(out, b)
			}
		}
		// More paths in the tail than the first candidates (4 × the limit): the tail's others
		// bound the answer.
		for _, f := range []time.Time{today, from} {
			for _, limit := range []int{5, 20} {
				pq, err := stats.NewPagesQuery(stats.Scope{}, &f, &to, &limit, now)
				if err != nil {
					return "", err
				}
				p, err := svc.TopPages(ctx, pq)
				if err != nil {
					return "", fmt.Errorf("top pages: %w", err)
				}
				out = append(out, p)
			}
		}
		return fmt.Sprintf("%+v", out), nil
	}

	// The first read refuses, and starts the fold of the tail.
	if _, err := read(); !errors.Is(err, stats.ErrBacklog) {
		t.Fatalf("first read beside %d views: %v; want ErrBacklog", tail, err)
	}
	pgtest.Eventually(t, time.Minute, func() error { _, err := read(); return err })

	// Views after the held fold: visitor-days it met (ids of the seed's pool, today) on one of its
	// paths and on a new one, a view without a visitor, and a host of its own.
	var late []storage.View
	for v := range 40 {
		late = append(late,
			storage.View{Path: "/page/1", Visitor: int64(1 + v), Browser: "Firefox", RefHost: "late.example", Country: "NZ"},
			storage.View{Path: "/late", Visitor: int64(1 + v), Browser: "Chrome"})
	}
	late = append(late, storage.View{Path: "/page/1"}, storage.View{Host: "late.example", Path: "/", Visitor: 1})
	db.InsertAt(t, now.Add(-time.Second), late...)

	var before string
	pgtest.Eventually(t, time.Minute, func() error {
		var err error
		before, err = read()
		return err
	})
	// The next folds in memory are of the views after the held fold only (layers; or of the
	// whole tail again: TestPlanFold), and change no answer: first the late views, then more
	// views of the same visitor-days.
	foldAgain := func() {
		t.Helper()
		if _, err := db.Store.FoldTail(ctx); err != nil {
			t.Fatal(err)
		}
	}
	foldAgain()
	if again, err := read(); err != nil || again != before {
		t.Errorf("reads after the fold in memory of the late views: %v\n%s\n%s", err, again, before)
	}
	db.InsertAt(t, now.Add(-time.Second), late[:30]...)
	foldAgain()
	db.InsertAt(t, now.Add(-time.Second), late[30:]...)
	foldAgain()
	before, err := read()
	if err != nil {
		t.Fatal(err)
	}
	db.FoldAll(t)
	after, err := read()
	if err != nil {
		t.Fatal(err)
	}
	if before != after {
		t.Errorf("reads beside the held fold differ from the reads of the rollups:\n%s\n%s", before, after)
	}
	checkVerify(t, db)
}

// TestTopPagesBoundedByTheTail: a path among neither the rollups' first candidates nor the tail's
// can still rank first, on its rollup views and its tail views together; the answer finds it.
func TestTopPagesBoundedByTheTail(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	hour := time.Now().UTC().Truncate(time.Hour)
	views := func(path string, n int) []storage.View {
		out := make([]storage.View, n)
		for i := range out {
			out[i] = storage.View{Host: "blog.example", Path: path}
		}
		return out
	}
	// Folded: /a1../a4 5 views each, /x 4 (the fifth path of the day). With limit 1 the first
	// candidates are each day's top 4 and the tail's top 4.
	var folded []storage.View
	for i := 1; i <= 4; i++ {
		folded = append(folded, views(fmt.Sprintf("/a%d", i), 5)...)
	}
	db.InsertAt(t, hour, append(folded, views("/x", 4)...)...)
	db.FoldAll(t)
	// Tail: /t1../t4 6 views each, /x 3 (the tail's fifth). /x has 7 in all, the most.
	var tail []storage.View
	for i := 1; i <= 4; i++ {
		tail = append(tail, views(fmt.Sprintf("/t%d", i), 6)...)
	}
	db.InsertAt(t, hour, append(tail, views("/x", 3)...)...)
	host, limit := "blog.example", 1
	to := hour.Add(time.Hour)
	pq, err := stats.NewPagesQuery(stats.Scope{Host: &host}, &hour, &to, &limit, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	top, err := (&stats.Service{Store: db.Store}).TopPages(ctx, pq)
	if err != nil {
		t.Fatal(err)
	}
	if len(top) != 1 || top[0].Path != "/x" || top[0].Views != 7 {
		t.Errorf("top page = %+v; want /x with 7 views", top)
	}
}
