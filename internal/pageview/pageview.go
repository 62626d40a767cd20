// Package pageview is what a page view is and how one is recorded: the rules for paths and
// referrers, and the Recorder that commits views to the database.
package pageview

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"path"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/prawnhq/prawn/internal/storage"
)

// Limits on what a view may carry, in bytes.
const (
	MaxPathLen     = 512
	MaxReferrerLen = 1024
)

// ErrInvalid marks a view that breaks the rules; the message says which (see RuleError).
var ErrInvalid = errors.New("invalid view")

// ErrOverloaded means a Recorder cannot take the view now (too much load, or shutting down); the
// view was not recorded and the client should try again shortly.
var ErrOverloaded = errors.New("too many views in flight")

// ErrUnavailable means the database (with queue ingest: the queue) could not be reached or did
// not answer in time; the client should try again shortly.
var ErrUnavailable = errors.New("the database is unavailable")

// RuleError is a broken rule of a view: Rule says which ("path must start with \"/\""). It is
// ErrInvalid.
type RuleError struct{ Rule string }

func (e *RuleError) Error() string { return ErrInvalid.Error() + ": " + e.Rule }

// Is makes a RuleError match ErrInvalid.
func (e *RuleError) Is(target error) bool { return target == ErrInvalid }

func broken(format string, args ...any) error {
	return &RuleError{Rule: fmt.Sprintf(format, args...)}
}

// View is one page view.
type View struct {
	// Host is the site's hostname, lower case; "" is the default site.
	Host string
	// Path is the normalised path that was viewed, such as "/blog/post".
	Path string
	// Referrer is where the visitor came from (see NormalizeReferrer); empty when unknown, and
	// RefHost its host.
	Referrer, RefHost string
	// UTMSource, UTMMedium and UTMCampaign are the campaign parameters of the page's URL.
	UTMSource, UTMMedium, UTMCampaign string
	// Browser, OS and Device (desktop, mobile or tablet) are derived from the User-Agent, and
	// Country from a trusted header; empty when unknown.
	Browser, OS, Device, Country string
	// Visitor is the visitor id (see internal/visitor); 0 when unknown.
	Visitor int64
}

// Row is the view as storage keeps it.
func (v View) Row() storage.View {
	return storage.View{Host: v.Host, Path: v.Path, Referrer: v.Referrer, RefHost: v.RefHost,
		UTMSource: v.UTMSource, UTMMedium: v.UTMMedium, UTMCampaign: v.UTMCampaign,
		Browser: v.Browser, OS: v.OS, Device: v.Device, Country: v.Country, Visitor: v.Visitor}
}

// New validates and normalises a view of a path of the default site: see NormalizePath and
// NormalizeReferrer.
func New(rawPath, referrer string) (View, error) {
	return Parse(Input{Path: rawPath, Referrer: referrer})
}

// Input is a view as a client describes it: the page's URL, or a path (and a host), and where
// the reader came from.
type Input struct {
	// URL is the page's absolute http(s) URL: the view's host, path and utm_* parameters come
	// from it, and the rest of its query is dropped.
	URL string
	// Host is the site's hostname when there is no URL; "" is the default site.
	Host string
	// Path overrides the URL's path, or is the path when there is no URL.
	Path string
	// Referrer is where the reader came from.
	Referrer string
	// UTMSource, UTMMedium and UTMCampaign are campaign parameters given on their own (they
	// override the URL's).
	UTMSource, UTMMedium, UTMCampaign string
}

// Limits on what an Input may carry, in bytes.
const (
	MaxURLLen      = 2048
	MaxHostLen     = 253
	MaxCampaignLen = 128
)

// Parse validates and normalises a view. A referrer from the view's own host is dropped (moving
// within a site is not arriving from somewhere).
func Parse(in Input) (View, error) {
	var v View
	rawPath := in.Path
	if in.URL != "" {
		if in.Host != "" {
			return View{}, broken("give a url or a host, not both")
		}
		u, err := pageURL(in.URL)
		if err != nil {
			return View{}, err
		}
		if v.Host, err = NormalizeHost(u.Hostname()); err != nil {
			return View{}, err
		}
		if rawPath == "" {
			rawPath = u.EscapedPath()
			if rawPath == "" {
				rawPath = "/"
			}
		}
		query := u.Query()
		v.UTMSource, v.UTMMedium, v.UTMCampaign = query.Get("utm_source"), query.Get("utm_medium"), query.Get("utm_campaign")
	} else {
		h, err := NormalizeHost(in.Host)
		if err != nil {
			return View{}, err
		}
		v.Host = h
	}
	var err error
	if v.Path, err = NormalizePath(rawPath); err != nil {
		return View{}, err
	}
	for _, c := range []struct {
		name       string
		given, dst *string
	}{{"utm_source", &in.UTMSource, &v.UTMSource}, {"utm_medium", &in.UTMMedium, &v.UTMMedium}, {"utm_campaign", &in.UTMCampaign, &v.UTMCampaign}} {
		if *c.given != "" {
			*c.dst = *c.given
		}
		if *c.dst, err = normalizeCampaign(c.name, *c.dst); err != nil {
			return View{}, err
		}
	}
	if v.Referrer, err = NormalizeReferrer(in.Referrer); err != nil {
		return View{}, err
	}
	v.RefHost = RefHost(v.Referrer)
	if v.RefHost != "" && v.RefHost == v.Host {
		v.Referrer, v.RefHost = "", ""
	}
	return v, nil
}

// pageURL parses a page's URL: absolute, http or https, with a host.
func pageURL(raw string) (*url.URL, error) {
	if err := checkText("url", raw, MaxURLLen); err != nil {
		return nil, err
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return nil, broken("url must be an absolute http or https URL such as https://example.com/post")
	}
	return u, nil
}

// NormalizeHost checks a site's hostname and puts it in the form views are counted under: lower
// case, without a trailing dot. It is a DNS name (letters, digits, "-" and "_" in dot-separated
// labels of at most 63 bytes; internationalised names in their xn-- form, as browsers report
// them) or an IP address (IPv6 without brackets). "" is the default site.
func NormalizeHost(raw string) (string, error) {
	h := strings.TrimSuffix(strings.ToLower(raw), ".")
	if h == "" {
		return "", nil
	}
	if len(h) > MaxHostLen {
		return "", broken("host is %d bytes long, at most %d are allowed", len(h), MaxHostLen)
	}
	if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")); err == nil {
		return a.WithZone("").String(), nil
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return "", broken("host %q is not a hostname such as blog.example.com", raw)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return "", broken("host %q is not a hostname such as blog.example.com", raw)
			}
		}
	}
	return h, nil
}

// normalizeCampaign checks a campaign parameter: at most MaxCampaignLen bytes of UTF-8 without
// control characters, surrounding space trimmed.
func normalizeCampaign(name, s string) (string, error) {
	s = strings.TrimSpace(s)
	if err := checkText(name, s, MaxCampaignLen); err != nil {
		return "", err
	}
	return s, nil
}

// RefHost is the host of a normalised referrer, without its port; "" when there is none.
func RefHost(referrer string) string {
	if referrer == "" {
		return ""
	}
	u, err := url.Parse(referrer)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

// NormalizePath turns a raw path into the form views are counted under. The raw path must start
// with "/", be valid UTF-8 without control characters and at most MaxPathLen bytes. A query
// string or fragment is dropped; percent-escapes are decoded except those of "/", "?", "#" and
// "%" (kept, with upper-case hex), and a "%" that starts no escape becomes "%25"; the decoded path
// must again be UTF-8 without control characters. It is put in Unicode normalisation form C (so
// "/café" counts as one page however its é was composed), and must hold no invisible format
// character (Unicode category Cf: zero-width spaces and joiners, bidirectional overrides, the
// byte-order mark, soft hyphens) nor a line or paragraph separator (Zl, Zp): such paths look like
// another page. Then "." and ".." segments are resolved, repeated slashes collapse and a trailing
// slash is removed ("/a/" counts as "/a"; "/" stays "/"). Case is kept: "/A" and "/a" are
// different pages. The result is at most MaxPathLen bytes, and normalising it again changes
// nothing.
func NormalizePath(raw string) (string, error) {
	if raw == "" {
		return "", broken("path is required")
	}
	if err := checkText("path", raw, MaxPathLen); err != nil {
		return "", err
	}
	if raw[0] != '/' {
		return "", broken("path must start with \"/\"")
	}
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		raw = raw[:i]
	}
	p := unescape(raw)
	if !utf8.ValidString(p) {
		return "", broken("path is not valid UTF-8 once its percent-escapes are decoded")
	}
	if strings.IndexFunc(p, unicode.IsControl) >= 0 {
		return "", broken("path holds a percent-encoded control character")
	}
	p = norm.NFC.String(p)
	if i := strings.IndexFunc(p, invisible); i >= 0 {
		r, _ := utf8.DecodeRuneInString(p[i:])
		return "", broken("path holds the invisible character U+%04X at byte %d (format characters and line or paragraph separators make look-alike paths)", r, i)
	}
	p = path.Clean(p)
	if len(p) > MaxPathLen {
		return "", broken("path is %d bytes long once normalised, at most %d are allowed", len(p), MaxPathLen)
	}
	return p, nil
}

// invisible reports a format character (Cf) or a line or paragraph separator (Zl, Zp).
func invisible(r rune) bool {
	return unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)
}

// unescape decodes percent-escapes except those of "/", "?", "#" and "%", which keep their
// meaning only while encoded; it writes their hex in upper case and turns a "%" that starts no
// escape into "%25".
func unescape(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			v := unhex(s[i+1])<<4 | unhex(s[i+2])
			switch v {
			case '/', '?', '#', '%':
				b.WriteByte('%')
				b.WriteString(strings.ToUpper(s[i+1 : i+3]))
			default:
				b.WriteByte(v)
			}
			i += 2
			continue
		}
		b.WriteString("%25")
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// NormalizeReferrer checks a referrer and reduces it to what prawn keeps. It must be at most
// MaxReferrerLen bytes of UTF-8 without control characters (else ErrInvalid). An absolute http or
// https URL with a host is kept as its origin and the start of its path: scheme and host in lower
// case; user information, query string and fragment dropped; the path cut before its first
// segment that may carry a secret or a person (see secretSegment: after /reset/, /token/ and the
// like, and any segment that looks like a token, a UUID, an e-mail address or a long number) and
// to at most MaxReferrerPathLen bytes, at a segment's end. Anything else (an app's referrer such
// as android-app://…, a relative or unparsable URL) is replaced by "" (unknown): the view still
// counts.
func NormalizeReferrer(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	if err := checkText("referrer", raw, MaxReferrerLen); err != nil {
		return "", err
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return "", nil
	}
	u.User = nil
	u.RawQuery, u.ForceQuery = "", false
	u.Fragment, u.RawFragment = "", ""
	u.Host = strings.ToLower(u.Host)
	kept := keptPath(u.EscapedPath())
	dec, err := url.PathUnescape(kept)
	if err != nil {
		return "", nil
	}
	u.Path, u.RawPath = dec, kept
	if s := u.String(); len(s) <= MaxReferrerLen {
		return s, nil
	}
	return "", nil
}

// MaxReferrerPathLen bounds the path a referrer keeps, in bytes (escaped).
const MaxReferrerPathLen = 200

// keptPath is the part of a referrer's escaped path that prawn keeps: the segments before the
// first one that may carry a secret (secretSegment), at most MaxReferrerPathLen bytes of them.
// A path that keeps nothing is "/" when it had segments, "" when it was "".
func keptPath(p string) string {
	if p == "" || p == "/" {
		return p
	}
	segs := strings.Split(strings.TrimPrefix(p, "/"), "/")
	var b strings.Builder
	for i, seg := range segs {
		dec, err := url.PathUnescape(seg)
		if err != nil || secretSegment(dec) || (i > 0 && secretMarker(segs[i-1])) {
			break
		}
		if b.Len()+1+len(seg) > MaxReferrerPathLen {
			break
		}
		b.WriteString("/" + seg)
	}
	if b.Len() == 0 {
		return "/"
	}
	return b.String()
}

// secretMarkers are path segments after which the next one is, on many sites, a secret: a
// password reset or e-mail confirmation token, an invitation, a magic link, a share link.
var secretMarkers = []string{"reset", "password", "token", "tokens", "confirm", "confirmation", "verify",
	"verification", "activate", "activation", "invite", "invitation", "magic", "magic-link", "login",
	"signin", "sign-in", "auth", "oauth", "callback", "unsubscribe", "session", "sso", "share", "key", "otp"}

func secretMarker(escaped string) bool {
	dec, err := url.PathUnescape(escaped)
	return err == nil && slicesContainsFold(secretMarkers, dec)
}

func slicesContainsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// secretSegment reports whether a path segment may carry a secret or a person: an e-mail address
// (an "@"), a run of 9 or more digits (a phone number, an account), a UUID or a long hex string,
// a JSON web token ("eyJ…"), a word of 8 or more letters and digits only with at least two of
// each (TOKEN123, a3f9c2d1e8), or 20 or more characters of letters, digits, "-" and "_" that are
// not words separated by hyphens (base64 tokens). Slugs (how-to-x-in-10-steps) are kept.
func secretSegment(s string) bool {
	if strings.ContainsRune(s, '@') || strings.HasPrefix(s, "eyJ") {
		return true
	}
	var letters, digits, run, maxRun, hex, other int
	for _, r := range s {
		switch {
		case '0' <= r && r <= '9':
			digits++
			run++
			maxRun = max(maxRun, run)
			hex++
			continue
		case 'a' <= r && r <= 'f' || 'A' <= r && r <= 'F':
			hex++
			letters++
		case 'g' <= r && r <= 'z' || 'G' <= r && r <= 'Z':
			letters++
		case r == '-' || r == '_':
			other++
		default:
			other += 100 // not token material
		}
		run = 0
	}
	switch {
	case maxRun >= 9:
		return true
	case hex >= 16 && hex+strings.Count(s, "-") == len(s) && digits > 0:
		return true // a UUID or a hash
	case other == 0 && len(s) >= 8 && letters >= 2 && digits >= 2:
		return true
	case other < 100 && len(s) >= 20 && !hyphenatedWords(s):
		return true
	}
	return false
}

// hyphenatedWords reports whether s reads as words joined by "-" (a slug): every part at most 15
// characters, and most parts without digits.
func hyphenatedWords(s string) bool {
	parts := strings.FieldsFunc(s, func(r rune) bool { return r == '-' })
	if len(parts) < 2 {
		return false
	}
	withDigits := 0
	for _, p := range parts {
		if len(p) > 15 {
			return false
		}
		if strings.ContainsAny(p, "0123456789") {
			withDigits++
		}
	}
	return withDigits*2 <= len(parts)
}

// checkText rejects values that are too long, not UTF-8 or hold control characters.
func checkText(field, s string, max int) error {
	if len(s) > max {
		return broken("%s is %d bytes long, at most %d are allowed", field, len(s), max)
	}
	if !utf8.ValidString(s) {
		return broken("%s is not valid UTF-8", field)
	}
	if i := strings.IndexFunc(s, unicode.IsControl); i >= 0 {
		return broken("%s holds a control character at byte %d", field, i)
	}
	return nil
}

// Store is where views are committed.
type Store interface {
	// InsertViews commits the views in one transaction.
	InsertViews(ctx context.Context, views []storage.View) error
}

// Recorder commits views. Record returns only once the view is committed.
type Recorder interface {
	Record(ctx context.Context, v View) error
}

// QueueDepth is how many accepted views wait in the queue of queue ingest, as the queue
// estimates it.
type QueueDepth struct {
	// Waiting is the views not yet received by a consumer; InFlight those being written.
	Waiting, InFlight int64
	// ReadAt is when the queue said so.
	ReadAt time.Time
}

// Queue is where views wait when the Recorder queues them instead of committing them (queue
// ingest): Record then returns once the queue has accepted the view durably, and a consumer
// writes it later.
type Queue interface {
	// Depth is the queue's approximate depth (cached for a few seconds).
	Depth(ctx context.Context) (QueueDepth, error)
}

// Direct is the simplest Recorder: one INSERT transaction per view.
type Direct struct {
	Store Store
}

// Record commits one view in its own transaction.
func (d Direct) Record(ctx context.Context, v View) error {
	return Unavailable(d.Store.InsertViews(ctx, []storage.View{v.Row()}))
}

// Unavailable marks the store's "database unavailable" as the domain's ErrUnavailable.
func Unavailable(err error) error {
	if errors.Is(err, storage.ErrUnavailable) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}
