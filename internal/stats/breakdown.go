package stats

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/prawnhq/prawn/internal/storage"
)

// Dimensions by the names the API uses.
var dims = map[string]storage.Dim{
	"referrer_host": storage.DimRefHost,
	"referrer":      storage.DimReferrer,
	"utm_source":    storage.DimUTMSource,
	"utm_medium":    storage.DimUTMMedium,
	"utm_campaign":  storage.DimUTMCampaign,
	"browser":       storage.DimBrowser,
	"os":            storage.DimOS,
	"device":        storage.DimDevice,
	"country":       storage.DimCountry,
}

// Limits of a breakdown.
const (
	MaxValues     = 100
	DefaultValues = 10
	// MaxBreakdownDays bounds the range of a breakdown.
	MaxBreakdownDays = 400
)

// BreakdownQuery asks for the most viewed values of one dimension of a scope over whole UTC days.
type BreakdownQuery struct {
	Scope
	By       string
	Dim      storage.Dim
	From, To time.Time // UTC midnights
	Limit    int
}

// NewBreakdownQuery validates a breakdown request. The range widens to whole UTC days (the
// breakdowns are daily); the default is the last 30 days. Where readers came from (referrer host,
// utm_*) is kept per path too; the full referrer needs a host; browsers, systems, devices and
// countries are kept per host only.
func NewBreakdownQuery(sc Scope, by string, from, to *time.Time, limit *int, now time.Time) (BreakdownQuery, error) {
	q := BreakdownQuery{Scope: sc, By: by, Limit: DefaultValues}
	dim, ok := dims[by]
	if !ok {
		return BreakdownQuery{}, fmt.Errorf("%w: by must be one of referrer_host, referrer, utm_source, utm_medium, utm_campaign, browser, os, device, country; not %q", ErrInvalid, by)
	}
	q.Dim = dim
	if sc.Path != nil && !dim.PerPath() {
		return BreakdownQuery{}, fmt.Errorf("%w: %s is counted per host, not per path; leave out path", ErrInvalid, by)
	}
	if dim == storage.DimReferrer && sc.Host == nil {
		return BreakdownQuery{}, fmt.Errorf("%w: the full referrer needs a host; give host, or use by=referrer_host", ErrInvalid)
	}
	end := now
	if to != nil {
		end = *to
	}
	start := end.AddDate(0, 0, -30)
	if from != nil {
		start = *from
	}
	if err := checkTime("from", start); err != nil {
		return BreakdownQuery{}, err
	}
	if err := checkTime("to", end); err != nil {
		return BreakdownQuery{}, err
	}
	if !start.Before(end) {
		return BreakdownQuery{}, fmt.Errorf("%w: from (%s) must be before to (%s)", ErrInvalid,
			start.Format(time.RFC3339), end.Format(time.RFC3339))
	}
	q.From = storage.UTCDay(start)
	q.To = storage.UTCDay(end)
	if !q.To.Equal(end.UTC()) {
		q.To = q.To.AddDate(0, 0, 1)
	}
	if days := q.To.Sub(q.From).Hours() / 24; days > MaxBreakdownDays {
		return BreakdownQuery{}, fmt.Errorf("%w: a breakdown spans at most %d days, not %.0f", ErrInvalid, MaxBreakdownDays, days)
	}
	if limit != nil {
		if *limit < 1 || *limit > MaxValues {
			return BreakdownQuery{}, fmt.Errorf("%w: limit must be between 1 and %d, not %d", ErrInvalid, MaxValues, *limit)
		}
		q.Limit = *limit
	}
	return q, nil
}

// Value is one value of a breakdown.
type Value struct {
	Value string
	Counts
}

// BreakdownResult is a breakdown: the most viewed values, what the other values add up to, and
// the views without a value (unknown, or for referrers: direct).
type BreakdownResult struct {
	Values  []Value
	Others  Counts
	Unknown Counts
}

// Breakdown answers q from one snapshot, exactly: the candidates are the k most viewed values in
// the rollups and every value in the tail; a value that is not a candidate has at most the
// views of the k-th (see TopPages), and k grows until that bound is below the limit-th value.
func (s *Service) Breakdown(ctx context.Context, q BreakdownQuery) (BreakdownResult, error) {
	var res BreakdownResult
	err := s.Store.Read(ctx, func(r *storage.Reader) error {
		hosts, err := q.hosts(ctx, r)
		if err != nil || len(hosts) == 0 {
			return err
		}
		scope := q.path()
		tail, err := q.tail(ctx, r, hosts, false)
		if err != nil {
			return err
		}
		var all Counts // every view and visitor of the scope over the days
		days, err := r.Days(ctx, hosts, scope, q.From, q.To)
		if err != nil {
			return err
		}
		for _, d := range days {
			all.add(d.DayCounts)
		}
		tailValues := map[string]Counts{}
		var tailAll Counts
		for _, part := range tail {
			for k, c := range part.Days {
				if k.Path == scope && !k.Day.Before(q.From) && k.Day.Before(q.To) {
					all.add(*c)
				}
			}
			for k, c := range part.Breakdowns {
				if k.Path == scope && k.Dim == q.Dim && !k.Day.Before(q.From) && k.Day.Before(q.To) {
					v := tailValues[k.Value]
					v.add(*c)
					tailValues[k.Value] = v
					tailAll.add(*c)
				}
			}
		}
		for k := q.Limit * topFactor; ; k *= topFactor {
			b, err := r.Breakdown(ctx, hosts, scope, q.Dim, q.From, q.To, k)
			if err != nil {
				return err
			}
			merged := map[string]Counts{}
			for _, v := range b.Values {
				merged[v.Value] = Counts{Views: v.Views, Visitors: v.Visitors}
			}
			for v, c := range tailValues {
				m := merged[v]
				m.Views, m.Visitors = m.Views+c.Views, m.Visitors+c.Visitors
				merged[v] = m
			}
			values := make([]Value, 0, len(merged))
			for v, c := range merged {
				values = append(values, Value{Value: v, Counts: c})
			}
			sort.Slice(values, func(i, j int) bool {
				if values[i].Views != values[j].Views {
					return values[i].Views > values[j].Views
				}
				return values[i].Value < values[j].Value
			})
			var bound int64
			complete := int64(len(b.Values)) >= b.AllValues
			if !complete {
				bound = b.Values[len(b.Values)-1].Views
			}
			if complete || (len(values) >= q.Limit && values[q.Limit-1].Views > bound) {
				res.Values = values[:min(q.Limit, len(values))]
				known := Counts{Views: b.All.Views + tailAll.Views, Visitors: b.All.Visitors + tailAll.Visitors}
				shown := Counts{}
				for _, v := range res.Values {
					shown.Views, shown.Visitors = shown.Views+v.Views, shown.Visitors+v.Visitors
				}
				res.Others = Counts{Views: known.Views - shown.Views, Visitors: known.Visitors - shown.Visitors}
				res.Unknown = Counts{Views: all.Views - known.Views, Visitors: all.Visitors - known.Visitors}
				return nil
			}
		}
	})
	return res, unavailable(err)
}
