package bots

import (
	"encoding/json"
	"fmt"
	"regexp"
	"testing"
)

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
			if !Match(ua) {
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
		if Match(ua) {
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
	m, err := newMatcher(crawlerList, genericClients)
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

func BenchmarkMatchMiss(b *testing.B) {
	m, _ := newMatcher(crawlerList, genericClients)
	ua := "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	i := 0
	for b.Loop() {
		i++
		m.scan(fmt.Sprint(ua, i))
	}
}

// TestImageProxies checks that GitHub's camo is on the crawler list (so it needs the exception
// ImageProxy makes for images that count views) and that nothing else is taken for an image proxy.
func TestImageProxies(t *testing.T) {
	const camo = "github-camo (876de43e)"
	if !Match(camo) || !ImageProxy(camo) {
		t.Errorf("camo: bot %v, image proxy %v; want both", Match(camo), ImageProxy(camo))
	}
	for _, ua := range []string{"Googlebot/2.1", "Mozilla/5.0 (compatible; github-camo)", "camo", ""} {
		if ImageProxy(ua) {
			t.Errorf("ImageProxy(%q) = true", ua)
		}
	}
}
