package main

import (
	"slices"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	c, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.rates, fullRates) || !slices.Equal(c.slowRates, slowRates) || c.duration != 10*time.Second ||
		c.ramp != 2*time.Second || c.tries != 2 || c.out != "docs/benchmarks.md" || c.pgbenchDuration != c.duration {
		t.Errorf("defaults = %+v", c)
	}

	q, err := parseFlags([]string{"-quick"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(q.rates, []int{1000, 2000}) || !slices.Equal(q.slowRates, []int{1000}) || q.duration != 2*time.Second ||
		q.ramp != time.Second || q.out != "-" || q.tries != 2 || !q.quick {
		t.Errorf("-quick = %+v", q)
	}
	// Flags given with -quick win over its defaults.
	q, err = parseFlags([]string{"-quick", "-rates", "500", "-out", "x.md", "-slow-rates", ""})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(q.rates, []int{500}) || q.out != "x.md" || len(q.slowRates) != 0 || q.duration != 2*time.Second {
		t.Errorf("-quick with flags = %+v", q)
	}

	if c, err := parseFlags([]string{"-targets", "batch, home"}); err != nil || !slices.Equal(c.only, []string{"batch", "home"}) {
		t.Errorf("-targets batch,home = %v, %v", c.only, err)
	}
	for _, bad := range [][]string{
		{"-targets", "stats"}, {"-rates", "1000,fast"}, {"-rates", "0"}, {"-tries", "0"}, {"-duration", "10ms"}, {"extra"},
	} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("parseFlags(%q) accepted", bad)
		}
	}
}

func TestParseInts(t *testing.T) {
	got, err := parseInts("1000, 2000 4000,,")
	if err != nil || !slices.Equal(got, []int{1000, 2000, 4000}) {
		t.Errorf("parseInts = %v, %v", got, err)
	}
	if got, err := parseInts(""); err != nil || len(got) != 0 {
		t.Errorf("parseInts(\"\") = %v, %v", got, err)
	}
	if joinInts([]int{1, 20}) != "1,20" {
		t.Errorf("joinInts = %q", joinInts([]int{1, 20}))
	}
}
