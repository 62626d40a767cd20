// Package outage proves that prawn survives its database going away under load: while Postgres
// is down recording answers 503 quickly and /readyz says so; when it comes back prawn recovers by
// itself, and every view it acknowledged is in the database exactly once.
package outage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/prawnhq/prawn/internal/app"
	"github.com/prawnhq/prawn/internal/pgembed"
	"github.com/prawnhq/prawn/internal/pgtest"
	"github.com/prawnhq/prawn/internal/storage"
)

// cluster is prawn's own embedded PostgreSQL (internal/pgembed) in a folder of this test, which
// the test crashes and restarts.
type cluster struct {
	t *testing.T
	*pgembed.Cluster
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	c, err := pgembed.Open(context.Background(), t.TempDir(), slog.New(slog.DiscardHandler))
	if errors.Is(err, pgembed.ErrNoPostgres) {
		t.Skip("no PostgreSQL server binaries on this machine")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &cluster{t: t, Cluster: c}
}

// crash stops the server the hard way: no shutdown checkpoint, connections cut.
func (c *cluster) crash() {
	c.t.Helper()
	if err := c.Crash(); err != nil {
		c.t.Fatal(err)
	}
}

// start brings a crashed server back on its port.
func (c *cluster) start() {
	c.t.Helper()
	if err := c.Restart(); err != nil {
		c.t.Fatal(err)
	}
}

func (c *cluster) url(db string) string { return c.DatabaseURL(db) }

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// result is one answered request of the load.
type result struct {
	path     string
	status   int
	start    time.Time
	duration time.Duration
}

// noHang is the longest an answer may take while the database is gone before a test calls it a
// hang. The goal is 1 s and the tests log what they measure; the bound leaves room for a loaded
// CI machine, because timing goals belong in measurements, not in assertions.
const noHang = 2 * time.Second

// TestUnresponsiveDatabase points prawn at a server that accepts connections and never answers
// (a hung or black-holed database): recording must still answer 503 within a second.
func TestUnresponsiveDatabase(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held sync.WaitGroup
	done := make(chan struct{})
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			held.Add(1)
			go func() { defer held.Done(); <-done; conn.Close() }()
		}
	}()
	t.Cleanup(func() { ln.Close(); close(done); held.Wait() })
	url := fmt.Sprintf("postgres://prawn@%s/prawn?sslmode=disable&connect_timeout=5", ln.Addr())
	store, err := storage.Open(context.Background(), url, storage.Options{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	a := app.New(store, slog.New(slog.DiscardHandler))
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(func() { srv.Close(); a.Close(); store.Close() })
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, target := range []string{"/api/views", "/readyz"} {
				start := time.Now()
				var resp *http.Response
				var err error
				if target == "/readyz" {
					resp, err = srv.Client().Get(srv.URL + target)
				} else {
					resp, err = srv.Client().Post(srv.URL+target, "application/json", strings.NewReader(fmt.Sprintf(`{"path":"/hung/%d"}`, i)))
				}
				took := time.Since(start)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				t.Logf("%s against a silent database: %d in %s", target, resp.StatusCode, took.Round(time.Millisecond))
				// The goal is 1 s (the logged times are what docs/security.md reports); the
				// assertion only rules out a hang, with room for a loaded machine.
				if resp.StatusCode != 503 || took > noHang || resp.Header.Get("Retry-After") == "" {
					t.Errorf("%s = %d after %s; want 503 with Retry-After, without hanging", target, resp.StatusCode, took)
				}
			}
		}()
	}
	wg.Wait()
}

func TestDatabaseOutageUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and stops its own PostgreSQL")
	}
	c := newCluster(t) // its database "prawn" exists
	ctx := context.Background()

	goroutinesBefore := runtime.NumGoroutine()
	const maxConns = 8
	store, err := storage.Open(ctx, c.url("prawn"), storage.Options{MaxConns: maxConns})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelError}))
	t.Cleanup(func() {
		if t.Failed() && logs.String() != "" {
			t.Logf("errors logged:\n%s", logs)
		}
	})
	a := app.New(store, log)
	a.Edge.RateLimit, a.Edge.ReadRateLimit = 0, 0 // a load test: loopback is limited like any client
	a.Budget = nil                                // every view has a path of its own: count them as themselves
	srv := httptest.NewServer(a.Handler())
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}

	// Load: a bounded number of workers, each posting views of paths of its own, one at a time.
	const workers = 8
	var (
		mu      sync.Mutex
		results []result
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				p := fmt.Sprintf("/outage/w%d/%d", w, i)
				start := time.Now()
				resp, err := client.Post(srv.URL+"/api/views", "application/json", strings.NewReader(`{"path":"`+p+`"}`))
				r := result{path: p, start: start, duration: time.Since(start)}
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					r.status = resp.StatusCode
				}
				mu.Lock()
				results = append(results, r)
				mu.Unlock()
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}
	ready := func() int {
		resp, err := client.Get(srv.URL + "/readyz")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	time.Sleep(time.Second) // steady load
	if s := ready(); s != 200 {
		t.Errorf("/readyz before the outage = %d", s)
	}
	crashAt := time.Now()
	c.crash()
	crashed := time.Now()
	t.Logf("postgres stopped (-m immediate) in %s", crashed.Sub(crashAt).Round(time.Millisecond))

	time.Sleep(300 * time.Millisecond)
	readyStart := time.Now()
	readyDown := ready()
	readyTook := time.Since(readyStart)
	if readyDown != 503 || readyTook > noHang {
		t.Errorf("/readyz while down = %d after %s; want 503 without hanging (goal 1 s)", readyDown, readyTook)
	}
	time.Sleep(2 * time.Second) // the outage goes on under load

	restartAt := time.Now()
	c.start()
	upAt := time.Now()
	t.Logf("postgres restarted in %s", upAt.Sub(restartAt).Round(time.Millisecond))
	var firstOK time.Time
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		for _, r := range results {
			if r.status == 201 && r.start.After(upAt) && (firstOK.IsZero() || r.start.Add(r.duration).Before(firstOK)) {
				firstOK = r.start.Add(r.duration)
			}
		}
		mu.Unlock()
		if !firstOK.IsZero() {
			break
		}
	}
	time.Sleep(time.Second) // load on the recovered database
	close(stop)
	wg.Wait()
	if s := ready(); s != 200 {
		t.Errorf("/readyz after recovery = %d", s)
	}

	// Timings.
	var during []result
	var firstErr time.Time
	statuses := map[int]int{}
	var slowest time.Duration
	for _, r := range results {
		statuses[r.status]++
		if r.start.After(crashed) && r.start.Before(restartAt) {
			during = append(during, r)
			slowest = max(slowest, r.duration)
			if r.status != 503 {
				t.Errorf("during the outage %s answered %d, want 503", r.path, r.status)
			}
		}
		if r.status == 503 && r.start.After(crashAt.Add(-time.Second)) && (firstErr.IsZero() || r.start.Add(r.duration).Before(firstErr)) {
			firstErr = r.start.Add(r.duration)
		}
	}
	t.Logf("requests: %d; by status %v; %d started during the outage, slowest answer %s",
		len(results), statuses, len(during), slowest.Round(time.Millisecond))
	if len(during) == 0 {
		t.Fatal("no request during the outage")
	}
	if slowest > noHang {
		t.Errorf("slowest answer during the outage took %s; want no hang (goal 1 s)", slowest)
	}
	if firstErr.IsZero() {
		t.Error("no 503 at all")
	} else {
		t.Logf("first 503 %s after the stop began", firstErr.Sub(crashAt).Round(time.Millisecond))
	}
	if firstOK.IsZero() {
		t.Fatal("no 201 after the database came back")
	}
	recovery := firstOK.Sub(upAt)
	t.Logf("/readyz while down: %d in %s; first 201 %s after postgres accepted connections again (%s after the restart began)",
		readyDown, readyTook.Round(time.Millisecond), recovery.Round(time.Millisecond), firstOK.Sub(restartAt).Round(time.Millisecond))
	if recovery > 5*time.Second {
		t.Errorf("recovery took %s; want at most 5s", recovery)
	}
	for _, r := range results {
		if r.status != 201 && r.status != 503 {
			t.Errorf("%s answered %d; want 201 or 503 only", r.path, r.status)
		}
	}

	// Every acknowledged view is in the database exactly once.
	conn, err := pgx.Connect(ctx, c.url("prawn"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	inDB := pgtest.Counts(t, c.url("prawn"), "SELECT path, count(*) FROM views WHERE path LIKE '/outage/%' GROUP BY path")
	acked, lost, twice, unackedStored := 0, 0, 0, 0
	for _, r := range results {
		n := inDB[r.path]
		switch {
		case r.status == 201 && n == 0:
			lost++
		case r.status == 201 && n > 1:
			twice++
		case r.status != 201 && n > 0:
			unackedStored++
		}
		if r.status == 201 {
			acked++
		}
	}
	t.Logf("acknowledged %d views: %d lost, %d stored more than once; %d answered 503 but stored (the client may retry those)",
		acked, lost, twice, unackedStored)
	if lost > 0 || twice > 0 {
		t.Errorf("%d acknowledged views lost, %d stored twice", lost, twice)
	}

	// Connections: the pool holds no more than its size; closing prawn frees them all and leaves
	// no goroutine behind.
	countConns := func() int {
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'prawn'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := countConns(); n > maxConns {
		t.Errorf("%d connections from prawn after recovery; the pool holds at most %d", n, maxConns)
	}
	srv.Close()
	client.CloseIdleConnections()
	if err := a.Close(); err != nil {
		t.Error(err)
	}
	store.Close()
	var n, g int
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		n, g = countConns(), runtime.NumGoroutine()
		if n == 0 && g <= goroutinesBefore {
			break
		}
	}
	if n != 0 {
		t.Errorf("%d connections from prawn left after Close", n)
	}
	if g > goroutinesBefore {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines after Close, %d before:\n%s", g, goroutinesBefore, buf[:runtime.Stack(buf, true)])
	}
}
