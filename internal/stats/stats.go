// Package stats answers questions about recorded views: totals, series in hour or day buckets in
// a time zone, and the most viewed pages. Counts come from the rollups plus the views not yet
// folded into them, read from one snapshot, so they are exact at every moment.
package stats

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/prawnhq/prawn/internal/pageview"
	"github.com/prawnhq/prawn/internal/storage"
)

// Limits of one request.
const (
	// MaxBuckets bounds the length of a series.
	MaxBuckets = 1500
	// MaxPages bounds a top-pages list.
	MaxPages = 100
	// DefaultPages is the length of a top-pages list when none is asked for.
	DefaultPages = 10
)

// ErrInvalid marks a query that breaks the rules; the message says which.
var ErrInvalid = errors.New("invalid query")

// Bucket is the width of one step of a series.
type Bucket string

// The bucket widths.
const (
	Hour Bucket = "hour"
	Day  Bucket = "day"
)

// Query asks for the total and a series of one path (or the site when Path is nil).
type Query struct {
	Path   *string
	From   time.Time // start of the first bucket
	To     time.Time // end of the last bucket
	Bucket Bucket
	Loc    *time.Location // day boundaries
}

// NewQuery validates a stats request and aligns its range to bucket boundaries: from rounds down
// and to rounds up. Missing values take defaults: to = now, from = to minus 24 hours (hour
// buckets) or 30 days (day buckets), bucket = hour, tz = UTC. Hour buckets are UTC hours; in a
// zone whose offset is not a whole number of hours they start at :30 or :45 local time.
func NewQuery(path *string, from, to *time.Time, bucket, tz string, now time.Time) (Query, error) {
	q := Query{Bucket: Bucket(bucket), Loc: time.UTC}
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
	if path != nil {
		p, err := pageview.NormalizePath(*path)
		if err != nil {
			return Query{}, fmt.Errorf("%w: %s", ErrInvalid, strings.TrimPrefix(err.Error(), pageview.ErrInvalid.Error()+": "))
		}
		q.Path = &p
	}
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

// Point is one bucket of a series.
type Point struct {
	Start time.Time
	Views int64
}

// Series puts quarter-hour counts into the query's buckets; empty buckets are 0. Quarters
// outside [From, To) are ignored.
func (q Query) Series(quarters []storage.Quarter) []Point {
	starts := q.bucketStarts(MaxBuckets)
	out := make([]Point, len(starts))
	for i, s := range starts {
		out[i].Start = s
	}
	for _, c := range quarters {
		if c.Start.Before(q.From) || !c.Start.Before(q.To) {
			continue
		}
		i := sort.Search(len(starts), func(i int) bool { return starts[i].After(c.Start) }) - 1
		out[i].Views += c.Views
	}
	return out
}

// Result answers a Query.
type Result struct {
	Total   int64
	AsOf    time.Time
	Pending int64
	Series  []Point
}

// Service reads counts from the store.
type Service struct {
	Store *storage.Store
}

// Stats answers q from one snapshot.
func (s *Service) Stats(ctx context.Context, q Query) (Result, error) {
	var res Result
	err := s.Store.Read(ctx, func(r *storage.Reader) error {
		var err error
		if res.Total, err = r.Total(ctx, q.Path); err != nil {
			return err
		}
		if res.Pending, err = r.Pending(ctx); err != nil {
			return err
		}
		quarters, err := r.Quarters(ctx, q.Path, q.From.Truncate(time.Hour), ceilHour(q.To))
		if err != nil {
			return err
		}
		res.Series = q.Series(quarters)
		res.AsOf = r.RolledAt()
		return nil
	})
	return res, err
}

// SiteTotal is the site's all-time number of views.
func (s *Service) SiteTotal(ctx context.Context) (int64, error) {
	var n int64
	err := s.Store.Read(ctx, func(r *storage.Reader) error {
		var err error
		n, err = r.Total(ctx, nil)
		return err
	})
	return n, err
}

// PagesQuery asks for the most viewed paths in [From, To) (whole UTC hours).
type PagesQuery struct {
	From, To time.Time
	Limit    int
}

// NewPagesQuery validates a top-pages request: from rounds down and to up to whole hours;
// defaults are the last 24 hours and DefaultPages paths.
func NewPagesQuery(from, to *time.Time, limit *int, now time.Time) (PagesQuery, error) {
	q := PagesQuery{To: now, Limit: DefaultPages}
	if to != nil {
		q.To = *to
	}
	q.From = q.To.Add(-24 * time.Hour)
	if from != nil {
		q.From = *from
	}
	if !q.From.Before(q.To) {
		return PagesQuery{}, fmt.Errorf("%w: from (%s) must be before to (%s)", ErrInvalid,
			q.From.Format(time.RFC3339), q.To.Format(time.RFC3339))
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

// TopPages answers q from one snapshot.
func (s *Service) TopPages(ctx context.Context, q PagesQuery) ([]storage.PageCount, error) {
	var out []storage.PageCount
	err := s.Store.Read(ctx, func(r *storage.Reader) error {
		var err error
		out, err = r.TopPages(ctx, q.From, q.To, q.Limit)
		return err
	})
	return out, err
}

func ceilHour(t time.Time) time.Time {
	f := t.UTC().Truncate(time.Hour)
	if f.Equal(t) {
		return f
	}
	return f.Add(time.Hour)
}
