package stats

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/prawnhq/prawn/internal/storage"
)

// PagesQuery asks for the most viewed paths of one host or every host in [From, To) (whole UTC
// hours).
type PagesQuery struct {
	Host     *string
	From, To time.Time
	Limit    int
}

// NewPagesQuery validates a top-pages request: from rounds down and to up to whole hours, at most
// MaxBreakdownDays apart; defaults are the last 24 hours and DefaultPages paths.
func NewPagesQuery(sc Scope, from, to *time.Time, limit *int, now time.Time) (PagesQuery, error) {
	q := PagesQuery{Host: sc.Host, To: now, Limit: DefaultPages}
	if sc.Path != nil {
		return PagesQuery{}, fmt.Errorf("%w: top pages take no path", ErrInvalid)
	}
	if to != nil {
		q.To = *to
	}
	q.From = q.To.Add(-24 * time.Hour)
	if from != nil {
		q.From = *from
	}
	if err := checkTime("from", q.From); err != nil {
		return PagesQuery{}, err
	}
	if err := checkTime("to", q.To); err != nil {
		return PagesQuery{}, err
	}
	if !q.From.Before(q.To) {
		return PagesQuery{}, fmt.Errorf("%w: from (%s) must be before to (%s)", ErrInvalid,
			q.From.Format(time.RFC3339), q.To.Format(time.RFC3339))
	}
	if days := q.To.Sub(q.From).Hours() / 24; days > MaxBreakdownDays {
		// Each day of the range is an index probe, found or not: the range bounds the read.
		return PagesQuery{}, fmt.Errorf("%w: top pages span at most %d days, not %.0f", ErrInvalid, MaxBreakdownDays, days)
	}
	if limit != nil {
		if *limit < 1 || *limit > MaxPages {
			return PagesQuery{}, fmt.Errorf("%w: limit must be between 1 and %d, not %d", ErrInvalid, MaxPages, *limit)
		}
		q.Limit = *limit
	}
	q.From, q.To = q.From.UTC().Truncate(time.Hour), ceilHour(q.To)
	return q, nil
}

// Page is the counts of one path of one host over a range.
type Page struct {
	Host, Path string
	Counts
}

// topFactor is how many more paths of each day than asked for are read at first.
const topFactor = 4

// TopPages answers q from one snapshot, exactly, without summing every path of the range.
//
// It reads each day's k most viewed paths (an index read in order) and counts the views not yet
// folded; those paths and the tail's k most viewed are the candidates, and their exact counts
// over the range are summed. A path that is not a candidate has, on each day, at most the views
// of that day's k-th path, so at most the sum of those (the bound), plus at most the tail views of
// the tail's k-th path. When the limit-th candidate has more views than that, no other path can
// rank above it and the answer is exact; otherwise k grows and it tries again (at worst k covers
// every path of every day and of the tail).
func (s *Service) TopPages(ctx context.Context, q PagesQuery) ([]Page, error) {
	var out []Page
	err := s.Store.Read(ctx, func(r *storage.Reader) error {
		hosts, err := Scope{Host: q.Host}.hosts(ctx, r)
		if err != nil || len(hosts) == 0 {
			return err
		}
		tail, err := Scope{}.tail(ctx, r, hosts, true)
		if err != nil {
			return err
		}
		tailPages := map[pageKey]Counts{}
		for _, part := range tail {
			for k, c := range part.Hours {
				if k.Path == "" || k.Hour.Before(q.From) || !k.Hour.Before(q.To) {
					continue
				}
				pc := tailPages[pageKey{k.Host, k.Path}]
				for i := range 4 {
					pc.Views += c.Views[i]
					pc.Visitors += c.NewVisitors[i]
				}
				tailPages[pageKey{k.Host, k.Path}] = pc
			}
		}
		ranked := make([]pageKey, 0, len(tailPages))
		for p := range tailPages {
			ranked = append(ranked, p)
		}
		sort.Slice(ranked, func(i, j int) bool {
			a, b := ranked[i], ranked[j]
			if va, vb := tailPages[a].Views, tailPages[b].Views; va != vb {
				return va > vb
			}
			return a.host < b.host || (a.host == b.host && a.path < b.path)
		})
		span := storage.SplitDays(q.From, q.To)
		firstDay, lastDay := storage.UTCDay(q.From), storage.UTCDay(q.To.Add(-time.Nanosecond)).AddDate(0, 0, 1)
		for k := q.Limit * topFactor; ; k *= topFactor {
			tops, err := r.DayTops(ctx, hosts, firstDay, lastDay, k)
			if err != nil {
				return err
			}
			candidates, bound, complete := boundTops(tops, k)
			for _, p := range ranked[:min(k, len(ranked))] {
				candidates[p] = true
			}
			if len(ranked) > k {
				bound += tailPages[ranked[k]].Views
				complete = false
			}
			pages, err := sumPages(ctx, r, candidates, span, tailPages)
			if err != nil {
				return err
			}
			if complete || (len(pages) >= q.Limit && pages[q.Limit-1].Views > bound) {
				out = pages[:min(q.Limit, len(pages))]
				return nil
			}
		}
	})
	return out, unavailable(err)
}

type pageKey struct{ host, path string }

// boundTops collects the candidates of each (host, day)'s top k and the bound on any other
// path's views: the largest, over hosts, of the sum over days of the k-th path's views. complete
// reports that no (host, day) had more than k paths, so every path is a candidate.
func boundTops(tops []storage.DayTop, k int) (map[pageKey]bool, int64, bool) {
	candidates := map[pageKey]bool{}
	type hostDay struct {
		host string
		day  time.Time
	}
	count := map[hostDay]int{}
	kth := map[hostDay]int64{}
	for _, t := range tops {
		candidates[pageKey{t.Host, t.Path}] = true
		hd := hostDay{t.Host, t.Day}
		count[hd]++
		if count[hd] == k {
			kth[hd] = t.Views
		}
	}
	perHost := map[string]int64{}
	for hd, v := range kth {
		perHost[hd.host] += v
	}
	var bound int64
	for _, v := range perHost {
		bound = max(bound, v)
	}
	return candidates, bound, len(kth) == 0
}

// sumPages counts the candidates over the span, adds their tail, and sorts them: most viewed
// first, then by host and path. Paths without views are left out.
func sumPages(ctx context.Context, r *storage.Reader, candidates map[pageKey]bool, span storage.PageSpan, tail map[pageKey]Counts) ([]Page, error) {
	rows := make([]storage.PageRow, 0, len(candidates))
	for p := range candidates {
		rows = append(rows, storage.PageRow{Host: p.host, Path: p.path})
	}
	sums, err := r.SumPages(ctx, rows, span)
	if err != nil {
		return nil, err
	}
	pages := make([]Page, 0, len(sums))
	for _, s := range sums {
		c := Counts{Views: s.Views, Visitors: s.Visitors}
		t := tail[pageKey{s.Host, s.Path}]
		c.Views, c.Visitors = c.Views+t.Views, c.Visitors+t.Visitors
		if c.Views > 0 {
			pages = append(pages, Page{Host: s.Host, Path: s.Path, Counts: c})
		}
	}
	sort.Slice(pages, func(i, j int) bool {
		a, b := pages[i], pages[j]
		if a.Views != b.Views {
			return a.Views > b.Views
		}
		if a.Host != b.Host {
			return a.Host < b.Host
		}
		return a.Path < b.Path
	})
	return pages, nil
}
