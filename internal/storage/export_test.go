package storage

import (
	"errors"
	"math"
)

// ScramVerifierWith is scramVerifierWith, for the test that compares it with PostgreSQL's.
var ScramVerifierWith = scramVerifierWith

// HeldTail is the site's count of the views not yet folded that the store holds for its
// counters, and the fold point it holds them for (0, 0 and false when it holds none).
func (s *Store) HeldTail() (site, foldedXid int64, ok bool) {
	t := s.tail.Load()
	if t == nil {
		return 0, 0, false
	}
	return t.site, t.foldedXid, true
}

// SetTailMaxScopes lowers how many scopes' tail counts the store holds.
func (s *Store) SetTailMaxScopes(n int) { s.tailMaxScopes = n }

// TooManyScopes says whether err is CountTail's refusal to hold the counts of too many scopes.
func TooManyScopes(err error) bool { return errors.Is(err, errTooManyScopes) }

// HoldNoTail turns the store's tail counts off: its counters walk the whole tail, as before the
// store held counts (a baseline for benchmarks).
func (s *Store) HoldNoTail() { s.countAfter.Store(math.MaxInt64) }

// ErrTailCountBusy and TailCountLockKey are CountTail's refusal while another process counts,
// and the lock that decides it.
var (
	ErrTailCountBusy = errTailCountBusy
	TailCountLockKey = tailCountLockKey
)

// HeldFold describes the tail's fold the store holds for its reads: its views, visitor-days and
// rollup keys (ok is false when it holds none).
func (s *Store) HeldFold() (views, visitorDays, keys int64, ok bool) {
	f := s.fold.Load()
	if f == nil {
		return 0, 0, 0, false
	}
	return f.views, int64(f.visitorDays()), int64(f.keys()), true
}

// SetTailFoldMaxBytes lowers the memory a held fold of the tail may take.
func (s *Store) SetTailFoldMaxBytes(n int64) { s.tailFoldMaxBytes.Store(n) }

// TailTooBig says whether err is FoldTail's refusal to hold the fold of too big a tail.
func TailTooBig(err error) bool { return errors.Is(err, errTailTooBig) }

// HoldNoFold drops the held fold of the tail.
func (s *Store) HoldNoFold() { s.fold.Store(nil) }

// HeldFoldLayers is how many layers the held fold of the tail has (0 when none is held).
func (s *Store) HeldFoldLayers() int {
	if f := s.fold.Load(); f != nil {
		return len(f.layers)
	}
	return 0
}
