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
		{in: "/%20x", want: "/%20x"},
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
