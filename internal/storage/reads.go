package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/prawnhq/prawn/gen/db"
)

// Quarter is the number of views in the quarter hour starting at Start (UTC).
type Quarter struct {
	Start time.Time
	Views int64
}

// PageCount is the number of views of one path.
type PageCount struct {
	Path  string
	Views int64
}

// Reader answers questions from one consistent snapshot: the rollups, the fold point and the
// not-yet-folded tail are read together, so rollups + tail counts every committed view once.
type Reader struct {
	q        *db.Queries
	state    db.GetRollupStateRow
	tailSite *int64
}

// Read runs fn in a read-only repeatable-read transaction.
func (s *Store) Read(ctx context.Context, fn func(*Reader) error) error {
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error {
			r := &Reader{q: s.q.WithTx(tx)}
			st, err := r.q.GetRollupState(ctx)
			if err != nil {
				return fmt.Errorf("read rollup state: %w", err)
			}
			r.state = st
			return fn(r)
		})
	return classify(err)
}

// RolledAt is when the rollups were last brought up to date.
func (r *Reader) RolledAt() time.Time { return r.state.RolledAt }

// Pending is the number of views not yet folded into the rollups, site-wide.
func (r *Reader) Pending(ctx context.Context) (int64, error) {
	if r.tailSite == nil {
		n, err := r.q.CountTail(ctx, db.CountTailParams{AfterXid: r.state.FoldedXid, AfterID: r.state.FoldedID})
		if err != nil {
			return 0, fmt.Errorf("count tail: %w", err)
		}
		r.tailSite = &n
	}
	return *r.tailSite, nil
}

// Total is the all-time number of views of path, or of the site when path is nil.
func (r *Reader) Total(ctx context.Context, path *string) (int64, error) {
	if path == nil {
		tail, err := r.Pending(ctx)
		return r.state.TotalViews + tail, err
	}
	rolled, err := r.q.GetPathTotal(ctx, *path)
	if err != nil {
		return 0, fmt.Errorf("path total: %w", err)
	}
	tail, err := r.q.CountTail(ctx, db.CountTailParams{
		AfterXid: r.state.FoldedXid, AfterID: r.state.FoldedID, Path: text(path)})
	if err != nil {
		return 0, fmt.Errorf("count tail: %w", err)
	}
	return rolled + tail, nil
}

// Quarters returns the non-zero quarter-hour counts of path (or the site when nil) in [from, to),
// where from and to are whole hours (UTC). Quarters may repeat (rollup and tail); callers add.
func (r *Reader) Quarters(ctx context.Context, path *string, from, to time.Time) ([]Quarter, error) {
	var out []Quarter
	addHour := func(hour time.Time, q ...int64) {
		for i, n := range q {
			if n != 0 {
				out = append(out, Quarter{Start: hour.Add(time.Duration(i) * 15 * time.Minute), Views: n})
			}
		}
	}
	if path == nil {
		rows, err := r.q.ListSiteHours(ctx, db.ListSiteHoursParams{FromHour: from, ToHour: to})
		if err != nil {
			return nil, fmt.Errorf("site rollups: %w", err)
		}
		for _, h := range rows {
			addHour(h.Hour, h.Q0, h.Q1, h.Q2, h.Q3)
		}
	} else {
		rows, err := r.q.ListPathHours(ctx, db.ListPathHoursParams{Path: *path, FromHour: from, ToHour: to})
		if err != nil {
			return nil, fmt.Errorf("path rollups: %w", err)
		}
		for _, h := range rows {
			addHour(h.Hour, h.Q0, h.Q1, h.Q2, h.Q3)
		}
	}
	tail, err := r.q.ListTailQuarters(ctx, db.ListTailQuartersParams{
		AfterXid: r.state.FoldedXid, AfterID: r.state.FoldedID, FromTime: from, ToTime: to, Path: text(path)})
	if err != nil {
		return nil, fmt.Errorf("tail: %w", err)
	}
	for _, t := range tail {
		out = append(out, Quarter{Start: t.Quarter, Views: t.Views})
	}
	return out, nil
}

// TopPages returns the most viewed paths in [from, to) (whole hours), most viewed first.
func (r *Reader) TopPages(ctx context.Context, from, to time.Time, limit int) ([]PageCount, error) {
	rows, err := r.q.ListTopPages(ctx, db.ListTopPagesParams{
		FromHour: from, ToHour: to, AfterXid: r.state.FoldedXid, AfterID: r.state.FoldedID, MaxPages: int32(limit)})
	if err != nil {
		return nil, fmt.Errorf("top pages: %w", err)
	}
	out := make([]PageCount, len(rows))
	for i, p := range rows {
		out[i] = PageCount{Path: p.Path, Views: p.Views}
	}
	return out, nil
}

func text(s *string) pgtype.Text {
	if s == nil {
		return pgtype.Text{}
	}
	return pgtype.Text{String: *s, Valid: true}
}
