package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"time"
)

// result is what the benchmark reads of one of vegeta's results (`vegeta encode --to json`).
type result struct {
	Code      int       `json:"code"`
	Timestamp time.Time `json:"timestamp"` // when the request was sent
	Latency   int64     `json:"latency"`   // ns until the answer (or the error)
}

// decodeResults reads vegeta's JSON results, one object a line.
func decodeResults(r io.Reader) ([]result, error) {
	dec := json.NewDecoder(r)
	var out []result
	for {
		var res result
		err := dec.Decode(&res)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("decode vegeta result %d: %w", len(out)+1, err)
		}
		out = append(out, res)
	}
}

// window returns the results sent skip or later after the first one: a step's steady state,
// without the jump from the previous rate.
func window(rs []result, skip time.Duration) []result {
	if len(rs) == 0 || skip <= 0 {
		return rs
	}
	first := rs[0].Timestamp
	for _, r := range rs {
		if r.Timestamp.Before(first) {
			first = r.Timestamp
		}
	}
	from := first.Add(skip)
	var out []result
	for _, r := range rs {
		if !r.Timestamp.Before(from) {
			out = append(out, r)
		}
	}
	return out
}

// countCode counts the results answered with code.
func countCode(rs []result, code int) int {
	n := 0
	for _, r := range rs {
		if r.Code == code {
			n++
		}
	}
	return n
}

// Metrics summarise a step as vegeta's report does (success, throughput, status codes), with
// exact latency percentiles (nearest rank) instead of vegeta's estimated ones.
type Metrics struct {
	Requests       int
	Success        float64 // share answered 2xx or 3xx
	Throughput     float64 // successful requests per second, from the first request sent to the last answer
	P50, P99, P999 time.Duration
	Codes          map[int]int // answers by status; 0 for requests that got none (timeout, refused)
}

func summarize(rs []result) Metrics {
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
	m.P50, m.P99, m.P999 = quantile(lat, 0.50), quantile(lat, 0.99), quantile(lat, 0.999)
	return m
}

// quantile is the nearest-rank q-quantile of sorted: the smallest value with at least q of all
// values at or below it.
func quantile[T any](sorted []T, q float64) T {
	var zero T
	if len(sorted) == 0 {
		return zero
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// MaxP99 is the highest p99 latency of a step that is held.
const MaxP99 = 25 * time.Millisecond

// Held reports whether a step at rate held: every request succeeded, p99 within MaxP99, and a
// throughput of at least 95 % of the rate (so a load generator that falls behind cannot pass).
func (m Metrics) Held(rate int) bool {
	return m.Requests > 0 && m.Success == 1 && m.P99 <= MaxP99 && m.Throughput >= 0.95*float64(rate)
}
