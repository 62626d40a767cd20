package storage

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/prawnhq/prawn/gen/db"
)

// rollupLockKey is the advisory lock that serialises rollups (any value unique to prawn).
const rollupLockKey = 0x70726177 // "praw"

// ErrRollupBusy means another rollup holds the lock.
var ErrRollupBusy = errors.New("another rollup is running")

// errNothingToFold rolls back a fold transaction that found no views to fold.
var errNothingToFold = errors.New("nothing to fold")

// Dimensions of a view, numbered as in daily_breakdowns.dim.
const (
	DimRefHost Dim = iota + 1
	DimReferrer
	DimUTMSource
	DimUTMMedium
	DimUTMCampaign
	DimBrowser
	DimOS
	DimDevice
	DimCountry
)

// NumDims is how many dimensions a view has.
const NumDims = 9

// Dim is a dimension of views (referrer host, browser, ...).
type Dim int16

// PerPath reports whether the dimension is broken down per path as well as per host: where
// readers came from is; what they read with is kept per host only.
func (d Dim) PerPath() bool {
	return d == DimRefHost || d == DimUTMSource || d == DimUTMMedium || d == DimUTMCampaign
}

// FoldView is a raw view as the fold reads it.
type FoldView struct {
	XID, ID    int64
	Host, Path string
	At         time.Time
	// Visitor is the view's visitor id; 0 when it has none.
	Visitor int64
	// Dims holds the value of each dimension (index Dim-1); "" is unknown.
	Dims [NumDims]string
}

// VisitorDay is the dedup state of one visitor on one UTC day on one host: the hours (bit h =
// UTC hour h) it was seen in, the paths it viewed and, for each, the hours it viewed it in.
type VisitorDay struct {
	Day       time.Time
	Visitor   int64
	Host      string
	Hours     uint32
	Paths     []string
	PathHours []uint32
}

// VisitorDayKey identifies a VisitorDay.
type VisitorDayKey struct {
	Day     time.Time
	Visitor int64
	Host    string
}

// Key is the visitor-day's key.
func (v *VisitorDay) Key() VisitorDayKey {
	return VisitorDayKey{Day: v.Day, Visitor: v.Visitor, Host: v.Host}
}

// HourCounts are what a batch adds to the hourly rollup of a scope: views per quarter hour,
// visitor-days first seen per quarter hour, and visitors new to the hour.
type HourCounts struct {
	Views, NewVisitors [4]int64
	Visitors           int64
}

// HourKey is an hourly rollup row: a scope (a path, or "" for the host) and an hour.
type HourKey struct {
	Host, Path string
	Hour       time.Time
}

// DayCounts are what a batch adds to a daily rollup (and to the all-time totals).
type DayCounts struct{ Views, Visitors int64 }

// DayKey is a daily rollup row.
type DayKey struct {
	Host, Path string
	Day        time.Time
}

// BreakdownKey is a breakdown row: a scope, a dimension, a day and a value.
type BreakdownKey struct {
	Host, Path string
	Dim        Dim
	Day        time.Time
	Value      string
}

// FoldInput is what the fold computes from: the batch in fold order, the first day still open
// for visitors, and the dedup state of the batch's visitor-days (absent ones are new).
type FoldInput struct {
	Views    []FoldView
	OpenFrom time.Time
	Known    map[VisitorDayKey]*VisitorDay
}

// FoldOutput is what a batch adds to the rollups, and the dedup state it created and changed.
type FoldOutput struct {
	Hours                              map[HourKey]*HourCounts
	Days                               map[DayKey]*DayCounts
	Breakdowns                         map[BreakdownKey]*DayCounts
	NewVisitorDays, ChangedVisitorDays []*VisitorDay
}

// FoldFunc computes what a batch adds to the rollups (see rollup.Compute).
type FoldFunc func(FoldInput) FoldOutput

// FoldResult is what one fold batch did.
type FoldResult struct {
	// Folded is how many views the batch moved into the rollups.
	Folded int64
}

// FoldBatch folds at most maxRows views that no running transaction can still add to into the
// rollups, in one transaction: all of the batch's effect or none. compute turns the batch into
// rollup increments. It returns ErrRollupBusy when another rollup holds the lock and wait is false.
func (s *Store) FoldBatch(ctx context.Context, maxRows int, wait bool, compute FoldFunc) (FoldResult, error) {
	var res FoldResult
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		q := s.q.WithTx(tx)
		if wait {
			if err := q.FoldLock(ctx, rollupLockKey); err != nil {
				return fmt.Errorf("rollup lock: %w", err)
			}
		} else {
			lock, err := q.TryFoldLock(ctx, rollupLockKey)
			if err != nil {
				return fmt.Errorf("rollup lock: %w", err)
			}
			if !lock.Locked {
				return ErrRollupBusy
			}
		}
		// A new statement, so a new snapshot: it sees every fold committed before the lock was ours.
		st, err := q.GetFoldState(ctx)
		if err != nil {
			return fmt.Errorf("fold horizon: %w", err)
		}
		rows, err := q.ListFoldBatch(ctx, db.ListFoldBatchParams{
			AfterXid: st.FoldedXid, AfterID: st.FoldedID, Horizon: st.Horizon, MaxRows: int64(maxRows)})
		if err != nil {
			return fmt.Errorf("read batch: %w", err)
		}
		if len(rows) == 0 {
			return errNothingToFold
		}
		in := batchInput(rows, st.VisitorsOpenFrom)
		if in.Known, err = knownVisitorDays(ctx, q, in.Views, in.OpenFrom); err != nil {
			return err
		}
		last := rows[len(rows)-1]
		out := compute(in)
		if len(out.NewVisitorDays) >= copyVisitorDaysAtLeast {
			// Many new visitor-days (a large batch): COPY them, ApplyFold writes the rest. Only a
			// fold (under the lock) writes visitor_days, so a visitor-day the lookup did not find
			// is new: no conflict is possible.
			if err := copyVisitorDays(ctx, tx, out.NewVisitorDays); err != nil {
				return err
			}
			out.NewVisitorDays = nil
		}
		p := applyParams(out, true)
		p.MoveFoldPoint, p.ToXid, p.ToID, p.AfterXid, p.AfterID = true, last.Xid, last.ID, st.FoldedXid, st.FoldedID
		moved, err := q.ApplyFold(ctx, p)
		if err != nil {
			return fmt.Errorf("apply the fold: %w", err)
		}
		if moved != 1 {
			return errors.New("the fold point moved during a fold") // the lock rules this out
		}
		res.Folded = int64(len(rows))
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

func lockRollup(ctx context.Context, q *db.Queries, wait bool) error {
	if wait {
		if err := q.RollupLock(ctx, rollupLockKey); err != nil {
			return fmt.Errorf("rollup lock: %w", err)
		}
		return nil
	}
	ok, err := q.TryRollupLock(ctx, rollupLockKey)
	if err != nil {
		return fmt.Errorf("rollup lock: %w", err)
	}
	if !ok {
		return ErrRollupBusy
	}
	return nil
}

// batchInput is a fold batch's rows as the fold computes from them (without their dedup state).
func batchInput(rows []db.ListFoldBatchRow, openFrom time.Time) FoldInput {
	in := FoldInput{Views: make([]FoldView, len(rows)), OpenFrom: openFrom}
	for i, r := range rows {
		in.Views[i] = foldView(db.ListTailViewsRow(r))
	}
	return in
}

func foldView(r db.ListTailViewsRow) FoldView {
	return FoldView{XID: r.Xid, ID: r.ID, Host: r.Host, Path: r.Path, At: r.ViewedAt.UTC(), Visitor: r.Visitor,
		Dims: [NumDims]string{r.RefHost, r.Referrer, r.UtmSource, r.UtmMedium, r.UtmCampaign, r.Browser, r.Os, r.Device, r.Country}}
}

// UTCDay is the UTC day of t, as a midnight in UTC.
func UTCDay(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// knownVisitorDays reads the dedup state of the visitor-days of views on open days.
func knownVisitorDays(ctx context.Context, q *db.Queries, views []FoldView, openFrom time.Time) (map[VisitorDayKey]*VisitorDay, error) {
	known := map[VisitorDayKey]*VisitorDay{}
	var p db.ListVisitorDaysParams
	for _, v := range views {
		day := UTCDay(v.At)
		if v.Visitor == 0 || day.Before(openFrom) {
			continue
		}
		k := VisitorDayKey{Day: day, Visitor: v.Visitor, Host: v.Host}
		if _, ok := known[k]; ok {
			continue
		}
		known[k] = nil
		p.Days, p.Visitors, p.Hosts = append(p.Days, day), append(p.Visitors, v.Visitor), append(p.Hosts, v.Host)
	}
	if len(p.Days) == 0 {
		return known, nil
	}
	rows, err := q.ListVisitorDays(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("read visitor days: %w", err)
	}
	for k := range known {
		delete(known, k)
	}
	for _, r := range rows {
		vd := &VisitorDay{Day: UTCDay(r.Day), Visitor: r.Visitor, Host: r.Host, Hours: uint32(r.Hours),
			Paths: r.Paths, PathHours: make([]uint32, len(r.PathHours))}
		for i, h := range r.PathHours {
			vd.PathHours[i] = uint32(h)
		}
		known[vd.Key()] = vd
	}
	return known, nil
}

// pathSep joins a visitor-day's paths for ApplyFold: no normalised path holds a control character.
const pathSep = "\x1f"

// applyParams lays a batch's increments out as ApplyFold's parallel arrays, with the dedup state
// of its visitor-days when withVisitorDays.
func applyParams(out FoldOutput, withVisitorDays bool) db.ApplyFoldParams {
	var p db.ApplyFoldParams
	for k, c := range out.Hours {
		p.HHosts, p.HPaths, p.HHours = append(p.HHosts, k.Host), append(p.HPaths, k.Path), append(p.HHours, k.Hour)
		p.HQ0, p.HQ1, p.HQ2, p.HQ3 = append(p.HQ0, c.Views[0]), append(p.HQ1, c.Views[1]), append(p.HQ2, c.Views[2]), append(p.HQ3, c.Views[3])
		p.HN0, p.HN1, p.HN2, p.HN3 = append(p.HN0, c.NewVisitors[0]), append(p.HN1, c.NewVisitors[1]), append(p.HN2, c.NewVisitors[2]), append(p.HN3, c.NewVisitors[3])
		p.HVisitors = append(p.HVisitors, c.Visitors)
	}
	for k, c := range out.Days {
		p.DHosts, p.DPaths, p.DDays = append(p.DHosts, k.Host), append(p.DPaths, k.Path), append(p.DDays, k.Day)
		p.DViews, p.DVisitors = append(p.DViews, c.Views), append(p.DVisitors, c.Visitors)
	}
	for k, c := range out.Breakdowns {
		p.BHosts, p.BPaths, p.BDims = append(p.BHosts, k.Host), append(p.BPaths, k.Path), append(p.BDims, int16(k.Dim))
		p.BDays, p.BValues = append(p.BDays, k.Day), append(p.BValues, k.Value)
		p.BViews, p.BVisitors = append(p.BViews, c.Views), append(p.BVisitors, c.Visitors)
	}
	if withVisitorDays {
		a := visitorDayArrays(append(append([]*VisitorDay(nil), out.NewVisitorDays...), out.ChangedVisitorDays...))
		p.VDays, p.VVisitors, p.VHosts, p.VHours, p.VPaths, p.VPathHours = a.days, a.visitors, a.hosts, a.hours, a.paths, a.pathHours
	}
	return p
}

// copyVisitorDaysAtLeast is how many new visitor-days make a fold COPY them rather than send
// them in ApplyFold's arrays (an upsert that parses each row's paths from text). COPY costs a
// round trip more and saves several µs a row: measured on 2026-12-01 with batches of 100 000
// views of the last hour (64 000–94 000 new visitor-days each), writing them took 0.8–1.2 s in
// ApplyFold and 0.24–0.42 s by COPY; the whole fold went from 37 000–46 000 to 48 000–67 000
// views/s (docs/benchmarks.md, Rollups).
const copyVisitorDaysAtLeast = 2000

// copyVisitorDays inserts new visitor-days with COPY (binary: no text to parse).
func copyVisitorDays(ctx context.Context, tx pgx.Tx, vds []*VisitorDay) error {
	i := 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if i == len(vds) {
			return nil, nil
		}
		vd := vds[i]
		i++
		hours := make([]int32, len(vd.PathHours))
		for j, h := range vd.PathHours {
			hours[j] = int32(h)
		}
		return []any{vd.Day, vd.Visitor, vd.Host, int32(vd.Hours), vd.Paths, hours}, nil
	})
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"visitor_days"},
		[]string{"day", "visitor", "host", "hours", "paths", "path_hours"}, src); err != nil {
		return fmt.Errorf("write new visitor days: %w", err)
	}
	return nil
}

// applyCounts adds increments to the rollups without touching the fold point or the dedup state
// of recorded views (an import keeps its own).
func applyCounts(ctx context.Context, q *db.Queries, out FoldOutput) error {
	if _, err := q.ApplyFold(ctx, applyParams(out, false)); err != nil {
		return fmt.Errorf("add to the rollups: %w", err)
	}
	return nil
}

// dayArrays are visitor-days as the parallel arrays of an upsert: each row's paths joined by
// pathSep, its hours by ",".
type dayArrays struct {
	days                    []time.Time
	visitors                []int64
	hosts, paths, pathHours []string
	hours                   []int32
}

func visitorDayArrays(vds []*VisitorDay) dayArrays {
	var a dayArrays
	var hours []string
	for _, vd := range vds {
		a.days, a.visitors, a.hosts = append(a.days, vd.Day), append(a.visitors, vd.Visitor), append(a.hosts, vd.Host)
		a.hours = append(a.hours, int32(vd.Hours))
		a.paths = append(a.paths, strings.Join(vd.Paths, pathSep))
		hours = hours[:0]
		for _, h := range vd.PathHours {
			hours = append(hours, strconv.FormatUint(uint64(h), 10))
		}
		a.pathHours = append(a.pathHours, strings.Join(hours, ","))
	}
	return a
}

// TailAtLeast reports whether at least n views wait to be folded, reading at most n of them.
func (s *Store) TailAtLeast(ctx context.Context, n int) (bool, error) {
	ok, err := s.q.TailAtLeast(ctx, int32(max(n, 1)))
	return ok, classify(err)
}

// Unfolded counts the views not yet folded into the rollups.
func (s *Store) Unfolded(ctx context.Context) (int64, error) {
	n, err := s.q.CountUnfolded(ctx)
	return n, classify(err)
}

// CloseVisitorDays closes every day that ended at least closeAfter ago and has no view left to
// fold: its dedup state is deleted (its counts stay in the rollups), and a view of it folded
// later counts as a view only. It returns the first day still open.
func (s *Store) CloseVisitorDays(ctx context.Context, closeAfter time.Duration) (time.Time, error) {
	var open time.Time
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		q := s.q.WithTx(tx)
		if err := lockRollup(ctx, q, true); err != nil {
			return err
		}
		var err error
		open, err = q.CloseVisitorDays(ctx, closeAfter.Seconds())
		if err != nil {
			return fmt.Errorf("close visitor days: %w", err)
		}
		return nil
	})
	return open, classify(err)
}
