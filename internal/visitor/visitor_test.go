package visitor

import (
	"context"
	"crypto/rand"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// memSalts is an in-memory SaltSource: one random salt per day, created on first use. It counts
// its calls, can fail, and can hold callers until released.
type memSalts struct {
	mu    sync.Mutex
	salts map[time.Time][]byte
	days  []time.Time // every day asked for, in order
	calls atomic.Int64
	fail  error         // returned instead of a salt when set
	size  int           // salt length handed out; SaltLen when 0
	gate  chan struct{} // when set, Salt waits for it to be closed
}

func (m *memSalts) Salt(ctx context.Context, day time.Time) ([]byte, error) {
	m.calls.Add(1)
	m.mu.Lock()
	gate := m.gate
	m.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.days = append(m.days, day)
	if m.fail != nil {
		return nil, m.fail
	}
	if m.salts == nil {
		m.salts = map[time.Time][]byte{}
	}
	s, ok := m.salts[day]
	if !ok {
		n := m.size
		if n == 0 {
			n = SaltLen
		}
		s = make([]byte, n)
		rand.Read(s)
		m.salts[day] = s
	}
	return s, nil
}

// clock is an injected clock that a test moves.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time)     { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

var (
	addr1 = netip.MustParseAddr("192.0.2.1")
	addr2 = netip.MustParseAddr("192.0.2.2")
	ua1   = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36"
	ua2   = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:145.0) Gecko/20100101 Firefox/145.0"
)

func noon() time.Time { return time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC) }

func mustID(t *testing.T, h *Hasher, host string, addr netip.Addr, ua string) int64 {
	t.Helper()
	id, err := h.ID(context.Background(), host, addr, ua)
	if err != nil {
		t.Fatalf("ID(%q, %v, …): %v", host, addr, err)
	}
	if id == 0 {
		t.Fatalf("ID(%q, %v, …) = 0 without an error", host, addr)
	}
	return id
}

func TestSameInputsSameDaySameID(t *testing.T) {
	salts := &memSalts{}
	c := &clock{t: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	h := New(salts, c.Now)
	first := mustID(t, h, "example.com", addr1, ua1)
	for _, at := range []time.Duration{time.Nanosecond, time.Hour, 13 * time.Hour, 24*time.Hour - time.Nanosecond} {
		c.Set(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).Add(at))
		if got := mustID(t, h, "example.com", addr1, ua1); got != first {
			t.Fatalf("at %s: id %d, want %d as at the day's start", c.Now(), got, first)
		}
	}
	if n := salts.calls.Load(); n != 1 {
		t.Errorf("salt source called %d times in one day, want 1", n)
	}
	// A second process sharing the salt source agrees.
	if got := mustID(t, New(salts, c.Now), "example.com", addr1, ua1); got != first {
		t.Errorf("another Hasher on the same salts: id %d, want %d", got, first)
	}
}

func TestNewDayNewID(t *testing.T) {
	salts := &memSalts{}
	c := &clock{t: time.Date(2026, 12, 1, 23, 59, 59, 999_999_999, time.UTC)}
	h := New(salts, c.Now)
	before := mustID(t, h, "example.com", addr1, ua1)
	c.Add(time.Nanosecond) // 2026-12-02T00:00:00Z
	after := mustID(t, h, "example.com", addr1, ua1)
	if before == after {
		t.Fatalf("the same client has id %d on both sides of midnight UTC", before)
	}
	want := []time.Time{time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)}
	if len(salts.days) != 2 || !salts.days[0].Equal(want[0]) || !salts.days[1].Equal(want[1]) {
		t.Fatalf("salts asked for %v, want %v", salts.days, want)
	}
	for _, d := range salts.days {
		if d.Location() != time.UTC {
			t.Errorf("day %v is not in UTC", d)
		}
	}
	if k := h.cur.Load(); k == nil || k.day != dayNumber(want[1]) {
		t.Errorf("held key is for day %v, want only the new day's", k)
	}
	// The day is the UTC day whatever the clock's zone: 05:29 in Kolkata on 2 December is still
	// 1 December 23:59 UTC.
	kolkata := time.FixedZone("IST", 5*3600+1800)
	c.Set(time.Date(2026, 12, 2, 5, 29, 0, 0, kolkata))
	if got := mustID(t, New(salts, c.Now), "example.com", addr1, ua1); got != before {
		t.Errorf("a clock in +05:30 before UTC midnight: id %d, want the 1 December id %d", got, before)
	}
}

func TestEachInputChangesID(t *testing.T) {
	h := New(&memSalts{}, noon)
	base := mustID(t, h, "example.com", addr1, ua1)
	for name, id := range map[string]int64{
		"host":    mustID(t, h, "blog.example.com", addr1, ua1),
		"address": mustID(t, h, "example.com", addr2, ua1),
		"ipv6":    mustID(t, h, "example.com", netip.MustParseAddr("2001:db8::1"), ua1),
		"UA":      mustID(t, h, "example.com", addr1, ua2),
		"no UA":   mustID(t, h, "example.com", addr1, ""),
	} {
		if id == base {
			t.Errorf("changing the %s kept id %d", name, id)
		}
	}
	// The encoding is unambiguous: moving bytes between the host and the User-Agent changes the id.
	if mustID(t, h, "ab", addr1, "c") == mustID(t, h, "a", addr1, "bc") {
		t.Error(`("ab", "c") and ("a", "bc") share an id`)
	}
}

func TestIPv4AndMappedIPv4SameID(t *testing.T) {
	h := New(&memSalts{}, noon)
	v4 := mustID(t, h, "example.com", netip.MustParseAddr("203.0.113.7"), ua1)
	mapped := mustID(t, h, "example.com", netip.MustParseAddr("::ffff:203.0.113.7"), ua1)
	if v4 != mapped {
		t.Errorf("203.0.113.7 has id %d, ::ffff:203.0.113.7 has %d: want one id", v4, mapped)
	}
}

func TestMidnightBurstFetchesOnce(t *testing.T) {
	salts := &memSalts{gate: make(chan struct{})}
	c := &clock{t: time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)}
	h := New(salts, c.Now)
	const callers = 64
	var started, done sync.WaitGroup
	ids := make([]int64, callers)
	errs := make([]error, callers)
	started.Add(callers)
	done.Add(callers)
	for i := range callers {
		go func() {
			defer done.Done()
			started.Done()
			ids[i], errs[i] = h.ID(context.Background(), "example.com", addr1, ua1)
		}()
	}
	started.Wait()
	for salts.calls.Load() == 0 { // the first fetch is under way and held by the gate
		time.Sleep(time.Millisecond)
	}
	close(salts.gate)
	done.Wait()
	for i := range callers {
		if errs[i] != nil || ids[i] == 0 || ids[i] != ids[0] {
			t.Fatalf("caller %d: id %d, err %v; caller 0: id %d", i, ids[i], errs[i], ids[0])
		}
	}
	if n := salts.calls.Load(); n != 1 {
		t.Errorf("%d callers at midnight made %d salt fetches, want 1", callers, n)
	}
}

func TestSaltFailure(t *testing.T) {
	down := errors.New("connection refused")
	salts := &memSalts{fail: down}
	c := &clock{t: noon()}
	h := New(salts, c.Now)
	id, err := h.ID(context.Background(), "example.com", addr1, ua1)
	if id != 0 || err == nil {
		t.Fatalf("salt source down: id %d, err %v; want 0 and an error", id, err)
	}
	if !errors.Is(err, down) || !errors.Is(err, ErrNoSalt) {
		t.Errorf("error %q wraps neither the cause nor ErrNoSalt", err)
	}
	for _, secret := range []string{addr1.String(), ua1, "Chrome"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q reveals %q", err, secret)
		}
	}

	// Within a second the same error comes back without asking the source again.
	c.Add(retryDelay / 2)
	id2, err2 := h.ID(context.Background(), "example.com", addr1, ua1)
	if id2 != 0 || err2 != err {
		t.Errorf("retry window: id %d, err %v; want 0 and the same error value", id2, err2)
	}
	if n := salts.calls.Load(); n != 1 {
		t.Errorf("salt source called %d times within the retry window, want 1", n)
	}

	// After it, the source is asked again, and a salt that came back gives ids again.
	salts.mu.Lock()
	salts.fail = nil
	salts.mu.Unlock()
	c.Add(retryDelay)
	mustID(t, h, "example.com", addr1, ua1)
	if n := salts.calls.Load(); n != 2 {
		t.Errorf("salt source called %d times, want 2", n)
	}
}

func TestBadSaltLength(t *testing.T) {
	h := New(&memSalts{size: 8}, noon)
	id, err := h.ID(context.Background(), "example.com", addr1, ua1)
	if id != 0 || !errors.Is(err, ErrNoSalt) || !strings.Contains(err.Error(), "8 bytes") {
		t.Fatalf("8-byte salt: id %d, err %v; want 0 and an error naming the length", id, err)
	}
}

func TestCallerGivingUpDoesNotFailTheFetch(t *testing.T) {
	salts := &memSalts{gate: make(chan struct{})}
	h := New(salts, noon)
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() {
		_, err := h.ID(ctx, "example.com", addr1, ua1)
		res <- err
	}()
	for salts.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-res; !errors.Is(err, context.Canceled) || !errors.Is(err, ErrNoSalt) {
		t.Fatalf("cancelled caller: err %v, want ErrNoSalt wrapping context.Canceled", err)
	}
	close(salts.gate) // the fetch, not tied to that caller, completes and is kept
	for h.cur.Load() == nil {
		time.Sleep(time.Millisecond)
	}
	mustID(t, h, "example.com", addr1, ua1)
	if n := salts.calls.Load(); n != 1 {
		t.Errorf("salt source called %d times, want 1", n)
	}
}

func TestStragglerBeforeMidnightKeepsNewDay(t *testing.T) {
	salts := &memSalts{}
	c := &clock{t: time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)}
	h := New(salts, c.Now)
	today := mustID(t, h, "example.com", addr1, ua1)
	// A caller whose clock reading came just before midnight gets yesterday's id …
	late := New(salts, func() time.Time { return time.Date(2026, 12, 1, 23, 59, 59, 0, time.UTC) })
	yesterday := mustID(t, late, "example.com", addr1, ua1)
	c.Set(time.Date(2026, 12, 1, 23, 59, 59, 0, time.UTC))
	if got := mustID(t, h, "example.com", addr1, ua1); got != yesterday {
		t.Errorf("straggler: id %d, want yesterday's %d", got, yesterday)
	}
	// … and the Hasher keeps the new day's key.
	c.Set(time.Date(2026, 12, 2, 0, 0, 1, 0, time.UTC))
	before := salts.calls.Load()
	if got := mustID(t, h, "example.com", addr1, ua1); got != today {
		t.Errorf("after the straggler: id %d, want today's %d", got, today)
	}
	if salts.calls.Load() != before {
		t.Error("the straggler replaced the current day's key")
	}
}

func TestDayNumber(t *testing.T) {
	for _, tc := range []struct {
		t    time.Time
		want int64
	}{
		{time.Unix(0, 0), 0},
		{time.Unix(86399, 999), 0},
		{time.Unix(86400, 0), 1},
		{time.Unix(-1, 0), -1},
		{time.Unix(-86400, 0), -1},
		{time.Unix(-86401, 0), -2},
	} {
		if got := dayNumber(tc.t); got != tc.want {
			t.Errorf("dayNumber(%v) = %d, want %d", tc.t.UTC(), got, tc.want)
		}
		if !dayStart(dayNumber(tc.t)).Equal(tc.t.UTC().Truncate(24 * time.Hour)) {
			t.Errorf("dayStart of %v is %v", tc.t.UTC(), dayStart(dayNumber(tc.t)))
		}
	}
}

func BenchmarkID(b *testing.B) {
	h := New(&memSalts{}, noon)
	ctx := context.Background()
	if _, err := h.ID(ctx, "example.com", addr1, ua1); err != nil { // warm the cache
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.ID(ctx, "example.com", addr1, ua1); err != nil {
			b.Fatal(err)
		}
	}
}
