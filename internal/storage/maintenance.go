package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/prawnhq/prawn/gen/db"
)

// HourDiff is a (path, hour) whose rollup differs from the folded raw views.
type HourDiff struct {
	Path   string
	Hour   time.Time
	Raw    int64 // views in the raw rows
	Rolled int64 // views in the rollup
}

// SiteHourDiff is an hour whose site rollup differs from the sum of its path rollups.
type SiteHourDiff struct {
	Hour      time.Time
	PathViews int64
	SiteViews int64
}

// TotalDiff is a path whose all-time total differs from the sum of its hourly rollups.
type TotalDiff struct {
	Path        string
	HourlyViews int64
	TotalViews  int64
}

// Check is what a comparison of the rollups with the raw views found.
type Check struct {
	Hours      []HourDiff
	SiteHours  []SiteHourDiff
	Totals     []TotalDiff
	SiteTotal  int64 // the site total kept by the rollup
	PathTotals int64 // the sum of the path totals
}

// ViewRange returns the times of the first and last recorded views (now when there are none).
func (s *Store) ViewRange(ctx context.Context) (first, last time.Time, err error) {
	r, err := s.q.GetViewRange(ctx)
	return r.FirstView, r.LastView, classify(err)
}

// CheckRollups compares the rollups of [from, to) (whole hours) with the folded raw views, and
// the totals with the rollups, from one snapshot.
func (s *Store) CheckRollups(ctx context.Context, from, to time.Time) (Check, error) {
	var c Check
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error {
			q := s.q.WithTx(tx)
			hours, err := q.DiffHourly(ctx, db.DiffHourlyParams{FromHour: from, ToHour: to})
			if err != nil {
				return fmt.Errorf("compare hourly rollups: %w", err)
			}
			for _, h := range hours {
				c.Hours = append(c.Hours, HourDiff{Path: h.Path, Hour: h.Hour, Raw: h.RawViews, Rolled: h.RolledViews})
			}
			site, err := q.DiffSiteHourly(ctx, db.DiffSiteHourlyParams{FromHour: from, ToHour: to})
			if err != nil {
				return fmt.Errorf("compare site rollups: %w", err)
			}
			for _, h := range site {
				c.SiteHours = append(c.SiteHours, SiteHourDiff{Hour: h.Hour, PathViews: h.PathViews, SiteViews: h.SiteViews})
			}
			totals, err := q.DiffPathTotals(ctx)
			if err != nil {
				return fmt.Errorf("compare path totals: %w", err)
			}
			for _, t := range totals {
				c.Totals = append(c.Totals, TotalDiff{Path: t.Path, HourlyViews: t.HourlyViews, TotalViews: t.TotalViews})
			}
			tc, err := q.GetTotalsCheck(ctx)
			if err != nil {
				return fmt.Errorf("compare site total: %w", err)
			}
			c.SiteTotal, c.PathTotals = tc.TotalViews, tc.PathTotalsSum
			return nil
		})
	return c, classify(err)
}

// RebuildRollups recomputes the hourly and site rollups of [from, to) (whole hours) from the
// folded raw views, then every total from the rollups, in one transaction while holding the
// rollup lock (so no fold runs meanwhile). It returns how many hourly rows it removed and wrote.
func (s *Store) RebuildRollups(ctx context.Context, from, to time.Time) (removed, written int64, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		q := s.q.WithTx(tx)
		if err := q.RollupLock(ctx, rollupLockKey); err != nil {
			return fmt.Errorf("rollup lock: %w", err)
		}
		r := db.DeleteHourlyRangeParams{FromHour: from, ToHour: to}
		var err error
		if removed, err = q.DeleteHourlyRange(ctx, r); err != nil {
			return fmt.Errorf("delete hourly rollups: %w", err)
		}
		if written, err = q.InsertHourlyFromViews(ctx, db.InsertHourlyFromViewsParams(r)); err != nil {
			return fmt.Errorf("recompute hourly rollups: %w", err)
		}
		if err := q.DeleteSiteHourlyRange(ctx, db.DeleteSiteHourlyRangeParams(r)); err != nil {
			return fmt.Errorf("delete site rollups: %w", err)
		}
		if err := q.InsertSiteHourlyFromHourly(ctx, db.InsertSiteHourlyFromHourlyParams(r)); err != nil {
			return fmt.Errorf("recompute site rollups: %w", err)
		}
		if err := q.RecomputePathTotals(ctx); err != nil {
			return fmt.Errorf("recompute path totals: %w", err)
		}
		if err := q.RecomputeSiteTotal(ctx); err != nil {
			return fmt.Errorf("recompute site total: %w", err)
		}
		return nil
	})
	return removed, written, classify(err)
}
