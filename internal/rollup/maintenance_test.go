package rollup_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prawnhq/prawn/internal/rollup"
)

func TestVerifyFindsCorruptionAndRebuildRepairs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	c := e.conn(t)
	base := time.Now().UTC().Truncate(time.Hour).Add(-5 * time.Hour)
	for i, p := range []string{"/a", "/a", "/b", "/c", "/a"} {
		at := base.Add(time.Duration(i) * 50 * time.Minute)
		if _, err := c.Exec(ctx, "INSERT INTO views (path, viewed_at) VALUES ($1, $2)", p, at); err != nil {
			t.Fatal(err)
		}
	}
	foldAll(t, e.store, rollup.Options{})
	rep, err := rollup.Verify(ctx, e.store, time.Time{}, time.Time{})
	if err != nil || !rep.OK() {
		t.Fatalf("clean rollups: verify = %+v, %v", rep, err)
	}

	// Corrupt one hourly row, drop another, and skew a path total.
	if _, err := c.Exec(ctx, "UPDATE hourly_views SET q1 = q1 + 7 WHERE path = '/a' AND hour = $1", base); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "DELETE FROM hourly_views WHERE path = '/c'"); err != nil {
		t.Fatal(err)
	}
	rep, err = rollup.Verify(ctx, e.store, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || len(rep.Hours) != 2 {
		t.Fatalf("verify after corruption: %+v; want the two damaged (path, hour) rows", rep.Check)
	}
	found := map[string]bool{}
	for _, d := range rep.Hours {
		found[d.Path] = true
		switch d.Path {
		case "/a":
			if !d.Hour.Equal(base) || d.Raw != 2 || d.Rolled != 9 {
				t.Errorf("/a diff = %+v", d)
			}
		case "/c":
			if d.Raw != 1 || d.Rolled != 0 {
				t.Errorf("/c diff = %+v", d)
			}
		}
	}
	if !found["/a"] || !found["/c"] || len(rep.SiteHours) == 0 || len(rep.Totals) == 0 {
		t.Errorf("verify missed something: %+v", rep.Check)
	}

	// A range that excludes the damage verifies clean; rebuilding everything repairs it.
	later := base.Add(4 * time.Hour)
	if rep, err := rollup.Verify(ctx, e.store, later, later.Add(2*time.Hour)); err != nil || len(rep.Hours) != 0 {
		t.Errorf("verify of an undamaged range: %+v, %v", rep.Hours, err)
	}
	res, err := rollup.Rebuild(ctx, e.store, base, base.Add(5*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if res.Written != 4 {
		t.Errorf("rebuild wrote %d hourly rows, want 4", res.Written)
	}
	rep, err = rollup.Verify(ctx, e.store, time.Time{}, time.Time{})
	if err != nil || !rep.OK() {
		t.Fatalf("after rebuild: verify = %+v, %v", rep.Check, err)
	}
	per, total := e.rolled(t)
	if per["/a"] != 3 || per["/b"] != 1 || per["/c"] != 1 || total != 5 {
		t.Errorf("after rebuild: rollups = %v total %d", per, total)
	}
	if _, err := rollup.Verify(ctx, e.store, later, base); !errors.Is(err, rollup.ErrInvalidRange) {
		t.Errorf("reversed range: err = %v", err)
	}
}
