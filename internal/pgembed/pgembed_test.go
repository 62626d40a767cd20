package pgembed

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestSharedClusterLifecycle starts a cluster, lets a second process-like user join it, checks
// that the first leaving keeps it up and the last leaving stops it, and that data survives a
// restart.
func TestSharedClusterLifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL cluster")
	}
	if _, err := findBinaries(""); err != nil {
		t.Skip(err)
	}
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	log := slog.New(slog.DiscardHandler)

	first, err := Open(ctx, data, log)
	if err != nil {
		t.Fatal(err)
	}
	exec := func(c *Cluster, sql string) {
		t.Helper()
		conn, err := pgx.Connect(ctx, c.URL())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	exec(first, "CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)")

	second, err := Open(ctx, data, log)
	if err != nil {
		t.Fatal(err)
	}
	if second.state.Port != first.state.Port {
		t.Errorf("second user got port %d, first %d: it started another server", second.state.Port, first.state.Port)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	exec(second, "SELECT 1") // still up
	if err := second.Close(); err != nil {
		t.Fatal(err)
	}
	if second.pgctl("status") == nil {
		t.Fatal("the server still runs after its last user left")
	}

	third, err := Open(ctx, data, log)
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	conn, err := pgx.Connect(ctx, third.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT n FROM kept").Scan(&n); err != nil || n != 42 {
		t.Errorf("after a restart: n = %d, %v; want 42", n, err)
	}
}
