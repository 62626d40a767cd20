package storage_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/prawnhq/prawn/internal/pgtest"
	"github.com/prawnhq/prawn/internal/rollup"
	"github.com/prawnhq/prawn/internal/storage"
)

// BenchmarkCounterRead measures the reads behind counters — the site's all-time views (GET
// /api/home) and one path's (the badges) — over 100 000 folded views and a tail of 0 to 100 000
// views not yet folded, and checks their answers: with the tail's counts held by the store
// (counts=held: counted once before the timed loop) and without (counts=walked: each read walks
// the whole tail, as before the store held counts).
//
//	go test ./internal/storage -run '^$' -bench CounterRead
func BenchmarkCounterRead(b *testing.B) {
	for _, tail := range []int{0, 1_000, 10_000, 100_000} {
		for _, held := range []bool{false, true} {
			name := fmt.Sprintf("tail=%d/counts=walked", tail)
			if held {
				name = fmt.Sprintf("tail=%d/counts=held", tail)
			}
			b.Run(name, func(b *testing.B) { benchCounterRead(b, tail, held) })
		}
	}
}

func benchCounterRead(b *testing.B, tail int, held bool) {
	db := pgtest.New(b)
	seed := storage.Seed{Host: "bench.example", Paths: 100, Referrers: 10, VisitorPool: 1000, End: time.Now(), Span: time.Hour}
	if _, err := db.SeedViews(ctx, 100_000, seed); err != nil {
		b.Fatal(err)
	}
	db.FoldAll(b)
	if tail > 0 {
		if _, err := db.SeedViews(ctx, tail, seed); err != nil {
			b.Fatal(err)
		}
	}
	db.Exec(b, "VACUUM ANALYZE")
	if held {
		pgtest.Eventually(b, 30*time.Second, func() error {
			if err := db.CountTail(ctx); err != nil {
				return err
			}
			if site, _, _ := db.HeldTail(); site != int64(tail) {
				return fmt.Errorf("held %d of the tail's %d views (another transaction holds the horizon back)", site, tail)
			}
			return nil
		})
	} else {
		db.HoldNoTail()
	}
	want := db.Counts(b, "SELECT 'all', count(*) FROM views")["all"]
	wantPath := db.Counts(b, "SELECT 'p', count(*) FROM views WHERE host = 'bench.example' AND path = '/page/1'")["p"]
	for b.Loop() {
		n, err := db.SiteViews(ctx)
		if err != nil || n != want {
			b.Fatalf("site views = %d, %v; want %d", n, err, want)
		}
		n, err = db.ScopeViews(ctx, "bench.example", "/page/1")
		if err != nil || n != wantPath {
			b.Fatalf("views of /page/1 = %d, %v; want %d", n, err, wantPath)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(2*b.N), "µs/read")
}

// BenchmarkFoldTail measures the background fold of a tail in memory (see Store.FoldTail): the
// time of one fold of 100 000 views not yet folded, and the heap the held fold takes, per view
// and per visitor-day, with few visitors (1 000) and with about one per view (100 000).
//
//	go test ./internal/storage -run '^$' -bench FoldTail
func BenchmarkFoldTail(b *testing.B) {
	for _, visitors := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("views=100000/visitors=%d", visitors), func(b *testing.B) {
			db := pgtest.New(b)
			db.HoldTailFolds(rollup.Compute, 1<<30)
			seed := storage.Seed{Host: "bench.example", Paths: 1000, Referrers: 200, VisitorPool: visitors, End: time.Now(), Span: time.Hour}
			const tail = 100_000
			if _, err := db.SeedViews(ctx, tail, seed); err != nil {
				b.Fatal(err)
			}
			db.Exec(b, "VACUUM ANALYZE")
			fold := func() {
				pgtest.Eventually(b, 30*time.Second, func() error {
					if _, err := db.FoldTail(ctx); err != nil {
						return err
					}
					if n, _, _, _ := db.HeldFold(); n != tail {
						return fmt.Errorf("held the fold of %d of the tail's %d views (another transaction holds the horizon back)", n, tail)
					}
					return nil
				})
			}
			fold()
			var m0, m1 runtime.MemStats
			db.HoldNoFold()
			runtime.GC()
			runtime.ReadMemStats(&m0)
			fold()
			runtime.GC()
			runtime.ReadMemStats(&m1)
			_, vds, keys, _ := db.HeldFold()
			heap := float64(m1.HeapAlloc) - float64(m0.HeapAlloc)
			for b.Loop() {
				db.HoldNoFold() // else the next fold is of the views since this one's: none
				fold()
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/fold")
			b.ReportMetric(heap/tail, "heapB/view")
			b.ReportMetric(heap/float64(vds+keys), "heapB/(visitor-day+key)")
			b.ReportMetric(float64(vds), "visitor-days")
			b.ReportMetric(float64(keys), "keys")
		})
	}
}
