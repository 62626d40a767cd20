package transfer

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prawnhq/prawn/internal/pageview"
	"github.com/prawnhq/prawn/internal/storage"
)

// goatCounterHeader is the header of GoatCounter's CSV export, version 2, as its exporter
// writes it: the version is the first column's prefix ("2Path"; GoatCounter's documentation
// shows it as "2,Path").
var goatCounterHeader = []string{"2Path", "Title", "Event", "UserAgent", "Browser", "System", "Session", "Bot",
	"Referrer", "Referrer scheme", "Screen size", "Location", "FirstVisit", "Date"}

// Columns of goatCounterHeader.
const (
	gcPath = iota
	gcTitle
	gcEvent
	gcUserAgent
	gcBrowser
	gcSystem
	gcSession
	gcBot
	gcReferrer
	gcRefScheme
	gcSize
	gcLocation
	gcFirstVisit
	gcDate
)

// Reasons a GoatCounter record is not counted.
const (
	skipBot   = "bots"
	skipEvent = "events"
	skipPath  = "paths prawn does not count"
)

type goatCounterSource struct {
	c      *csvReader
	host   string
	latest time.Time
}

func newGoatCounterSource(br *bufio.Reader, host string, latest time.Time) (source, error) {
	c := newCSVReader(br)
	h, err := c.readHeader("a GoatCounter export")
	if err != nil {
		return nil, err
	}
	if strings.Join(h, ",") != strings.Join(goatCounterHeader, ",") {
		msg := fmt.Sprintf("the header is %q; GoatCounter's CSV export (version 2) starts with %q", strings.Join(h, ","), strings.Join(goatCounterHeader, ","))
		switch {
		case len(h) > 0 && strings.HasPrefix(h[0], "1") && strings.HasSuffix(h[0], "Path"):
			msg += "; this is a version 1 export: export again from a current GoatCounter"
		case len(h) > 0 && h[0] == "time":
			msg += "; this looks like a prawn export: use --format prawn"
		}
		return nil, &lineError{line: 1, msg: msg}
	}
	return &goatCounterSource{c: c, host: host, latest: latest}, nil
}

func (s *goatCounterSource) header() []string { return goatCounterHeader }
func (s *goatCounterSource) lastLine() int64  { return s.c.lastLine() }

// next maps one GoatCounter hit to a view: its path (normalised; one prawn cannot count is
// skipped), its date (any offset), its session as the visitor of that day, its referrer (a URL
// for scheme h, a name such as "Hacker News" for g and o, a campaign source for c), browser and
// system names without versions, the device class from the screen width and the country from
// the location. Bots and events are skipped.
func (s *goatCounterSource) next() (record, error) {
	f, line, err := s.c.read()
	if err != nil {
		return record{}, err
	}
	if err := s.c.checkFields(f, line, "GoatCounter's export"); err != nil {
		return record{}, err
	}
	rec := record{line: line, fields: f}
	bad := func(format string, args ...any) (record, error) {
		return record{}, &lineError{line: line, msg: fmt.Sprintf(format, args...)}
	}
	at, err := parseTime("Date", f[gcDate], s.latest)
	if err != nil {
		return bad("%v", err)
	}
	event, err := parseBool(f[gcEvent])
	if err != nil {
		return bad("Event %q: want true or false", f[gcEvent])
	}
	bot, err := strconv.Atoi(strings.TrimSpace(f[gcBot]))
	if f[gcBot] == "" {
		bot, err = 0, nil
	}
	if err != nil {
		return bad("Bot %q: want 0, or the number of a kind of bot", f[gcBot])
	}
	switch s := f[gcRefScheme]; s {
	case "", "h", "g", "c", "o":
	default:
		return bad("Referrer scheme %q: want h, g, c, o or nothing", s)
	}
	switch {
	case bot != 0:
		rec.skip = skipBot
		return rec, nil
	case event:
		rec.skip = skipEvent
		return rec, nil
	}
	path, err := pageview.NormalizePath(f[gcPath])
	if err != nil {
		rec.skip = skipPath
		return rec, nil
	}
	rec.row = storage.ImportRow{Host: s.host, Path: path, At: &at, N: 1}
	if sess := strings.TrimSpace(f[gcSession]); sess != "" && strings.Trim(sess, "0-") != "" {
		rec.row.Visitor = goatCounterVisitor(s.host, sess, at)
	}
	s.referrer(&rec.row, f[gcReferrer], f[gcRefScheme])
	d := &rec.row.Dims
	d[storage.DimBrowser-1] = clientName(f[gcBrowser], nil)
	d[storage.DimOS-1] = clientName(f[gcSystem], systemNames)
	d[storage.DimDevice-1] = deviceOf(f[gcSize])
	if loc := strings.ToUpper(strings.TrimSpace(f[gcLocation])); len(loc) >= 2 && isCountry(loc[:2]) && (len(loc) == 2 || loc[2] == '-') {
		d[storage.DimCountry-1] = loc[:2]
	}
	return rec, nil
}

// referrer sets the referrer dimensions of a hit by its scheme.
func (s *goatCounterSource) referrer(row *storage.ImportRow, ref, scheme string) {
	ref = strings.TrimSpace(ref)
	if ref == "" || checkText("referrer", ref, pageview.MaxReferrerLen) != nil {
		return
	}
	d := &row.Dims
	switch scheme {
	case "c": // a campaign: the text of its parameter
		if len(ref) <= pageview.MaxCampaignLen {
			d[storage.DimUTMSource-1] = ref
		}
	case "g", "o": // a name ("Hacker News") or an app's referrer
		if len(ref) <= pageview.MaxHostLen {
			d[storage.DimReferrer-1], d[storage.DimRefHost-1] = ref, ref
		}
	default: // a URL, kept by GoatCounter without its scheme
		raw := ref
		if !strings.Contains(raw, "://") {
			raw = "https://" + raw
		}
		if u, err := url.Parse(raw); err == nil && u.Host != "" && strings.EqualFold(u.Hostname(), row.Host) {
			return // moving within the site is not arriving from somewhere
		}
		norm, err := pageview.NormalizeReferrer(raw)
		if err == nil && norm != "" {
			d[storage.DimReferrer-1], d[storage.DimRefHost-1] = norm, pageview.RefHost(norm)
		}
	}
}

// goatCounterVisitor is the visitor id of a GoatCounter session on the UTC day of at: a hash
// of the session and the day (so, as prawn's own ids, it names a visitor-day, not a person).
func goatCounterVisitor(host, session string, at time.Time) int64 {
	h := sha256.Sum256([]byte("goatcounter\x00" + host + "\x00" + session + "\x00" + at.UTC().Format(time.DateOnly)))
	if v := int64(binary.BigEndian.Uint64(h[:8])); v != 0 {
		return v
	}
	return 1
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "t", "1":
		return true, nil
	case "false", "f", "0", "":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean")
}

// systemNames are prawn's names of operating systems, by the prefix GoatCounter's name starts
// with (longest first where one is the prefix of another).
var systemNames = [][2]string{
	{"Windows Phone", "Windows Phone"}, {"Windows", "Windows"}, {"Mac OS X", "macOS"}, {"macOS", "macOS"},
	{"OS X", "macOS"}, {"iPadOS", "iPadOS"}, {"iOS", "iOS"}, {"Android", "Android"}, {"Chrome OS", "ChromeOS"},
	{"ChromeOS", "ChromeOS"}, {"Linux", "Linux"}, {"Ubuntu", "Linux"}, {"FreeBSD", "FreeBSD"},
}

// clientName is a browser's or system's name without its version ("Firefox 120.0" is
// "Firefox"), mapped through names when one matches.
func clientName(s string, names [][2]string) string {
	s = strings.TrimSpace(s)
	for _, n := range names {
		if strings.HasPrefix(s, n[0]) {
			return n[1]
		}
	}
	words := strings.Fields(s)
	for len(words) > 0 && strings.IndexAny(words[len(words)-1][:1], "0123456789") == 0 {
		words = words[:len(words)-1]
	}
	name := strings.Join(words, " ")
	if checkText("name", name, maxNameLen) != nil {
		return ""
	}
	return name
}

// deviceOf is the device class of a screen size "width,height,scaling": under 768 CSS pixels
// wide a phone (mobile), under 1024 a tablet, else a desktop; unknown without a width.
func deviceOf(size string) string {
	w, _, _ := strings.Cut(size, ",")
	width, err := strconv.ParseFloat(strings.TrimSpace(w), 64)
	switch {
	case err != nil || width <= 0:
		return ""
	case width < 768:
		return "mobile"
	case width < 1024:
		return "tablet"
	}
	return "desktop"
}
