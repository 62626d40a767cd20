// Package rollup folds recorded views into the rollups. Run is the one entry point: the CLI, the
// server's loop and the scheduled Lambda all call it. Each batch is its own transaction, so a run
// stopped at any instant leaves whole batches folded and nothing partial, and a view is folded
// exactly once however the runs overlap (see docs/rollups.md).
package rollup

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prawnhq/prawn/internal/storage"
)

// DefaultBatchSize bounds one fold transaction.
const DefaultBatchSize = 100_000

// DefaultCloseAfter is how long after a UTC day ends its visitors stop being counted: its dedup
// state is then deleted, and a view of it that reaches the rollups later counts as a view only.
const DefaultCloseAfter = 2 * time.Hour

// maintenanceEvery is how often a process closes visitor days and deletes expired salts.
const maintenanceEvery = time.Minute

var lastMaintenance atomic.Pointer[time.Time]

// Store is what a rollup needs from the database.
type Store interface {
	FoldBatch(ctx context.Context, maxRows int, wait bool, compute storage.FoldFunc) (storage.FoldResult, error)
	Unfolded(ctx context.Context) (int64, error)
	CloseVisitorDays(ctx context.Context, closeAfter time.Duration) (time.Time, error)
	DeleteExpiredSalts(ctx context.Context) (int64, error)
	AnalyzeIfStale(ctx context.Context) (bool, error)
	DeleteExpiredRaw(ctx context.Context, keepFrom time.Time) (int64, time.Time, error)
}

// Options tune a run.
type Options struct {
	// BatchSize is the most views one transaction folds; 0 means DefaultBatchSize.
	BatchSize int
	// Wait makes the run wait for a rollup already running instead of returning at once.
	Wait bool
	// CloseAfter overrides DefaultCloseAfter (tests).
	CloseAfter time.Duration
	// RawRetention, when above 0, is how long raw views are kept (PRAWN_RAW_RETENTION): once
	// folded, the views of the UTC days that ended more than this long ago are deleted by the
	// run's maintenance (the rollups keep their counts).
	RawRetention time.Duration
	// Progress, when set, is called after every batch.
	Progress func(Progress)
}

// Progress reports a run under way.
type Progress struct {
	Folded    int64         // views folded so far by this run
	Remaining int64         // views that were waiting when the run started, less Folded (at least 0)
	Elapsed   time.Duration // since the run started
}

// Result is what a run did.
type Result struct {
	Folded   int64
	Batches  int
	Busy     bool // another rollup was running, so this one did nothing
	Duration time.Duration
	// RawDeleted is how many raw views raw retention deleted.
	RawDeleted int64
}

// Run folds every view that can be folded now, in batches, until none is left; then (at most once
// a minute per process) it closes the visitor days that are over, deletes expired salts, applies
// raw retention and analyzes tables whose statistics are stale. When another rollup is running it
// returns at once with Busy set (or waits, with Options.Wait).
func Run(ctx context.Context, store Store, opt Options) (Result, error) {
	size := opt.BatchSize
	if size <= 0 {
		size = DefaultBatchSize
	}
	start := time.Now()
	var backlog int64
	if opt.Progress != nil {
		n, err := store.Unfolded(ctx)
		if err != nil {
			return Result{}, err
		}
		backlog = n
	}
	var res Result
	for {
		b, err := store.FoldBatch(ctx, size, opt.Wait, Compute)
		if errors.Is(err, storage.ErrRollupBusy) && res.Batches == 0 {
			res.Busy = true
			res.Duration = time.Since(start)
			return res, nil
		}
		if err != nil {
			res.Duration = time.Since(start)
			return res, err
		}
		res.Batches++
		res.Folded += b.Folded
		if opt.Progress != nil {
			opt.Progress(Progress{Folded: res.Folded, Remaining: max(backlog-res.Folded, 0), Elapsed: time.Since(start)})
		}
		if b.Folded < int64(size) {
			break
		}
	}
	closeAfter := opt.CloseAfter
	if closeAfter <= 0 {
		closeAfter = DefaultCloseAfter
	}
	// Days close and salts expire on the scale of hours: look at most once a minute per process
	// (every run with CloseAfter set, as tests and operators ask).
	if last := lastMaintenance.Load(); opt.CloseAfter <= 0 && last != nil && time.Since(*last) < maintenanceEvery {
		res.Duration = time.Since(start)
		return res, nil
	}
	now := time.Now()
	lastMaintenance.Store(&now)
	if _, err := store.CloseVisitorDays(ctx, closeAfter); err != nil {
		res.Duration = time.Since(start)
		return res, fmt.Errorf("close visitor days: %w", err)
	}
	if _, err := store.DeleteExpiredSalts(ctx); err != nil {
		res.Duration = time.Since(start)
		return res, fmt.Errorf("delete expired salts: %w", err)
	}
	if opt.RawRetention > 0 {
		n, _, err := store.DeleteExpiredRaw(ctx, KeepFrom(now, opt.RawRetention))
		res.RawDeleted = n
		if err != nil {
			res.Duration = time.Since(start)
			return res, err
		}
	}
	// Reads plan by indexes whatever the statistics say, but fresh statistics keep them cheap
	// after a bulk load (an import, a restore) even where autovacuum is off.
	if _, err := store.AnalyzeIfStale(ctx); err != nil {
		res.Duration = time.Since(start)
		return res, fmt.Errorf("analyze: %w", err)
	}
	res.Duration = time.Since(start)
	return res, nil
}

// KeepFrom is the first UTC day whose raw views a retention of d keeps at now: the days that
// ended more than d ago go.
func KeepFrom(now time.Time, d time.Duration) time.Time {
	return storage.UTCDay(now.Add(-d))
}
