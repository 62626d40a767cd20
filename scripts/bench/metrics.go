package main

import (
	"slices"
	"time"

	"github.com/prawnhq/prawn/scripts/internal/benchkit"
)

// Metrics summarise a step as vegeta's report does (success, throughput, status codes), with
// exact latency percentiles (nearest rank) instead of vegeta's estimated ones.
type Metrics struct {
	Requests       int
	Success        float64 // share answered 2xx or 3xx
	Throughput     float64 // successful requests per second, from the first request sent to the last answer
	P50, P99, P999 time.Duration
	Codes          map[int]int // answers by status; 0 for requests that got none (timeout, refused)
}

func summarize(rs []benchkit.Result) Metrics {
	m := Metrics{Requests: len(rs), Codes: map[int]int{}}
	if len(rs) == 0 {
		return m
	}
	lat := make([]time.Duration, len(rs))
	first, last, end := rs[0].Timestamp, rs[0].Timestamp, time.Time{}
	ok := 0
	for i, r := range rs {
		m.Codes[r.Code]++
		if r.Code >= 200 && r.Code < 400 {
			ok++
		}
		lat[i] = time.Duration(r.Latency)
		if r.Timestamp.Before(first) {
			first = r.Timestamp
		}
		if r.Timestamp.After(last) {
			last = r.Timestamp
		}
		if e := r.Timestamp.Add(lat[i]); e.After(end) {
			end = e
		}
	}
	m.Success = float64(ok) / float64(len(rs))
	if span := end.Sub(first); last.After(first) && span > 0 {
		m.Throughput = float64(ok) / span.Seconds()
	}
	slices.Sort(lat)
	m.P50, m.P99, m.P999 = benchkit.Quantile(lat, 0.50), benchkit.Quantile(lat, 0.99), benchkit.Quantile(lat, 0.999)
	return m
}

// MaxP99 is the highest p99 latency of a step that is held.
const MaxP99 = 25 * time.Millisecond

// Held reports whether a step at rate held: every request succeeded, p99 within MaxP99, and a
// throughput of at least 95 % of the rate (so a load generator that falls behind cannot pass).
func (m Metrics) Held(rate int) bool {
	return m.Requests > 0 && m.Success == 1 && m.P99 <= MaxP99 && m.Throughput >= 0.95*float64(rate)
}
