package rollup_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/prawnhq/prawn/internal/pgtest"
	"github.com/prawnhq/prawn/internal/rollup"
	"github.com/prawnhq/prawn/internal/stats"
	"github.com/prawnhq/prawn/internal/storage"
)

// TestStressExactlyOnce runs 8 writers (some holding their transactions open, some rolling
// back), 3 rollup loops that are cancelled or have their database session killed at random
// points, and a sampler that checks, while all this goes on, that rollups + tail never count
// fewer views than were committed before the read nor more than after it. At the end the rollups
// alone must equal the committed views per (host, path, hour), the visitors per (host, day) the
// distinct visitor ids committed, and every rollup what the raw views define (verify).
func TestStressExactlyOnce(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, db.URL)
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
	hosts := []string{"", "blog.example.com"}
	type key struct {
		host, path string
		hour       time.Time
	}
	type visitorDay struct {
		host    string
		day     time.Time
		visitor int64
	}
	var (
		mu        sync.Mutex
		committed = map[key]int64{}
		seen      = map[visitorDay]bool{}
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
			host := hosts[rng.IntN(len(hosts))]
			visitor := 1 + rng.Int64N(30)
			// Spread views over the last day so many rollups are touched (and all days stay open).
			at := time.Now().Add(-time.Duration(rng.Int64N(int64(time.Since(storage.UTCDay(time.Now()).AddDate(0, 0, -1)))))).UTC()
			tx, err := pool.Begin(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			_, err = tx.Exec(ctx, `INSERT INTO views (host, path, viewed_at, visitor, browser)
				SELECT $1, $2, $3, $4, 'Firefox' FROM generate_series(1, $5)`, host, path, at, visitor, n)
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
			committed[key{host, path, at.Truncate(time.Hour)}] += int64(n)
			seen[visitorDay{host, storage.UTCDay(at), visitor}] = true
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
			_, err := rollup.Run(rctx, db.Store, rollup.Options{BatchSize: 1 + rng.IntN(200), Wait: rng.IntN(2) == 0, CloseAfter: 72 * time.Hour})
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
				WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active'
				  AND query ~ 'name: (ListFoldBatch|ListVisitorDays|AddHourly|AddDaily|AddBreakdowns|UpsertVisitorDays|AdvanceFoldPoint)'`).Scan(&n)
			if err != nil {
				t.Error(err)
				return
			}
			kills.Add(n)
		}
	}
	var samples atomic.Int64
	svc := stats.Service{Store: db.Store}
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
			total, err := svc.Total(ctx, stats.Scope{})
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

	db.FoldAll(t)
	got := map[key]int64{}
	rows, err := pool.Query(ctx, "SELECT host, path, hour, views FROM hourly_stats WHERE path <> ''")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k key
		var n int64
		if err := rows.Scan(&k.host, &k.path, &k.hour, &n); err != nil {
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
			t.Errorf("rollup %q %s %s = %d, want %d", k.host, k.path, k.hour.Format(time.RFC3339), got[k], want)
		}
	}
	for k, n := range got {
		if _, ok := committed[k]; !ok {
			t.Errorf("rollup %q %s %s = %d, but no view was committed there", k.host, k.path, k.hour.Format(time.RFC3339), n)
		}
	}
	wantVisitors := map[string]int64{}
	for vd := range seen {
		wantVisitors[vd.host+" "+vd.day.Format(time.DateOnly)]++
	}
	gotVisitors := db.Counts(t, "SELECT host || ' ' || day::text, visitors FROM daily_stats WHERE path = ''")
	if fmt.Sprint(gotVisitors) != fmt.Sprint(wantVisitors) {
		t.Errorf("visitors per (host, day) = %v, want %v", gotVisitors, wantVisitors)
	}
	if total := siteTotal(t, db); total != nCommit.Load() {
		t.Errorf("site total = %d, want %d", total, nCommit.Load())
	}
	checkVerify(t, db)
	if samples.Load() == 0 || runs.Load() == 0 || nCommit.Load() == 0 {
		t.Errorf("the stress did not stress: %d samples, %d runs, %d views", samples.Load(), runs.Load(), nCommit.Load())
	}
	t.Logf("%d views committed in %d (host, path, hour) rollups; %d rollup runs (%d cancelled or killed, %d sessions killed); %d samples",
		nCommit.Load(), len(committed), runs.Load(), cancelled.Load(), kills.Load(), samples.Load())
}
