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
		if err := lockRollup(ctx, q, wait); err != nil {
			return err
		}
		if err := q.PreferIndexOrder(ctx); err != nil {
			return fmt.Errorf("fold settings: %w", err)
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
		in := FoldInput{Views: make([]FoldView, len(rows)), OpenFrom: st.VisitorsOpenFrom}
		for i, r := range rows {
			in.Views[i] = foldView(db.ListTailViewsRow(r))
		}
		if in.Known, err = knownVisitorDays(ctx, q, in.Views, in.OpenFrom); err != nil {
			return err
		}
		if err := writeFold(ctx, q, compute(in)); err != nil {
			return err
		}
		last := rows[len(rows)-1]
		moved, err := q.AdvanceFoldPoint(ctx, db.AdvanceFoldPointParams{
			ToXid: last.Xid, ToID: last.ID, AfterXid: st.FoldedXid, AfterID: st.FoldedID})
		if err != nil {
			return fmt.Errorf("move the fold point: %w", err)
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

// pathSep joins a visitor-day's paths for UpsertVisitorDays: no normalised path holds a control
// character.
const pathSep = "\x1f"

// writeFold adds a batch's increments to the rollups and writes the dedup state it changed.
func writeFold(ctx context.Context, q *db.Queries, out FoldOutput) error {
	if err := writeCounts(ctx, q, out); err != nil {
		return err
	}
	return writeVisitorDays(ctx, q, out)
}

// writeCounts adds a batch's increments to the hourly and daily rollups, the totals and the
// breakdowns.
func writeCounts(ctx context.Context, q *db.Queries, out FoldOutput) error {
	if len(out.Hours) > 0 {
		var p db.AddHourlyParams
		for k, c := range out.Hours {
			p.Hosts, p.Paths, p.Hours = append(p.Hosts, k.Host), append(p.Paths, k.Path), append(p.Hours, k.Hour)
			p.Q0, p.Q1, p.Q2, p.Q3 = append(p.Q0, c.Views[0]), append(p.Q1, c.Views[1]), append(p.Q2, c.Views[2]), append(p.Q3, c.Views[3])
			p.N0, p.N1, p.N2, p.N3 = append(p.N0, c.NewVisitors[0]), append(p.N1, c.NewVisitors[1]), append(p.N2, c.NewVisitors[2]), append(p.N3, c.NewVisitors[3])
			p.Visitors = append(p.Visitors, c.Visitors)
		}
		if err := q.AddHourly(ctx, p); err != nil {
			return fmt.Errorf("add to hourly rollups: %w", err)
		}
	}
	if len(out.Days) > 0 {
		var p db.AddDailyParams
		for k, c := range out.Days {
			p.Hosts, p.Paths, p.Days = append(p.Hosts, k.Host), append(p.Paths, k.Path), append(p.Days, k.Day)
			p.Views, p.Visitors = append(p.Views, c.Views), append(p.Visitors, c.Visitors)
		}
		if err := q.AddDaily(ctx, p); err != nil {
			return fmt.Errorf("add to daily rollups: %w", err)
		}
	}
	if len(out.Breakdowns) > 0 {
		var p db.AddBreakdownsParams
		for k, c := range out.Breakdowns {
			p.Hosts, p.Paths, p.Dims = append(p.Hosts, k.Host), append(p.Paths, k.Path), append(p.Dims, int16(k.Dim))
			p.Days, p.Vals = append(p.Days, k.Day), append(p.Vals, k.Value)
			p.Views, p.Visitors = append(p.Views, c.Views), append(p.Visitors, c.Visitors)
		}
		if err := q.AddBreakdowns(ctx, p); err != nil {
			return fmt.Errorf("add to breakdowns: %w", err)
		}
	}
	return nil
}

// writeVisitorDays writes the dedup state of the visitor-days a batch created and changed.
func writeVisitorDays(ctx context.Context, q *db.Queries, out FoldOutput) error {
	if len(out.NewVisitorDays) > 0 {
		if _, err := q.CopyVisitorDays(ctx, visitorDayRows(out.NewVisitorDays)); err != nil {
			return fmt.Errorf("write new visitor days: %w", err)
		}
	}
	if len(out.ChangedVisitorDays) > 0 {
		a := visitorDayArrays(out.ChangedVisitorDays)
		if err := q.UpsertVisitorDays(ctx, db.UpsertVisitorDaysParams{Days: a.days, Visitors: a.visitors,
			Hosts: a.hosts, Hours: a.hours, Paths: a.paths, PathHours: a.pathHours}); err != nil {
			return fmt.Errorf("write visitor days: %w", err)
		}
	}
	return nil
}

// visitorDayRows are visitor-days as rows to copy.
func visitorDayRows(vds []*VisitorDay) []db.CopyVisitorDaysParams {
	rows := make([]db.CopyVisitorDaysParams, len(vds))
	for i, vd := range vds {
		rows[i] = db.CopyVisitorDaysParams{Day: vd.Day, Visitor: vd.Visitor, Host: vd.Host, Hours: int32(vd.Hours),
			Paths: vd.Paths, PathHours: make([]int32, len(vd.PathHours))}
		for j, h := range vd.PathHours {
			rows[i].PathHours[j] = int32(h)
		}
	}
	return rows
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
