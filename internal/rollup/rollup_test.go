package rollup_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/prawnhq/prawn/internal/pgtest"
	"github.com/prawnhq/prawn/internal/rollup"
	"github.com/prawnhq/prawn/internal/stats"
	"github.com/prawnhq/prawn/internal/storage"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// env is one test's database, as a store and a raw connection for looking behind it.
type env struct {
	store *storage.Store
	url   string
}

func newEnv(t *testing.T) env {
	t.Helper()
	url := pgtest.URL(t)
	s, err := storage.Open(context.Background(), url, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return env{store: s, url: url}
}

func (e env) conn(t *testing.T) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), e.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// rolled is what the rollups alone say: views per path, and the site total.
func (e env) rolled(t *testing.T) (map[string]int64, int64) {
	t.Helper()
	per := pgtest.Counts(t, e.url, "SELECT path, sum(views)::bigint FROM hourly_views GROUP BY path")
	c := e.conn(t)
	var total int64
	if err := c.QueryRow(context.Background(), "SELECT total_views FROM rollup_state").Scan(&total); err != nil {
		t.Fatal(err)
	}
	return per, total
}

// foldAll runs rollups until no view is left unfolded. Transaction ids are cluster-wide, so a
// transaction open in another test's database may hold a run back for a moment.
func foldAll(t *testing.T, store *storage.Store, opt rollup.Options) rollup.Result {
	t.Helper()
	ctx := context.Background()
	var sum rollup.Result
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := rollup.Run(ctx, store, opt)
		if err != nil {
			t.Fatal(err)
		}
		sum.Folded += res.Folded
		sum.Batches += res.Batches
		left, err := store.Unfolded(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if left == 0 {
			return sum
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d views still unfolded after 30 s", left)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRunFoldsEveryViewOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	paths := []string{"/a", "/b", "/a", "/c", "/a"}
	if err := e.store.InsertViews(ctx, paths, make([]string, len(paths))); err != nil {
		t.Fatal(err)
	}
	var biggest int64
	var prev int64
	res := foldAll(t, e.store, rollup.Options{BatchSize: 2, Progress: func(p rollup.Progress) {
		biggest = max(biggest, p.Folded-prev)
		prev = p.Folded
	}})
	if res.Folded != 5 || biggest > 2 || res.Batches < 3 {
		t.Errorf("runs = %+v, biggest batch %d; want 5 views in batches of at most 2", res, biggest)
	}
	again, err := rollup.Run(ctx, e.store, rollup.Options{})
	if err != nil || again.Folded != 0 {
		t.Errorf("second run = %+v, %v; want nothing folded", again, err)
	}
	per, total := e.rolled(t)
	if per["/a"] != 3 || per["/b"] != 1 || per["/c"] != 1 || total != 5 {
		t.Errorf("rollups = %v total %d", per, total)
	}
}

func TestOutOfOrderCommitIsFoldedOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	a, b := e.conn(t), e.conn(t)

	txA, err := a.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := txA.Exec(ctx, "INSERT INTO views (path) VALUES ('/a')"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Exec(ctx, "INSERT INTO views (path) VALUES ('/b')"); err != nil { // B commits first
		t.Fatal(err)
	}
	if _, err := rollup.Run(ctx, e.store, rollup.Options{}); err != nil {
		t.Fatal(err)
	}
	svc := stats.Service{Store: e.store}
	if n, err := svc.SiteTotal(ctx); err != nil || n != 1 {
		t.Errorf("while A is open: total = %d, %v; want 1 (B only)", n, err)
	}
	if err := txA.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := svc.SiteTotal(ctx); err != nil || n != 2 {
		t.Errorf("after A commits, before the rollup: total = %d, %v; want 2", n, err)
	}
	foldAll(t, e.store, rollup.Options{})
	per, total := e.rolled(t)
	if per["/a"] != 1 || per["/b"] != 1 || total != 2 {
		t.Errorf("rollups = %v total %d; want /a and /b once each", per, total)
	}
	if n, err := svc.SiteTotal(ctx); err != nil || n != 2 {
		t.Errorf("after the rollup: total = %d, %v; want 2", n, err)
	}
}

func TestConcurrentRunsDoNotDoubleCount(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	const n = 2000
	paths := make([]string, n)
	for i := range paths {
		paths[i] = []string{"/x", "/y", "/z"}[i%3]
	}
	if err := e.store.InsertViews(ctx, paths, make([]string, n)); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			_, err := rollup.Run(ctx, e.store, rollup.Options{BatchSize: 100, Wait: true})
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	foldAll(t, e.store, rollup.Options{})
	per, total := e.rolled(t)
	if total != n || per["/x"]+per["/y"]+per["/z"] != n || per["/x"] != 667 {
		t.Errorf("rollups = %v total %d; want %d", per, total, n)
	}
}

func TestStatsCombineRollupsAndTail(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	c := e.conn(t)
	// Two views an hour apart, folded; one more not yet folded.
	now := time.Now().UTC()
	for _, ago := range []time.Duration{2 * time.Hour, time.Hour} {
		if _, err := c.Exec(ctx, "INSERT INTO views (path, viewed_at) VALUES ('/p', $1)", now.Add(-ago)); err != nil {
			t.Fatal(err)
		}
	}
	foldAll(t, e.store, rollup.Options{})
	if err := e.store.InsertViews(ctx, []string{"/p"}, []string{""}); err != nil {
		t.Fatal(err)
	}
	path := "/p"
	q, err := stats.NewQuery(&path, nil, nil, "hour", "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	svc := stats.Service{Store: e.store}
	res, err := svc.Stats(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	var sum, nonZero int64
	for _, p := range res.Series {
		sum += p.Views
		if p.Views > 0 {
			nonZero++
		}
	}
	if res.Total != 3 || sum != 3 || nonZero != 3 || res.Pending != 1 {
		t.Errorf("total %d, series sum %d in %d buckets, pending %d; want 3, 3, 3, 1", res.Total, sum, nonZero, res.Pending)
	}
}
