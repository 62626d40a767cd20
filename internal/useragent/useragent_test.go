package useragent

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

const chromeWin = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36"

// agents are real User-Agents of current releases (Chrome 142, Firefox 145, Safari 26, Edge 142,
// Samsung Internet 29, Opera 125), of in-app browsers, HTTP libraries and crawlers.
var agents = []struct {
	name string
	ua   string
	want Client
}{
	{"Chrome Windows", chromeWin, Client{"Chrome", "Windows", Desktop}},
	{"Chrome macOS", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36", Client{"Chrome", "macOS", Desktop}},
	{"Chrome Linux", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36", Client{"Chrome", "Linux", Desktop}},
	{"Chrome ChromeOS", "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36", Client{"Chrome", "ChromeOS", Desktop}},
	{"Chrome Android phone", "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Mobile Safari/537.36", Client{"Chrome", "Android", Mobile}},
	{"Chrome Android tablet", "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36", Client{"Chrome", "Android", Tablet}},
	{"Chrome iPhone", "Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/142.0.7444.148 Mobile/15E148 Safari/604.1", Client{"Chrome", "iOS", Mobile}},
	{"Firefox Windows", "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:145.0) Gecko/20100101 Firefox/145.0", Client{"Firefox", "Windows", Desktop}},
	{"Firefox macOS", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:145.0) Gecko/20100101 Firefox/145.0", Client{"Firefox", "macOS", Desktop}},
	{"Firefox Ubuntu", "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:145.0) Gecko/20100101 Firefox/145.0", Client{"Firefox", "Linux", Desktop}},
	{"Firefox Android", "Mozilla/5.0 (Android 16; Mobile; rv:145.0) Gecko/145.0 Firefox/145.0", Client{"Firefox", "Android", Mobile}},
	{"Firefox Android tablet", "Mozilla/5.0 (Android 16; Tablet; rv:145.0) Gecko/145.0 Firefox/145.0", Client{"Firefox", "Android", Tablet}},
	{"Firefox iPhone", "Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/145.0 Mobile/15E148 Safari/605.1.15", Client{"Firefox", "iOS", Mobile}},
	{"Safari macOS", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/26.1 Safari/605.1.15", Client{"Safari", "macOS", Desktop}},
	{"Safari iPhone", "Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/26.1 Mobile/15E148 Safari/604.1", Client{"Safari", "iOS", Mobile}},
	{"Safari iPad", "Mozilla/5.0 (iPad; CPU OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/26.1 Mobile/15E148 Safari/604.1", Client{"Safari", "iPadOS", Tablet}},
	// iPadOS Safari asks for desktop sites by default and then sends the Mac's User-Agent byte
	// for byte: from the header it is a Mac, and no parser can tell otherwise.
	{"Safari iPad desktop mode", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/26.1 Safari/605.1.15", Client{"Safari", "macOS", Desktop}},
	{"Edge Windows", chromeWin + " Edg/142.0.0.0", Client{"Edge", "Windows", Desktop}},
	{"Edge macOS", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36 Edg/142.0.0.0", Client{"Edge", "macOS", Desktop}},
	{"Edge Android", "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Mobile Safari/537.36 EdgA/142.0.0.0", Client{"Edge", "Android", Mobile}},
	{"Edge iPhone", "Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/26.0 EdgiOS/142.3595.80 Mobile/15E148 Safari/605.1.15", Client{"Edge", "iOS", Mobile}},
	{"Samsung Internet phone", "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/29.0 Chrome/136.0.0.0 Mobile Safari/537.36", Client{"Samsung Internet", "Android", Mobile}},
	{"Samsung Internet tablet", "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/29.0 Chrome/136.0.0.0 Safari/537.36", Client{"Samsung Internet", "Android", Tablet}},
	{"Opera Windows", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0.0.0 Safari/537.36 OPR/125.0.0.0", Client{"Opera", "Windows", Desktop}},
	{"Opera Android", "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0.0.0 Mobile Safari/537.36 OPR/92.0.0.0", Client{"Opera", "Android", Mobile}},
	{"Yandex Browser", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 YaBrowser/25.10.0.0 Safari/537.36", Client{"Yandex Browser", "Windows", Desktop}},
	{"Facebook app iPhone", "Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/22G86 [FBAN/FBIOS;FBAV/531.0.0.34.106;FBBV/789012345;FBDV/iPhone15,2;FBMD/iPhone;FBSN/iOS;FBSV/18.6;FBSS/3;FBID/phone;FBLC/en_US;FBOP/5;FBRV/0]", Client{"Facebook", "iOS", Mobile}},
	{"Facebook app Android", "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP2A.240805.005; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/142.0.7444.102 Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/530.0.0.48.74;]", Client{"Facebook", "Android", Mobile}},
	{"Instagram app Android", "Mozilla/5.0 (Linux; Android 14; SM-S918B Build/UP1A.231005.007; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/142.0.7444.102 Mobile Safari/537.36 Instagram 404.0.0.43.79 Android (34/14; 480dpi; 1080x2340; samsung; SM-S918B; dm3q; qcom; en_US; 812345678)", Client{"Instagram", "Android", Mobile}},
	{"Android WebView", "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP2A.240805.005; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/142.0.7444.102 Mobile Safari/537.36", Client{"Chrome", "Android", Mobile}},
	// The Google app's WebKit view names no browser of its own.
	{"Google app iPhone", "Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) GSA/390.0.784150181 Mobile/15E148 Safari/604.1", Client{"Safari", "iOS", Mobile}},
	// An Electron app is no browser a reader would name, but its system is known.
	{"Electron app", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Code/1.106.0 Chrome/138.0.7204.251 Electron/37.7.0 Safari/537.36", Client{"", "Windows", Desktop}},
	{"curl", "curl/8.14.1", Client{}},
	{"Go", "Go-http-client/2.0", Client{}},
	{"python-requests", "python-requests/2.32.5", Client{}},
	{"Wget", "Wget/1.25.0", Client{}},
	{"Postman", "PostmanRuntime/7.49.1", Client{}},
	{"empty", "", Client{}},
	{"Googlebot smartphone", "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.7444.175 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", Client{}},
	{"HeadlessChrome", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/142.0.0.0 Safari/537.36", Client{}},
	{"Discordbot", "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)", Client{}},
	{"Slack link preview", "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", Client{}},
	{"WhatsApp link preview", "WhatsApp/2.23.20.0", Client{}},
	// Crawlers whose names are not in the crawler-user-agents list (it matches case-sensitively):
	// told apart by the address they give.
	{"crawler not on the bot list", "Mozilla/5.0 (compatible; Bravebot/1.0; +https://search.brave.com/help/brave-search-crawler)", Client{}},
	{"Chrome look-alike crawler not on the bot list", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 (compatible; Firecrawl/1.0; +https://firecrawl.dev)", Client{}},
}

func TestParseRealAgents(t *testing.T) {
	for _, a := range agents {
		if got := Parse(a.ua); got != a.want {
			t.Errorf("%s: Parse = %+v, want %+v", a.name, got, a.want)
		}
	}
}

// shown is every value Parse may return: its tables and the device classes.
func shown() map[string]bool {
	ok := map[string]bool{"": true, Desktop: true, Mobile: true, Tablet: true, "iPadOS": true}
	for _, v := range browsers {
		ok[v] = true
	}
	for _, v := range systems {
		ok[v] = true
	}
	return ok
}

// checkClient fails t unless c is made only of known, short, printable names.
func checkClient(t *testing.T, userAgent string, c Client) {
	t.Helper()
	known := shown()
	for _, v := range []string{c.Browser, c.OS} {
		if !known[v] || len(v) > 64 || !utf8.ValidString(v) || strings.ContainsFunc(v, func(r rune) bool {
			return unicode.IsControl(r) || unicode.IsDigit(r)
		}) {
			t.Fatalf("Parse(%q) = %+v: %q is not one of the known names", userAgent, c, v)
		}
	}
	switch c.Device {
	case "", Desktop, Mobile, Tablet:
	default:
		t.Fatalf("Parse(%q) = %+v: device %q", userAgent, c, c.Device)
	}
	if c.Device != "" && c.Browser == "" && c.OS == "" {
		t.Fatalf("Parse(%q) = %+v: a device class with nothing else", userAgent, c)
	}
}

func TestParseNeverEchoes(t *testing.T) {
	for _, s := range []string{
		"EvilBrowser/1.0",
		"Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36 <script>alert(1)</script>/1.0",
		"Mozilla/5.0 (\x00\x1b[31m; Android 14) Evil\r\nSet-Cookie: x/1",
		"Mozilla/5.0 (iPad; CPU OS 18_6 like Mac OS X) \xff\xfe/1.0",
		strings.Repeat("A", 10000) + " Chrome/142.0.0.0",
		strings.Repeat("Mozilla/5.0 (Linux; Android 14; ", 500),
	} {
		c := Parse(s)
		checkClient(t, s, c)
		if c.Browser == "EvilBrowser" || strings.Contains(c.Browser+c.OS, "<") {
			t.Errorf("Parse(%.40q) = %+v echoes the User-Agent", s, c)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, a := range agents {
		f.Add(a.ua)
	}
	f.Add("Mozilla/5.0 (\x00; \xff) (((((;;;;;/////")
	f.Fuzz(func(t *testing.T, s string) {
		checkClient(t, s, Parse(s))
	})
}

var sink Client

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		sink = Parse(agents[i%len(agents)].ua)
	}
}
