package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/prawnhq/prawn/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, &out, &errOut)
	return out.String() + errOut.String(), err
}

func TestHelpAndUsageErrors(t *testing.T) {
	out, err := runCLI(t, "--help")
	if err != nil || !strings.Contains(out, "serve") || !strings.Contains(out, "verify") || !strings.Contains(out, "DATABASE_URL") {
		t.Errorf("--help: %v\n%s", err, out)
	}
	var usage usageError
	if _, err := runCLI(t, "frobnicate"); !errors.As(err, &usage) {
		t.Errorf("unknown command: err = %v, want a usage error", err)
	}
	if _, err := runCLI(t, "rollup", "--from", "2026-01-01T00:00:00Z"); !errors.As(err, &usage) {
		t.Errorf("rollup --from without --rebuild: err = %v, want a usage error", err)
	}
	if _, err := runCLI(t, "verify", "--from", "yesterday"); !errors.As(err, &usage) {
		t.Errorf("verify --from yesterday: err = %v, want a usage error", err)
	}
	for _, want := range []string{"PRAWN_RATE_LIMIT       [serve, Lambda]", "PRAWN_ADDR             [serve]", "PRAWN_DATA_DIR         [serve, CLI]", "DB_SECRET_ARN          [Lambda]"} {
		if !strings.Contains(out, want) {
			t.Errorf("--help does not say where settings apply (%q):\n%s", want, out)
		}
	}
	// Nothing listens there: were the settings let through, serve would fail to migrate at once.
	t.Setenv("DATABASE_URL", "postgres://unused@127.0.0.1:1/x?connect_timeout=1")
	t.Setenv("PRAWN_DB_MAX_CONNS", "2")
	t.Setenv("PRAWN_INGEST_FLUSHERS", "2")
	if _, err := runCLI(t, "serve"); err == nil || !strings.Contains(err.Error(), "PRAWN_INGEST_FLUSHERS=2 with PRAWN_DB_MAX_CONNS=2") {
		t.Errorf("serve with as many flushers as connections: err = %v", err)
	}
	t.Setenv("PRAWN_INGEST_FLUSHERS", "")
	t.Setenv("PRAWN_ADDR", "nope")
	if _, err := runCLI(t, "migrate"); err == nil || !strings.Contains(err.Error(), "PRAWN_ADDR") {
		t.Errorf("bad PRAWN_ADDR: err = %v", err)
	}
}

func TestSeedRollupVerifyRebuild(t *testing.T) {
	url := pgtest.URL(t)
	t.Setenv("DATABASE_URL", url)
	t.Setenv("PRAWN_LOG_LEVEL", "error")
	if out, err := runCLI(t, "seed", "--views", "3000", "--days", "2", "--paths", "20", "--chunk", "1000"); err != nil {
		t.Fatalf("prawn seed: %v\n%s", err, out)
	}
	// A fold stops short of transactions still running anywhere on the server (other tests'), so
	// one run may fold fewer: run again until all 3000 are in, as the schedule would.
	var folded int
	pgtest.Eventually(t, 20*time.Second, func() error {
		out, err := runCLI(t, "rollup", "--batch", "700")
		if err != nil {
			t.Fatalf("prawn rollup: %v\n%s", err, out)
		}
		var n int
		if _, err := fmt.Sscanf(out, "folded %d views", &n); err != nil {
			t.Fatalf("prawn rollup output %q: %v", out, err)
		}
		if folded += n; folded != 3000 {
			return fmt.Errorf("prawn rollup folded %d views in all, want 3000", folded)
		}
		return nil
	})
	if out, err := runCLI(t, "verify"); err != nil {
		t.Fatalf("prawn verify: %v\n%s", err, out)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "UPDATE hourly_stats SET q2 = q2 + 1 WHERE path = (SELECT min(path) FROM hourly_stats WHERE path <> '')"); err != nil {
		t.Fatal(err)
	}
	out, err := runCLI(t, "verify")
	if !errors.Is(err, errMismatch) || !strings.Contains(out, "MISMATCH hourly host=") {
		t.Fatalf("verify after corruption: %v\n%s", err, out)
	}
	if out, err := runCLI(t, "rollup", "--rebuild"); err != nil || !strings.Contains(out, "rebuilt") {
		t.Fatalf("rollup --rebuild: %v\n%s", err, out)
	}
	if out, err := runCLI(t, "verify"); err != nil || !strings.Contains(out, "rollups match the raw views") {
		t.Fatalf("verify after rebuild: %v\n%s", err, out)
	}
}

// TestReadmeListsEveryPackage keeps README's "Where things live" true.
func TestReadmeListsEveryPackage(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	dirs, err := os.ReadDir("../../internal")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if d.IsDir() && !strings.Contains(string(readme), "\ninternal/"+d.Name()+" ") {
			t.Errorf("README's \"Where things live\" does not list internal/%s", d.Name())
		}
	}
}
