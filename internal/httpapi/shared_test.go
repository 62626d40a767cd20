package httpapi_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prawnhq/prawn/internal/app"
	"github.com/prawnhq/prawn/internal/pgtest"
)

// Concurrent counters of one scope share one read: while a read of the site's total is held up
// in the database, the home requests that come meanwhile wait for one read after it, not a read
// each, and every one of them is answered and counted.
func TestConcurrentCountersShareAReadThatBeginsAfterThem(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	waitingOnLock, unlock := lockTable(t, db, "totals")
	a := app.New(db.Store, slog.New(slog.DiscardHandler))
	a.Edge.RateLimit, a.Edge.DBTimeout = 0, 10*time.Second
	h := a.Handler()

	type answer struct {
		code  int
		views float64
	}
	answers := make(chan answer, 16)
	home := func(i int) {
		resp, body := serve(h, "GET", "/api/home", fmt.Sprintf("198.51.100.%d:1", i), "")
		v, _ := body["pageViews"].(float64)
		answers <- answer{resp.StatusCode, v}
	}
	go home(1)
	pgtest.Eventually(t, 5*time.Second, func() error {
		if n := waitingOnLock(); n != 1 {
			return fmt.Errorf("%d reads wait on the lock, want 1", n)
		}
		return nil
	})
	const later = 8
	for i := range later {
		go home(10 + i)
	}
	pgtest.Eventually(t, 5*time.Second, func() error {
		if n := a.Stats.TotalsWaiting(); n != later {
			return fmt.Errorf("%d home requests wait for the next read, want %d", n, later)
		}
		return nil
	})
	if n := waitingOnLock(); n != 1 {
		t.Errorf("%d reads wait on the database with %d home requests in flight, want 1", n, 1+later)
	}
	unlock()

	var shared []float64
	for range 1 + later {
		a := <-answers
		if a.code != 200 {
			t.Fatalf("a home request answered %d", a.code)
		}
		if a.views != 1 {
			shared = append(shared, a.views)
		}
	}
	// The first request read 0 views and counts its own. The others read one snapshot, taken
	// after the first read ended: with or without the first request's view, and never their own.
	for _, v := range shared {
		if v != shared[0] || v != 2 {
			t.Errorf("the requests that shared a read answered %v, want all 2 (or all 1)", shared)
			break
		}
	}
	if len(shared) != later && len(shared) != 0 {
		t.Errorf("%d of the %d requests that shared a read answered 1, want all or none", later-len(shared), later)
	}
	if got := a.Stats.TotalReads(); got != 2 {
		t.Errorf("%d reads for %d home requests, want 2", got, 1+later)
	}
	if n := db.Unfolded(t); n != 1+later {
		t.Errorf("%d views recorded, want %d", n, 1+later)
	}
}

// Under concurrent recording, every count a counter answers includes every view acknowledged
// before it was asked for (and its own), and none that was not yet asked to be recorded when it
// was answered.
func TestCountersCountEveryViewAcknowledgedBeforeThem(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	a := app.New(db.Store, slog.New(slog.DiscardHandler))
	a.Edge.RateLimit = 0
	h := a.Handler()

	var asked, acked atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Int64 // the first few failures are reported
	fail := func(format string, args ...any) {
		if failed.Add(1) <= 5 {
			t.Errorf(format, args...)
		}
	}
	const clients, each = 8, 40
	for c := range clients {
		wg.Go(func() {
			addr := fmt.Sprintf("198.51.100.%d:1", 1+c)
			for i := range each {
				if (c+i)%2 == 0 {
					asked.Add(1)
					if resp, _ := serve(h, "POST", "/api/views", addr, `{"path":"/x"}`); resp.StatusCode != 201 {
						fail("POST answered %d", resp.StatusCode)
						return
					}
					acked.Add(1)
					continue
				}
				before := acked.Load()
				asked.Add(1)
				resp, body := serve(h, "GET", "/api/home", addr, "")
				after := asked.Load()
				n, _ := body["pageViews"].(float64)
				if resp.StatusCode != 200 {
					fail("GET /api/home answered %d", resp.StatusCode)
					return
				}
				acked.Add(1)
				if int64(n) < before+1 || int64(n) > after {
					fail("GET /api/home answered %v: %d views were acknowledged before it was asked, %d asked for before it was answered", n, before, after)
				}
			}
		})
	}
	wg.Wait()
	if n := db.Unfolded(t); n != clients*each {
		t.Errorf("%d views recorded, want %d", n, clients*each)
	}
	t.Logf("%d home requests made %d reads", clients*each/2, a.Stats.TotalReads())
}

// lockTable holds an exclusive lock on table until unlock (or t's end), and reports how many
// sessions of db wait on a lock.
func lockTable(t *testing.T, db *pgtest.DB, table string) (waiting func() int, unlock func()) {
	t.Helper()
	ctx := context.Background()
	lock := db.Conn(t)
	if _, err := lock.Exec(ctx, "BEGIN; LOCK TABLE "+table+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	watch := db.Conn(t) // outside the lock's transaction, which sees one snapshot of pg_stat_activity
	var dbName string
	if err := watch.QueryRow(ctx, "SELECT current_database()").Scan(&dbName); err != nil {
		t.Fatal(err)
	}
	waiting = func() (n int) {
		if err := watch.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'", dbName).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	unlock = func() {
		if _, err := lock.Exec(ctx, "ROLLBACK"); err != nil {
			t.Fatal(err)
		}
	}
	return waiting, unlock
}
