package main

import (
	"slices"
	"testing"
)

func TestServerEnv(t *testing.T) {
	environ := []string{"HOME=/root", "PRAWN_RATE_LIMIT=10", "PRAWN_ROLLUP_INTERVAL=1m", "DATABASE_URL=postgres://elsewhere/x",
		"PRAWN_DB_TIMEOUT=5s", "PRAWN_TRUSTED_PROXIES=10.0.0.0/8"}
	got := serverEnv(environ, "127.0.0.1:9", "postgres://h/db", false)
	want := []string{"HOME=/root", "PRAWN_DB_TIMEOUT=5s", "DATABASE_URL=postgres://h/db", "PRAWN_ADDR=127.0.0.1:9",
		"PRAWN_RATE_LIMIT=0", "PRAWN_TRUSTED_PROXIES=127.0.0.1"}
	if !slices.Equal(got, want) {
		t.Errorf("serverEnv = %q, want %q", got, want)
	}
	if got := serverEnv(environ, "a", "d", true); got[len(got)-1] != "PRAWN_ROLLUP_INTERVAL=0" {
		t.Errorf("fold off: %q", got)
	}
	if got := userEnv(environ); !slices.Equal(got, []string{"PRAWN_DB_TIMEOUT=5s"}) {
		t.Errorf("userEnv = %q", got)
	}
}

func TestLastOutputLine(t *testing.T) {
	out := "time=… level=INFO msg=progress\nfolded 20006 views in 1 batches in 506ms (39561 views/s)\n"
	if got := lastOutputLine(out, "folded "); got != "folded 20006 views in 1 batches in 506ms (39561 views/s)" {
		t.Errorf("lastOutputLine = %q", got)
	}
	if got := lastOutputLine("nothing", "folded "); got != "" {
		t.Errorf("lastOutputLine without it = %q", got)
	}
}

func TestHasOperation(t *testing.T) {
	b := &bench{contract: "openapi: 3.0.3\npaths:\n  /api/views:\n    post:\n  /api/home:\r\n    get:\n      description: see /api/badge.svg:\n"}
	if !b.hasOperation("/api/views") || !b.hasOperation("/api/home") {
		t.Error("an operation of the contract was not found")
	}
	if b.hasOperation("/api/badge.svg") || b.hasOperation("/api/view") {
		t.Error("an operation the contract does not have was found")
	}
	if got := len(b.reads()); got != len(Reads)-1 {
		t.Errorf("reads = %d, want every read but the badge", got)
	}
	if s := b.skipped(); len(s) != 1 {
		t.Errorf("skipped = %q", s)
	}
}

func TestDiskNeed(t *testing.T) {
	c, err := parseFlags([]string{"-history", "100000000"})
	if err != nil {
		t.Fatal(err)
	}
	// The history (with the tail and at most the ingest) is the largest database.
	want := (100_000_000 + 1_000_000 + 5000*123) * bytesPerView
	if got := diskNeed(c); got != int64(want+want/4) {
		t.Errorf("diskNeed = %d, want %d", got, want+want/4)
	}
	c, _ = parseFlags([]string{"-cases", "c"})
	if got, want := diskNeed(c), int64(3_000_000*bytesPerFloodView); got != want+want/4 {
		t.Errorf("diskNeed(c) = %d, want %d", got, want+want/4)
	}
}
