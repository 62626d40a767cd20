package storage

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/prawnhq/prawn/gen/db"
)

// Diff is one rollup row that differs from what the raw views say it must hold.
type Diff struct {
	// Table is the rollup: hourly, daily, breakdown, visitor_day or total.
	Table string
	// Key names the row, such as `host="" path="/a" hour=2026-11-30T10:00:00Z`.
	Key string
	// Raw and Rolled are the row's numbers by the raw views and in the rollup.
	Raw, Rolled []int64
}

// Check is what a comparison of the rollups with the raw views found.
type Check struct {
	Diffs []Diff
}

// ViewRange returns the times of the first and last recorded or imported views (now when there
// are none).
func (s *Store) ViewRange(ctx context.Context) (first, last time.Time, err error) {
	r, err := s.q.GetViewRange(ctx)
	return r.FirstView, r.LastView, classify(err)
}

// CheckRollups compares every rollup of the UTC days [from, to) — hourly, daily, breakdowns, the
// dedup state of open days and of imported visitor-days — with the raw views (recorded and
// imported), and every total with the daily rollups and the imported totals, from one snapshot.
func (s *Store) CheckRollups(ctx context.Context, from, to time.Time) (Check, error) {
	var c Check
	add := func(table, key string, raw, rolled []int64) {
		c.Diffs = append(c.Diffs, Diff{Table: table, Key: key, Raw: raw, Rolled: rolled})
	}
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error {
			q := s.q.WithTx(tx)
			if err := q.AllowSeqScans(ctx); err != nil {
				return err
			}
			hours, err := q.DiffHourly(ctx, db.DiffHourlyParams{FromHour: from, ToHour: to})
			if err != nil {
				return fmt.Errorf("compare hourly rollups: %w", err)
			}
			for _, h := range hours {
				add("hourly", fmt.Sprintf("host=%q path=%q hour=%s", h.Host, h.Path, h.Hour.UTC().Format(time.RFC3339)), h.Raw, h.Rolled)
			}
			days, err := q.DiffDaily(ctx, db.DiffDailyParams{FromDay: from, ToDay: to})
			if err != nil {
				return fmt.Errorf("compare daily rollups: %w", err)
			}
			for _, d := range days {
				add("daily", fmt.Sprintf("host=%q path=%q day=%s", d.Host, d.Path, d.Day.Format(time.DateOnly)), d.Raw, d.Rolled)
			}
			bds, err := q.DiffBreakdowns(ctx, db.DiffBreakdownsParams{FromDay: from, ToDay: to})
			if err != nil {
				return fmt.Errorf("compare breakdowns: %w", err)
			}
			for _, b := range bds {
				add("breakdown", fmt.Sprintf("host=%q path=%q dim=%d day=%s value=%q", b.Host, b.Path, b.Dim, b.Day.Format(time.DateOnly), b.Value), b.Raw, b.Rolled)
			}
			vds, err := q.DiffVisitorDays(ctx, db.DiffVisitorDaysParams{FromDay: from, ToDay: to})
			if err != nil {
				return fmt.Errorf("compare visitor days: %w", err)
			}
			for _, v := range vds {
				add("visitor_day", fmt.Sprintf("host=%q day=%s visitor=%d", v.Host, v.Day.Format(time.DateOnly), v.Visitor), nil, nil)
			}
			ivds, err := q.DiffImportedVisitorDays(ctx, db.DiffImportedVisitorDaysParams{FromDay: from, ToDay: to})
			if err != nil {
				return fmt.Errorf("compare imported visitor days: %w", err)
			}
			for _, v := range ivds {
				add("imported_visitor_day", fmt.Sprintf("host=%q day=%s visitor=%d", v.Host, v.Day.Format(time.DateOnly), v.Visitor), nil, nil)
			}
			totals, err := q.DiffTotals(ctx)
			if err != nil {
				return fmt.Errorf("compare totals: %w", err)
			}
			for _, t := range totals {
				add("total", fmt.Sprintf("host=%q path=%q", t.Host, t.Path), t.Daily, t.Total)
			}
			return nil
		})
	return c, classify(err)
}

// RebuildRollups recomputes every rollup of the UTC days [from, to) and the dedup state of its
// open days from the raw views, then every total from the daily rollups, in one transaction while
// holding the rollup lock (so no fold runs meanwhile). It returns how many hourly rows it removed
// and wrote.
func (s *Store) RebuildRollups(ctx context.Context, from, to time.Time) (removed, written int64, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		q := s.q.WithTx(tx)
		if err := lockRollup(ctx, q, true); err != nil {
			return err
		}
		if err := q.AllowSeqScans(ctx); err != nil {
			return err
		}
		kept, err := q.GetRawKeptFrom(ctx)
		if err != nil {
			return fmt.Errorf("raw retention: %w", err)
		}
		if kept = UTCDay(kept); from.Before(kept) {
			return fmt.Errorf("%w: the raw views of the days before %s were deleted (PRAWN_RAW_RETENTION), so their rollups cannot be recomputed; rebuild from %s on",
				ErrRawGone, kept.Format(time.DateOnly), kept.Format(time.DateOnly))
		}
		if removed, err = q.DeleteRollupDays(ctx, db.DeleteRollupDaysParams{FromDay: from, ToDay: to, FromHour: from, ToHour: to}); err != nil {
			return fmt.Errorf("delete rollups: %w", err)
		}
		if written, err = q.InsertHourlyFromRaw(ctx, db.InsertHourlyFromRawParams{FromHour: from, ToHour: to}); err != nil {
			return fmt.Errorf("recompute hourly rollups: %w", err)
		}
		if err := q.InsertDailyFromHourly(ctx, db.InsertDailyFromHourlyParams{FromHour: from, ToHour: to}); err != nil {
			return fmt.Errorf("recompute daily rollups: %w", err)
		}
		if err := q.InsertBreakdownsFromRaw(ctx, db.InsertBreakdownsFromRawParams{FromDay: from, ToDay: to}); err != nil {
			return fmt.Errorf("recompute breakdowns: %w", err)
		}
		if err := q.InsertVisitorDaysFromRaw(ctx, db.InsertVisitorDaysFromRawParams{FromDay: from, ToDay: to}); err != nil {
			return fmt.Errorf("recompute visitor days: %w", err)
		}
		if err := q.RecomputeTotals(ctx); err != nil {
			return fmt.Errorf("recompute totals: %w", err)
		}
		return nil
	})
	return removed, written, classify(err)
}

// ErrRawGone marks a range whose raw views were deleted by raw retention.
var ErrRawGone = errors.New("no raw views")

// Salt returns the salt of the visitor hash of a UTC day, creating it when it does not exist yet.
// It fails with ErrSaltGone for a day that ended more than an hour ago and has none.
func (s *Store) Salt(ctx context.Context, day time.Time) ([]byte, error) {
	fresh := make([]byte, 16)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("new salt: %w", err)
	}
	for attempt := 0; ; attempt++ {
		salt, err := s.q.GetSalt(ctx, db.GetSaltParams{Day: UTCDay(day), NewSalt: fresh})
		if errors.Is(err, pgx.ErrNoRows) {
			// Another process created it after this statement's snapshot was taken (try again
			// to read it), or the day's salt is gone for good.
			if attempt == 0 {
				continue
			}
			return nil, ErrSaltGone
		}
		if err != nil {
			return nil, fmt.Errorf("salt: %w", classify(err))
		}
		return salt, nil
	}
}

// ErrSaltGone means the salt of a past day was deleted: no visitor id can be made for it.
var ErrSaltGone = errors.New("the salt of that day is gone")

// DeleteExpiredSalts deletes the salts of days that ended more than an hour ago.
func (s *Store) DeleteExpiredSalts(ctx context.Context) (int64, error) {
	n, err := s.q.DeleteExpiredSalts(ctx)
	return n, classify(err)
}
