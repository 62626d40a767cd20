// Package useragent names a client's browser, operating system and device class from its
// User-Agent, for breakdowns. It is built on github.com/mileusna/useragent, and only ever returns
// names from its own fixed tables: never text of the User-Agent, and never a version.
package useragent

import (
	"strings"

	ua "github.com/mileusna/useragent"
)

// Device classes.
const (
	Desktop = "desktop"
	Mobile  = "mobile"
	Tablet  = "tablet"
)

// Client is what a User-Agent says about its sender. A part that cannot be told is "": all three
// for bots, crawlers and HTTP libraries such as curl.
type Client struct {
	Browser string // e.g. "Chrome", "Firefox", "Safari", "Edge", "Samsung Internet", "Opera"
	OS      string // e.g. "Windows", "macOS", "iOS", "iPadOS", "Android", "Linux", "ChromeOS"
	Device  string // Desktop, Mobile, Tablet or ""
}

// maxLen is the longest prefix of a User-Agent that is parsed; real ones are shorter.
const maxLen = 512

// browsers maps the parser's names to the names shown; a name not here is not shown.
var browsers = map[string]string{
	ua.Chrome:           "Chrome",
	ua.Firefox:          "Firefox",
	ua.Safari:           "Safari",
	ua.Edge:             "Edge",
	ua.Opera:            "Opera",
	ua.OperaTouch:       "Opera",
	ua.OperaMini:        "Opera Mini",
	ua.SamsungBrowser:   "Samsung Internet",
	ua.Vivaldi:          "Vivaldi",
	ua.InternetExplorer: "Internet Explorer",
	ua.FacebookApp:      "Facebook",
	ua.InstagramApp:     "Instagram",
	ua.TiktokApp:        "TikTok",
	"Android browser":   "Android Browser",
	"Miui Browser":      "MIUI Browser",
	"Huawei Browser":    "Huawei Browser",
	"YaBrowser":         "Yandex Browser",
	"UCBrowser":         "UC Browser",
	"DuckDuckGo":        "DuckDuckGo",
}

// systems maps the parser's operating systems to the names shown.
var systems = map[string]string{
	ua.Windows:      "Windows",
	ua.WindowsPhone: "Windows Phone",
	ua.MacOS:        "macOS",
	ua.IOS:          "iOS",
	ua.Android:      "Android",
	ua.Linux:        "Linux",
	ua.ChromeOS:     "ChromeOS",
	ua.FreeBSD:      "FreeBSD",
	ua.BlackBerry:   "BlackBerry",
	ua.Harmony:      "HarmonyOS",
}

// Parse tells the browser, operating system and device class of the client that sent userAgent.
func Parse(userAgent string) Client {
	if len(userAgent) > maxLen {
		userAgent = userAgent[:maxLen]
	}
	u := ua.Parse(userAgent)
	if u.Bot {
		return Client{}
	}
	c := Client{Browser: browsers[u.Name], OS: systems[u.OS]}
	if c.Browser == "" && c.OS == "" {
		return Client{} // an HTTP library or an unknown client: nothing to tell
	}
	switch {
	case u.Tablet:
		c.Device = Tablet
	case u.Mobile:
		// Android browsers on phones say "Mobile"; on tablets they leave it out.
		if c.OS == "Android" && !strings.Contains(userAgent, "Mobile") {
			c.Device = Tablet
		} else {
			c.Device = Mobile
		}
	case u.Desktop:
		c.Device = Desktop
	}
	if c.OS == "iOS" && c.Device == Tablet {
		c.OS = "iPadOS"
	}
	return c
}
