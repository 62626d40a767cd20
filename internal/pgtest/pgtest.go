// Package pgtest gives each test its own freshly migrated database on a real PostgreSQL, so
// tests run in parallel without seeing each other's rows. The server is TEST_DATABASE_URL or
// DATABASE_URL when set, else prawn's embedded cluster kept in the system's temp folder.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/prawnhq/prawn/internal/pgembed"
	"github.com/prawnhq/prawn/internal/storage"
)

var (
	once     sync.Once
	adminURL string // a connection string for the maintenance database
	template string // a migrated database to copy
	setupErr error
	cluster  *pgembed.Cluster
)

// Main runs a package's tests and then leaves the embedded cluster (stopping it when this was
// its last user). Call it from TestMain: os.Exit(pgtest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if template != "" && setupErr == nil {
		if err := dropDatabase(context.Background(), template); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest: drop template:", err)
		}
	}
	if cluster != nil {
		if err := cluster.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest: stop embedded database:", err)
		}
	}
	return code
}

func setup() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	adminURL = os.Getenv("TEST_DATABASE_URL")
	if adminURL == "" {
		adminURL = os.Getenv("DATABASE_URL")
	}
	if adminURL == "" {
		dir := filepath.Join(os.TempDir(), "prawn-test")
		log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		cluster, setupErr = pgembed.Open(ctx, dir, log)
		if setupErr != nil {
			return
		}
		adminURL = cluster.DatabaseURL("postgres")
	}
	template = "prawn_tmpl_" + randomName()
	if setupErr = createDatabase(ctx, template, ""); setupErr != nil {
		return
	}
	store, err := storage.Open(ctx, withDatabase(adminURL, template), storage.Options{MaxConns: 2})
	if err != nil {
		setupErr = err
		return
	}
	_, setupErr = store.Migrate(ctx)
	store.Close()
}

// URL creates a fresh, migrated database for t and returns its connection string. The database
// is dropped when t ends.
func URL(t testing.TB) string {
	t.Helper()
	once.Do(setup)
	if setupErr != nil {
		t.Fatalf("pgtest: no database server: %v", setupErr)
	}
	ctx := context.Background()
	name := "prawn_test_" + randomName()
	if err := createDatabase(ctx, name, template); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := dropDatabase(context.Background(), name); err != nil {
			t.Logf("pgtest: drop %s: %v", name, err)
		}
	})
	return withDatabase(adminURL, name)
}

// Store opens a store on a fresh, migrated database for t; it is closed when t ends.
func Store(t testing.TB) *storage.Store {
	t.Helper()
	s, err := storage.Open(context.Background(), URL(t), storage.Options{})
	if err != nil {
		t.Fatalf("pgtest: open store: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func createDatabase(ctx context.Context, name, from string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)
	sql := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize()
	if from != "" {
		sql += " TEMPLATE " + pgx.Identifier{from}.Sanitize()
	}
	// Copies of one template may collide briefly; retry a few times.
	for attempt := 0; ; attempt++ {
		_, err = conn.Exec(ctx, sql)
		if err == nil || attempt == 20 {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func dropDatabase(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	return err
}

func withDatabase(base, name string) string {
	u, err := url.Parse(base)
	if err != nil {
		panic(fmt.Sprintf("pgtest: database URL: %v", err))
	}
	u.Path = "/" + name
	return u.String()
}

func randomName() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Counts runs sql, which must return (text, count) rows, on the database at url and returns the
// counts by key — for tests that look behind the store (views per path, rollups per path).
func Counts(t testing.TB, url, sql string, args ...any) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	out := map[string]int64{}
	for rows.Next() {
		var k string
		var n int64
		if err := rows.Scan(&k, &n); err != nil {
			t.Fatalf("pgtest: %v", err)
		}
		out[k] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return out
}
