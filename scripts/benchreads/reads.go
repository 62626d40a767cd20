package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"time"
	_ "time/tzdata" // Asia/Kolkata on a machine without a zone database

	"github.com/prawnhq/prawn/scripts/internal/benchkit"
)

// Read is one request the page or a badge makes. Adding a read is adding an entry to Reads.
type Read struct {
	Label string // the report's row: the request and its range, Markdown
	// URL is the request's path and query for a case whose ranges are r and whose one path is path.
	URL func(r Ranges, path string) string
	// Needs is an operation the contract must have for the read to run ("" for none): a read of an
	// operation that is not there yet is skipped with a note.
	Needs string
}

// Ranges are the ranges the reads ask for, as the page computes them at one instant.
type Ranges struct {
	// HourFrom, HourTo: 30 days of whole hours ending at the next full hour (the page's hourly
	// ranges end there, so the current hour is a whole bucket).
	HourFrom, HourTo time.Time
	// DayFrom, DayTo: the 30 whole UTC days ending with today.
	DayFrom, DayTo time.Time
	// ZoneFrom, ZoneTo: the 30 whole days in Zone ending with today there.
	ZoneFrom, ZoneTo time.Time
	Zone             string
}

// zone is the time zone of the non-UTC daily series: +5:30, so its midnights fall on half hours.
const zone = "Asia/Kolkata"

// RangesAt are the ranges of the reads at now.
func RangesAt(now time.Time) (Ranges, error) {
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return Ranges{}, fmt.Errorf("time zone %s: %w", zone, err)
	}
	r := Ranges{Zone: zone}
	r.HourTo = now.UTC().Truncate(time.Hour).Add(time.Hour)
	r.HourFrom = r.HourTo.Add(-30 * 24 * time.Hour)
	r.DayFrom, r.DayTo = lastDays(now, time.UTC, 30)
	r.ZoneFrom, r.ZoneTo = lastDays(now, loc, 30)
	return r, nil
}

// lastDays is the n whole days in loc ending with now's day: [midnight n-1 days before today,
// tomorrow's midnight).
func lastDays(now time.Time, loc *time.Location, n int) (time.Time, time.Time) {
	t := now.In(loc)
	y, m, d := t.Date()
	return time.Date(y, m, d-(n-1), 0, 0, 0, 0, loc).UTC(), time.Date(y, m, d+1, 0, 0, 0, 0, loc).UTC()
}

// query is a request path with its query parameters (encoded in key order).
func query(path string, kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}

func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// Reads are every read the page and the badges make, in the order each round asks them.
var Reads = []Read{
	{Label: "`GET /api/home` (records a view of /, reads the site's total)",
		URL: func(Ranges, string) string { return "/api/home" }},
	{Label: "`GET /api/stats?bucket=hour`, site, 30 d",
		URL: func(r Ranges, _ string) string {
			return query("/api/stats", "bucket", "hour", "from", rfc(r.HourFrom), "to", rfc(r.HourTo))
		}},
	{Label: "`GET /api/stats?bucket=hour&path=…`, one path, 30 d",
		URL: func(r Ranges, p string) string {
			return query("/api/stats", "bucket", "hour", "path", p, "from", rfc(r.HourFrom), "to", rfc(r.HourTo))
		}},
	{Label: "`GET /api/stats?bucket=day&tz=UTC`, site, 30 d",
		URL: func(r Ranges, _ string) string {
			return query("/api/stats", "bucket", "day", "tz", "UTC", "from", rfc(r.DayFrom), "to", rfc(r.DayTo))
		}},
	{Label: "`GET /api/stats?bucket=day&tz=Asia/Kolkata`, site, 30 d",
		URL: func(r Ranges, _ string) string {
			return query("/api/stats", "bucket", "day", "tz", r.Zone, "from", rfc(r.ZoneFrom), "to", rfc(r.ZoneTo))
		}},
	{Label: "`GET /api/pages?limit=10`, 24 h",
		URL: func(r Ranges, _ string) string {
			return query("/api/pages", "limit", "10", "from", rfc(r.HourTo.Add(-24*time.Hour)), "to", rfc(r.HourTo))
		}},
	{Label: "`GET /api/pages?limit=10`, 30 d",
		URL: func(r Ranges, _ string) string {
			return query("/api/pages", "limit", "10", "from", rfc(r.DayFrom), "to", rfc(r.DayTo))
		}},
	{Label: "`GET /api/breakdown?by=referrer_host`, 30 d",
		URL: func(r Ranges, _ string) string { return breakdown(r, "referrer_host", "") }},
	{Label: "`GET /api/breakdown?by=browser`, 30 d",
		URL: func(r Ranges, _ string) string { return breakdown(r, "browser", "") }},
	{Label: "`GET /api/breakdown?by=country`, 30 d",
		URL: func(r Ranges, _ string) string { return breakdown(r, "country", "") }},
	{Label: "`GET /api/breakdown?by=referrer_host&path=…`, 30 d",
		URL: func(r Ranges, p string) string { return breakdown(r, "referrer_host", p) }},
	{Label: "`GET /api/hosts`",
		URL: func(Ranges, string) string { return "/api/hosts" }},
	{Label: "`GET /api/badge.svg?path=…&record=false`", Needs: "/api/badge.svg",
		URL: func(_ Ranges, p string) string { return query("/api/badge.svg", "path", p, "record", "false") }},
}

func breakdown(r Ranges, by, path string) string {
	kv := []string{"by", by, "from", rfc(r.DayFrom), "to", rfc(r.DayTo)}
	if path != "" {
		kv = append(kv, "path", path)
	}
	return query("/api/breakdown", kv...)
}

// Sample is one request's answer as the client saw it.
type Sample struct {
	Latency time.Duration // from sending the request to the last byte of the answer
	Code    int
}

// ReadResult is what one read measured in one case.
type ReadResult struct {
	Read    Read
	URL     string
	First   Sample   // the case's first request of it: new connection, cold caches
	Samples []Sample // the timed rounds
}

// Summary are a read's percentiles over its timed rounds (nearest rank) and its answers that
// were not 200, by status.
type Summary struct {
	N             int
	P50, P99, Max time.Duration
	Failed        map[int]int
}

// Summarize sums up the timed rounds.
func (r ReadResult) Summarize() Summary {
	s := Summary{N: len(r.Samples), Failed: map[int]int{}}
	lat := make([]time.Duration, len(r.Samples))
	for i, x := range r.Samples {
		lat[i] = x.Latency
		if x.Code != http.StatusOK {
			s.Failed[x.Code]++
		}
	}
	slices.Sort(lat)
	s.P50, s.P99 = benchkit.Quantile(lat, 0.50), benchkit.Quantile(lat, 0.99)
	if len(lat) > 0 {
		s.Max = lat[len(lat)-1]
	}
	return s
}

// client is the one client of the reads: sequential requests on one keep-alive connection.
type client struct {
	http *http.Client
	base string
}

// userAgent is what the client says it is: a browser, as the page's reads come from one.
const userAgent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

func newClient(base string) *client {
	tr := &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true, IdleConnTimeout: time.Minute}
	return &client{http: &http.Client{Transport: tr, Timeout: time.Minute}, base: base}
}

func (c *client) close() { c.http.CloseIdleConnections() }

// answer is what the benchmark reads of an answer: the tail and the totals.
type answer struct {
	Pending   *int64 `json:"pending"`   // GET /api/stats: views not yet folded
	Total     *int64 `json:"total"`     // GET /api/stats: all-time views of the scope
	PageViews *int64 `json:"pageViews"` // GET /api/home
}

// get sends one GET and reads the whole answer; the latency ends with its last byte. An error is
// a request that got no answer at all (the server is gone): the benchmark stops.
func (c *client) get(ctx context.Context, path string) (Sample, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return Sample{}, nil, err
	}
	req.Header.Set("User-Agent", userAgent)
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		return Sample{}, nil, fmt.Errorf("GET %s: %w", path, err)
	}
	body, err := io.ReadAll(resp.Body)
	lat := time.Since(start)
	resp.Body.Close()
	if err != nil {
		return Sample{}, nil, fmt.Errorf("GET %s: read the answer: %w", path, err)
	}
	return Sample{Latency: lat, Code: resp.StatusCode}, body, nil
}

// rounds is what measure found besides the samples: the tail the stats reads reported.
type rounds struct {
	results []ReadResult
	pending []int64 // `pending` of every GET /api/stats answer
	from    time.Time
	to      time.Time // the timed rounds
}

// minRounds is the fewest timed rounds of a case, whatever its budget.
const minRounds = 5

// measure asks every read once (the first, cold round), then n timed rounds of every read in
// order, but no new round once budget has passed since the first timed one (after minRounds).
// A JSON answer of 200 that does not decode is an error: the benchmark would be timing
// something other than a read.
func (c *client) measure(ctx context.Context, reads []Read, r Ranges, path string, n int, budget time.Duration) (rounds, error) {
	out := rounds{results: make([]ReadResult, len(reads))}
	for i, rd := range reads {
		out.results[i] = ReadResult{Read: rd, URL: rd.URL(r, path)}
	}
	for round := 0; round <= n; round++ {
		if round == 1 {
			out.from = time.Now()
		}
		if round > minRounds && time.Since(out.from) >= budget {
			break
		}
		for i := range reads {
			res := &out.results[i]
			s, body, err := c.get(ctx, res.URL)
			if err != nil {
				return out, err
			}
			if s.Code == http.StatusOK && bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) {
				var a answer
				if err := json.Unmarshal(body, &a); err != nil {
					return out, fmt.Errorf("GET %s: the answer is not JSON: %w", res.URL, err)
				}
				if a.Pending != nil {
					out.pending = append(out.pending, *a.Pending)
				}
			}
			if round == 0 {
				res.First = s
			} else {
				res.Samples = append(res.Samples, s)
			}
		}
	}
	out.to = time.Now()
	return out, nil
}

// total asks GET /api/stats (the site, the default range) for the all-time total and the tail.
func (c *client) total(ctx context.Context) (total, pending int64, code int, err error) {
	s, body, err := c.get(ctx, "/api/stats")
	if err != nil || s.Code != http.StatusOK {
		return 0, 0, s.Code, err
	}
	var a answer
	if err := json.Unmarshal(body, &a); err != nil || a.Total == nil || a.Pending == nil {
		return 0, 0, s.Code, fmt.Errorf("GET /api/stats: no total and pending in %q", body)
	}
	return *a.Total, *a.Pending, s.Code, nil
}
