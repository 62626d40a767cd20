package storage_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/prawnhq/prawn/internal/pgtest"
	"github.com/prawnhq/prawn/internal/storage"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// BenchmarkInsertBatch compares two ways to write one batch of views in one transaction: the
// INSERT ... SELECT unnest(...) that group commit uses (sqlc's InsertViews, every column) and COPY
// (pgx's CopyFrom, path and referrer only: its floor), at batch sizes group commit sees. Each sub-benchmark writes to a fresh database and
// checks that exactly its views are there.
//
//	go test ./internal/storage -run '^$' -bench InsertBatch
func BenchmarkInsertBatch(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{1, 20, 100} {
		views := make([]storage.View, n)
		paths := make([]string, n)
		referrers := make([]string, n)
		for i := range n {
			paths[i] = fmt.Sprintf("/bench/%d", i)
			referrers[i] = "https://example.com/"
			views[i] = storage.View{Path: paths[i], Referrer: referrers[i], RefHost: "example.com", Browser: "Firefox",
				OS: "Linux", Device: "desktop", Visitor: int64(i + 1)}
		}
		b.Run(fmt.Sprintf("unnest/%d", n), func(b *testing.B) {
			url := pgtest.URL(b)
			s, err := storage.Open(ctx, url, storage.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			for b.Loop() {
				if err := s.InsertViews(ctx, views); err != nil {
					b.Fatal(err)
				}
			}
			reportAndCheck(b, url, n)
		})
		b.Run(fmt.Sprintf("copy/%d", n), func(b *testing.B) {
			url := pgtest.URL(b)
			pool, err := pgxpool.New(ctx, url)
			if err != nil {
				b.Fatal(err)
			}
			defer pool.Close()
			for b.Loop() {
				rows := pgx.CopyFromSlice(n, func(i int) ([]any, error) { return []any{paths[i], referrers[i]}, nil })
				if _, err := pool.CopyFrom(ctx, pgx.Identifier{"views"}, []string{"path", "referrer"}, rows); err != nil {
					b.Fatal(err)
				}
			}
			reportAndCheck(b, url, n)
		})
	}
}

func reportAndCheck(b *testing.B, url string, n int) {
	b.Helper()
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "views/s")
	var got int64
	for _, c := range pgtest.Counts(b, url, "SELECT path, count(*) FROM views GROUP BY path") {
		got += c
	}
	if want := int64(n * b.N); got != want {
		b.Fatalf("%d views in the database, want %d", got, want)
	}
}
