package storage

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/prawnhq/prawn/gen/db"
)

// rollupLockKey is the advisory lock that serialises rollups (any value unique to prawn).
const rollupLockKey = 0x70726177 // "praw"

// ErrRollupBusy means another rollup holds the lock.
var ErrRollupBusy = errors.New("another rollup is running")

// errNothingToFold rolls back a fold transaction that found no views to fold.
var errNothingToFold = errors.New("nothing to fold")

// FoldResult is what one fold batch did.
type FoldResult struct {
	// Folded is how many views the batch moved into the rollups.
	Folded int64
}

// FoldBatch folds at most maxRows views that no running transaction can still add to into the
// rollups, in one transaction: all of the batch's effect or none. It returns ErrRollupBusy when
// another rollup holds the lock and wait is false.
func (s *Store) FoldBatch(ctx context.Context, maxRows int, wait bool) (FoldResult, error) {
	var res FoldResult
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		q := s.q.WithTx(tx)
		if wait {
			if err := q.RollupLock(ctx, rollupLockKey); err != nil {
				return fmt.Errorf("rollup lock: %w", err)
			}
		} else {
			ok, err := q.TryRollupLock(ctx, rollupLockKey)
			if err != nil {
				return fmt.Errorf("rollup lock: %w", err)
			}
			if !ok {
				return ErrRollupBusy
			}
		}
		// A new statement, so a new snapshot: it sees every fold committed before the lock was ours.
		h, err := q.GetFoldHorizon(ctx)
		if err != nil {
			return fmt.Errorf("fold horizon: %w", err)
		}
		row, err := q.FoldViews(ctx, db.FoldViewsParams{
			AfterXid: h.FoldedXid, AfterID: h.FoldedID, Horizon: h.Horizon, MaxRows: int64(maxRows)})
		if errors.Is(err, pgx.ErrNoRows) {
			// Nothing to fold (or the fold point moved under us, which the lock rules out):
			// nothing the statement did may stay, so roll back.
			return errNothingToFold
		}
		if err != nil {
			return fmt.Errorf("fold: %w", err)
		}
		res.Folded = row.Folded
		return nil
	})
	if errors.Is(err, errNothingToFold) {
		err = s.q.MarkRolled(ctx)
	}
	if err != nil && !errors.Is(err, ErrRollupBusy) {
		err = classify(err)
	}
	return res, err
}

// Unfolded counts the views not yet folded into the rollups.
func (s *Store) Unfolded(ctx context.Context) (int64, error) {
	n, err := s.q.CountUnfolded(ctx)
	return n, classify(err)
}
