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
	}
	for _, tt := range tests {
		got, err := NormalizeReferrer(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("NormalizeReferrer(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
