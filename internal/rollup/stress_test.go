package rollup_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/prawnhq/prawn/internal/rollup"
	"github.com/prawnhq/prawn/internal/stats"
)

// TestStressExactlyOnce runs 8 writers (some holding their transactions open, some rolling
// back), 3 rollup loops that are cancelled or have their database session killed at random
// points, and a sampler that checks, while all this goes on, that rollups + tail never count
// fewer views than were committed before the read nor more than after it. At the end the rollups
// alone must equal the committed views per (path, hour).
func TestStressExactlyOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, e.url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	const (
		writers  = 8
		rollups  = 3
		duration = 3 * time.Second
	)
	paths := []string{"/", "/a", "/b", "/c", "/d"}
	type key struct {
		path string
		hour time.Time
	}
	var (
		mu        sync.Mutex
		committed = map[key]int64{}
		nCommit   atomic.Int64
		stop      = make(chan struct{})
		wg        sync.WaitGroup
	)
	writer := func(seed uint64) {
		defer wg.Done()
		rng := rand.New(rand.NewPCG(seed, 1))
		for {
			select {
			case <-stop:
				return
			default:
			}
			n := 1 + rng.IntN(4)
			path := paths[rng.IntN(len(paths))]
			// Spread views over the last two days so many (path, hour) rollups are touched.
			at := time.Now().Add(-time.Duration(rng.Int64N(int64(48 * time.Hour)))).UTC()
			tx, err := pool.Begin(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			_, err = tx.Exec(ctx, "INSERT INTO views (path, viewed_at) SELECT $1, $2 FROM generate_series(1, $3)", path, at, n)
			if err != nil {
				t.Error(err)
				tx.Rollback(ctx)
				return
			}
			if rng.IntN(4) == 0 { // hold the transaction open: it commits out of order
				time.Sleep(time.Duration(rng.IntN(30)) * time.Millisecond)
			}
			if rng.IntN(10) == 0 {
				tx.Rollback(ctx) // aborted views must never count
				continue
			}
			if err := tx.Commit(ctx); err != nil {
				t.Errorf("commit: %v", err)
				return
			}
			mu.Lock()
			committed[key{path, at.Truncate(time.Hour)}] += int64(n)
			mu.Unlock()
			nCommit.Add(int64(n))
		}
	}
	var runs, cancelled atomic.Int64
	roller := func(seed uint64) {
		defer wg.Done()
		rng := rand.New(rand.NewPCG(seed, 2))
		for {
			select {
			case <-stop:
				return
			default:
			}
			rctx, cancel := context.WithTimeout(ctx, time.Duration(1+rng.IntN(200))*time.Millisecond)
			_, err := rollup.Run(rctx, e.store, rollup.Options{BatchSize: 1 + rng.IntN(200), Wait: rng.IntN(2) == 0})
			cancel()
			runs.Add(1)
			if err != nil {
				cancelled.Add(1) // cancelled or killed mid-way: must leave no partial effect
			}
		}
	}
	var kills atomic.Int64
	killer := func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(15 * time.Millisecond):
			}
			var n int64
			err := pool.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
				WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE '%name: FoldViews%' AND state = 'active'`).Scan(&n)
			if err != nil {
				t.Error(err)
				return
			}
			kills.Add(n)
		}
	}
	var samples atomic.Int64
	svc := stats.Service{Store: e.store}
	sampler := func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			var before, after int64
			if err := pool.QueryRow(ctx, "SELECT count(*) FROM views").Scan(&before); err != nil {
				t.Error(err)
				return
			}
			total, err := svc.SiteTotal(ctx)
			if err != nil {
				if errors.Is(err, context.Canceled) {
					return
				}
				t.Errorf("site total: %v", err)
				return
			}
			if err := pool.QueryRow(ctx, "SELECT count(*) FROM views").Scan(&after); err != nil {
				t.Error(err)
				return
			}
			if total < before || total > after {
				t.Errorf("sample: rollups + tail = %d, but %d views were committed before the read and %d after", total, before, after)
			}
			samples.Add(1)
		}
	}
	for i := range writers {
		wg.Add(1)
		go writer(uint64(i))
	}
	for i := range rollups {
		wg.Add(1)
		go roller(uint64(i))
	}
	wg.Add(2)
	go killer()
	go sampler()
	time.Sleep(duration)
	close(stop)
	wg.Wait()

	foldAll(t, e.store, rollup.Options{})
	c := e.conn(t)
	rows, err := c.Query(ctx, "SELECT path, hour, views FROM hourly_views")
	if err != nil {
		t.Fatal(err)
	}
	got := map[key]int64{}
	for rows.Next() {
		var k key
		var n int64
		if err := rows.Scan(&k.path, &k.hour, &n); err != nil {
			t.Fatal(err)
		}
		k.hour = k.hour.UTC()
		got[k] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for k, want := range committed {
		if got[k] != want {
			t.Errorf("rollup %s %s = %d, want %d", k.path, k.hour.Format(time.RFC3339), got[k], want)
		}
	}
	for k, n := range got {
		if _, ok := committed[k]; !ok {
			t.Errorf("rollup %s %s = %d, but no view was committed there", k.path, k.hour.Format(time.RFC3339), n)
		}
	}
	_, total := e.rolled(t)
	if total != nCommit.Load() {
		t.Errorf("site total = %d, want %d", total, nCommit.Load())
	}
	if samples.Load() == 0 || runs.Load() == 0 || nCommit.Load() == 0 {
		t.Errorf("the stress did not stress: %d samples, %d runs, %d views", samples.Load(), runs.Load(), nCommit.Load())
	}
	t.Logf("%d views committed in %d (path, hour) rollups; %d rollup runs (%d cancelled or killed, %d sessions killed); %d samples",
		nCommit.Load(), len(committed), runs.Load(), cancelled.Load(), kills.Load(), samples.Load())
}
