package main

import (
	"context"
	"errors"

	"fmt"
	"io"
	"time"

	"github.com/prawnhq/prawn/internal/app"
	"github.com/prawnhq/prawn/internal/config"
	"github.com/prawnhq/prawn/internal/pageview"
	"github.com/prawnhq/prawn/internal/rollup"
	"github.com/prawnhq/prawn/internal/storage"
)

// timeFlag is an optional RFC 3339 time on the command line.
type timeFlag struct{ t time.Time }

func (f *timeFlag) String() string {
	if f.t.IsZero() {
		return ""
	}
	return f.t.Format(time.RFC3339)
}

func (f *timeFlag) Set(s string) error {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return errors.New("want an RFC 3339 time such as 2026-01-02T15:04:05Z")
	}
	f.t = t
	return nil
}

// openMigrated opens the app and brings the schema up to date, returning the migrations applied.
func openMigrated(ctx context.Context, cfg config.Config) (*app.App, []string, error) {
	a, err := app.Open(ctx, cfg, cfg.Logger())
	if err != nil {
		return nil, nil, err
	}
	applied, err := a.Store.Migrate(ctx)
	if err != nil {
		a.Close()
		return nil, nil, err
	}
	return a, applied, nil
}

func runRollup(ctx context.Context, cfg config.Config, args []string, out io.Writer) error {
	fs := newFlags("rollup [--rebuild --from T --to T]", "Folds every view not yet rolled up into the hourly rollups, in batches of one\n"+
		"transaction each. Safe to run at any time, also while `prawn serve` runs.\n"+
		"With --rebuild, recomputes the rollups of a range from the raw views instead.", out)
	batch := fs.Int("batch", rollup.DefaultBatchSize, "most views folded per transaction")
	wait := fs.Bool("wait", false, "wait for a rollup already running instead of returning at once")
	rebuild := fs.Bool("rebuild", false, "recompute the rollups of [--from, --to) from the raw views")
	var from, to timeFlag
	fs.Var(&from, "from", "with --rebuild: start of the range, RFC 3339, rounded down to a UTC day (default: the first view)")
	fs.Var(&to, "to", "with --rebuild: end of the range, RFC 3339, rounded up to a UTC day (default: the last view)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *batch < 1 {
		return usageError{"rollup: --batch must be at least 1"}
	}
	if !*rebuild && (!from.t.IsZero() || !to.t.IsZero()) {
		return usageError{"rollup: --from and --to need --rebuild"}
	}
	a, _, err := openMigrated(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	if *rebuild {
		res, err := rollup.Rebuild(ctx, a.Store, from.t, to.t)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "rebuilt %s .. %s: %d hourly rows replaced by %d\n",
			res.From.Format(time.RFC3339), res.To.Format(time.RFC3339), res.Removed, res.Written)
		return nil
	}
	var p *progress
	res, err := rollup.Run(ctx, a.Store, rollup.Options{BatchSize: *batch, Wait: *wait, RawRetention: a.RawRetention, Progress: func(pr rollup.Progress) {
		if p == nil {
			p = newProgress("folded", pr.Folded+pr.Remaining, a.Log)
			p.start = time.Now().Add(-pr.Elapsed)
		}
		p.update(pr.Folded, false)
	}})
	if p != nil {
		p.update(res.Folded, true)
	}
	if err != nil {
		return err
	}
	if res.Busy {
		fmt.Fprintln(out, "another rollup is running; nothing done (use --wait to wait for it)")
		return nil
	}
	rate := float64(res.Folded) / max(res.Duration.Seconds(), 1e-9)
	fmt.Fprintf(out, "folded %d views in %d batches in %s (%.0f views/s)\n",
		res.Folded, res.Batches, res.Duration.Round(time.Millisecond), rate)
	return nil
}

// errMismatch makes `prawn verify` exit non-zero after it printed the differences.
var errMismatch = errors.New("the rollups differ from the raw views; repair with: prawn rollup --rebuild --from T --to T")

func runVerify(ctx context.Context, cfg config.Config, args []string, out io.Writer) error {
	fs := newFlags("verify [--from T] [--to T]", "Compares the rollups of whole UTC days (hourly, daily, breakdowns and the visitors'\n"+
		"dedup state) with the raw views they were folded from (recorded and imported), row by row,\n"+
		"and every total with the daily rollups and the imported totals. Prints every difference;\n"+
		"exits 1 if any. Days whose raw views PRAWN_RAW_RETENTION deleted are named and skipped.", out)
	var from, to timeFlag
	fs.Var(&from, "from", "start of the range, RFC 3339 (default: the first view)")
	fs.Var(&to, "to", "end of the range, RFC 3339 (default: the last view)")
	if err := parse(fs, args); err != nil {
		return err
	}
	a, _, err := openMigrated(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	rep, err := rollup.Verify(ctx, a.Store, from.t, to.t)
	if err != nil {
		return err
	}
	span := fmt.Sprintf("%s .. %s", rep.From.Format(time.RFC3339), rep.To.Format(time.RFC3339))
	if !rep.UncheckedFrom.IsZero() {
		fmt.Fprintf(out, "not checked: %s .. %s, whose raw views were deleted (PRAWN_RAW_RETENTION); the totals still are\n",
			rep.UncheckedFrom.Format(time.RFC3339), rep.UncheckedTo.Format(time.RFC3339))
	}
	count := map[string]int{}
	for _, d := range rep.Diffs {
		count[d.Table]++
		if d.Raw == nil {
			fmt.Fprintf(out, "MISMATCH %s %s\n", d.Table, d.Key)
			continue
		}
		fmt.Fprintf(out, "MISMATCH %s %s raw=%v rolled=%v\n", d.Table, d.Key, d.Raw, d.Rolled)
	}
	if !rep.OK() {
		fmt.Fprintf(out, "verify %s: %d differences (hourly %d, daily %d, breakdown %d, visitor_day %d, imported_visitor_day %d, total %d)\n",
			span, len(rep.Diffs), count["hourly"], count["daily"], count["breakdown"], count["visitor_day"], count["imported_visitor_day"], count["total"])
		return errMismatch
	}
	fmt.Fprintf(out, "verify %s: rollups match the raw views\n", span)
	return nil
}

func runSeed(ctx context.Context, cfg config.Config, args []string, out io.Writer) error {
	fs := newFlags("seed --views N [--days D] [--paths P]", "Generates synthetic views spread over the last D days (not yet rolled up), in time\n"+
		"order, with visitors, referrers, campaigns, browsers, systems, devices and countries, in\n"+
		"transactions of --chunk views; then refreshes the planner's statistics. For demos and\n"+
		"benchmarks: never on a real site.", out)
	views := fs.Int64("views", 0, "how many views to generate (required)")
	days := fs.Int("days", 30, "spread the views over this many days before now")
	paths := fs.Int("paths", 1000, "how many distinct paths (/page/0 ...)")
	host := fs.String("host", "", "the host of the views (default: the default site)")
	referrers := fs.Int("referrers", 200, "how many distinct referrer hosts (about 40 % of views have one)")
	perVisitor := fs.Int("views-per-visitor", 3, "about how many views each visitor makes a day")
	chunk := fs.Int("chunk", 500_000, "views per transaction")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case *views < 1:
		return usageError{"seed: --views must be at least 1"}
	case *days < 1 || *days > 3650:
		return usageError{"seed: --days must be from 1 to 3650"}
	case *paths < 1 || *paths > 1_000_000:
		return usageError{"seed: --paths must be from 1 to 1000000"}
	case *referrers < 1 || *referrers > 1_000_000:
		return usageError{"seed: --referrers must be from 1 to 1000000"}
	case *perVisitor < 1 || *perVisitor > 1000:
		return usageError{"seed: --views-per-visitor must be from 1 to 1000"}
	case *chunk < 1 || *chunk > 10_000_000:
		return usageError{"seed: --chunk must be from 1 to 10000000"}
	}
	h, err := pageview.NormalizeHost(*host)
	if err != nil {
		return usageError{"seed: --host: " + err.Error()}
	}
	a, _, err := openMigrated(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	p := newProgress("seeded", *views, a.Log)
	if err := seed(ctx, a.Store, *views, *chunk, storage.Seed{Host: h, Paths: *paths, Referrers: *referrers,
		End: time.Now(), Span: time.Duration(*days) * 24 * time.Hour}, *perVisitor, func(done int64) { p.update(done, done == *views) }); err != nil {
		return err
	}
	el := time.Since(p.start)
	fmt.Fprintf(out, "seeded %d views over %d days in %s (%.0f views/s); run `prawn rollup` to fold them\n",
		*views, *days, el.Round(time.Millisecond), float64(*views)/max(el.Seconds(), 1e-9))
	return nil
}

// seed writes n synthetic views in chunks, each a consecutive slice of the span in time order,
// then refreshes the planner's statistics.
func seed(ctx context.Context, store *storage.Store, n int64, chunk int, s storage.Seed, perVisitor int, progress func(int64)) error {
	end, span := s.End, s.Span
	var done int64
	for done < n {
		c := min(int64(chunk), n-done)
		s.Span = time.Duration(float64(span) * float64(c) / float64(n))
		s.End = end.Add(-time.Duration(float64(span) * float64(n-done-c) / float64(n)))
		perDay := float64(c) * float64(24*time.Hour) / float64(max(s.Span, time.Minute))
		s.VisitorPool = max(int(perDay/float64(perVisitor)), 1)
		if _, err := store.SeedViews(ctx, int(c), s); err != nil {
			return err
		}
		done += c
		progress(done)
	}
	return store.Analyze(ctx)
}
