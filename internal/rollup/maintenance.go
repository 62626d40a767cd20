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

// Report is what Verify found: every difference between the rollups and the raw views.
type Report struct {
	From, To time.Time
	storage.Check
}

// OK reports whether the rollups agree with the raw views everywhere checked.
func (r Report) OK() bool {
	return len(r.Hours) == 0 && len(r.SiteHours) == 0 && len(r.Totals) == 0 && r.SiteTotal == r.PathTotals
}

// Verify compares the rollups of [from, to) with the folded raw views, hour by hour and path by
// path, and the totals with the rollups. A zero from or to means the first or last view.
func Verify(ctx context.Context, store *storage.Store, from, to time.Time) (Report, error) {
	from, to, err := hourRange(ctx, store, from, to)
	if err != nil {
		return Report{}, err
	}
	c, err := store.CheckRollups(ctx, from, to)
	return Report{From: from, To: to, Check: c}, err
}

// RebuildResult is what Rebuild did.
type RebuildResult struct {
	From, To         time.Time
	Removed, Written int64 // hourly rollup rows
}

// Rebuild recomputes the rollups of [from, to) from the raw views (and every total from the
// rollups) in one transaction, while no fold runs. A zero from or to means the first or last view.
func Rebuild(ctx context.Context, store *storage.Store, from, to time.Time) (RebuildResult, error) {
	from, to, err := hourRange(ctx, store, from, to)
	if err != nil {
		return RebuildResult{}, err
	}
	removed, written, err := store.RebuildRollups(ctx, from, to)
	return RebuildResult{From: from, To: to, Removed: removed, Written: written}, err
}

// hourRange fills a missing bound from the views and widens the range to whole UTC hours.
func hourRange(ctx context.Context, store *storage.Store, from, to time.Time) (time.Time, time.Time, error) {
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
	from = from.UTC().Truncate(time.Hour)
	if t := to.UTC().Truncate(time.Hour); !t.Equal(to) {
		to = t.Add(time.Hour)
	}
	to = to.UTC()
	if !from.Before(to) {
		return from, to, fmt.Errorf("%w: from %s is not before to %s", ErrInvalidRange, from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	return from, to, nil
}
