package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prawnhq/prawn/gen/db"
)

// The counters (SiteViews, PathViews, ScopeViews) add the views not yet folded to the rollups'
// totals. While the fold keeps up, that tail is short and counting it is cheap. When the fold
// has stopped or is far behind, every counter would walk the whole tail (each entry a heap
// visit: 300-400 ms for a tail of 1 M views), so a Store counts the tail once for every scope and
// keeps the counts (tailCounts), and counters then walk only the views that came after them.
//
// Exactness: the counts are of the views after a fold point F whose transaction id is below a
// horizon H, the oldest transaction still running when they were counted. Every transaction
// below H had ended, so that set of views is final: no view can join it later, and none leaves it
// while the fold point is F (the fold only moves F; raw retention deletes only folded views).
// A counter's statement reads the fold point of its own snapshot; only when it is F does it count
// just the views from H on and add the counts; otherwise it counts the whole tail itself. Either
// way it counts every view committed in its snapshot once.

// tailCountsFrom is the number of tail entries a counter walks beyond which the Store counts the
// tail for every scope (in the background, one count at a time). Below it a counter's own walk
// costs a few milliseconds, and a fold that keeps up (prawn serve folds every second, and as soon
// as 200 views wait) never lets the tail get here.
const tailCountsFrom = 10_000

// tailCounts are the counts of the views after a fold point, below a horizon, per scope.
type tailCounts struct {
	foldedXid, foldedID, horizon int64
	// scopes counts per host and scope (a path, or "" for the whole host); paths per path, over
	// every host but the canary's; site over every host but the canary's; all over every host.
	scopes map[[2]string]int64
	paths  map[string]int64
	site   int64
	all    int64
}

// noTailCounts makes a counter count the whole tail: fold point (0, 0) and horizon 0 make the
// views it counts itself the whole tail, and it adds nothing.
var noTailCounts = &tailCounts{}

func (s *Store) tailCounts() *tailCounts {
	if t := s.tail.Load(); t != nil {
		return t
	}
	return noTailCounts
}

// counted finishes a counter: its own count of the tail, plus the held counts if its snapshot's
// fold point was theirs. A walk longer than tailCountsFrom starts a count of the tail.
func (s *Store) counted(t *tailCounts, cached bool, rolled, walked, tail int64, held func(*tailCounts) int64) int64 {
	if walked > tailCountsFrom {
		s.countTailSoon()
	}
	n := rolled + tail
	if cached {
		n += held(t)
	}
	return n
}

// tailCountsEvery is the least time between two background counts, and tailCountsShare bounds
// the time they take to a share of the wall clock: after a count of d, the next starts no sooner
// than max(tailCountsEvery, d/tailCountsShare) after it began. A transaction that runs long holds
// the horizon back (counting again before it ends adds nothing), and while a fold catches up its
// fold point moves every batch, so each count is of the whole tail again.
const (
	tailCountsEvery = time.Second
	tailCountsShare = 0.2
)

// tailCountsMaxScopes bounds the scopes whose counts a Store holds (Store.tailMaxScopes): each
// host of the tail and each of its paths. A tail with more (a flood of distinct paths) is not
// held, and counters count it themselves, as they do beside a short tail.
const tailCountsMaxScopes = 200_000

// countTailSoon starts CountTail in the background unless one runs or the last one was too
// recent (see tailCountsEvery).
func (s *Store) countTailSoon() {
	if next := s.countAfter.Load(); next != 0 && time.Now().UnixNano() < next {
		return
	}
	if !s.counting.CompareAndSwap(false, true) {
		return
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		defer s.counting.Store(false)
		start := time.Now()
		ctx, cancel := context.WithTimeout(s.bgCtx, time.Minute)
		defer cancel()
		err := s.CountTail(ctx)
		wait := max(tailCountsEvery, time.Duration(float64(time.Since(start))/tailCountsShare))
		s.countAfter.Store(start.Add(wait).UnixNano())
		switch {
		case err == nil:
			t := s.tailCounts()
			slog.Info("counted the views not yet folded, for the counters", "views", t.all, "scopes", len(t.scopes),
				"took", time.Since(start).Round(time.Millisecond))
		case errors.Is(err, errTailCountBusy):
		case s.bgCtx.Err() == nil:
			slog.Warn("counting the views not yet folded", "err", err)
		}
	}()
}

// tailCountLockKey is the advisory lock that lets one count of the tail run at a time in a
// database, of every process (api Lambda instances each hold counts of their own).
const tailCountLockKey = 0x70726174 // "prat"

// errTailCountBusy means another process was counting the tail: this one counts later.
var errTailCountBusy = errors.New("another process is counting the views not yet folded")

// errTooManyScopes means the tail has too many distinct scopes to hold their counts.
var errTooManyScopes = errors.New("too many pages among the views not yet folded to hold their counts")

// CountTail counts the views not yet folded of every scope, for the counters (see tailCounts):
// only the views that came since the last count if the fold point has not moved since, else all
// of them, in one statement.
func (s *Store) CountTail(ctx context.Context) error {
	old := s.tailCounts()
	rows, err := s.q.CountTailScopes(ctx, db.CountTailScopesParams{
		FromXid: old.foldedXid, FromID: old.foldedID, FromHorizon: old.horizon, MaxPaths: int32(s.tailMaxScopes + 1), LockKey: tailCountLockKey})
	if err != nil {
		return fmt.Errorf("count the tail: %w", classify(err))
	}
	if len(rows) == 0 {
		return nil // no rollup_state row: nothing was ever migrated
	}
	if !rows[0].Counted {
		return errTailCountBusy
	}
	if len(rows) > s.tailMaxScopes {
		s.tail.Store(nil)
		return fmt.Errorf("%w: more than %d", errTooManyScopes, s.tailMaxScopes)
	}
	r0 := rows[0]
	t := &tailCounts{foldedXid: r0.FoldedXid, foldedID: r0.FoldedID, horizon: r0.Horizon,
		scopes: map[[2]string]int64{}, paths: map[string]int64{}}
	if r0.Incremental {
		for k, n := range old.scopes {
			t.scopes[k] = n
		}
		for k, n := range old.paths {
			t.paths[k] = n
		}
		t.site, t.all = old.site, old.all
	}
	for _, r := range rows {
		if r.Views == 0 {
			continue
		}
		t.scopes[[2]string{r.Host, r.Path}] += r.Views
		if r.Path != "" { // recorded paths start with "/": a row of "" would be the host's already
			t.scopes[[2]string{r.Host, ""}] += r.Views
		}
		t.all += r.Views
		if r.Host != CanaryHost {
			t.site += r.Views
			t.paths[r.Path] += r.Views
		}
	}
	if len(t.scopes) > s.tailMaxScopes {
		s.tail.Store(nil)
		return fmt.Errorf("%w: more than %d", errTooManyScopes, s.tailMaxScopes)
	}
	s.tail.Store(t)
	return nil
}
