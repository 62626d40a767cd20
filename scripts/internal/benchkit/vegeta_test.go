package benchkit

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
	rs, err := DecodeResults(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Result{
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
	if _, err := DecodeResults(strings.NewReader(in + "{\"code\": \"x\"}\n")); err == nil {
		t.Error("a malformed result was accepted")
	}
}

func TestWindow(t *testing.T) {
	at := func(d time.Duration) Result { return Result{Code: 201, Timestamp: t0.Add(d)} }
	// vegeta writes results as they complete, so the first line need not be the first sent.
	rs := []Result{at(300 * time.Millisecond), at(0), at(999 * time.Millisecond), at(time.Second), at(1500 * time.Millisecond)}
	got := Window(rs, time.Second)
	if len(got) != 2 || !got[0].Timestamp.Equal(t0.Add(time.Second)) || !got[1].Timestamp.Equal(t0.Add(1500*time.Millisecond)) {
		t.Errorf("window = %+v, want the results sent 1 s and 1.5 s after the first", got)
	}
	if got := Window(rs, 0); len(got) != len(rs) {
		t.Errorf("window without a ramp kept %d of %d results", len(got), len(rs))
	}
	if got := Window(nil, time.Second); len(got) != 0 {
		t.Errorf("window of nothing = %v", got)
	}
}

func TestQuantile(t *testing.T) {
	s := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for q, want := range map[float64]int{0: 1, 0.1: 1, 0.11: 2, 0.5: 5, 0.99: 10, 0.999: 10, 1: 10} {
		if got := Quantile(s, q); got != want {
			t.Errorf("Quantile(1..10, %v) = %d, want %d", q, got, want)
		}
	}
	if got := Quantile([]int{}, 0.5); got != 0 {
		t.Errorf("quantile of nothing = %d", got)
	}
}

func TestBetween(t *testing.T) {
	at := func(d time.Duration) Result { return Result{Code: 201, Timestamp: t0.Add(d)} }
	rs := []Result{at(0), at(time.Second), at(2 * time.Second), at(3 * time.Second)}
	if got := Between(rs, t0.Add(time.Second), t0.Add(3*time.Second)); len(got) != 2 ||
		!got[0].Timestamp.Equal(t0.Add(time.Second)) || !got[1].Timestamp.Equal(t0.Add(2*time.Second)) {
		t.Errorf("Between(1 s, 3 s) = %+v, want the results sent at 1 s and 2 s", got)
	}
	if got := Between(rs, t0.Add(2*time.Second), time.Time{}); len(got) != 2 {
		t.Errorf("Between(2 s, no end) kept %d results, want 2", len(got))
	}
}

func TestLastLine(t *testing.T) {
	if got := LastLine("one\ntwo\n\n"); got != "two" {
		t.Errorf("LastLine = %q, want two", got)
	}
}
