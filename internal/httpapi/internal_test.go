package httpapi

import (
	"context"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestIdentifyClient holds who a request is believed to come from: the peer, unless a trusted hop
// vouches for another address; a header that is missing, malformed or names loopback from a
// trusted proxy leaves the peer (issue 18 finding 2), and CloudFront-Viewer-Address is believed
// only with the origin secret (issue 15).
func TestIdentifyClient(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32"), netip.MustParsePrefix("127.0.0.1/32")}
	for _, tt := range []struct {
		remote  string
		headers []string
		cdn     bool
		want    string
		trusted bool
	}{
		{"203.0.113.1:5", nil, false, "203.0.113.1", false},
		{"203.0.113.1:5", []string{"X-Forwarded-For", "198.51.100.1"}, false, "203.0.113.1", false}, // untrusted peer: header ignored
		{"10.0.0.1:5", []string{"X-Forwarded-For", "198.51.100.1"}, false, "198.51.100.1", true},    // trusted peer
		{"10.0.0.1:5", []string{"X-Forwarded-For", "1.1.1.1, 198.51.100.1, 10.2.2.2"}, false, "198.51.100.1", true},
		{"10.0.0.1:5", []string{"X-Forwarded-For", "1.1.1.1", "X-Forwarded-For", "198.51.100.1"}, false, "198.51.100.1", true},
		{"10.0.0.1:5", []string{"X-Forwarded-For", "garbage, 198.51.100.1"}, false, "198.51.100.1", true},
		{"10.0.0.1:5", []string{"X-Forwarded-For", "198.51.100.1, garbage"}, false, "10.0.0.1", true}, // malformed last hop: the peer
		{"10.0.0.1:5", []string{"X-Forwarded-For", "10.3.3.3"}, false, "10.0.0.1", true},              // only trusted hops: the peer
		{"10.0.0.1:5", nil, false, "10.0.0.1", true},
		{"[2001:db8::1]:443", []string{"X-Forwarded-For", "[2001:db8:1::9]:1234, 2a00::5"}, false, "2a00::5", true},
		{"[::ffff:203.0.113.9]:80", nil, false, "203.0.113.9", false},
		{"not an address", []string{"X-Forwarded-For", "198.51.100.1"}, false, "invalid IP", false},
		// A reverse proxy on loopback: whatever the header says or lacks, never loopback itself.
		{"127.0.0.1:9", nil, false, "127.0.0.1", true},
		{"127.0.0.1:9", []string{"X-Real-IP", "198.51.100.2"}, false, "127.0.0.1", true},
		{"127.0.0.1:9", []string{"Forwarded", "for=198.51.100.2"}, false, "127.0.0.1", true},
		{"127.0.0.1:9", []string{"X-Forwarded-For", "unknown"}, false, "127.0.0.1", true},
		{"127.0.0.1:9", []string{"X-Forwarded-For", "a b"}, false, "127.0.0.1", true},
		{"127.0.0.1:9", []string{"X-Forwarded-For", ""}, false, "127.0.0.1", true},
		{"127.0.0.1:9", []string{"X-Forwarded-For", "127.0.0.5"}, false, "127.0.0.1", true},
		{"127.0.0.1:9", []string{"X-Forwarded-For", "::1"}, false, "127.0.0.1", true},
		{"127.0.0.1:9", []string{"X-Forwarded-For", "::ffff:127.0.0.1"}, false, "127.0.0.1", true},
		{"127.0.0.1:9", []string{"X-Forwarded-For", "0.0.0.0"}, false, "127.0.0.1", true},
		// CloudFront-Viewer-Address: only from the CDN (the origin secret matched).
		{"130.176.1.1:443", []string{ViewerAddressHeader, "198.51.100.30:4000"}, false, "130.176.1.1", false},
		{"10.0.0.1:5", []string{ViewerAddressHeader, "198.51.100.30:4000", "X-Forwarded-For", "198.51.100.31"}, false, "198.51.100.31", true},
		{"130.176.1.1:443", []string{ViewerAddressHeader, "198.51.100.30:4000"}, true, "198.51.100.30", true},
		{"130.176.1.1:443", []string{ViewerAddressHeader, "2a00:1450:4001:81b::200e:51234"}, true, "2a00:1450:4001:81b::200e", true},
		{"130.176.1.1:443", []string{ViewerAddressHeader, "[2a00::1]:80"}, true, "130.176.1.1", true}, // not CloudFront's form
		{"130.176.1.1:443", []string{ViewerAddressHeader, "198.51.100.30"}, true, "130.176.1.1", true},
		{"130.176.1.1:443", []string{ViewerAddressHeader, "127.0.0.1:80"}, true, "130.176.1.1", true},
		{"130.176.1.1:443", []string{ViewerAddressHeader, "198.51.100.30:1", ViewerAddressHeader, "198.51.100.31:1"}, true, "130.176.1.1", true},
		{"130.176.1.1:443", nil, true, "130.176.1.1", true},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tt.remote
		for i := 0; i+1 < len(tt.headers); i += 2 {
			r.Header.Add(tt.headers[i], tt.headers[i+1])
		}
		c := identifyClient(r, trusted, tt.cdn)
		if got := c.addr.String(); got != tt.want || c.trusted != tt.trusted {
			t.Errorf("identifyClient(%s, %q, cdn %v) = %s trusted %v, want %s trusted %v", tt.remote, tt.headers, tt.cdn, got, c.trusted, tt.want, tt.trusted)
		}
		viaProxy := strings.HasPrefix(tt.remote, "10.") || strings.HasPrefix(tt.remote, "127.") || strings.HasPrefix(tt.remote, "[2001:db8:")
		if wantDirect := !viaProxy && c.addr == parseAddr(tt.remote); c.direct != wantDirect {
			t.Errorf("identifyClient(%s, %q): direct %v, want %v (only a peer that is no trusted proxy)", tt.remote, tt.headers, c.direct, wantDirect)
		}
	}
}

// TestIPv6BlocksShareABucket: the /64s of one /48 share the /48's bucket of ipv6BlockShare full
// buckets (issue 18 finding 2: 25 /64s of one /48 each had a full bucket).
func TestIPv6BlocksShareABucket(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	l := newLimiter(1, 5, 1000, func() time.Time { return now })
	allowed := 0
	for i := range 25 {
		a := netip.AddrFrom16([16]byte{0x2a, 0x00, 0, 1, 0, 2, 0, byte(i), 15: 1}) // 2a00:1:2:i::1
		for range 10 {
			if ok, _ := l.allow(a); ok {
				allowed++
			}
		}
	}
	if allowed != 5*ipv6BlockShare {
		t.Errorf("25 /64s of one /48 made %d requests at once, want %d (the /48's bucket)", allowed, 5*ipv6BlockShare)
	}
	if ok, _ := l.allow(netip.MustParseAddr("2a00:1:3::1")); !ok {
		t.Error("another /48 is limited too")
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

// TestReadSlots: one client has at most perClient reads in flight and the server at most max;
// a read that cannot get its slots before its deadline gives up, and nothing is left tracked.
func TestReadSlots(t *testing.T) {
	s := newReadSlots(2, 3)
	a, b, c := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3")
	expired, cancel := context.WithCancel(context.Background())
	cancel()
	var releases []func()
	for _, addr := range []netip.Addr{a, a, b} {
		release, ok := s.acquire(context.Background(), addr)
		if !ok {
			t.Fatalf("slot for %s refused", addr)
		}
		releases = append(releases, release)
	}
	if _, ok := s.acquire(expired, a); ok {
		t.Error("a third read of one client got a slot")
	}
	if _, ok := s.acquire(expired, c); ok {
		t.Error("a fourth read overall got a slot")
	}
	got := make(chan bool)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		release, ok := s.acquire(ctx, c)
		if ok {
			release()
		}
		got <- ok
	}()
	releases[0]()
	if !<-got {
		t.Error("a waiting read did not get the slot freed")
	}
	for _, r := range releases[1:] {
		r()
	}
	if n := s.tracked(); n != 0 {
		t.Errorf("%d clients still tracked", n)
	}
	if newReadSlots(0, 0) != nil {
		t.Error("no bounds, yet slots")
	}
}
