package pageview

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// FuzzNormalizePath checks the promises of NormalizePath on any input: it never panics, it
// either fails with ErrInvalid or returns a clean path within the limits, and normalising that
// path again changes nothing.
func FuzzNormalizePath(f *testing.F) {
	for _, s := range []string{"/", "/a/", "//a//b/../c/", "/a?x=1#y", "/caf%C3%A9", "/a%2Fb", "/100%", "/%2e%2E/x", "/\xff", "/a\x00", "a", "",
		"/cafe\u0301", "/cafe%CC%81", "/a\u200bb", "/a%E2%80%AEb", "/\ufeff", "/a\u2028", "/\u212b%CC%8A", "/\xed\xa0\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		p, err := NormalizePath(raw)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("NormalizePath(%q): error %v is not ErrInvalid", raw, err)
			}
			return
		}
		switch {
		case !strings.HasPrefix(p, "/"):
			t.Fatalf("NormalizePath(%q) = %q: does not start with /", raw, p)
		case len(p) > MaxPathLen:
			t.Fatalf("NormalizePath(%q) = %q: %d bytes", raw, p, len(p))
		case !utf8.ValidString(p) || strings.IndexFunc(p, unicode.IsControl) >= 0:
			t.Fatalf("NormalizePath(%q) = %q: not clean text", raw, p)
		case !norm.NFC.IsNormalString(p):
			t.Fatalf("NormalizePath(%q) = %q: not in NFC", raw, p)
		case strings.IndexFunc(p, func(r rune) bool { return unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) }) >= 0:
			t.Fatalf("NormalizePath(%q) = %q: holds an invisible character", raw, p)
		case strings.ContainsAny(p, "?#") || strings.Contains(p, "//"):
			t.Fatalf("NormalizePath(%q) = %q: holds ?, # or //", raw, p)
		case p != "/" && strings.HasSuffix(p, "/"):
			t.Fatalf("NormalizePath(%q) = %q: trailing slash", raw, p)
		}
		again, err := NormalizePath(p)
		if err != nil || again != p {
			t.Fatalf("NormalizePath is not idempotent: %q -> %q -> %q, %v", raw, p, again, err)
		}
	})
}

// FuzzNormalizeReferrer checks that a referrer either fails with ErrInvalid or is reduced to ""
// or an http(s) URL without query or fragment, and that reducing it again changes nothing.
func FuzzNormalizeReferrer(f *testing.F) {
	for _, s := range []string{"", "https://example.com/", "HTTP://u:p@Example.com:80/a?b#c", "android-app://x/", "https:opaque", "\x7f",
		"https://x.example/reset/TOKEN123", "https://x.example/a/b%2Fc/d@e/f", "https://x.example/" + strings.Repeat("ab/", 100), "https://x.example/%zz/a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		r, err := NormalizeReferrer(raw)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("NormalizeReferrer(%q): error %v is not ErrInvalid", raw, err)
			}
			return
		}
		if r == "" {
			return
		}
		if !strings.HasPrefix(r, "http://") && !strings.HasPrefix(r, "https://") {
			t.Fatalf("NormalizeReferrer(%q) = %q: not http(s)", raw, r)
		}
		if len(r) > MaxReferrerLen {
			t.Fatalf("NormalizeReferrer(%q) = %q: grew too much", raw, r)
		}
		if u, err := url.Parse(r); err != nil || len(u.EscapedPath()) > MaxReferrerPathLen || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			t.Fatalf("NormalizeReferrer(%q) = %q: a path over %d bytes, a query, a fragment or user information (%v)", raw, r, MaxReferrerPathLen, err)
		}
		again, err := NormalizeReferrer(r)
		if err != nil || again != r {
			t.Fatalf("NormalizeReferrer is not idempotent: %q -> %q -> %q, %v", raw, r, again, err)
		}
	})
}
