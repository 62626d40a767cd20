package storage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/prawnhq/prawn/gen/db"
)

// SiteViews is the all-time number of views of every host, rollups and tail, from one snapshot in
// one statement.
func (s *Store) SiteViews(ctx context.Context) (int64, error) {
	t := s.tailCounts()
	r, err := s.q.GetSiteViews(ctx, db.GetSiteViewsParams{CacheXid: t.foldedXid, CacheID: t.foldedID, CacheHorizon: t.horizon})
	if err != nil {
		return 0, fmt.Errorf("site views: %w", classify(err))
	}
	return s.counted(t, r.Cached, r.Rolled, r.Walked, r.Tail, func(t *tailCounts) int64 { return t.site }), nil
}

// PathViews is the all-time number of views of one path of every host, rollups and tail, from
// one snapshot in one statement.
func (s *Store) PathViews(ctx context.Context, path string) (int64, error) {
	t := s.tailCounts()
	r, err := s.q.GetPathViews(ctx, db.GetPathViewsParams{CacheXid: t.foldedXid, CacheID: t.foldedID, CacheHorizon: t.horizon, Path: path})
	if err != nil {
		return 0, fmt.Errorf("views of %q: %w", path, classify(err))
	}
	return s.counted(t, r.Cached, r.Rolled, r.Walked, r.Tail, func(t *tailCounts) int64 { return t.paths[path] }), nil
}

// ScopeViews is the all-time number of views of a scope (a path, or "" for the whole host) of one
// host, rollups and tail, from one snapshot in one statement.
func (s *Store) ScopeViews(ctx context.Context, host, scope string) (int64, error) {
	t := s.tailCounts()
	r, err := s.q.GetScopeViews(ctx, db.GetScopeViewsParams{CacheXid: t.foldedXid, CacheID: t.foldedID, CacheHorizon: t.horizon, Host: host, Scope: scope})
	if err != nil {
		return 0, fmt.Errorf("views of %q %q: %w", host, scope, classify(err))
	}
	return s.counted(t, r.Cached, r.Rolled, r.Walked, r.Tail, func(t *tailCounts) int64 { return t.scopes[[2]string{host, scope}] }), nil
}

// HourRow is an hourly rollup of a scope, summed over hosts.
type HourRow struct {
	Hour time.Time
	HourCounts
}

// DayRow is a daily rollup of a scope, summed over hosts.
type DayRow struct {
	Day time.Time
	DayCounts
}

// PageRow is the views and visitors of one path of one host.
type PageRow struct {
	Host, Path string
	DayCounts
}

// DayTop is one of a day's most viewed paths of a host.
type DayTop struct {
	Host string
	Day  time.Time
	Path string
	// Views of the path that day.
	Views int64
}

// ValueRow is one value of a breakdown.
type ValueRow struct {
	Value string
	DayCounts
}

// Breakdown is the most viewed values of one dimension, and the sums over every value.
type Breakdown struct {
	Values []ValueRow
	// All sums every value; AllValues counts them.
	All       DayCounts
	AllValues int64
}

// Reader answers questions from one consistent snapshot: the rollups, the fold point and the
// not-yet-folded tail are read together, so rollups + tail counts every committed view once.
type Reader struct {
	s     *Store
	q     *db.Queries
	state db.GetRollupStateRow
	// fold is the Store's held fold of this snapshot's fold point, or nil (see tailFold).
	fold *tailFold
	// bounded is set once bound has run, and afterXid, afterID and boundErr are its answer.
	bounded           bool
	afterXid, afterID int64
	boundErr          error
}

// Read runs fn in a read-only repeatable-read transaction.
func (s *Store) Read(ctx context.Context, fn func(*Reader) error) error {
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error {
			r := &Reader{s: s, q: s.q.WithTx(tx)}
			t := s.tailCounts()
			st, err := r.q.GetRollupState(ctx, db.GetRollupStateParams{
				CacheXid: t.foldedXid, CacheID: t.foldedID, CacheHorizon: t.horizon, TailLimit: MaxTail + 1})
			if err != nil {
				return fmt.Errorf("read rollup state: %w", err)
			}
			if st.TailViews > tailCountsFrom {
				s.countTailSoon()
			}
			if st.Cached {
				st.TailViews += t.all
			}
			r.state = st
			r.fold = s.heldFold(st)
			s.dropStaleFold(st)
			return fn(r)
		})
	return classify(err)
}

// RolledAt is when the rollups were last brought up to date.
func (r *Reader) RolledAt() time.Time { return r.state.RolledAt }

// OpenFrom is the first UTC day whose visitors are still being counted.
func (r *Reader) OpenFrom() time.Time { return r.state.VisitorsOpenFrom }

// Backlog fails with ErrBacklog when a read that counts the tail's rows itself (Tail, Hosts)
// would count more than MaxTail views: finding one scope's views in such a tail means walking
// all of it, so the read refuses at once instead of after seconds. Beside a held fold of this
// snapshot's fold point (see tailFold), only the views after it count.
func (r *Reader) Backlog(ctx context.Context) error {
	_, _, err := r.bound(ctx)
	return err
}

// bound says where the views this read counts itself begin: after the fold point, or from the
// held fold's horizon on; and fails with ErrBacklog when they are more than MaxTail. More than
// tailCountsFrom of them (tailFoldAgainFrom beside a held fold) start a fold of the tail in the
// background (see tailFold).
func (r *Reader) bound(ctx context.Context) (afterXid, afterID int64, err error) {
	if r.bounded {
		return r.afterXid, r.afterID, r.boundErr
	}
	r.bounded = true
	r.afterXid, r.afterID = r.state.FoldedXid, r.state.FoldedID
	n := r.state.TailViews
	if r.fold != nil {
		if n, err = r.q.CountTailFrom(ctx, db.CountTailFromParams{FromXid: r.fold.horizon, MaxRows: MaxTail + 1}); err != nil {
			r.boundErr = fmt.Errorf("count the tail: %w", err)
			return 0, 0, r.boundErr
		}
		r.afterXid, r.afterID = r.fold.horizon, 0
	}
	if r.fold != nil && n > tailFoldAgainFrom {
		r.s.foldTailSoon(true)
	} else if n > tailCountsFrom {
		r.s.foldTailSoon(false)
	}
	if n > MaxTail {
		r.boundErr = fmt.Errorf("%w: more than %d", ErrBacklog, MaxTail)
	}
	return r.afterXid, r.afterID, r.boundErr
}

// Pending is how many views wait to be folded, of every host: exact up to MaxTail, and more than
// MaxTail beyond it unless the Store holds the tail's counts.
func (r *Reader) Pending() int64 { return r.state.TailViews }

// Hosts lists every host with views ("" is the default site), in the rollups or the tail. It
// fails with ErrBacklog beyond MaxTail views (see Backlog): the tail's hosts are in its rows.
func (r *Reader) Hosts(ctx context.Context) ([]string, error) {
	afterXid, afterID, err := r.bound(ctx)
	if err != nil {
		return nil, err
	}
	hosts, err := r.q.ListHosts(ctx, db.ListHostsParams{AfterXid: afterXid, AfterID: afterID})
	if err != nil {
		return nil, fmt.Errorf("list hosts: %w", err)
	}
	if r.fold != nil {
		hosts = append(hosts, r.fold.hosts()...)
		slices.Sort(hosts)
		hosts = slices.Compact(hosts)
	}
	return hosts, nil
}

// HostTotals returns the all-time counts of every host in the rollups, most viewed first.
func (r *Reader) HostTotals(ctx context.Context) ([]PageRow, error) {
	rows, err := r.q.ListHostTotals(ctx)
	if err != nil {
		return nil, fmt.Errorf("host totals: %w", err)
	}
	out := make([]PageRow, len(rows))
	for i, t := range rows {
		out[i] = PageRow{Host: t.Host, DayCounts: DayCounts{Views: t.Views, Visitors: t.Visitors}}
	}
	return out, nil
}

// Totals returns the all-time counts of a scope (a path, or "" for whole hosts) of hosts, in the
// rollups.
func (r *Reader) Totals(ctx context.Context, hosts []string, scope string) (DayCounts, error) {
	t, err := r.q.GetTotals(ctx, db.GetTotalsParams{Hosts: hosts, Scope: scope})
	if err != nil {
		return DayCounts{}, fmt.Errorf("totals: %w", err)
	}
	return DayCounts{Views: t.Views, Visitors: t.Visitors}, nil
}

// MaxTail bounds the views not yet folded that one read counts itself (see Reader.Tail). The fold
// keeps the tail far below it; it is reached only when folding has stopped or a bulk load is
// being folded, and a read then answers ErrBacklog at once instead of working for seconds.
const MaxTail = 50_000

// ErrBacklog means more views wait to be folded than one read counts itself; the rollup is
// catching up and the read will succeed shortly.
var ErrBacklog = errors.New("too many views are waiting to be folded")

// Tail returns the views not yet folded of path ("" for every path) of hosts that the caller
// counts itself, as the fold would read them, with the dedup state of their visitor-days, so the
// caller can count them as the fold will (see rollup.Compute); and, beside a held fold of this
// snapshot's fold point, its output for the scope path of the hosts (with path "" and pages, for
// each of their paths too), which the caller adds (the views of in come after it). It fails with
// ErrBacklog beyond MaxTail views (see Backlog).
func (r *Reader) Tail(ctx context.Context, hosts []string, path string, pages bool) (FoldInput, []*FoldOutput, error) {
	afterXid, afterID, err := r.bound(ctx)
	if err != nil {
		return FoldInput{}, nil, err
	}
	rows, err := r.q.ListTailViews(ctx, db.ListTailViewsParams{
		AfterXid: afterXid, AfterID: afterID, Hosts: hosts, Path: path})
	if err != nil {
		return FoldInput{}, nil, fmt.Errorf("read tail: %w", err)
	}
	// bound saw this snapshot's views after afterXid, afterID at MaxTail at most: rows holds no more.
	in := FoldInput{Views: make([]FoldView, len(rows)), OpenFrom: r.state.VisitorsOpenFrom}
	for i, row := range rows {
		in.Views[i] = foldView(row)
	}
	if r.fold == nil {
		in.Known, err = knownVisitorDays(ctx, r.q, in.Views, in.OpenFrom)
		return in, nil, err
	}
	in.Known, err = r.fold.knownOf(ctx, r.q, in.Views)
	return in, r.fold.parts(hosts, path, pages), err
}

// Hours returns the hourly rollups of a scope of hosts in [from, to) (whole UTC hours), summed
// over the hosts, in time order.
func (r *Reader) Hours(ctx context.Context, hosts []string, scope string, from, to time.Time) ([]HourRow, error) {
	rows, err := r.q.ListHours(ctx, db.ListHoursParams{Hosts: hosts, Scope: scope, FromHour: from, ToHour: to})
	if err != nil {
		return nil, fmt.Errorf("hourly rollups: %w", err)
	}
	out := make([]HourRow, 0, len(rows))
	for _, h := range rows {
		out = append(out, HourRow{Hour: h.Hour.UTC(), HourCounts: HourCounts{
			Views: [4]int64{h.Q0, h.Q1, h.Q2, h.Q3}, NewVisitors: [4]int64{h.N0, h.N1, h.N2, h.N3}, Visitors: h.Visitors}})
	}
	// The query has no ORDER BY (an index-only scan yields key order, but nothing promises it):
	// sort here, cheap on rows that come sorted, and merge several hosts' rows.
	slices.SortStableFunc(out, func(a, b HourRow) int { return a.Hour.Compare(b.Hour) })
	if len(hosts) > 1 {
		merged := out[:0]
		for _, h := range out {
			if n := len(merged); n > 0 && merged[n-1].Hour.Equal(h.Hour) {
				m := &merged[n-1]
				for q := range 4 {
					m.Views[q] += h.Views[q]
					m.NewVisitors[q] += h.NewVisitors[q]
				}
				m.Visitors += h.Visitors
				continue
			}
			merged = append(merged, h)
		}
		out = merged
	}
	return out, nil
}

// Days returns the daily rollups of a scope of hosts in [from, to) (UTC midnights).
func (r *Reader) Days(ctx context.Context, hosts []string, scope string, from, to time.Time) ([]DayRow, error) {
	rows, err := r.q.ListDays(ctx, db.ListDaysParams{Hosts: hosts, Scope: scope, FromDay: from, ToDay: to})
	if err != nil {
		return nil, fmt.Errorf("daily rollups: %w", err)
	}
	out := make([]DayRow, len(rows))
	for i, d := range rows {
		out[i] = DayRow{Day: UTCDay(d.Day), DayCounts: DayCounts{Views: d.Views, Visitors: d.Visitors}}
	}
	return out, nil
}

// DayTops returns, for each host and each UTC day in [from, to), its k most viewed paths in the
// rollups, most viewed first.
func (r *Reader) DayTops(ctx context.Context, hosts []string, from, to time.Time, k int) ([]DayTop, error) {
	rows, err := r.q.ListDayTops(ctx, db.ListDayTopsParams{Hosts: hosts, FromDay: from, ToDay: to, K: int32(k)})
	if err != nil {
		return nil, fmt.Errorf("daily top pages: %w", err)
	}
	out := make([]DayTop, len(rows))
	for i, t := range rows {
		out[i] = DayTop{Host: t.Host, Day: UTCDay(t.Day), Path: t.Path, Views: t.Views}
	}
	return out, nil
}

// PageSpan is a range of whole hours cut into the whole UTC days inside it and the hours before
// and after them.
type PageSpan struct {
	From, To         time.Time // whole hours
	FullFrom, FullTo time.Time // whole UTC days; FullFrom == FullTo when none
}

// SplitDays cuts [from, to) (whole hours) into whole UTC days and the hours around them.
func SplitDays(from, to time.Time) PageSpan {
	s := PageSpan{From: from, To: to, FullFrom: UTCDay(from), FullTo: UTCDay(to)}
	if !s.FullFrom.Equal(from) {
		s.FullFrom = s.FullFrom.AddDate(0, 0, 1)
	}
	if !s.FullFrom.Before(s.FullTo) {
		s.FullFrom, s.FullTo = to, to
	}
	return s
}

// SumPages returns the rollup counts of the given (host, path) pairs over span.
func (r *Reader) SumPages(ctx context.Context, pages []PageRow, span PageSpan) ([]PageRow, error) {
	p := db.SumPagesParams{FullFrom: span.FullFrom, FullTo: span.FullTo, FromHour: span.From,
		FullFromHour: span.FullFrom, FullToHour: span.FullTo, ToHour: span.To}
	for _, pg := range pages {
		p.Hosts, p.Paths = append(p.Hosts, pg.Host), append(p.Paths, pg.Path)
	}
	rows, err := r.q.SumPages(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("sum pages: %w", err)
	}
	out := make([]PageRow, len(rows))
	for i, s := range rows {
		out[i] = PageRow{Host: s.Host, Path: s.Path, DayCounts: DayCounts{Views: s.Views, Visitors: s.Visitors}}
	}
	return out, nil
}

// Breakdown returns the most viewed values (at most limit) of dimension dim of a scope of hosts
// over the UTC days [from, to), in the rollups.
func (r *Reader) Breakdown(ctx context.Context, hosts []string, scope string, dim Dim, from, to time.Time, limit int) (Breakdown, error) {
	rows, err := r.q.ListBreakdown(ctx, db.ListBreakdownParams{
		Hosts: hosts, Scope: scope, Dim: int16(dim), FromDay: from, ToDay: to, MaxValues: int32(limit)})
	if err != nil {
		return Breakdown{}, fmt.Errorf("breakdown: %w", err)
	}
	var b Breakdown
	for _, v := range rows {
		b.Values = append(b.Values, ValueRow{Value: v.Value, DayCounts: DayCounts{Views: v.Views, Visitors: v.Visitors}})
		b.All, b.AllValues = DayCounts{Views: v.AllViews, Visitors: v.AllVisitors}, v.AllValues
	}
	return b, nil
}
