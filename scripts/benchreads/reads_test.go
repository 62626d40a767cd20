package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestRangesAt(t *testing.T) {
	// 2026-12-01 20:13 UTC is 2026-12-02 01:43 in Kolkata (+5:30): its "today" is a day later.
	now := time.Date(2026, 12, 1, 20, 13, 7, 0, time.UTC)
	r, err := RangesAt(now)
	if err != nil {
		t.Fatal(err)
	}
	want := Ranges{
		HourFrom: time.Date(2026, 11, 1, 21, 0, 0, 0, time.UTC), HourTo: time.Date(2026, 12, 1, 21, 0, 0, 0, time.UTC),
		DayFrom: time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC), DayTo: time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC),
		ZoneFrom: time.Date(2026, 11, 2, 18, 30, 0, 0, time.UTC), ZoneTo: time.Date(2026, 12, 2, 18, 30, 0, 0, time.UTC),
		Zone: "Asia/Kolkata",
	}
	if r != want {
		t.Errorf("RangesAt(%s) =\n %+v, want\n %+v", now, r, want)
	}
	if hours := r.HourTo.Sub(r.HourFrom).Hours(); hours != 720 {
		t.Errorf("hourly range is %v hours, want 720", hours)
	}
	// On the hour, the range still ends at the next full hour (the current hour is whole).
	if r, _ := RangesAt(time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC)); !r.HourTo.Equal(time.Date(2026, 12, 1, 21, 0, 0, 0, time.UTC)) {
		t.Errorf("on the hour: HourTo = %s", r.HourTo)
	}
}

func TestReadURLs(t *testing.T) {
	r, err := RangesAt(time.Date(2026, 12, 1, 20, 13, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, rd := range Reads {
		u, err := url.Parse(rd.URL(r, "/page/1"))
		if err != nil {
			t.Fatalf("%s: %v", rd.Label, err)
		}
		if !strings.HasPrefix(u.Path, "/api/") || !strings.Contains(rd.Label, "`GET "+u.Path) {
			t.Errorf("%s: URL %s does not match its label", rd.Label, u)
		}
		if seen[u.String()] {
			t.Errorf("two reads ask for %s", u)
		}
		seen[u.String()] = true
		q := u.Query()
		if strings.Contains(rd.Label, "path=") && q.Get("path") != "/page/1" {
			t.Errorf("%s: path %q", rd.Label, q.Get("path"))
		}
		if strings.Contains(rd.Label, "30 d") && (q.Get("from") == "" || q.Get("to") == "") {
			t.Errorf("%s: no range in %s", rd.Label, u)
		}
	}
	day := Reads[4].URL(r, "/x")
	if want := "/api/stats?bucket=day&from=2026-11-02T18%3A30%3A00Z&to=2026-12-02T18%3A30%3A00Z&tz=Asia%2FKolkata"; day != want {
		t.Errorf("Kolkata daily = %s, want %s", day, want)
	}
	if Reads[len(Reads)-1].Needs != "/api/badge.svg" {
		t.Error("the badge read does not say it needs /api/badge.svg")
	}
}

func TestSummarize(t *testing.T) {
	var rr ReadResult
	for i := 1; i <= 200; i++ {
		code := http.StatusOK
		if i == 7 || i == 9 {
			code = http.StatusServiceUnavailable
		}
		rr.Samples = append(rr.Samples, Sample{Latency: time.Duration(201-i) * time.Millisecond, Code: code})
	}
	s := rr.Summarize()
	// Nearest rank over 200: p50 is the 100th smallest, p99 the 198th.
	if s.N != 200 || s.P50 != 100*time.Millisecond || s.P99 != 198*time.Millisecond || s.Max != 200*time.Millisecond {
		t.Errorf("Summarize = %+v", s)
	}
	if len(s.Failed) != 1 || s.Failed[503] != 2 {
		t.Errorf("Failed = %v, want 503:2", s.Failed)
	}
	if s := (ReadResult{}).Summarize(); s.N != 0 || s.P99 != 0 {
		t.Errorf("Summarize of nothing = %+v", s)
	}
}

func TestMeasure(t *testing.T) {
	// A server that answers like prawn: stats with a tail, one read that fails, one not JSON.
	var hits int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		switch r.URL.Path {
		case "/api/stats":
			fmt.Fprintf(w, `{"total": 10, "pending": %d}`, hits)
		case "/api/fail":
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"detail": "database unavailable"}`)
		default:
			fmt.Fprint(w, `<svg/>`)
		}
	}))
	defer srv.Close()
	reads := []Read{
		{Label: "stats", URL: func(Ranges, string) string { return "/api/stats" }},
		{Label: "fail", URL: func(Ranges, string) string { return "/api/fail" }},
		{Label: "svg", URL: func(Ranges, string) string { return "/api/badge.svg" }},
	}
	c := newClient(srv.URL)
	defer c.close()
	got, err := c.measure(context.Background(), reads, Ranges{}, "/p", 7, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if hits != 3*8 || len(got.results) != 3 || len(got.pending) != 8 || got.pending[0] != 1 || got.pending[7] != 22 {
		t.Errorf("hits %d, pending %v", hits, got.pending)
	}
	for _, rr := range got.results {
		if len(rr.Samples) != 7 || rr.First.Code == 0 {
			t.Errorf("%s: %d timed samples, first %+v", rr.Read.Label, len(rr.Samples), rr.First)
		}
	}
	if s := got.results[1].Summarize(); s.Failed[503] != 7 {
		t.Errorf("fail: %+v", s)
	}
	if !got.from.Before(got.to) {
		t.Errorf("window %s .. %s", got.from, got.to)
	}
	// A spent budget stops after minRounds timed rounds.
	got, err = c.measure(context.Background(), reads[:1], Ranges{}, "/p", 100, time.Nanosecond)
	if err != nil || len(got.results[0].Samples) != minRounds {
		t.Errorf("with no budget: %d rounds, %v; want %d", len(got.results[0].Samples), err, minRounds)
	}
	total, pending, code, err := c.total(context.Background())
	if err != nil || total != 10 || pending == 0 || code != 200 {
		t.Errorf("total = %d, %d, %d, %v", total, pending, code, err)
	}
	// A 200 that claims to be JSON and is not stops the benchmark.
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "{broken") }))
	defer bad.Close()
	if _, err := newClient(bad.URL).measure(context.Background(), reads[:1], Ranges{}, "/p", 5, time.Hour); err == nil {
		t.Error("a broken JSON answer was accepted")
	}
	// A server that is gone is an error, not a sample.
	bad.Close()
	if _, err := newClient(bad.URL).measure(context.Background(), reads[:1], Ranges{}, "/p", 5, time.Hour); err == nil {
		t.Error("a refused connection was accepted")
	}
}
