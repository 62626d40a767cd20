// Command benchrollup measures what docs/benchmarks.md reports about rollups: the time to fold new
// views with an empty history and with a large one, views folded per second, and reading a 30-day
// hourly series from the rollups versus aggregating the raw rows on each request. It is
// `make bench/rollup`: it prints the report and rewrites the generated part of the "Rollups"
// section of docs/benchmarks.md (-out; "-" writes nothing).
//
// The database is a private cluster in a temp folder unless BENCH_DATABASE_URL names an empty
// database (its tables are truncated).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/prawnhq/prawn/internal/pgembed"
	"github.com/prawnhq/prawn/internal/rollup"
	"github.com/prawnhq/prawn/internal/stats"
	"github.com/prawnhq/prawn/internal/storage"
	"github.com/prawnhq/prawn/scripts/internal/benchdoc"
)

func main() {
	history := flag.Int("history", 10_000_000, "views of history (spread over 30 days)")
	newViews := flag.Int("new", 100_000, "new views folded in each timed run (spread over the last hour)")
	reps := flag.Int("reps", 5, "timed fold runs per history size")
	reads := flag.Int("reads", 200, "timed reads from the rollups")
	rawReads := flag.Int("raw-reads", 10, "timed reads aggregating raw rows")
	flag.IntVar(&batchSize, "batch", rollup.DefaultBatchSize, "views per fold transaction in the timed folds")
	out := flag.String("out", "docs/benchmarks.md", `document whose Rollups section is rewritten; "-" writes nothing`)
	flag.Parse()
	if err := report(*out, *history, *newViews, *reps, *reads, *rawReads); err != nil {
		fmt.Fprintln(os.Stderr, "benchrollup:", err)
		os.Exit(1)
	}
}

// report measures, prints the section and writes it into the document out.
func report(out string, history, newViews, reps, reads, rawReads int) error {
	root, err := benchdoc.Root()
	if err != nil {
		return err
	}
	if err := os.Chdir(root); err != nil {
		return err
	}
	start, loadBefore := time.Now(), benchdoc.LoadAvg()
	var table strings.Builder
	db, err := run(&table, history, newViews, reps, reads, rawReads)
	if err != nil {
		return err
	}
	cmd := strings.TrimSpace("go run ./scripts/benchrollup " + strings.Join(os.Args[1:], " "))
	body := benchdoc.Generated(fmt.Sprintf("`make bench/rollup` (`%s`)", cmd), start, time.Since(start)) + "\n\n" +
		fmt.Sprintf("- Machine: %s; load average before the run: %s, after: %s; prawn %s\n", benchdoc.ThisHost(), loadBefore, benchdoc.LoadAvg(), benchdoc.Commit()) +
		"- Database: " + db + "\n" +
		`- "New views" are spread over the last hour across 1000 paths (as a live site's views are);
  the history is spread over 30 days across 1000 paths, folded before the timed runs. Before every
  timed fold: ` + "`VACUUM ANALYZE views` and `CHECKPOINT`" + `, so both sides start equal.
- Reads run the same code as ` + "`GET /api/stats`" + ` (no HTTP) for the site total plus 30 days hourly
  (721 buckets), against the same answer from ` + "`count(*)` and a `GROUP BY`" + ` hour over the raw rows.

` + table.String()
	fmt.Print(body)
	if out == "-" {
		return nil
	}
	if err := benchdoc.Write(out, benchdoc.Section{Name: "rollups", Heading: "## Rollups", By: "make bench/rollup", Body: body}); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "wrote the Rollups section of", out)
	return nil
}

// batchSize is the fold batch of the timed runs.
var batchSize int

// run measures and writes the results table to w; it returns the database's description.
func run(w io.Writer, history, newViews, reps, reads, rawReads int) (string, error) {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	url := os.Getenv("BENCH_DATABASE_URL")
	where := "the database of BENCH_DATABASE_URL"
	if url == "" {
		where = "a private cluster (internal/pgembed) in a temp folder"
		dir, err := os.MkdirTemp("", "prawn-bench-")
		if err != nil {
			return "", err
		}
		defer os.RemoveAll(dir)
		if err := os.Chmod(dir, 0o755); err != nil {
			return "", err
		}
		c, err := pgembed.Open(ctx, filepath.Join(dir, "data"), log)
		if err != nil {
			return "", err
		}
		defer c.Close()
		url = c.URL()
	}
	store, err := storage.Open(ctx, url, storage.Options{MaxConns: 4})
	if err != nil {
		return "", err
	}
	defer store.Close()
	if _, err := store.Migrate(ctx); err != nil {
		return "", err
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	var version, fsync string
	if err := conn.QueryRow(ctx, "SELECT current_setting('server_version'), current_setting('fsync')").Scan(&version, &fsync); err != nil {
		return "", err
	}
	exec := func(sql string) error { _, err := conn.Exec(ctx, sql); return err }
	if err := exec("TRUNCATE views, hourly_stats, daily_stats, totals, daily_breakdowns, visitor_days; UPDATE rollup_state SET folded_xid = '0', folded_id = 0"); err != nil {
		return "", err
	}

	foldNew := func() (time.Duration, error) {
		if _, err := store.SeedViews(ctx, newViews, seedOf(time.Now(), time.Hour, newViews)); err != nil {
			return 0, err
		}
		// Same starting line for every timed fold: statistics fresh, no checkpoint pending from
		// the writes before it.
		if err := exec("VACUUM ANALYZE views"); err != nil {
			return 0, err
		}
		if err := exec("CHECKPOINT"); err != nil {
			return 0, err
		}
		res, err := rollup.Run(ctx, store, rollup.Options{Wait: true, BatchSize: batchSize})
		if err != nil {
			return 0, err
		}
		if res.Folded != int64(newViews) {
			return 0, fmt.Errorf("folded %d views, want %d", res.Folded, newViews)
		}
		return res.Duration, nil
	}
	var empty, full []time.Duration
	for range reps {
		d, err := foldNew()
		if err != nil {
			return "", err
		}
		empty = append(empty, d)
	}

	fmt.Fprintf(os.Stderr, "seeding %d views of history...\n", history)
	t0 := time.Now()
	for done := 0; done < history; done += 1_000_000 {
		n := min(1_000_000, history-done)
		span := time.Duration(float64(30*24*time.Hour) * float64(n) / float64(history))
		end := time.Now().Add(-time.Hour).Add(-time.Duration(float64(30*24*time.Hour) * float64(history-done-n) / float64(history)))
		if _, err := store.SeedViews(ctx, n, seedOf(end, span, n)); err != nil {
			return "", err
		}
	}
	seedDur := time.Since(t0)
	if err := exec("VACUUM ANALYZE"); err != nil {
		return "", err
	}
	fmt.Fprintf(os.Stderr, "folding the history...\n")
	histRes, err := rollup.Run(ctx, store, rollup.Options{Wait: true, BatchSize: 500_000})
	if err != nil {
		return "", err
	}
	if err := exec("VACUUM ANALYZE"); err != nil {
		return "", err
	}
	for range reps {
		d, err := foldNew()
		if err != nil {
			return "", err
		}
		full = append(full, d)
	}

	// Reads: the site's total and 30 days hourly, as GET /api/stats computes it, versus the same
	// answer aggregated from the raw rows on each request.
	svc := stats.Service{Store: store}
	from := time.Now().Add(-30 * 24 * time.Hour)
	q, err := stats.NewQuery(stats.Scope{}, &from, nil, "hour", "", time.Now())
	if err != nil {
		return "", err
	}
	var rolled []time.Duration
	var rolledTotal int64
	for range reads {
		t := time.Now()
		res, err := svc.Stats(ctx, q)
		if err != nil {
			return "", err
		}
		rolled = append(rolled, time.Since(t))
		rolledTotal = res.Total.Views
	}
	var raw []time.Duration
	var rawTotal int64
	for range rawReads {
		t := time.Now()
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM views").Scan(&rawTotal); err != nil {
			return "", err
		}
		rows, err := conn.Query(ctx, `SELECT date_bin('1 hour', viewed_at, '2000-01-01 00:00:00+00') AS h, count(*)
			FROM views WHERE viewed_at >= $1 AND viewed_at < $2 GROUP BY 1 ORDER BY 1`, q.From, q.To)
		if err != nil {
			return "", err
		}
		n := 0
		for rows.Next() {
			n++
		}
		if err := rows.Err(); err != nil {
			return "", err
		}
		raw = append(raw, time.Since(t))
	}
	if rawTotal != rolledTotal {
		return "", fmt.Errorf("raw total %d != rollup total %d", rawTotal, rolledTotal)
	}

	med := func(d []time.Duration) time.Duration { s := slices.Clone(d); slices.Sort(s); return s[len(s)/2] }
	pct := func(d []time.Duration, p float64) time.Duration {
		s := slices.Clone(d)
		slices.Sort(s)
		return s[min(len(s)-1, int(float64(len(s))*p))]
	}
	rate := func(n int, d time.Duration) float64 { return float64(n) / d.Seconds() }
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

	fmt.Fprintf(w, "| measurement (fold batches of %d views) | result |\n|---|---|\n", batchSize)
	fmt.Fprintf(w, "| fold %d new views, empty history (median of %d) | %s (%.0f views/s) |\n", newViews, reps, ms(med(empty)), rate(newViews, med(empty)))
	fmt.Fprintf(w, "| fold %d new views, %d views of history (median of %d) | %s (%.0f views/s) |\n", newViews, history, reps, ms(med(full)), rate(newViews, med(full)))
	fmt.Fprintf(w, "| ratio full / empty history | **%.2f** (goal ≤ 1.2) |\n", med(full).Seconds()/med(empty).Seconds())
	fmt.Fprintf(w, "| seed %d views of history (30 days, 1000 paths) | %s (%.0f views/s) |\n", history, seedDur.Round(time.Millisecond), rate(history, seedDur))
	fmt.Fprintf(w, "| fold that history (batches of 500 000) | %s (%.0f views/s) |\n", histRes.Duration.Round(time.Millisecond), rate(int(histRes.Folded), histRes.Duration))
	fmt.Fprintf(w, "| read total + 30 days hourly from rollups (%d reads) | p50 %s, p99 %s |\n", reads, ms(pct(rolled, 0.5)), ms(pct(rolled, 0.99)))
	fmt.Fprintf(w, "| same answer aggregating raw rows (%d reads) | p50 %s, p99 %s |\n", rawReads, ms(pct(raw, 0.5)), ms(pct(raw, 0.99)))
	fmt.Fprintf(w, "| read speed-up, rollups vs raw (p50) | **%.0f×** |\n", pct(raw, 0.5).Seconds()/pct(rolled, 0.5).Seconds())
	fmt.Fprintf(w, "\nEvery fold run: empty history %v; full history %v.\n", empty, full)
	return fmt.Sprintf("PostgreSQL %s, fsync=%s, default settings; %s.", version, fsync, where), nil
}

// seedOf is the synthetic traffic of the benchmark: 1 000 paths, 200 referrer hosts, about three
// views per visitor and day, n views over span before end, in time order.
func seedOf(end time.Time, span time.Duration, n int) storage.Seed {
	perDay := float64(n) * float64(24*time.Hour) / float64(max(span, time.Minute))
	return storage.Seed{Paths: 1000, Referrers: 200, VisitorPool: max(int(perDay/3), 1), End: end, Span: span}
}
