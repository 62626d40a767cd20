package stats

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/prawnhq/prawn/internal/storage"
)

// Bucket is the width of one step of a series.
type Bucket string

// The bucket widths.
const (
	Hour Bucket = "hour"
	Day  Bucket = "day"
)

// Query asks for the totals and a series of a scope.
type Query struct {
	Scope
	From   time.Time // start of the first bucket
	To     time.Time // end of the last bucket
	Bucket Bucket
	Loc    *time.Location // day boundaries
}

// NewQuery validates a stats request and aligns its range to bucket boundaries: from rounds down
// and to rounds up. Missing values take defaults: to = now, from = to minus 24 hours (hour
// buckets) or 30 days (day buckets), bucket = hour, tz = UTC. Hour buckets are UTC hours; in a
// zone whose offset is not a whole number of hours they start at :30 or :45 local time.
func NewQuery(sc Scope, from, to *time.Time, bucket, tz string, now time.Time) (Query, error) {
	q := Query{Scope: sc, Bucket: Bucket(bucket), Loc: time.UTC}
	if q.Bucket == "" {
		q.Bucket = Hour
	}
	if q.Bucket != Hour && q.Bucket != Day {
		return Query{}, fmt.Errorf("%w: bucket must be \"hour\" or \"day\", not %q", ErrInvalid, bucket)
	}
	loc, err := Location(tz)
	if err != nil {
		return Query{}, err
	}
	q.Loc = loc
	end := now
	if to != nil {
		end = *to
	}
	var start time.Time
	switch {
	case from != nil:
		start = *from
	case q.Bucket == Day:
		start = end.AddDate(0, 0, -30)
	default:
		start = end.Add(-24 * time.Hour)
	}
	if err := checkTime("from", start); err != nil {
		return Query{}, err
	}
	if err := checkTime("to", end); err != nil {
		return Query{}, err
	}
	if !start.Before(end) {
		return Query{}, fmt.Errorf("%w: from (%s) must be before to (%s)", ErrInvalid,
			start.Format(time.RFC3339), end.Format(time.RFC3339))
	}
	q.From, q.To = q.floor(start), q.ceil(end)
	if n := len(q.bucketStarts(MaxBuckets + 1)); n > MaxBuckets {
		return Query{}, fmt.Errorf("%w: the range spans more than %d %s buckets; narrow it or use bigger buckets",
			ErrInvalid, MaxBuckets, q.Bucket)
	}
	return q, nil
}

// Location resolves an IANA time zone name; empty means UTC.
func Location(tz string) (*time.Location, error) {
	if tz == "" || tz == "UTC" {
		return time.UTC, nil
	}
	if tz == "Local" || len(tz) > 64 {
		return nil, fmt.Errorf("%w: unknown time zone %q; use an IANA name such as \"Europe/Berlin\"", ErrInvalid, tz)
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("%w: unknown time zone %q; use an IANA name such as \"Europe/Berlin\"", ErrInvalid, tz)
	}
	return loc, nil
}

func (q Query) floor(t time.Time) time.Time {
	if q.Bucket == Hour {
		return t.UTC().Truncate(time.Hour)
	}
	l := t.In(q.Loc)
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, q.Loc).UTC()
}

func (q Query) ceil(t time.Time) time.Time {
	f := q.floor(t)
	if f.Equal(t) {
		return f
	}
	return q.next(f)
}

func (q Query) next(t time.Time) time.Time {
	if q.Bucket == Hour {
		return t.Add(time.Hour)
	}
	l := t.In(q.Loc)
	return time.Date(l.Year(), l.Month(), l.Day()+1, 0, 0, 0, 0, q.Loc).UTC()
}

// bucketStarts lists the bucket starts in [From, To), at most limit of them.
func (q Query) bucketStarts(limit int) []time.Time {
	var out []time.Time
	for t := q.From; t.Before(q.To) && len(out) < limit; t = q.next(t) {
		out = append(out, t)
	}
	return out
}

// utcDays reports whether the buckets are UTC days, which the daily rollups answer directly.
func (q Query) utcDays() bool { return q.Bucket == Day && q.Loc == time.UTC }

// Cell is a count that falls into one bucket: the views and the visitor-days first seen in the
// quarter hour (or, for UTC day buckets, the UTC day) starting at Start.
type Cell struct {
	Start                time.Time
	Views, FirstVisitors int64
}

// Point is one bucket of a series.
type Point struct {
	Start time.Time
	Counts
}

// Series puts cells into the query's buckets; empty buckets are 0. Cells outside [From, To) are
// ignored. The visitors of an hour bucket are the distinct visitors of that hour (hourVisitors,
// by hour); of a day bucket, the visitor-days first seen in it.
func (q Query) Series(cells []Cell, hourVisitors map[time.Time]int64) []Point {
	starts := q.bucketStarts(MaxBuckets)
	out := make([]Point, len(starts))
	for i, s := range starts {
		out[i].Start = s
		if q.Bucket == Hour {
			out[i].Visitors = hourVisitors[s]
		}
	}
	for _, c := range cells {
		if c.Start.Before(q.From) || !c.Start.Before(q.To) {
			continue
		}
		i := sort.Search(len(starts), func(i int) bool { return starts[i].After(c.Start) }) - 1
		out[i].Views += c.Views
		if q.Bucket == Day {
			out[i].Visitors += c.FirstVisitors
		}
	}
	return out
}

// Result answers a Query.
type Result struct {
	// Total is the all-time counts of the scope.
	Total Counts
	// Range is the counts of [From, To): its views, and its visitor-days first seen in it.
	Range   Counts
	AsOf    time.Time
	Pending int64
	Series  []Point
}

// Stats answers q from one snapshot.
func (s *Service) Stats(ctx context.Context, q Query) (Result, error) {
	var res Result
	err := s.Store.Read(ctx, func(r *storage.Reader) error {
		hosts, err := q.hosts(ctx, r)
		if err != nil {
			return err
		}
		scope := q.path()
		t, err := r.Totals(ctx, hosts, scope)
		if err != nil {
			return err
		}
		res.Total = Counts{Views: t.Views, Visitors: t.Visitors}
		res.Pending = r.Pending()
		tail, err := q.tail(ctx, r, hosts, false)
		if err != nil {
			return err
		}
		var cells []Cell
		hourVisitors := map[time.Time]int64{}
		if q.utcDays() {
			days, err := r.Days(ctx, hosts, scope, q.From, q.To)
			if err != nil {
				return err
			}
			for _, d := range days {
				cells = append(cells, Cell{Start: d.Day, Views: d.Views, FirstVisitors: d.Visitors})
			}
		} else {
			hours, err := r.Hours(ctx, hosts, scope, q.From.Truncate(time.Hour), ceilHour(q.To))
			if err != nil {
				return err
			}
			for _, h := range hours {
				cells = appendQuarters(cells, h.Hour, h.HourCounts)
				hourVisitors[h.Hour] += h.Visitors
			}
		}
		for _, part := range tail {
			for k, c := range part.Days {
				if k.Path == scope {
					res.Total.add(*c)
				}
			}
			for k, c := range part.Hours {
				if k.Path != scope {
					continue
				}
				cells = appendQuarters(cells, k.Hour, *c)
				hourVisitors[k.Hour] += c.Visitors
			}
		}
		res.Series = q.Series(cells, hourVisitors)
		for _, c := range cells {
			if !c.Start.Before(q.From) && c.Start.Before(q.To) {
				res.Range.Views += c.Views
				res.Range.Visitors += c.FirstVisitors
			}
		}
		res.AsOf = r.RolledAt()
		return nil
	})
	return res, unavailable(err)
}

// appendQuarters adds an hour's counts as four quarter-hour cells.
func appendQuarters(cells []Cell, hour time.Time, c storage.HourCounts) []Cell {
	for i := range 4 {
		if c.Views[i] != 0 || c.NewVisitors[i] != 0 {
			cells = append(cells, Cell{Start: hour.Add(time.Duration(i) * 15 * time.Minute), Views: c.Views[i], FirstVisitors: c.NewVisitors[i]})
		}
	}
	return cells
}

func ceilHour(t time.Time) time.Time {
	f := t.UTC().Truncate(time.Hour)
	if f.Equal(t) {
		return f
	}
	return f.Add(time.Hour)
}
