package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/netip"
	"regexp"
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

func TestBotList(t *testing.T) {
	var list []struct {
		Pattern   string   `json:"pattern"`
		Instances []string `json:"instances"`
	}
	if err := json.Unmarshal(crawlerList, &list); err != nil {
		t.Fatal(err)
	}
	patterns := map[string]bool{}
	instances := 0
	for _, c := range list {
		patterns[c.Pattern] = true
		if genericClients[c.Pattern] {
			continue
		}
		for _, ua := range c.Instances {
			instances++
			if !IsBot(ua) {
				t.Errorf("%q (pattern %q) is not recognised as a bot", ua, c.Pattern)
			}
		}
	}
	for p := range genericClients {
		if !patterns[p] {
			t.Errorf("generic client pattern %q is not in the list any more: update genericClients", p)
		}
	}
	browsers := []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86",
		"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
		"Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
	}
	clients := []string{"Go-http-client/1.1", "Go-http-client/2.0", "curl/8.5.0", "Wget/1.21.4", "python-requests/2.32.3",
		"Python-urllib/3.12", "okhttp/4.12.0", "axios/1.7.9", "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
		"Apache-HttpClient/4.5.14 (Java/17.0.9)", "HTTPie/3.2.2", "libwww-perl/6.72", "python-httpx/0.28.1", "", "x"}
	for _, ua := range append(browsers, clients...) {
		if IsBot(ua) {
			t.Errorf("%q is taken for a bot", ua)
		}
	}
	t.Logf("%d patterns (%d generic clients skipped), %d bot instances, %d browsers and %d clients checked",
		len(list), len(genericClients), instances, len(browsers), len(clients))
}

// TestBotMatcherAgreesWithRegexps checks the literal index against plain regexp matching.
func TestBotMatcherAgreesWithRegexps(t *testing.T) {
	var list []struct {
		Pattern   string   `json:"pattern"`
		Instances []string `json:"instances"`
	}
	if err := json.Unmarshal(crawlerList, &list); err != nil {
		t.Fatal(err)
	}
	var res []*regexp.Regexp
	var uas []string
	for i, c := range list {
		if !genericClients[c.Pattern] {
			res = append(res, regexp.MustCompile(c.Pattern))
		}
		if i%10 == 0 { // a sample of bots (TestBotList checks them all against the matcher)
			uas = append(uas, c.Instances...)
		}
	}
	uas = append(uas, "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "curl/8", "Go-http-client/1.1",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
		"SeekBot", "seekbot", "my-ClaudeBot-clone", "xSENTRY/1", "a sentry/2", "PTST/1", "Kelvin \u212aludo")
	m, err := newBotMatcher(crawlerList, genericClients)
	if err != nil {
		t.Fatal(err)
	}
	for _, ua := range uas {
		want := false
		for _, re := range res {
			if re.MatchString(ua) {
				want = true
				break
			}
		}
		if got := m.scan(ua); got != want {
			t.Errorf("scan(%q) = %v, regexps say %v", ua, got, want)
		}
	}
	t.Logf("%d user agents agree", len(uas))
}

func BenchmarkIsBotMiss(b *testing.B) {
	m, _ := newBotMatcher(crawlerList, genericClients)
	ua := "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	i := 0
	for b.Loop() {
		i++
		m.scan(fmt.Sprint(ua, i))
	}
}
