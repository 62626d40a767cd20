package httpapi

import (
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

func TestClientAddr(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}
	for _, tt := range []struct {
		remote string
		xff    []string
		want   string
	}{
		{"203.0.113.1:5", nil, "203.0.113.1"},
		{"203.0.113.1:5", []string{"198.51.100.1"}, "203.0.113.1"},                  // untrusted peer: header ignored
		{"10.0.0.1:5", []string{"198.51.100.1"}, "198.51.100.1"},                    // trusted peer
		{"10.0.0.1:5", []string{"1.1.1.1, 198.51.100.1, 10.2.2.2"}, "198.51.100.1"}, // rightmost untrusted
		{"10.0.0.1:5", []string{"1.1.1.1", "198.51.100.1"}, "198.51.100.1"},         // several headers
		{"10.0.0.1:5", []string{"garbage, 198.51.100.1"}, "198.51.100.1"},
		{"10.0.0.1:5", []string{"198.51.100.1, garbage"}, "10.0.0.1"}, // malformed last hop: stop at the peer
		{"10.0.0.1:5", []string{"10.3.3.3"}, "10.3.3.3"},              // all trusted: the leftmost
		{"10.0.0.1:5", nil, "10.0.0.1"},
		{"[2001:db8::1]:443", []string{"[2001:db8:1::9]:1234, 2a00::5"}, "2a00::5"},
		{"[::ffff:203.0.113.9]:80", nil, "203.0.113.9"},
		{"not an address", []string{"198.51.100.1"}, "invalid IP"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tt.remote
		for _, h := range tt.xff {
			r.Header.Add("X-Forwarded-For", h)
		}
		if got := clientAddr(r, trusted).String(); got != tt.want {
			t.Errorf("clientAddr(%s, %q) = %s, want %s", tt.remote, tt.xff, got, tt.want)
		}
	}
}

func TestLimiterMemoryIsBounded(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	l := newLimiter(1, 5, 1000, func() time.Time { return now })
	for i := range 50_000 {
		addr := netip.AddrFrom4([4]byte{100, byte(i >> 16), byte(i >> 8), byte(i)})
		l.allow(addr)
		if n := l.size(); n > 1000 {
			t.Fatalf("after %d clients the limiter tracks %d, want at most 1000", i+1, n)
		}
	}
	// Idle clients whose bucket has refilled are forgotten on the next sweep.
	now = now.Add(6 * time.Second)
	l.allow(netip.MustParseAddr("192.0.2.1"))
	if n := l.size(); n != 1 {
		t.Errorf("after idling, %d clients tracked, want 1", n)
	}
	// IPv6 clients share a /64.
	a, b := netip.MustParseAddr("2a00:1:2:3::1"), netip.MustParseAddr("2a00:1:2:3:ffff::2")
	for range 5 {
		l.allow(a)
	}
	if ok, wait := l.allow(b); ok || wait <= 0 {
		t.Errorf("same /64 not limited together: %v %s", ok, wait)
	}
}
