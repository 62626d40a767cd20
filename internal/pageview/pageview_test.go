package pageview

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalizePath(t *testing.T) {
	tests := []struct {
		in, want, err string
	}{
		{in: "/", want: "/"},
		{in: "/a", want: "/a"},
		{in: "/a/", want: "/a"},
		{in: "//a//b//", want: "/a/b"},
		{in: "/a/./b/../c", want: "/a/c"},
		{in: "/../..", want: "/"},
		{in: "/a?x=1#top", want: "/a"},
		{in: "/?utm=1", want: "/"},
		{in: "/#frag", want: "/"},
		{in: "/blog/ünïcode", want: "/blog/ünïcode"},
		{in: "/%20x", want: "/ x"},
		{in: "/caf%C3%A9", want: "/café"},
		{in: "/caf%c3%a9", want: "/café"},
		{in: "/%41%62c", want: "/Abc"},
		{in: "/A", want: "/A"},
		{in: "/a%2fb", want: "/a%2Fb"},
		{in: "/a%3F%23", want: "/a%3F%23"},
		{in: "/100%25", want: "/100%25"},
		{in: "/100%", want: "/100%25"},
		{in: "/a%zz", want: "/a%25zz"},
		{in: "/a%2", want: "/a%252"},
		{in: "/%2E%2E/%2e/x", want: "/x"},
		{in: "/a%2F..", want: "/a%2F.."},
		{in: "/a%00", err: "percent-encoded control character"},
		{in: "/a%0A", err: "percent-encoded control character"},
		{in: "/a%FF", err: "not valid UTF-8 once"},
		{in: "/" + strings.Repeat("%", MaxPathLen-1), err: "once normalised"},
		{in: "/" + strings.Repeat("a", MaxPathLen-1), want: "/" + strings.Repeat("a", MaxPathLen-1)},
		{in: "", err: "path is required"},
		{in: "a", err: `must start with "/"`},
		{in: "https://example.com/a", err: `must start with "/"`},
		{in: "/a\nb", err: "control character at byte 2"},
		{in: "/a\x00", err: "control character"},
		{in: "/\xff", err: "not valid UTF-8"},
		{in: "/" + strings.Repeat("a", MaxPathLen), err: "at most 512"},
		// Issue 18 finding 7: look-alike paths. NFC and NFD are one page; invisible characters
		// are refused, raw or percent-encoded.
		{in: "/cafe\u0301", want: "/caf\u00e9"},
		{in: "/cafe%CC%81", want: "/caf\u00e9"},
		{in: "/caf\u00e9", want: "/caf\u00e9"},
		{in: "/\u212b", want: "/\u00c5"},                        // ANGSTROM SIGN is canonically Å
		{in: "/a\u200bb", err: "invisible character U+200B"},    // zero-width space
		{in: "/a%E2%80%8Bb", err: "invisible character U+200B"}, // the same, encoded
		{in: "/a\u200db", err: "U+200D"},                        // zero-width joiner
		{in: "/a\u202eb", err: "U+202E"},                        // right-to-left override
		{in: "/a\ufeff", err: "U+FEFF"},                         // byte-order mark
		{in: "/a\u00adb", err: "U+00AD"},                        // soft hyphen
		{in: "/a\u2028b", err: "U+2028"},                        // line separator
		{in: "/a%E2%80%A9b", err: "U+2029"},                     // paragraph separator
	}
	for _, tt := range tests {
		got, err := NormalizePath(tt.in)
		if tt.err != "" {
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("NormalizePath(%q) = %q, %v; want error containing %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("NormalizePath(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestNewChecksReferrer(t *testing.T) {
	if _, err := New("/a", "https://example.com/"+strings.Repeat("x", MaxReferrerLen)); !errors.Is(err, ErrInvalid) {
		t.Errorf("long referrer: err = %v, want ErrInvalid", err)
	}
	if _, err := New("/a", "https://example.com/\t"); !errors.Is(err, ErrInvalid) {
		t.Errorf("referrer with a tab: err = %v, want ErrInvalid", err)
	}
	v, err := New("/a/", "https://example.com/")
	if err != nil || v.Path != "/a" || v.Referrer != "https://example.com/" {
		t.Errorf("New = %+v, %v", v, err)
	}
}

func TestNormalizeReferrer(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"https://example.com/", "https://example.com/"},
		{"https://example.com", "https://example.com"},
		{"HTTPS://Example.COM/Post?utm_source=x#c", "https://example.com/Post"},
		{"http://user:secret@example.com:8080/a?token=1", "http://example.com:8080/a"},
		{"android-app://com.google.android.gm/", ""},
		{"/relative", ""},
		{"example.com/a", ""},
		{"https:opaque", ""},
		{"javascript:alert(1)", ""},
		{"http://[::1", ""},
		// Issue 18 finding 12: the origin and the start of the path; never what may be a secret.
		{"https://shop.example/account/reset/TOKEN123", "https://shop.example/account/reset"},
		{"https://shop.example/reset-password/9f86d081884c7d659a2feaa0c55ad015", "https://shop.example/reset-password"},
		{"https://app.example/invite/abc", "https://app.example/invite"},
		{"https://app.example/u/jane.doe@mail.example/profile", "https://app.example/u"},
		{"https://app.example/u/jane%40mail.example", "https://app.example/u"},
		{"https://app.example/d/123e4567-e89b-12d3-a456-426614174000/view", "https://app.example/d"},
		{"https://app.example/s/eyJhbGciOiJIUzI1NiJ9.e30.x", "https://app.example/s"},
		{"https://app.example/call/4915112345678", "https://app.example/call"},
		{"https://app.example/x/aGVsbG8gd29ybGQgaGVsbG8", "https://app.example/x"},
		{"https://news.example/blog/2026/12/how-to-count-views-in-10-steps", "https://news.example/blog/2026/12/how-to-count-views-in-10-steps"},
		{"https://news.example/r/golang/comments/1abc2d/", "https://news.example/r/golang/comments/1abc2d/"},
		{"https://news.example/TOKEN123", "https://news.example/"},
		{"https://news.example/caf%C3%A9/a%20b", "https://news.example/caf%C3%A9/a%20b"},
		{"https://news.example/" + strings.Repeat("abcdefghi/", 30), "https://news.example/" + strings.TrimSuffix(strings.Repeat("abcdefghi/", 20), "/")},
	}
	for _, tt := range tests {
		got, err := NormalizeReferrer(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("NormalizeReferrer(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
