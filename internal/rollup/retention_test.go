package rollup_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prawnhq/prawn/internal/pgtest"
	"github.com/prawnhq/prawn/internal/rollup"
	"github.com/prawnhq/prawn/internal/storage"
)

// TestRawRetention: the rollup run deletes the folded raw views of the days that ended more than
// PRAWN_RAW_RETENTION ago (imported ones too) and keeps their counts; verify says which days it
// can no longer check and checks the rest; rebuild refuses the days without raw views.
func TestRawRetention(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	today := storage.UTCDay(time.Now())
	old, recent := today.AddDate(0, 0, -10), today.AddDate(0, 0, -2)
	db.Exec(t, "UPDATE rollup_state SET visitors_open_from = $1", old)
	db.InsertAt(t, old.Add(9*time.Hour), storage.View{Path: "/old", Visitor: 1}, storage.View{Path: "/old", Visitor: 2})
	db.InsertAt(t, recent.Add(9*time.Hour), storage.View{Path: "/recent", Visitor: 1})
	db.Exec(t, `INSERT INTO import_chunks (hash, format, source, first_line, last_line, rows, views, skipped)
		VALUES (decode(repeat('ab', 32), 'hex'), 'totals', 'test', 2, 3, 2, 7, 0)`)
	// Imported history has its raw rows too; a dated count of the old day goes with it, an
	// undated one stays.
	db.Exec(t, `INSERT INTO imported_views (id, chunk, host, path, viewed_at, n) SELECT 1, id, '', '/old', $1, 5 FROM import_chunks`, old)
	db.Exec(t, `INSERT INTO imported_views (id, chunk, host, path, viewed_at, n) SELECT 2, id, '', '/ever', NULL, 2 FROM import_chunks`)
	db.Exec(t, `INSERT INTO hourly_stats (host, path, hour, q0) VALUES ('', '/old', $1, 5), ('', '', $1, 5)`, old)
	db.Exec(t, `INSERT INTO daily_stats (host, path, day, views) VALUES ('', '/old', $1, 5), ('', '', $1, 5)`, old)
	db.Exec(t, `INSERT INTO totals (host, path, views) VALUES ('', '/old', 5), ('', '/ever', 2), ('', '', 7)`)
	foldAllWith(t, db, rollup.Options{CloseAfter: time.Minute})
	checkVerify(t, db)
	before := db.Counts(t, "SELECT path, views FROM totals")

	res, err := rollup.Run(ctx, db.Store, rollup.Options{CloseAfter: time.Minute, RawRetention: 5 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if res.RawDeleted != 3 {
		t.Errorf("retention deleted %d raw rows, want the 2 recorded and 1 imported of the old day", res.RawDeleted)
	}
	left := db.Counts(t, "SELECT path, count(*) FROM (SELECT path FROM views UNION ALL SELECT path FROM imported_views) v GROUP BY 1")
	if left["/old"] != 0 || left["/recent"] != 1 || left["/ever"] != 1 {
		t.Errorf("raw rows left: %v", left)
	}
	after := db.Counts(t, "SELECT path, views FROM totals")
	for k, v := range before {
		if after[k] != v {
			t.Errorf("totals[%q] = %d after retention, was %d", k, after[k], v)
		}
	}
	kept, err := db.RawKeptFrom(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := rollup.KeepFrom(time.Now(), 5*24*time.Hour); !kept.Equal(want) {
		t.Errorf("raw rows kept from %s, want %s", kept, want)
	}
	rep, err := rollup.Verify(ctx, db.Store, old, today.AddDate(0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	if !rep.UncheckedFrom.Equal(old) || !rep.UncheckedTo.Equal(kept) || !rep.From.Equal(kept) || !rep.OK() {
		t.Errorf("verify after retention: unchecked %s..%s, checked %s..%s, diffs %+v", rep.UncheckedFrom, rep.UncheckedTo, rep.From, rep.To, rep.Diffs)
	}
	// The days kept are still checked: a corrupt count of one is found.
	db.Exec(t, "UPDATE daily_stats SET views = views + 1 WHERE path = '/recent'")
	if rep, err := rollup.Verify(ctx, db.Store, time.Time{}, time.Time{}); err != nil || rep.OK() {
		t.Errorf("verify of a corrupt kept day: %v %+v", err, rep)
	}
	if _, err := rollup.Rebuild(ctx, db.Store, old, today); !errors.Is(err, storage.ErrRawGone) {
		t.Errorf("rebuild of days without raw views: err = %v", err)
	}
	if _, err := rollup.Rebuild(ctx, db.Store, time.Time{}, time.Time{}); err != nil {
		t.Errorf("rebuild of what is kept: %v", err)
	}
	checkVerify(t, db)
	if got := db.Counts(t, "SELECT path, views FROM totals"); got["/old"] != 7 || got[""] != 10 {
		t.Errorf("rebuild lost the counts of the days without raw views: %v", got)
	}
	// A shorter retention does not move the kept range back, and never past a day still open.
	if _, kept2, err := db.DeleteExpiredRaw(ctx, today.AddDate(0, 0, 30)); err != nil || kept2.After(today) {
		t.Errorf("retention into the future: kept from %s, %v", kept2, err)
	}
}
