package main

import (
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC)

func TestDecodeResults(t *testing.T) {
	// Two lines as `vegeta encode --to json` (v12.13.0) writes them.
	in := `{"attack":"","seq":0,"code":201,"timestamp":"2026-12-01T20:13:11.524612122Z","latency":1572103,"bytes_out":14,"bytes_in":14,"error":"","body":"eyJwYXRoIjoiL3gifQo=","method":"POST","url":"http://127.0.0.1:18089/api/views","headers":{"Content-Type":["application/json"]}}
{"attack":"","seq":1,"code":0,"timestamp":"2026-12-01T20:13:11.62445967Z","latency":5000000000,"bytes_out":0,"bytes_in":0,"error":"Post \"http://127.0.0.1:18089/api/views\": context deadline exceeded","body":null,"method":"POST","url":"http://127.0.0.1:18089/api/views","headers":null}
`
	rs, err := decodeResults(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []result{
		{Code: 201, Timestamp: time.Date(2026, 12, 1, 20, 13, 11, 524612122, time.UTC), Latency: 1572103},
		{Code: 0, Timestamp: time.Date(2026, 12, 1, 20, 13, 11, 624459670, time.UTC), Latency: 5e9},
	}
	if len(rs) != len(want) {
		t.Fatalf("decoded %d results, want %d", len(rs), len(want))
	}
	for i := range want {
		if rs[i].Code != want[i].Code || !rs[i].Timestamp.Equal(want[i].Timestamp) || rs[i].Latency != want[i].Latency {
			t.Errorf("result %d = %+v, want %+v", i, rs[i], want[i])
		}
	}
	if _, err := decodeResults(strings.NewReader(in + "{\"code\": \"x\"}\n")); err == nil {
		t.Error("a malformed result was accepted")
	}
}

func TestWindow(t *testing.T) {
	at := func(d time.Duration) result { return result{Code: 201, Timestamp: t0.Add(d)} }
	// vegeta writes results as they complete, so the first line need not be the first sent.
	rs := []result{at(300 * time.Millisecond), at(0), at(999 * time.Millisecond), at(time.Second), at(1500 * time.Millisecond)}
	got := window(rs, time.Second)
	if len(got) != 2 || !got[0].Timestamp.Equal(t0.Add(time.Second)) || !got[1].Timestamp.Equal(t0.Add(1500*time.Millisecond)) {
		t.Errorf("window = %+v, want the results sent 1 s and 1.5 s after the first", got)
	}
	if got := window(rs, 0); len(got) != len(rs) {
		t.Errorf("window without a ramp kept %d of %d results", len(got), len(rs))
	}
	if got := window(nil, time.Second); len(got) != 0 {
		t.Errorf("window of nothing = %v", got)
	}
}

func TestSummarize(t *testing.T) {
	// 1000 requests, one every millisecond; latency i % 100 + 1 ms; two answered 503, one never.
	var rs []result
	for i := range 1000 {
		code := 201
		switch i {
		case 10, 20:
			code = 503
		case 30:
			code = 0
		}
		rs = append(rs, result{Code: code, Timestamp: t0.Add(time.Duration(i) * time.Millisecond),
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
	if got := countCode(rs, 201); got != 997 {
		t.Errorf("countCode(201) = %d", got)
	}
	if m := summarize(nil); m.Requests != 0 || m.Held(1) {
		t.Errorf("summarize(nil) = %+v", m)
	}
}

func TestQuantile(t *testing.T) {
	s := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for q, want := range map[float64]int{0: 1, 0.1: 1, 0.11: 2, 0.5: 5, 0.99: 10, 0.999: 10, 1: 10} {
		if got := quantile(s, q); got != want {
			t.Errorf("quantile(1..10, %v) = %d, want %d", q, got, want)
		}
	}
	if got := quantile([]int{}, 0.5); got != 0 {
		t.Errorf("quantile of nothing = %d", got)
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
