package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
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
//
// While the fold point stays (folding has stopped), the next fold in memory folds only the views
// from H to the new horizon, continuing from the held dedup state, into a second, smaller layer
// (a copy of the last one, so that reads never see a layer change); once that layer holds more
// than a quarter of the first one's views, the next fold is of the whole tail again.

// tailFold is the fold of the views after a fold point below a horizon: one or two layers, each
// what some of those views add to each scope, and the visitor-days' dedup state after them.
type tailFold struct {
	foldedXid, foldedID, horizon int64
	openFrom                     time.Time
	views                        int64
	// layers, oldest first (at most two), are never changed once held.
	layers []*foldLayer
}

// foldLayer is what some views add to each scope, and their visitor-days' dedup state.
type foldLayer struct {
	views int64
	// scopes holds, per host and scope (a path, or "" for the host), what the views add to that
	// scope's rollups (keys of that scope only).
	scopes map[[2]string]*FoldOutput
	// paths lists each host's paths among the views.
	paths map[string][]string
	// known is the dedup state of the visitor-days the views touched, after them, compactly
	// (names interns their hosts and paths).
	known map[heldKey]heldDay
	names []string
	ids   map[string]uint32
	// entries counts the rollup keys in scopes.
	entries int
}

func newLayer() *foldLayer {
	return &foldLayer{scopes: map[[2]string]*FoldOutput{}, paths: map[string][]string{}, known: map[heldKey]heldDay{}, ids: map[string]uint32{}}
}

// clone is a copy of l that can change without changing l.
func (l *foldLayer) clone() *foldLayer {
	c := &foldLayer{views: l.views, entries: l.entries, scopes: make(map[[2]string]*FoldOutput, len(l.scopes)),
		paths: make(map[string][]string, len(l.paths)), known: make(map[heldKey]heldDay, len(l.known)),
		names: slices.Clone(l.names), ids: maps.Clone(l.ids)}
	for k, o := range l.scopes {
		n := &FoldOutput{Hours: make(map[HourKey]*HourCounts, len(o.Hours)), Days: make(map[DayKey]*DayCounts, len(o.Days)),
			Breakdowns: make(map[BreakdownKey]*DayCounts, len(o.Breakdowns))}
		for k, v := range o.Hours {
			v := *v
			n.Hours[k] = &v
		}
		for k, v := range o.Days {
			v := *v
			n.Days[k] = &v
		}
		for k, v := range o.Breakdowns {
			v := *v
			n.Breakdowns[k] = &v
		}
		c.scopes[k] = n
	}
	for h, p := range l.paths {
		c.paths[h] = slices.Clone(p)
	}
	// A heldDay's more is never changed once held (hold makes a new one), so it can be shared.
	maps.Copy(c.known, l.known)
	return c
}

// heldKey and heldDay are a VisitorDayKey and its VisitorDay in a held fold, compactly (about 100
// bytes with the map's own, against 265 as VisitorDays: BenchmarkFoldTail), as a held fold may
// hold a million of them.
type heldKey struct {
	visitor int64
	day     int32  // days since 1970-01-01
	host    uint32 // index in foldLayer.names
}

type heldDay struct {
	hours uint32
	// path+1 (0: none) and pathHours are the first of the visitor-day's paths (an index in
	// foldLayer.names) and its hours; more holds the others, in order.
	path, pathHours uint32
	more            *[]heldPath
}

type heldPath struct{ path, hours uint32 }

// name interns s.
func (l *foldLayer) name(s string) uint32 {
	id, ok := l.ids[s]
	if !ok {
		id = uint32(len(l.names))
		l.names = append(l.names, s)
		l.ids[s] = id
	}
	return id
}

// hold keeps vd's state in l.
func (l *foldLayer) hold(vd *VisitorDay) {
	k := heldKey{visitor: vd.Visitor, day: int32(vd.Day.Unix() / 86400), host: l.name(vd.Host)}
	d := heldDay{hours: vd.Hours}
	for i, p := range vd.Paths {
		if i == 0 {
			d.path, d.pathHours = l.name(p)+1, vd.PathHours[i]
			continue
		}
		if d.more == nil {
			d.more = &[]heldPath{}
		}
		*d.more = append(*d.more, heldPath{path: l.name(p), hours: vd.PathHours[i]})
	}
	l.known[k] = d
}

// held is the state l holds of the visitor-day k, as a VisitorDay of the caller's (nil if none).
func (l *foldLayer) held(k VisitorDayKey) *VisitorDay {
	host, ok := l.ids[k.Host]
	if !ok {
		return nil
	}
	d, ok := l.known[heldKey{visitor: k.Visitor, day: int32(k.Day.Unix() / 86400), host: host}]
	if !ok {
		return nil
	}
	vd := &VisitorDay{Day: k.Day, Visitor: k.Visitor, Host: k.Host, Hours: d.hours}
	if d.path != 0 {
		vd.Paths, vd.PathHours = append(vd.Paths, l.names[d.path-1]), append(vd.PathHours, d.pathHours)
	}
	if d.more == nil {
		return vd
	}
	for _, p := range *d.more {
		vd.Paths, vd.PathHours = append(vd.Paths, l.names[p.path]), append(vd.PathHours, p.hours)
	}
	return vd
}

// add adds a chunk's output to l's scopes.
func (l *foldLayer) add(out FoldOutput) {
	scope := func(host, path string) *FoldOutput {
		o := l.scopes[[2]string{host, path}]
		if o == nil {
			o = &FoldOutput{Hours: map[HourKey]*HourCounts{}, Days: map[DayKey]*DayCounts{}, Breakdowns: map[BreakdownKey]*DayCounts{}}
			l.scopes[[2]string{host, path}] = o
			if path != "" {
				l.paths[host] = append(l.paths[host], path)
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
			l.entries++
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
			l.entries++
		}
		d.Views, d.Visitors = d.Views+c.Views, d.Visitors+c.Visitors
	}
	for k, c := range out.Breakdowns {
		o := scope(k.Host, k.Path)
		b := o.Breakdowns[k]
		if b == nil {
			b = &DayCounts{}
			o.Breakdowns[k] = b
			l.entries++
		}
		b.Views, b.Visitors = b.Views+c.Views, b.Visitors+c.Visitors
	}
}

// held is the state f holds of the visitor-day k (its newest layer's), nil if none.
func (f *tailFold) held(k VisitorDayKey) *VisitorDay {
	for i := len(f.layers) - 1; i >= 0; i-- {
		if vd := f.layers[i].held(k); vd != nil {
			return vd
		}
	}
	return nil
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

// parts are the held outputs of the scope path ("" for whole hosts) of hosts, and with pages
// those of every path of the hosts too.
func (f *tailFold) parts(hosts []string, path string, pages bool) []*FoldOutput {
	var out []*FoldOutput
	for _, l := range f.layers {
		for _, h := range hosts {
			if o := l.scopes[[2]string{h, path}]; o != nil {
				out = append(out, o)
			}
			if path != "" || !pages {
				continue
			}
			for _, p := range l.paths[h] {
				out = append(out, l.scopes[[2]string{h, p}])
			}
		}
	}
	return out
}

// hosts are the hosts among f's views, but the canary's.
func (f *tailFold) hosts() []string {
	var out []string
	for _, l := range f.layers {
		for k := range l.scopes {
			if k[1] == "" && k[0] != CanaryHost {
				out = append(out, k[0])
			}
		}
	}
	return out
}

// The memory a held fold takes, as BenchmarkFoldTail measured it (Go heap after GC, held fold of
// 100 000 views): a visitor-day about 100 bytes, a rollup key about 280. A process holds a fold
// only while this estimate stays within its bound (HoldTailFolds; PRAWN_TAIL_FOLD_MB): beyond it,
// reads beside the tail refuse past MaxTail views as they do without one. The process's memory
// is more (docs/benchmarks.md: 127 MiB of estimate, 395-537 MB of peak RSS).
const (
	tailFoldBytesPerVisitorDay = 100
	tailFoldBytesPerKey        = 280
	// tailFoldChunk is how many views one statement of the background fold reads.
	tailFoldChunk = 20_000
	// tailFoldAgainFrom is the views after a held fold beyond which a read starts the next fold
	// in memory (of only those views while the fold point stays: cheap).
	tailFoldAgainFrom = 1_000
)

// bytes estimates the memory f takes.
func (f *tailFold) bytes() int64 {
	var n int64
	for _, l := range f.layers {
		n += int64(len(l.known))*tailFoldBytesPerVisitorDay + int64(l.entries)*tailFoldBytesPerKey
	}
	return n
}

// visitorDays and keys count f's visitor-days and rollup keys, over its layers.
func (f *tailFold) visitorDays() (n int) {
	for _, l := range f.layers {
		n += len(l.known)
	}
	return n
}

func (f *tailFold) keys() (n int) {
	for _, l := range f.layers {
		n += l.entries
	}
	return n
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

// tailFoldIncEvery is the least time between two folds in memory of only the views after the
// held one (see FoldTail): each costs in proportion to those views (about 6 µs a view here), so
// they can come often, and the reads beside them then count few views themselves.
const tailFoldIncEvery = 200 * time.Millisecond

// dropStaleFold lets go of the held fold once st's fold point is past it: no later read can use
// it (the fold point only moves forward), and it may hold a hundred MiB.
func (s *Store) dropStaleFold(st db.GetRollupStateRow) {
	f := s.fold.Load()
	if f != nil && (st.FoldedXid > f.foldedXid || (st.FoldedXid == f.foldedXid && st.FoldedID > f.foldedID)) {
		s.fold.CompareAndSwap(f, nil)
	}
}

// foldTailSoon starts a fold of the tail in memory in the background unless there is no fold
// function, one runs, or the last one was too recent. Folds of the whole tail are paced as the
// tail counts are (tailCountsEvery, tailCountsShare); with inc (the reader's snapshot has the held
// fold's fold point) it folds only the views after the held fold, paced by its own cost
// (tailFoldIncEvery, tailCountsShare), unless the time for a whole fold has come and the held
// fold's second layer is due to be folded into a new first (see FoldTail).
func (s *Store) foldTailSoon(inc bool) {
	if s.compute == nil {
		return
	}
	now := time.Now().UnixNano()
	full := s.foldAfter.Load()
	if next := s.incAfter.Load(); (inc && now < next) || (!inc && full != 0 && now < full) {
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
		added, whole, err := s.foldTail(ctx, full == 0 || start.UnixNano() >= full)
		took := time.Since(start)
		paced := start.Add(time.Duration(float64(took) / tailCountsShare)).UnixNano()
		next := time.Now().Add(tailFoldIncEvery).UnixNano()
		if whole || err != nil {
			s.foldAfter.Store(max(start.Add(tailCountsEvery).UnixNano(), paced))
		} else {
			next = max(next, paced) // an increment's own cost paces the next one
		}
		s.incAfter.Store(next)
		switch {
		case err == nil:
			if f := s.fold.Load(); f != nil && added > 0 {
				level := slog.LevelInfo
				if !whole {
					level = slog.LevelDebug // an increment: as often as every 200 ms while folding has stopped
				}
				slog.Log(ctx, level, "folded the views not yet folded in memory, for the reads", "views", f.views, "added", added,
					"layers", len(f.layers), "visitor_days", f.visitorDays(), "rollup_keys", f.keys(), "mib", f.bytes()>>20,
					"took", took.Round(time.Millisecond))
			}
		case s.bgCtx.Err() == nil:
			slog.Warn("folding the views not yet folded in memory", "err", err)
		}
	}()
}

// The next fold in memory: none (the held one is of every view below the horizon), of the views
// after the held one, or of the whole tail.
const (
	foldNothing = iota
	foldIncrement
	foldWhole
)

// planFold decides the next fold in memory beside the held fold old at the fold state st: of the
// whole tail when old is of another fold point or open day, or when its second layer has more
// than a quarter of its first layer's views and wholeOK; else of the views after it, if the
// horizon has moved past its own.
func planFold(old *tailFold, st db.GetFoldStateRow, wholeOK bool) int {
	switch {
	case old == nil || old.foldedXid != st.FoldedXid || old.foldedID != st.FoldedID || !old.openFrom.Equal(st.VisitorsOpenFrom):
		return foldWhole
	case wholeOK && len(old.layers) > 1 && 4*old.layers[1].views > old.layers[0].views:
		return foldWhole
	case st.Horizon <= old.horizon:
		return foldNothing
	}
	return foldIncrement
}

// FoldTail folds the views not yet folded below this moment's horizon in memory and holds the
// result for the reads (see tailFold), reading them in chunks from one snapshot: only those from
// the held fold's horizon on while the fold point stays, else all of them. It returns how many
// views it folded. It holds nothing, and fails, when they need more memory than allowed.
func (s *Store) FoldTail(ctx context.Context) (int64, error) {
	added, _, err := s.foldTail(ctx, true)
	return added, err
}

// foldTail is FoldTail; without wholeOK it folds only the views after the held fold whenever the
// fold point has stayed, however large its second layer. whole reports a fold of the whole tail.
func (s *Store) foldTail(ctx context.Context, wholeOK bool) (added int64, whole bool, err error) {
	if s.compute == nil {
		return 0, false, errors.New("no fold function (HoldTailFolds)")
	}
	old := s.fold.Load()
	var f *tailFold
	err = pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error {
			q := s.q.WithTx(tx)
			st, err := q.GetFoldState(ctx)
			if err != nil {
				return fmt.Errorf("fold state: %w", err)
			}
			f = &tailFold{foldedXid: st.FoldedXid, foldedID: st.FoldedID, horizon: st.Horizon, openFrom: st.VisitorsOpenFrom}
			afterXid, afterID := st.FoldedXid, st.FoldedID
			switch planFold(old, st, wholeOK) {
			case foldNothing:
				f = nil
				return nil
			case foldIncrement:
				f.views, afterXid, afterID = old.views, old.horizon, 0
				into := newLayer()
				if len(old.layers) > 1 {
					into = old.layers[1].clone()
				}
				f.layers = []*foldLayer{old.layers[0], into}
			default:
				f.layers, whole = []*foldLayer{newLayer()}, true
			}
			into := f.layers[len(f.layers)-1]
			for {
				rows, err := q.ListFoldBatch(ctx, db.ListFoldBatchParams{
					AfterXid: afterXid, AfterID: afterID, Horizon: st.Horizon, MaxRows: tailFoldChunk})
				if err != nil {
					return fmt.Errorf("read the tail: %w", err)
				}
				if len(rows) == 0 {
					return nil
				}
				in := batchInput(rows, st.VisitorsOpenFrom)
				if in.Known, err = f.knownOf(ctx, q, in.Views); err != nil {
					return err
				}
				out := s.compute(in)
				for _, vd := range out.NewVisitorDays {
					into.hold(vd)
				}
				for _, vd := range out.ChangedVisitorDays {
					into.hold(vd)
				}
				into.add(out)
				n := int64(len(rows))
				into.views, f.views, added = into.views+n, f.views+n, added+n
				if limit := s.tailFoldMaxBytes.Load(); f.bytes() > limit {
					return fmt.Errorf("%w: more than %d MiB (%d views, %d visitor-days and %d rollup keys so far)",
						errTailTooBig, limit>>20, f.views, f.visitorDays(), f.keys())
				}
				last := rows[len(rows)-1]
				afterXid, afterID = last.Xid, last.ID
			}
		})
	if err != nil {
		if errors.Is(err, errTailTooBig) {
			s.fold.Store(nil)
		}
		return 0, whole, classify(err)
	}
	if f != nil {
		s.fold.Store(f)
	}
	return added, whole, nil
}
