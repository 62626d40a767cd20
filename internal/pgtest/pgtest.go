// Package pgtest is the test kit: each test gets its own freshly migrated database on a real
// PostgreSQL (New), so tests run in parallel without seeing each other's rows, with helpers to
// record views, fold them and look behind the store; and Eventually, the one way tests wait.
// The server is TEST_DATABASE_URL or DATABASE_URL when set, else prawn's embedded cluster kept
// in the system's temp folder.
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
	"github.com/prawnhq/prawn/internal/rollup"
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
	return New(t).Store
}

// DB is one test's database: a store on it and its connection string.
type DB struct {
	*storage.Store
	URL string
}

// New creates a fresh, migrated database for t and opens a store on it; both go when t ends.
func New(t testing.TB) *DB {
	t.Helper()
	url := URL(t)
	s, err := storage.Open(context.Background(), url, storage.Options{})
	if err != nil {
		t.Fatalf("pgtest: open store: %v", err)
	}
	t.Cleanup(s.Close)
	return &DB{Store: s, URL: url}
}

// Insert records views through the store, as group commit does (the database's clock stamps them).
func (d *DB) Insert(t testing.TB, views ...storage.View) {
	t.Helper()
	if err := d.InsertViews(context.Background(), views); err != nil {
		t.Fatalf("pgtest: insert views: %v", err)
	}
}

// Paths records one view of each path, of the default site.
func (d *DB) Paths(t testing.TB, paths ...string) {
	t.Helper()
	views := make([]storage.View, len(paths))
	for i, p := range paths {
		views[i] = storage.View{Path: p}
	}
	d.Insert(t, views...)
}

// InsertAt records views viewed at the given time, in one transaction, behind the store's back
// (for tests that need views at particular times).
func (d *DB) InsertAt(t testing.TB, at time.Time, views ...storage.View) {
	t.Helper()
	ctx := context.Background()
	conn := d.Conn(t)
	batch := &pgx.Batch{}
	batch.Queue("BEGIN")
	for _, v := range views {
		batch.Queue(`INSERT INTO views (host, path, referrer, ref_host, utm_source, utm_medium, utm_campaign,
			browser, os, device, country, visitor, viewed_at)
			VALUES ($1, $2, NULLIF($3, ''), NULLIF($4, ''), NULLIF($5, ''), NULLIF($6, ''), NULLIF($7, ''),
			        NULLIF($8, ''), NULLIF($9, ''), NULLIF($10, ''), NULLIF($11, ''), NULLIF($12, 0), $13)`,
			v.Host, v.Path, v.Referrer, v.RefHost, v.UTMSource, v.UTMMedium, v.UTMCampaign,
			v.Browser, v.OS, v.Device, v.Country, v.Visitor, at)
	}
	batch.Queue("COMMIT")
	if err := conn.SendBatch(ctx, batch).Close(); err != nil {
		t.Fatalf("pgtest: insert views at %s: %v", at, err)
	}
}

// Exec runs sql on the database behind the store's back.
func (d *DB) Exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	if _, err := d.Conn(t).Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("pgtest: %s: %v", sql, err)
	}
}

// Conn opens a connection of its own to the database; it is closed when t ends.
func (d *DB) Conn(t testing.TB) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), d.URL)
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// Counts runs sql, which must return (text, count) rows, and returns the counts by key.
func (d *DB) Counts(t testing.TB, sql string, args ...any) map[string]int64 {
	t.Helper()
	return Counts(t, d.URL, sql, args...)
}

// Unfolded is how many views wait to be folded.
func (d *DB) Unfolded(t testing.TB) int64 {
	t.Helper()
	n, err := d.Store.Unfolded(context.Background())
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return n
}

// FoldAll runs rollups until no view is left unfolded, closing the days that are over each time. Transaction ids are cluster-wide, so a
// transaction open in another test's database may hold a run back for a moment.
func (d *DB) FoldAll(t testing.TB) rollup.Result {
	t.Helper()
	var sum rollup.Result
	Eventually(t, 30*time.Second, func() error {
		res, err := rollup.Run(context.Background(), d.Store, rollup.Options{Wait: true, CloseAfter: rollup.DefaultCloseAfter})
		if err != nil {
			return err
		}
		sum.Folded += res.Folded
		sum.Batches += res.Batches
		if left := d.Unfolded(t); left > 0 {
			return fmt.Errorf("%d views still unfolded", left)
		}
		return nil
	})
	return sum
}

// Eventually calls cond until it returns nil or timeout passes, then fails t with cond's last
// error. It is how tests wait for something to happen, instead of sleeping.
func Eventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	wait := time.Millisecond
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", timeout, err)
		}
		time.Sleep(wait)
		wait = min(2*wait, 50*time.Millisecond)
	}
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
