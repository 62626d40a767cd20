package rollup

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prawnhq/prawn/internal/storage"
)

// ErrInvalidRange marks a verify or rebuild range that makes no sense.
var ErrInvalidRange = errors.New("invalid range")

// Maintainer is what verify and rebuild need from the database.
type Maintainer interface {
	ViewRange(ctx context.Context) (first, last time.Time, err error)
	CheckRollups(ctx context.Context, from, to time.Time) (storage.Check, error)
	RebuildRollups(ctx context.Context, from, to time.Time) (removed, written int64, err error)
	Analyze(ctx context.Context) error
	RawKeptFrom(ctx context.Context) (time.Time, error)
}

// Report is what Verify found: every difference between the rollups and the raw views.
type Report struct {
	From, To time.Time
	// Unchecked, when not empty, is the part of the range asked for whose raw views raw
	// retention deleted: its rollups were not compared (its totals were).
	UncheckedFrom, UncheckedTo time.Time
	storage.Check
}

// OK reports whether the rollups agree with the raw views everywhere checked.
func (r Report) OK() bool { return len(r.Diffs) == 0 }

// Verify compares the rollups of the UTC days covering [from, to) with the raw views they were
// folded from, and every total with the daily rollups. A zero from or to means the first or last
// view.
//
// Days whose raw views raw retention deleted (before RawKeptFrom) are left out of the comparison
// and reported in UncheckedFrom..UncheckedTo; the totals are still compared with the daily
// rollups, which keep those days.
func Verify(ctx context.Context, store Maintainer, from, to time.Time) (Report, error) {
	from, to, err := dayRange(ctx, store, from, to)
	if err != nil {
		return Report{}, err
	}
	var rep Report
	kept, err := store.RawKeptFrom(ctx)
	if err != nil {
		return Report{}, err
	}
	if from.Before(kept) {
		rep.UncheckedFrom, rep.UncheckedTo = from, minTime(kept, to)
		from = rep.UncheckedTo
	}
	rep.From, rep.To = from, to
	rep.Check, err = store.CheckRollups(ctx, from, to)
	return rep, err
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// RebuildResult is what Rebuild did.
type RebuildResult struct {
	From, To         time.Time
	Removed, Written int64 // hourly rollup rows
}

// Rebuild recomputes the rollups of the UTC days covering [from, to) from the raw views (and
// every total from the daily rollups) in one transaction, while no fold runs, then refreshes the
// planner's statistics. A zero from or to means the first or last view.
//
// Days whose raw views raw retention deleted cannot be rebuilt: a range that starts before
// RawKeptFrom is refused (storage.ErrRawGone); with no from, the range starts at RawKeptFrom.
func Rebuild(ctx context.Context, store Maintainer, from, to time.Time) (RebuildResult, error) {
	defaultFrom := from.IsZero()
	from, to, err := dayRange(ctx, store, from, to)
	if err != nil {
		return RebuildResult{}, err
	}
	if defaultFrom {
		kept, err := store.RawKeptFrom(ctx)
		if err != nil {
			return RebuildResult{}, err
		}
		if from.Before(kept) {
			from = minTime(kept, to)
		}
	}
	removed, written, err := store.RebuildRollups(ctx, from, to)
	if err != nil {
		return RebuildResult{}, err
	}
	if err := store.Analyze(ctx); err != nil {
		return RebuildResult{}, err
	}
	return RebuildResult{From: from, To: to, Removed: removed, Written: written}, nil
}

// dayRange fills a missing bound from the views and widens the range to whole UTC days (the
// visitors of a day depend on all of its views).
func dayRange(ctx context.Context, store Maintainer, from, to time.Time) (time.Time, time.Time, error) {
	if from.IsZero() || to.IsZero() {
		first, last, err := store.ViewRange(ctx)
		if err != nil {
			return from, to, err
		}
		if from.IsZero() {
			from = first
		}
		if to.IsZero() {
			to = last.Add(time.Nanosecond)
		}
	}
	from = storage.UTCDay(from)
	if d := storage.UTCDay(to); !d.Equal(to.UTC()) {
		to = d.AddDate(0, 0, 1)
	} else {
		to = d
	}
	if !from.Before(to) {
		return from, to, fmt.Errorf("%w: from %s is not before to %s", ErrInvalidRange, from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	return from, to, nil
}
