package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/prawnhq/prawn/gen/db"
)

// The reads other than the counters (series, top pages, breakdowns, the hosts list) count the
// tail as the fold will: its views in fold order and the dedup state of their visitor-days
// (Reader.Tail). Beside a long tail that is a walk of every view, so past MaxTail views they
// refuse (ErrBacklog). With a fold function (HoldTailFolds), a Store beside a long tail folds the
// tail in memory, in the background, and holds the result (tailFold): what the views after a
// fold point F whose transaction id is below a horizon H add to each scope's rollups, and the
// dedup state of their visitor-days after them. A read whose snapshot has fold point F then
// counts only the views from H on, continuing from that dedup state, and adds the held output.
//
// Exactness is the tail counts' argument (see tailCounts): every transaction below H had ended,
// so the held set is final while the fold point is F, and it comes first in fold order (every
// later view has a transaction id from H on), so folding the rest after it is folding the tail.

// tailFold is the fold of the views after a fold point below a horizon, split by scope.
type tailFold struct {
	foldedXid, foldedID, horizon int64
	openFrom                     time.Time
	views                        int64
	// scopes holds, per host and scope (a path, or "" for the host), what the views add to that
	// scope's rollups (keys of that scope only).
	scopes map[[2]string]*FoldOutput
	// paths lists each host's paths among the views.
	paths map[string][]string
	// known is the dedup state of the visitor-days the views touched, after them, compactly
	// (names interns their hosts and paths). Read only once held.
	known map[heldKey]heldDay
	names []string
	ids   map[string]uint32
	// entries counts the rollup keys in scopes.
	entries int
}

// heldKey and heldDay are a VisitorDayKey and its VisitorDay in a held fold, compactly (about 100
// bytes with the map's own, against 265 as VisitorDays: BenchmarkFoldTail), as a held fold may
// hold a million of them.
type heldKey struct {
	visitor int64
	day     int32  // days since 1970-01-01
	host    uint32 // index in tailFold.names
}

type heldDay struct {
	hours uint32
	// path+1 (0: none) and pathHours are the first of the visitor-day's paths (an index in
	// tailFold.names) and its hours; more holds the others, in order.
	path, pathHours uint32
	more            *[]heldPath
}

type heldPath struct{ path, hours uint32 }

// name interns s.
func (f *tailFold) name(s string) uint32 {
	id, ok := f.ids[s]
	if !ok {
		id = uint32(len(f.names))
		f.names = append(f.names, s)
		f.ids[s] = id
	}
	return id
}

// key is k in f, and false when f has never met its host.
func (f *tailFold) key(k VisitorDayKey) (heldKey, bool) {
	host, ok := f.ids[k.Host]
	return heldKey{visitor: k.Visitor, day: int32(k.Day.Unix() / 86400), host: host}, ok
}

// hold keeps vd's state in f.
func (f *tailFold) hold(vd *VisitorDay) {
	k := heldKey{visitor: vd.Visitor, day: int32(vd.Day.Unix() / 86400), host: f.name(vd.Host)}
	d := heldDay{hours: vd.Hours}
	for i, p := range vd.Paths {
		if i == 0 {
			d.path, d.pathHours = f.name(p)+1, vd.PathHours[i]
			continue
		}
		if d.more == nil {
			d.more = &[]heldPath{}
		}
		*d.more = append(*d.more, heldPath{path: f.name(p), hours: vd.PathHours[i]})
	}
	f.known[k] = d
}

// held is the state f holds of the visitor-day k, as a VisitorDay of the caller's (nil if none).
func (f *tailFold) held(k VisitorDayKey) *VisitorDay {
	hk, ok := f.key(k)
	if !ok {
		return nil
	}
	d, ok := f.known[hk]
	if !ok {
		return nil
	}
	vd := &VisitorDay{Day: k.Day, Visitor: k.Visitor, Host: k.Host, Hours: d.hours}
	if d.path != 0 {
		vd.Paths, vd.PathHours = append(vd.Paths, f.names[d.path-1]), append(vd.PathHours, d.pathHours)
	}
	if d.more == nil {
		return vd
	}
	for _, p := range *d.more {
		vd.Paths, vd.PathHours = append(vd.Paths, f.names[p.path]), append(vd.PathHours, p.hours)
	}
	return vd
}

// knownOf reads the dedup state of the visitor-days of views: f's where it holds one, else the
// stored one (absent when new).
func (f *tailFold) knownOf(ctx context.Context, q *db.Queries, views []FoldView) (map[VisitorDayKey]*VisitorDay, error) {
	var fresh []FoldView
	held := map[VisitorDayKey]*VisitorDay{}
	for _, v := range views {
		day := UTCDay(v.At)
		if v.Visitor == 0 || day.Before(f.openFrom) {
			continue
		}
		k := VisitorDayKey{Day: day, Visitor: v.Visitor, Host: v.Host}
		if _, done := held[k]; done {
			continue
		}
		if vd := f.held(k); vd != nil {
			held[k] = vd
			continue
		}
		fresh = append(fresh, v)
	}
	known, err := knownVisitorDays(ctx, q, fresh, f.openFrom)
	if err != nil {
		return nil, err
	}
	for k, vd := range held {
		known[k] = vd
	}
	return known, nil
}

// The memory a held fold takes, as BenchmarkFoldTail measured it (Go heap after GC, held fold of
// 100 000 views): a visitor-day about 100 bytes, a rollup key about 280. A process holds a fold
// only while this estimate stays within its bound (HoldTailFolds; PRAWN_TAIL_FOLD_MB): beyond it,
// reads beside the tail refuse past MaxTail views as they do without one.
const (
	tailFoldBytesPerVisitorDay = 100
	tailFoldBytesPerKey        = 280
	// tailFoldChunk is how many views one statement of the background fold reads.
	tailFoldChunk = 20_000
)

// bytes estimates the memory f takes.
func (f *tailFold) bytes() int64 {
	return int64(len(f.known))*tailFoldBytesPerVisitorDay + int64(f.entries)*tailFoldBytesPerKey
}

// errTailTooBig means the tail needs more memory than a held fold may take.
var errTailTooBig = errors.New("the views not yet folded are too many or too varied to hold their fold")

// HoldTailFolds makes the Store fold a long tail in memory for the reads that count it (see
// tailFold), in at most maxBytes (0: never); compute is the fold's arithmetic (rollup.Compute).
// Call it before the first read.
func (s *Store) HoldTailFolds(compute FoldFunc, maxBytes int64) {
	s.compute = compute
	s.tailFoldMaxBytes.Store(maxBytes)
	if maxBytes <= 0 {
		s.compute = nil
	}
}

// heldFold is the held fold if it is of the fold point and open day of st, else nil.
func (s *Store) heldFold(st db.GetRollupStateRow) *tailFold {
	f := s.fold.Load()
	if f == nil || f.foldedXid != st.FoldedXid || f.foldedID != st.FoldedID || !f.openFrom.Equal(st.VisitorsOpenFrom) {
		return nil
	}
	return f
}

// foldTailSoon starts FoldTail in the background unless there is no fold function, one runs, or
// the last one was too recent: paced as the tail counts are (tailCountsEvery, tailCountsShare).
func (s *Store) foldTailSoon() {
	if s.compute == nil {
		return
	}
	if next := s.foldAfter.Load(); next != 0 && time.Now().UnixNano() < next {
		return
	}
	if !s.folding.CompareAndSwap(false, true) {
		return
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		defer s.folding.Store(false)
		start := time.Now()
		ctx, cancel := context.WithTimeout(s.bgCtx, 2*time.Minute)
		defer cancel()
		err := s.FoldTail(ctx)
		wait := max(tailCountsEvery, time.Duration(float64(time.Since(start))/tailCountsShare))
		s.foldAfter.Store(start.Add(wait).UnixNano())
		switch {
		case err == nil:
			if f := s.fold.Load(); f != nil {
				slog.Info("folded the views not yet folded in memory, for the reads", "views", f.views,
					"visitor_days", len(f.known), "rollup_keys", f.entries, "mib", f.bytes()>>20, "took", time.Since(start).Round(time.Millisecond))
			}
		case s.bgCtx.Err() == nil:
			slog.Warn("folding the views not yet folded in memory", "err", err)
		}
	}()
}

// FoldTail folds the views not yet folded below this moment's horizon in memory and holds the
// result for the reads (see tailFold), reading them in chunks from one snapshot. It holds
// nothing, and fails, when they need more than the limits allow.
func (s *Store) FoldTail(ctx context.Context) error {
	if s.compute == nil {
		return errors.New("no fold function (HoldTailFolds)")
	}
	var f *tailFold
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error {
			q := s.q.WithTx(tx)
			st, err := q.GetFoldState(ctx)
			if err != nil {
				return fmt.Errorf("fold state: %w", err)
			}
			f = &tailFold{foldedXid: st.FoldedXid, foldedID: st.FoldedID, horizon: st.Horizon, openFrom: st.VisitorsOpenFrom,
				scopes: map[[2]string]*FoldOutput{}, paths: map[string][]string{}, known: map[heldKey]heldDay{}, ids: map[string]uint32{}}
			afterXid, afterID := st.FoldedXid, st.FoldedID
			for {
				rows, err := q.ListFoldBatch(ctx, db.ListFoldBatchParams{
					AfterXid: afterXid, AfterID: afterID, Horizon: st.Horizon, MaxRows: tailFoldChunk})
				if err != nil {
					return fmt.Errorf("read the tail: %w", err)
				}
				if len(rows) == 0 {
					return nil
				}
				in := FoldInput{Views: make([]FoldView, len(rows)), OpenFrom: st.VisitorsOpenFrom}
				for i, r := range rows {
					in.Views[i] = foldView(db.ListTailViewsRow(r))
				}
				if in.Known, err = f.knownOf(ctx, q, in.Views); err != nil {
					return err
				}
				out := s.compute(in)
				for _, vd := range out.NewVisitorDays {
					f.hold(vd)
				}
				for _, vd := range out.ChangedVisitorDays {
					f.hold(vd)
				}
				f.add(out)
				f.views += int64(len(rows))
				if limit := s.tailFoldMaxBytes.Load(); f.bytes() > limit {
					return fmt.Errorf("%w: more than %d MiB (%d views, %d visitor-days and %d rollup keys so far)",
						errTailTooBig, limit>>20, f.views, len(f.known), f.entries)
				}
				last := rows[len(rows)-1]
				afterXid, afterID = last.Xid, last.ID
			}
		})
	if err != nil {
		if errors.Is(err, errTailTooBig) {
			s.fold.Store(nil)
		}
		return classify(err)
	}
	s.fold.Store(f)
	return nil
}

// add adds a chunk's output to f's scopes.
func (f *tailFold) add(out FoldOutput) {
	scope := func(host, path string) *FoldOutput {
		o := f.scopes[[2]string{host, path}]
		if o == nil {
			o = &FoldOutput{Hours: map[HourKey]*HourCounts{}, Days: map[DayKey]*DayCounts{}, Breakdowns: map[BreakdownKey]*DayCounts{}}
			f.scopes[[2]string{host, path}] = o
			if path != "" {
				f.paths[host] = append(f.paths[host], path)
			}
		}
		return o
	}
	for k, c := range out.Hours {
		o := scope(k.Host, k.Path)
		h := o.Hours[k]
		if h == nil {
			h = &HourCounts{}
			o.Hours[k] = h
			f.entries++
		}
		for q := range 4 {
			h.Views[q] += c.Views[q]
			h.NewVisitors[q] += c.NewVisitors[q]
		}
		h.Visitors += c.Visitors
	}
	for k, c := range out.Days {
		o := scope(k.Host, k.Path)
		d := o.Days[k]
		if d == nil {
			d = &DayCounts{}
			o.Days[k] = d
			f.entries++
		}
		d.Views, d.Visitors = d.Views+c.Views, d.Visitors+c.Visitors
	}
	for k, c := range out.Breakdowns {
		o := scope(k.Host, k.Path)
		b := o.Breakdowns[k]
		if b == nil {
			b = &DayCounts{}
			o.Breakdowns[k] = b
			f.entries++
		}
		b.Views, b.Visitors = b.Views+c.Views, b.Visitors+c.Visitors
	}
}

// parts are the held outputs of the scope path ("" for whole hosts) of hosts, and with pages
// those of every path of the hosts too.
func (f *tailFold) parts(hosts []string, path string, pages bool) []*FoldOutput {
	var out []*FoldOutput
	for _, h := range hosts {
		if o := f.scopes[[2]string{h, path}]; o != nil {
			out = append(out, o)
		}
		if path != "" || !pages {
			continue
		}
		for _, p := range f.paths[h] {
			out = append(out, f.scopes[[2]string{h, p}])
		}
	}
	return out
}

// hosts are the hosts among f's views, but the canary's.
func (f *tailFold) hosts() []string {
	var out []string
	for k := range f.scopes {
		if k[1] == "" && k[0] != CanaryHost {
			out = append(out, k[0])
		}
	}
	return out
}
