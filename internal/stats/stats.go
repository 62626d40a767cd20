// Package stats answers questions about recorded views: totals, series in hour or day buckets in
// a time zone, the most viewed pages and breakdowns by dimension, each with views and visitors,
// of one host or every host. Counts come from the rollups plus the views not yet folded into
// them, read from one snapshot, so they are exact at every moment.
package stats

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/prawnhq/prawn/internal/pageview"
	"github.com/prawnhq/prawn/internal/rollup"
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

// The times a query may name: views are recorded in this range, and every bucket boundary of it
// can be written as RFC 3339.
var (
	MinTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	MaxTime = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)
)

// ErrInvalid marks a query that breaks the rules; the message says which.
var ErrInvalid = errors.New("invalid query")

// Store is what reads need from the database: one consistent snapshot, and the one-statement
// totals behind counters.
type Store interface {
	Read(ctx context.Context, fn func(*storage.Reader) error) error
	SiteViews(ctx context.Context) (int64, error)
	ScopeViews(ctx context.Context, host, scope string) (int64, error)
	PathViews(ctx context.Context, path string) (int64, error)
}

// Service reads counts from the store. The zero value of every field but Store is ready to use.
type Service struct {
	Store Store

	// totals shares the reads of Total among concurrent callers of one scope.
	totals sharedReads[scopeKey, int64]
}

// scopeKey is a Scope as a map key.
type scopeKey struct {
	host, path       string
	anyHost, anyPath bool
}

func (s Scope) key() scopeKey {
	k := scopeKey{anyHost: s.Host == nil, anyPath: s.Path == nil, path: s.path()}
	if s.Host != nil {
		k.host = *s.Host
	}
	return k
}

// TotalReads is how many reads Total has sent to the store (fewer than its calls when concurrent
// callers shared them).
func (s *Service) TotalReads() int64 { return s.totals.reads.Load() }

// TotalsWaiting is how many callers of Total wait for a read that has not begun yet.
func (s *Service) TotalsWaiting() int { return s.totals.waiting() }

// Counts are views and visitors.
type Counts struct {
	Views, Visitors int64
}

func (c *Counts) add(o storage.DayCounts) {
	c.Views += o.Views
	c.Visitors += o.Visitors
}

// Scope is what a query counts: one host or every host (Host nil), and one path or the whole
// host (Path nil).
type Scope struct {
	Host *string
	Path *string
}

// NewScope validates a host and a path: the path by the rules of views (pageview.NormalizePath),
// the host by pageview.NormalizeHost.
func NewScope(host, path *string) (Scope, error) {
	var s Scope
	if host != nil {
		h, err := pageview.NormalizeHost(*host)
		if err != nil {
			return Scope{}, invalid(err)
		}
		s.Host = &h
	}
	if path != nil {
		p, err := pageview.NormalizePath(*path)
		if err != nil {
			return Scope{}, invalid(err)
		}
		s.Path = &p
	}
	return s, nil
}

// invalid turns a broken rule of pageview into a broken rule of the query.
func invalid(err error) error {
	var rule *pageview.RuleError
	if errors.As(err, &rule) {
		return fmt.Errorf("%w: %s", ErrInvalid, rule.Rule)
	}
	return err
}

// path is the rollup scope of s: the path, or "" for whole hosts.
func (s Scope) path() string {
	if s.Path == nil {
		return ""
	}
	return *s.Path
}

// hosts resolves the hosts s counts.
func (s Scope) hosts(ctx context.Context, r *storage.Reader) ([]string, error) {
	if s.Host != nil {
		return []string{*s.Host}, nil
	}
	return r.Hosts(ctx)
}

// tail counts the scope's views not yet folded, as the fold will count them: parts whose sum is
// what the tail adds to the rollups of the scope (with pages and no path, to those of each path
// too). The Store may hold the fold of most of the tail (see storage.Reader.Tail).
func (s Scope) tail(ctx context.Context, r *storage.Reader, hosts []string, pages bool) ([]*storage.FoldOutput, error) {
	in, held, err := r.Tail(ctx, hosts, s.path(), pages)
	if err != nil {
		return nil, err
	}
	out := rollup.Compute(in)
	return append(held, &out), nil
}

// checkTime refuses a time outside [MinTime, MaxTime).
func checkTime(name string, t time.Time) error {
	if t.Before(MinTime) || !t.Before(MaxTime) {
		return fmt.Errorf("%w: %s (%s) must be from %s to before %s", ErrInvalid, name,
			t.Format(time.RFC3339), MinTime.Format(time.RFC3339), MaxTime.Format(time.RFC3339))
	}
	return nil
}

// Totals are the all-time counts of a scope and how fresh the rollups are.
type Totals struct {
	Counts
	AsOf time.Time
}

// Total is the all-time number of views of a scope (visitors are not counted: this is the cheap
// read behind counters and badges: one statement for every host or for one host). Concurrent
// callers of one scope share reads (see sharedReads): the answer is still exact, as it comes from
// a read that began after Total was called, and so counts every view acknowledged before.
func (s *Service) Total(ctx context.Context, sc Scope) (int64, error) {
	return s.totals.do(ctx, sc.key(), func(ctx context.Context) (int64, error) { return s.total(ctx, sc) })
}

// total is one read of Total.
func (s *Service) total(ctx context.Context, sc Scope) (int64, error) {
	switch {
	case sc.Host == nil && sc.Path == nil:
		n, err := s.Store.SiteViews(ctx)
		return n, unavailable(err)
	case sc.Host != nil:
		n, err := s.Store.ScopeViews(ctx, *sc.Host, sc.path())
		return n, unavailable(err)
	}
	// One path of every host.
	n, err := s.Store.PathViews(ctx, sc.path())
	return n, unavailable(err)
}

// Host is one host and its all-time counts.
type Host struct {
	Host string
	Counts
}

// Hosts lists every host with views, most viewed first.
func (s *Service) Hosts(ctx context.Context) ([]Host, error) {
	byHost := map[string]*Counts{}
	err := s.Store.Read(ctx, func(r *storage.Reader) error {
		rows, err := r.HostTotals(ctx)
		if err != nil {
			return err
		}
		for _, row := range rows {
			byHost[row.Host] = &Counts{Views: row.Views, Visitors: row.Visitors}
		}
		hosts, err := r.Hosts(ctx)
		if err != nil {
			return err
		}
		tail, err := Scope{}.tail(ctx, r, hosts, false)
		if err != nil {
			return err
		}
		for _, part := range tail {
			for k, c := range part.Days {
				if k.Path == "" {
					if byHost[k.Host] == nil {
						byHost[k.Host] = &Counts{}
					}
					byHost[k.Host].add(*c)
				}
			}
		}
		return nil
	})
	out := make([]Host, 0, len(byHost))
	for h, c := range byHost {
		out = append(out, Host{Host: h, Counts: *c})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Views != out[j].Views {
			return out[i].Views > out[j].Views
		}
		return out[i].Host < out[j].Host
	})
	return out, unavailable(err)
}

// ErrBacklog means too many views wait to be folded for a read to count them itself: the rollup
// is catching up (after a bulk load, or when folding was stopped), and the read will succeed
// shortly. Counters (Total) are not affected.
var ErrBacklog = errors.New("too many views are waiting to be folded; try again shortly")

// unavailable maps the store's "database unavailable" and "backlog" to the domain's.
func unavailable(err error) error {
	switch {
	case errors.Is(err, storage.ErrUnavailable):
		return fmt.Errorf("%w: %w", pageview.ErrUnavailable, err)
	case errors.Is(err, storage.ErrBacklog):
		return fmt.Errorf("%w: %w", ErrBacklog, err)
	}
	return err
}
