package stats

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestNewQueryDefaultsToLast24Hours(t *testing.T) {
	now := mustTime(t, "2026-11-26T10:17:00Z")
	q, err := NewQuery(Scope{}, nil, nil, "", "", now)
	if err != nil {
		t.Fatal(err)
	}
	if q.Bucket != Hour || !q.From.Equal(mustTime(t, "2026-11-25T10:00:00Z")) || !q.To.Equal(mustTime(t, "2026-11-26T11:00:00Z")) {
		t.Errorf("query = %+v", q)
	}
	if n := len(q.Series(nil, nil)); n != 25 {
		t.Errorf("series has %d buckets, want 25 (24 h rounded out to whole hours)", n)
	}
}

func TestDayBucketsInHalfHourZone(t *testing.T) {
	// Asia/Kolkata is UTC+5:30: local midnight is 18:30 UTC.
	from := mustTime(t, "2026-11-24T12:00:00+05:30")
	to := mustTime(t, "2026-11-26T01:00:00+05:30")
	q, err := NewQuery(Scope{}, &from, &to, "day", "Asia/Kolkata", to)
	if err != nil {
		t.Fatal(err)
	}
	if !q.From.Equal(mustTime(t, "2026-11-23T18:30:00Z")) || !q.To.Equal(mustTime(t, "2026-11-26T18:30:00Z")) {
		t.Fatalf("range = %s .. %s", q.From, q.To)
	}
	quarters := []Cell{
		{Start: mustTime(t, "2026-11-24T18:15:00Z"), Views: 1, FirstVisitors: 1}, // 23:45 local on the 24th
		{Start: mustTime(t, "2026-11-24T18:30:00Z"), Views: 2},                   // 00:00 local on the 25th
		{Start: mustTime(t, "2026-11-24T18:45:00Z"), Views: 4, FirstVisitors: 3},
		{Start: mustTime(t, "2026-11-26T18:15:00Z"), Views: 8},  // 23:45 local on the 26th
		{Start: mustTime(t, "2026-11-26T18:30:00Z"), Views: 16}, // past the range
	}
	got := q.Series(quarters, nil)
	if got[0].Visitors != 1 || got[1].Visitors != 3 || got[2].Visitors != 0 {
		t.Errorf("visitors of the local days = %d, %d, %d; want 1, 3, 0", got[0].Visitors, got[1].Visitors, got[2].Visitors)
	}
	want := []int64{1, 6, 8}
	if len(got) != len(want) {
		t.Fatalf("series = %+v", got)
	}
	for i := range want {
		if got[i].Views != want[i] {
			t.Errorf("bucket %d (%s) = %d, want %d", i, got[i].Start, got[i].Views, want[i])
		}
	}
}

func TestDayBucketsAcrossDaylightSaving(t *testing.T) {
	// Europe/Berlin leaves summer time on 2026-10-25: that day has 25 hours.
	from := mustTime(t, "2026-10-24T00:00:00+02:00")
	to := mustTime(t, "2026-10-27T00:00:00+01:00")
	q, err := NewQuery(Scope{}, &from, &to, "day", "Europe/Berlin", to)
	if err != nil {
		t.Fatal(err)
	}
	s := q.Series(nil, nil)
	if len(s) != 3 {
		t.Fatalf("series = %+v", s)
	}
	if d := s[2].Start.Sub(s[1].Start); d != 25*time.Hour {
		t.Errorf("25 Oct lasts %s, want 25h", d)
	}
}

func TestNewQueryRejects(t *testing.T) {
	now := mustTime(t, "2026-11-26T10:00:00Z")
	early := now.Add(-time.Hour)
	yearsAgo := now.AddDate(-1, 0, 0)
	bad := "no/slash"
	tests := []struct {
		name     string
		path     *string
		from, to *time.Time
		bucket   string
		tz       string
		want     string
	}{
		{name: "bucket", bucket: "week", want: `bucket must be "hour" or "day"`},
		{name: "tz", tz: "Mars/Olympus", want: "unknown time zone"},
		{name: "local tz", tz: "Local", want: "unknown time zone"},
		{name: "reversed", from: &now, to: &early, want: "must be before"},
		{name: "empty", from: &now, to: &now, want: "must be before"},
		{name: "too many hours", from: &yearsAgo, want: "more than 1500 hour buckets"},
		{name: "path", path: &bad, want: `path must start with "/"`},
		{name: "year 9999", from: ptr(mustTime(t, "9999-12-31T22:00:00Z")), to: ptr(mustTime(t, "9999-12-31T23:30:00Z")), want: "must be from 2000-01-01T00:00:00Z to before 3000-01-01T00:00:00Z"},
		{name: "year 0", from: ptr(mustTime(t, "0000-01-01T00:00:00+01:00")), want: "must be from 2000"},
	}
	for _, tt := range tests {
		sc, err := NewScope(nil, tt.path)
		if err == nil {
			_, err = NewQuery(sc, tt.from, tt.to, tt.bucket, tt.tz, now)
		}
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want ErrInvalid containing %q", tt.name, err, tt.want)
		}
	}
}

func TestNewPagesQuery(t *testing.T) {
	now := mustTime(t, "2026-11-26T10:30:00Z")
	q, err := NewPagesQuery(Scope{}, nil, nil, nil, now)
	if err != nil || q.Limit != DefaultPages || !q.To.Equal(mustTime(t, "2026-11-26T11:00:00Z")) ||
		!q.From.Equal(mustTime(t, "2026-11-25T10:00:00Z")) {
		t.Errorf("q = %+v, %v", q, err)
	}
	for _, l := range []int{0, -1, MaxPages + 1} {
		if _, err := NewPagesQuery(Scope{}, nil, nil, &l, now); !errors.Is(err, ErrInvalid) {
			t.Errorf("limit %d: err = %v", l, err)
		}
	}
	// Issue 18 finding 1: every day of the range is an index probe; the range is bounded.
	from, to := mustTime(t, "2000-01-01T00:00:00Z"), mustTime(t, "2999-12-31T00:00:00Z")
	if _, err := NewPagesQuery(Scope{}, &from, &to, nil, now); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "at most 400 days") {
		t.Errorf("a thousand years of top pages: err = %v", err)
	}
	from = to.AddDate(0, 0, -MaxBreakdownDays)
	if _, err := NewPagesQuery(Scope{}, &from, &to, nil, now); err != nil {
		t.Errorf("400 days of top pages: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

func TestNewScopeNormalisesHostAndPath(t *testing.T) {
	host, path := "Blog.Example.COM.", "/a/../b/"
	sc, err := NewScope(&host, &path)
	if err != nil || *sc.Host != "blog.example.com" || *sc.Path != "/b" {
		t.Errorf("scope = %v %v, %v", sc.Host, sc.Path, err)
	}
	empty := ""
	if sc, err := NewScope(&empty, nil); err != nil || sc.Host == nil || *sc.Host != "" {
		t.Errorf("host= must select the default site: %+v, %v", sc, err)
	}
	for _, h := range []string{"a b", "<script>", "ex_ample..com", strings.Repeat("a", 254)} {
		if _, err := NewScope(&h, nil); !errors.Is(err, ErrInvalid) || strings.Contains(err.Error(), "invalid view") {
			t.Errorf("host %q: err = %v, want ErrInvalid about the query", h, err)
		}
	}
}

func TestNewBreakdownQuery(t *testing.T) {
	now := mustTime(t, "2026-11-26T10:30:00Z")
	q, err := NewBreakdownQuery(Scope{}, "country", nil, nil, nil, now)
	if err != nil || !q.From.Equal(mustTime(t, "2026-10-27T00:00:00Z")) || !q.To.Equal(mustTime(t, "2026-11-27T00:00:00Z")) || q.Limit != DefaultValues {
		t.Errorf("q = %+v, %v", q, err)
	}
	path, host := "/a", "x.example"
	for _, c := range []struct {
		sc   Scope
		by   string
		want string
	}{
		{Scope{}, "weather", "by must be one of"},
		{Scope{Path: &path}, "browser", "counted per host, not per path"},
		{Scope{}, "referrer", "needs a host"},
	} {
		if _, err := NewBreakdownQuery(c.sc, c.by, nil, nil, nil, now); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.by, err, c.want)
		}
	}
	if _, err := NewBreakdownQuery(Scope{Host: &host, Path: &path}, "referrer_host", nil, nil, nil, now); err != nil {
		t.Errorf("referrer hosts of a path: %v", err)
	}
	long := now.AddDate(-2, 0, 0)
	if _, err := NewBreakdownQuery(Scope{}, "os", &long, nil, nil, now); !errors.Is(err, ErrInvalid) {
		t.Errorf("two years: err = %v", err)
	}
}
