package benchkit

import (
	"slices"
	"testing"
)

func TestWithDatabase(t *testing.T) {
	got, err := WithDatabase("postgres://u:p@127.0.0.1:5432/postgres?sslmode=disable", "prawn_bench_x")
	if err != nil || got != "postgres://u:p@127.0.0.1:5432/prawn_bench_x?sslmode=disable" {
		t.Errorf("WithDatabase = %q, %v", got, err)
	}
	for _, bad := range []string{"mysql://h/db", "://"} {
		if _, err := WithDatabase(bad, "x"); err == nil {
			t.Errorf("WithDatabase(%q) accepted", bad)
		}
	}
}

func TestWithout(t *testing.T) {
	env := []string{"A=1", "DATABASE_URL=x", "DATABASE_URLS=y", "B=2"}
	if got := Without(env, "DATABASE_URL"); !slices.Equal(got, []string{"A=1", "DATABASE_URLS=y", "B=2"}) {
		t.Errorf("Without = %q", got)
	}
	if len(env) != 4 {
		t.Error("Without changed its argument")
	}
}

func TestFreePort(t *testing.T) {
	if p, err := FreePort(); err != nil || p <= 0 {
		t.Errorf("FreePort = %d, %v", p, err)
	}
}
