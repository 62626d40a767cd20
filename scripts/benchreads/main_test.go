package main

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	c, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.history != 10_000_000 || c.paths != 1000 || c.tail != 1_000_000 || c.floodViews != 3_000_000 || c.floodPaths != 100_000 ||
		c.bulk != 10_000_000 || c.ingestRate != 5000 || c.reads != 200 || c.budget != 2*time.Minute || c.path != "/page/1" ||
		c.out != "docs/benchmarks.md" || !slices.Equal(c.cases, allCases) || c.quick {
		t.Errorf("defaults = %+v", c)
	}

	q, err := parseFlags([]string{"-quick"})
	if err != nil {
		t.Fatal(err)
	}
	if q.history != 200_000 || q.tail != 20_000 || q.bulk != 200_000 || q.reads != 20 || q.out != "-" || !q.quick ||
		q.ingestRate != 5000 || q.budget != 20*time.Second {
		t.Errorf("-quick = %+v", q)
	}
	// Flags given with -quick win over its defaults.
	q, err = parseFlags([]string{"-quick", "-history", "1000", "-out", "x.md", "-cases", "d, a,a"})
	if err != nil {
		t.Fatal(err)
	}
	if q.history != 1000 || q.out != "x.md" || q.tail != 20_000 || !slices.Equal(q.cases, []string{"a", "d"}) {
		t.Errorf("-quick with flags = %+v", q)
	}
	if !q.has("d") || q.has("e") {
		t.Errorf("has: cases %v", q.cases)
	}

	for _, bad := range [][]string{
		{"-cases", "f"}, {"-cases", ""}, {"-history", "0"}, {"-reads", "4"}, {"-budget", "0s"}, {"-ramp", "-1s"},
		{"-path", "/blog"}, {"-path", "/page/1000"}, {"-path", "/page/01"}, {"-paths", "10", "-path", "/page/10"},
		{"-flood-paths", "2000000"}, {"-ingest-rate", "0"}, {"extra"},
	} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("parseFlags(%q) accepted", bad)
		} else if !strings.Contains(err.Error(), "-") && bad[0] != "extra" {
			t.Errorf("parseFlags(%q): %v names no flag", bad, err)
		}
	}
}
