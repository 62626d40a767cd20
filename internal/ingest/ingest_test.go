package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/prawnhq/prawn/internal/httpapi"
	"github.com/prawnhq/prawn/internal/ingest"
	"github.com/prawnhq/prawn/internal/pageview"
	"github.com/prawnhq/prawn/internal/pgtest"
	"github.com/prawnhq/prawn/internal/storage"
)

// TestMain runs the tests, then checks that no goroutine of a Batcher outlived its Close.
func TestMain(m *testing.M) {
	code := pgtest.Main(m)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

var quiet = slog.New(slog.DiscardHandler)

// db is a fresh database: a store to record into and a way to count what was committed.
type db struct {
	*pgtest.DB
	store *storage.Store
}

func newDB(t *testing.T) db {
	t.Helper()
	d := pgtest.New(t)
	return db{DB: d, store: d.Store}
}

// counts returns how many times each path was committed.
func (d db) counts(t *testing.T) map[string]int64 {
	t.Helper()
	return d.Counts(t, "SELECT path, count(*) FROM views GROUP BY path")
}

// hookStore passes batches to inner after calling before, which may fail the batch (nothing is
// inserted then) or block it.
type hookStore struct {
	inner   pageview.Store
	before  func(paths []string) error
	batches atomic.Int64
	views   atomic.Int64
}

func (h *hookStore) InsertViews(ctx context.Context, views []storage.View) error {
	h.batches.Add(1)
	h.views.Add(int64(len(views)))
	if h.before != nil {
		paths := make([]string, len(views))
		for i, v := range views {
			paths[i] = v.Path
		}
		if err := h.before(paths); err != nil {
			return err
		}
	}
	return h.inner.InsertViews(ctx, views)
}

// gate blocks the batches that reach it until it is opened.
type gate struct {
	arrived chan []string
	open    chan struct{}
	once    sync.Once
}

func newGate() *gate { return &gate{arrived: make(chan []string, 100), open: make(chan struct{})} }

func (g *gate) before(paths []string) error {
	g.arrived <- paths
	<-g.open
	return nil
}

func (g *gate) release() { g.once.Do(func() { close(g.open) }) }

// waitArrived waits until a batch reaches the gate and returns its paths.
func (g *gate) waitArrived(t *testing.T) []string {
	t.Helper()
	select {
	case p := <-g.arrived:
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("no batch reached the store")
		return nil
	}
}

// recordAll records n views of distinct paths from n goroutines and returns each one's error.
func recordAll(ctx context.Context, r pageview.Recorder, prefix string, n int) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = r.Record(ctx, pageview.View{Path: fmt.Sprintf("%s/%d", prefix, i), Referrer: "https://example.com/"})
		})
	}
	wg.Wait()
	return errs
}

func TestConcurrentViewsAreCommittedOnceAndBatched(t *testing.T) {
	t.Parallel()
	d := newDB(t)
	hs := &hookStore{inner: d.store}
	b := ingest.New(hs, ingest.Options{Log: quiet})
	defer b.Close()
	const n = 2000
	for i, err := range recordAll(t.Context(), b, "/c", n) {
		if err != nil {
			t.Fatalf("view %d: %v", i, err)
		}
	}
	got := d.counts(t)
	if len(got) != n {
		t.Fatalf("%d distinct paths committed, want %d", len(got), n)
	}
	for p, c := range got {
		if c != 1 {
			t.Errorf("%s committed %d times", p, c)
		}
	}
	if hs.views.Load() != n {
		t.Errorf("store saw %d views, want %d", hs.views.Load(), n)
	}
	t.Logf("%d views in %d batches", n, hs.batches.Load())
	if hs.batches.Load() >= n {
		t.Errorf("%d batches for %d concurrent views: no batching happened", hs.batches.Load(), n)
	}
}

// TestMaxBatchAndMaxWaitBoundABatch: no batch carries more than MaxBatch views, and a flusher
// gathering under load (another batch committing) stops after MaxWait even while views keep
// arriving, so their latency stays bounded.
func TestMaxBatchAndMaxWaitBoundABatch(t *testing.T) {
	t.Parallel()
	d := newDB(t)
	var biggest atomic.Int64
	sizes := func(paths []string) {
		for n := int64(len(paths)); ; {
			if b := biggest.Load(); n <= b || biggest.CompareAndSwap(b, n) {
				return
			}
		}
	}
	b := ingest.New(&hookStore{inner: d.store, before: func(p []string) error { sizes(p); return nil }},
		ingest.Options{MaxBatch: 7, MaxWait: 20 * time.Millisecond, Flushers: 3, Log: quiet})
	defer b.Close()
	const n = 300
	for i, err := range recordAll(t.Context(), b, "/w", n) {
		if err != nil {
			t.Fatalf("view %d: %v", i, err)
		}
	}
	if got := d.counts(t); len(got) != n {
		t.Fatalf("%d distinct paths committed, want %d", len(got), n)
	}
	if biggest.Load() > 7 || biggest.Load() < 2 {
		t.Errorf("the biggest batch had %d views; want at most MaxBatch 7 (and some batching)", biggest.Load())
	}

	// MaxWait: the first batch's commit is held, so the next flusher gathers under load. Views
	// trickle in for 2 s; with MaxWait 100 ms its batch must reach the store long before the
	// trickle ends, and hold only a part of it (MaxBatch is far away).
	g := newGate()
	var first atomic.Bool
	var gathered atomic.Int64
	w := ingest.New(&hookStore{inner: d.store, before: func(p []string) error {
		if first.CompareAndSwap(false, true) {
			return g.before(p)
		}
		gathered.CompareAndSwap(0, int64(len(p)))
		return nil
	}}, ingest.Options{MaxBatch: 10_000, MaxWait: 100 * time.Millisecond, Flushers: 2, Log: quiet})
	defer w.Close()
	defer g.release()
	go func() { _ = w.Record(context.Background(), pageview.View{Path: "/held"}) }()
	g.waitArrived(t)
	stop := time.After(2 * time.Second)
	var sent int64
	var wg sync.WaitGroup
trickle:
	for i := 0; ; i++ {
		select {
		case <-stop:
			break trickle
		case <-time.After(5 * time.Millisecond):
		}
		sent++
		wg.Go(func() { _ = w.Record(context.Background(), pageview.View{Path: fmt.Sprintf("/trickle/%d", i)}) })
		if gathered.Load() > 0 {
			break // the gathering flusher gave up waiting while views were still coming
		}
	}
	if g := gathered.Load(); g == 0 || g >= sent {
		t.Errorf("under load, the gathering flusher committed %d of %d views that arrived over 2 s; MaxWait 100 ms must end its batch early", g, sent)
	}
	g.release()
	wg.Wait()
}

// TestLoneViewDoesNotWait: with nothing else waiting and nothing committing, a view is committed
// at once, however long MaxWait is.
func TestLoneViewDoesNotWait(t *testing.T) {
	t.Parallel()
	d := newDB(t)
	b := ingest.New(d.store, ingest.Options{MaxWait: time.Minute, Log: quiet})
	defer b.Close()
	for i := range 3 {
		start := time.Now()
		if err := b.Record(t.Context(), pageview.View{Path: fmt.Sprintf("/lone/%d", i)}); err != nil {
			t.Fatal(err)
		}
		// A wait would last the whole minute; a commit takes milliseconds.
		if took := time.Since(start); took > 20*time.Second {
			t.Fatalf("lone view %d took %s: it waited for a batch", i, took)
		}
	}
	if got := d.counts(t); len(got) != 3 {
		t.Fatalf("committed %v, want 3 views", got)
	}
}

// TestOneFlusherGathersWhileOthersCommit: while a batch is committing, the views that arrive are
// gathered by one flusher into one batch, not split among the idle flushers.
func TestOneFlusherGathersWhileOthersCommit(t *testing.T) {
	t.Parallel()
	d := newDB(t)
	g := newGate()
	var first atomic.Bool
	hs := &hookStore{inner: d.store, before: func(paths []string) error {
		if first.CompareAndSwap(false, true) {
			return g.before(paths) // the first batch holds its commit until the gate opens
		}
		return nil
	}}
	b := ingest.New(hs, ingest.Options{Flushers: 4, MaxWait: 300 * time.Millisecond, Log: quiet})
	defer b.Close()

	firstDone := make(chan error, 1)
	go func() { firstDone <- b.Record(t.Context(), pageview.View{Path: "/g/first"}) }()
	g.waitArrived(t) // the lone first view is committing (and held)
	// Twenty views arrive one by one, 5 ms apart, while the first commit is in flight: well
	// within MaxWait, so one flusher gathers them all.
	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = b.Record(t.Context(), pageview.View{Path: fmt.Sprintf("/g/%d", i)}) })
		time.Sleep(5 * time.Millisecond)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("view %d: %v", i, err)
		}
	}
	g.release()
	if err := <-firstDone; err != nil {
		t.Fatal(err)
	}
	if got := d.counts(t); len(got) != n+1 {
		t.Fatalf("%d paths committed, want %d", len(got), n+1)
	}
	// Allow a second batch for views that arrive after the gatherer has committed.
	if got := hs.batches.Load(); got > 3 {
		t.Errorf("%d batches for 1 + %d views gathered during a commit, want at most 3", got, n)
	}
	t.Logf("%d batches", hs.batches.Load())
}

// TestFailedBatchesFailExactlyTheirViews fails every third batch and checks that a view is in the
// database exactly when its Record returned nil.
func TestFailedBatchesFailExactlyTheirViews(t *testing.T) {
	t.Parallel()
	d := newDB(t)
	var k atomic.Int64
	boom := errors.New("injected failure")
	hs := &hookStore{inner: d.store, before: func([]string) error {
		if k.Add(1)%3 == 1 {
			return boom
		}
		return nil
	}}
	b := ingest.New(hs, ingest.Options{MaxBatch: 16, Flushers: 3, Log: quiet})
	defer b.Close()
	const n = 1500
	errs := recordAll(t.Context(), b, "/f", n)
	got := d.counts(t)
	var failed int
	for i, err := range errs {
		p := fmt.Sprintf("/f/%d", i)
		switch {
		case err == nil && got[p] != 1:
			t.Errorf("%s acknowledged but committed %d times", p, got[p])
		case err != nil && !errors.Is(err, boom):
			t.Errorf("%s: error %v does not wrap the batch's failure", p, err)
		case err != nil && got[p] != 0:
			t.Errorf("%s failed but committed %d times", p, got[p])
		}
		if err != nil {
			failed++
		}
	}
	if failed == 0 || failed == n {
		t.Errorf("%d of %d views failed; want some but not all", failed, n)
	}
}

// TestDatabaseGoneFailsEveryView closes the store after a few batches under load: every view
// either committed once with a nil error or was reported failed and is absent.
func TestDatabaseGoneFailsEveryView(t *testing.T) {
	t.Parallel()
	d := newDB(t)
	s, err := storage.Open(context.Background(), d.URL, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var k atomic.Int64
	hs := &hookStore{inner: s, before: func([]string) error {
		if k.Add(1) == 4 {
			s.Close() // this batch and every later one fail
		}
		return nil
	}}
	b := ingest.New(hs, ingest.Options{MaxBatch: 8, Flushers: 1, Log: quiet}) // batches one after another: the first three commit
	defer b.Close()
	const n = 1000
	errs := recordAll(t.Context(), b, "/g", n)
	got := d.counts(t)
	var failed int
	for i, err := range errs {
		p := fmt.Sprintf("/g/%d", i)
		if (err == nil) != (got[p] == 1) || got[p] > 1 {
			t.Errorf("%s: Record = %v, committed %d times", p, err, got[p])
		}
		if err != nil {
			failed++
		}
	}
	if failed == 0 || failed == n {
		t.Errorf("%d of %d views failed; want some but not all", failed, n)
	}
	if err := b.Record(t.Context(), pageview.View{Path: "/g/after"}); err == nil {
		t.Error("Record on a closed store succeeded")
	}
	t.Logf("%d of %d views failed after the store closed", failed, n)
}

func TestUnreachableDatabaseIsUnavailable(t *testing.T) {
	t.Parallel()
	s, err := storage.Open(context.Background(), "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2", storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b := ingest.New(s, ingest.Options{Log: quiet})
	defer b.Close()
	for i, err := range recordAll(t.Context(), b, "/u", 20) {
		if !errors.Is(err, pageview.ErrUnavailable) {
			t.Errorf("view %d: err = %v, want pageview.ErrUnavailable", i, err)
		}
	}
}

func TestCloseDrainsTheQueue(t *testing.T) {
	t.Parallel()
	d := newDB(t)
	g := newGate()
	hs := &hookStore{inner: d.store, before: g.before}
	b := ingest.New(hs, ingest.Options{Flushers: 1, Log: quiet})
	const n = 200
	var errs []error
	done := make(chan struct{})
	go func() { errs = recordAll(context.Background(), b, "/d", n); close(done) }()
	g.waitArrived(t) // the first batch is in flight, the rest queue behind it
	pgtest.Eventually(t, 10*time.Second, func() error {
		if q, in := b.Waiting(), hs.views.Load(); int64(q)+in != n {
			return fmt.Errorf("%d views queued and %d in flight, want %d in all", q, in, n)
		}
		return nil
	})
	closed := make(chan struct{})
	go func() { _ = b.Close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned while a batch was still in flight")
	case <-time.After(50 * time.Millisecond):
	}
	if err := b.Record(context.Background(), pageview.View{Path: "/late"}); !errors.Is(err, ingest.ErrClosed) || !errors.Is(err, pageview.ErrOverloaded) {
		t.Errorf("Record after Close = %v, want ErrClosed (an ErrOverloaded)", err)
	}
	g.release()
	<-closed
	<-done
	got := d.counts(t)
	for i, err := range errs {
		p := fmt.Sprintf("/d/%d", i)
		if err == nil && got[p] != 1 || err != nil && got[p] != 0 {
			t.Errorf("%s: Record = %v, committed %d times", p, err, got[p])
		}
		if err != nil && !errors.Is(err, ingest.ErrClosed) {
			t.Errorf("%s: %v", p, err)
		}
	}
	if got["/late"] != 0 {
		t.Error("a view refused after Close was committed")
	}
	if len(got) < n/2 {
		t.Errorf("only %d of %d views committed: the queue was not drained", len(got), n)
	}
}

func TestFullQueueFailsFastWithoutLosingAcknowledgedViews(t *testing.T) {
	t.Parallel()
	d := newDB(t)
	g := newGate()
	hs := &hookStore{inner: d.store, before: g.before}
	const queue = 8
	b := ingest.New(hs, ingest.Options{Flushers: 1, Queue: queue, Log: quiet})
	defer b.Close()

	results := make(chan error, 100)
	record := func(p string) { go func() { results <- b.Record(context.Background(), pageview.View{Path: p}) }() }
	record("/q/first")
	g.waitArrived(t) // the flusher is stuck committing /q/first; the queue is empty
	const n = 40
	var acked, refused atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		wg.Go(func() {
			err := b.Record(context.Background(), pageview.View{Path: fmt.Sprintf("/q/%d", i)})
			switch {
			case err == nil:
				acked.Add(1)
			case errors.Is(err, ingest.ErrQueueFull) && errors.Is(err, pageview.ErrOverloaded):
				refused.Add(1)
			default:
				t.Errorf("view %d: %v", i, err)
			}
		})
	}
	// The views beyond the queue's room are refused while the gate is still shut.
	pgtest.Eventually(t, 10*time.Second, func() error {
		if r := refused.Load(); r != n-queue {
			return fmt.Errorf("%d views refused while the queue was full, want %d", r, n-queue)
		}
		return nil
	})
	t.Logf("%d refusals in %v", refused.Load(), time.Since(start))
	g.release()
	wg.Wait()
	if err := <-results; err != nil {
		t.Fatalf("first view: %v", err)
	}
	if acked.Load() != queue {
		t.Errorf("%d acknowledged, want %d", acked.Load(), queue)
	}
	got := d.counts(t)
	var total int64
	for _, c := range got {
		total += c
	}
	if total != acked.Load()+1 {
		t.Errorf("%d views committed, want %d (acknowledged + first)", total, acked.Load()+1)
	}
}

func TestCancelledContexts(t *testing.T) {
	t.Parallel()
	d := newDB(t)
	g := newGate()
	hs := &hookStore{inner: d.store, before: g.before}
	b := ingest.New(hs, ingest.Options{Flushers: 1, Log: quiet})
	defer b.Close()

	// Cancelled before Record: nothing is queued.
	ctx0, cancel0 := context.WithCancel(context.Background())
	cancel0()
	if err := b.Record(ctx0, pageview.View{Path: "/x/before"}); !errors.Is(err, context.Canceled) {
		t.Errorf("Record with a cancelled context = %v", err)
	}

	// In flight: the caller cancels after the flusher took its view; it still learns the truth.
	ctxA, cancelA := context.WithCancel(context.Background())
	resA := make(chan error, 1)
	go func() { resA <- b.Record(ctxA, pageview.View{Path: "/x/inflight"}) }()
	if p := g.waitArrived(t); len(p) != 1 || p[0] != "/x/inflight" {
		t.Fatalf("first batch = %v", p)
	}
	cancelA()

	// Queued behind it: one caller gives up (withdrawn), the others stay.
	ctxB, cancelB := context.WithCancel(context.Background())
	resB := make(chan error, 1)
	go func() { resB <- b.Record(ctxB, pageview.View{Path: "/x/withdrawn"}) }()
	others := make(chan error, 10)
	for i := range 10 {
		go func() { others <- b.Record(context.Background(), pageview.View{Path: fmt.Sprintf("/x/other/%d", i)}) }()
	}
	pgtest.Eventually(t, 10*time.Second, func() error {
		if q := b.Waiting(); q != 11 {
			return fmt.Errorf("%d views queued, want 11", q)
		}
		return nil
	})
	cancelB()
	if err := <-resB; !errors.Is(err, context.Canceled) {
		t.Errorf("withdrawn view: Record = %v, want context.Canceled", err)
	}
	select {
	case err := <-resA:
		t.Fatalf("in-flight view answered %v before its batch committed", err)
	default:
	}
	g.release()
	if err := <-resA; err != nil {
		t.Errorf("in-flight view whose caller cancelled: Record = %v, want nil (it was committed)", err)
	}
	for range 10 {
		if err := <-others; err != nil {
			t.Errorf("other view: %v", err)
		}
	}
	got := d.counts(t)
	if got["/x/before"] != 0 || got["/x/withdrawn"] != 0 {
		t.Errorf("views given up before a flusher took them were committed: %v", got)
	}
	if got["/x/inflight"] != 1 {
		t.Errorf("in-flight view committed %d times, want 1", got["/x/inflight"])
	}
	for i := range 10 {
		if p := fmt.Sprintf("/x/other/%d", i); got[p] != 1 {
			t.Errorf("%s committed %d times, want 1", p, got[p])
		}
	}
}

// TestHTTPFullQueueIs503 checks the edge's answer to a saturated recorder.
func TestHTTPFullQueueIs503(t *testing.T) {
	t.Parallel()
	d := newDB(t)
	g := newGate()
	b := ingest.New(&hookStore{inner: d.store, before: g.before}, ingest.Options{Flushers: 1, Queue: 1, Log: quiet})
	defer b.Close()
	srv := httptest.NewServer(httpapi.NewHandler(&httpapi.Server{Recorder: b, Log: quiet}, httpapi.Options{Log: quiet}))
	defer srv.Close()
	defer g.release() // first, so the server and the batcher can finish
	post := func() *http.Response {
		resp, err := http.Post(srv.URL+"/api/views", "application/json", strings.NewReader(`{"path":"/h"}`))
		if err != nil {
			t.Error(err)
			return nil
		}
		resp.Body.Close()
		return resp
	}
	go post() // in flight at the gate
	g.waitArrived(t)
	go post() // fills the queue
	pgtest.Eventually(t, 10*time.Second, func() error {
		if q := b.Waiting(); q != 1 {
			return fmt.Errorf("%d views queued, want 1", q)
		}
		return nil
	})
	resp := post()
	if resp == nil {
		return
	}
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("POST on a full queue = %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

func TestNewRecorder(t *testing.T) {
	t.Parallel()
	d := newDB(t)
	for _, mode := range []string{"", ingest.ModeBatch, ingest.ModeDirect} {
		r, err := ingest.NewRecorder(d.store, mode, ingest.Options{Log: quiet})
		if err != nil {
			t.Fatalf("mode %q: %v", mode, err)
		}
		if err := r.Record(t.Context(), pageview.View{Path: "/m/" + mode}); err != nil {
			t.Errorf("mode %q: %v", mode, err)
		}
		if c, ok := r.(interface{ Close() error }); ok {
			c.Close()
		}
	}
	if _, err := ingest.NewRecorder(d.store, "fast", ingest.Options{}); err == nil {
		t.Error("mode fast accepted")
	}
	if got := d.counts(t); len(got) != 3 {
		t.Errorf("committed %v, want three paths", got)
	}
}
