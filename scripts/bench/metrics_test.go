package main

import (
	"testing"
	"time"

	"github.com/prawnhq/prawn/scripts/internal/benchkit"
)

var t0 = time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC)

func TestSummarize(t *testing.T) {
	// 1000 requests, one every millisecond; latency i % 100 + 1 ms; two answered 503, one never.
	var rs []benchkit.Result
	for i := range 1000 {
		code := 201
		switch i {
		case 10, 20:
			code = 503
		case 30:
			code = 0
		}
		rs = append(rs, benchkit.Result{Code: code, Timestamp: t0.Add(time.Duration(i) * time.Millisecond),
			Latency: int64(time.Duration(i%100+1) * time.Millisecond)})
	}
	m := summarize(rs)
	if m.Requests != 1000 {
		t.Errorf("Requests = %d", m.Requests)
	}
	if m.Success != 0.997 {
		t.Errorf("Success = %v, want 0.997", m.Success)
	}
	// From the first request sent (t0) to the last answer (sent at 999 ms, 100 ms latency).
	if want := 997 / 1.099; m.Throughput < want-1e-9 || m.Throughput > want+1e-9 {
		t.Errorf("Throughput = %v, want %v", m.Throughput, want)
	}
	if m.P50 != 50*time.Millisecond || m.P99 != 99*time.Millisecond || m.P999 != 100*time.Millisecond {
		t.Errorf("p50 %v p99 %v p99.9 %v, want 50ms 99ms 100ms", m.P50, m.P99, m.P999)
	}
	if m.Codes[201] != 997 || m.Codes[503] != 2 || m.Codes[0] != 1 || len(m.Codes) != 3 {
		t.Errorf("Codes = %v", m.Codes)
	}
	if got := benchkit.CountCode(rs, 201); got != 997 {
		t.Errorf("benchkit.CountCode(201) = %d", got)
	}
	if m := summarize(nil); m.Requests != 0 || m.Held(1) {
		t.Errorf("summarize(nil) = %+v", m)
	}
}

func TestHeld(t *testing.T) {
	ok := Metrics{Requests: 10000, Success: 1, Throughput: 950, P99: MaxP99}
	if !ok.Held(1000) {
		t.Errorf("%+v not held at 1000/s", ok)
	}
	for name, m := range map[string]Metrics{
		"p99 over 25 ms":     {Requests: 10000, Success: 1, Throughput: 1000, P99: MaxP99 + time.Microsecond},
		"one request failed": {Requests: 10000, Success: 0.9999, Throughput: 1000, P99: time.Millisecond},
		"below 95 % of rate": {Requests: 10000, Success: 1, Throughput: 949.9, P99: time.Millisecond},
		"no requests":        {Success: 1, Throughput: 1000},
	} {
		if m.Held(1000) {
			t.Errorf("%s: %+v held at 1000/s", name, m)
		}
	}
}
