package main

import (
	"context"
	"errors"

	"fmt"
	"io"
	"time"

	"github.com/prawnhq/prawn/internal/app"
	"github.com/prawnhq/prawn/internal/config"
	"github.com/prawnhq/prawn/internal/rollup"
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
	fs.Var(&from, "from", "with --rebuild: start of the range, RFC 3339 (default: the first view)")
	fs.Var(&to, "to", "with --rebuild: end of the range, RFC 3339 (default: the last view)")
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
	res, err := rollup.Run(ctx, a.Store, rollup.Options{BatchSize: *batch, Wait: *wait, Progress: func(pr rollup.Progress) {
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
	fs := newFlags("verify [--from T] [--to T]", "Compares the hourly rollups with the raw views they were folded from, (path, hour) by\n"+
		"(path, hour), and the totals with the rollups. Prints every difference; exits 1 if any.", out)
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
	for _, d := range rep.Hours {
		fmt.Fprintf(out, "MISMATCH path=%q hour=%s raw=%d rolled=%d\n", d.Path, d.Hour.Format(time.RFC3339), d.Raw, d.Rolled)
	}
	for _, d := range rep.SiteHours {
		fmt.Fprintf(out, "MISMATCH site hour=%s paths=%d site=%d\n", d.Hour.Format(time.RFC3339), d.PathViews, d.SiteViews)
	}
	for _, d := range rep.Totals {
		fmt.Fprintf(out, "MISMATCH total path=%q hourly=%d total=%d\n", d.Path, d.HourlyViews, d.TotalViews)
	}
	if rep.SiteTotal != rep.PathTotals {
		fmt.Fprintf(out, "MISMATCH site total=%d sum of path totals=%d\n", rep.SiteTotal, rep.PathTotals)
	}
	if !rep.OK() {
		fmt.Fprintf(out, "verify %s: %d hourly, %d site-hourly and %d total differences\n",
			span, len(rep.Hours), len(rep.SiteHours), len(rep.Totals))
		return errMismatch
	}
	fmt.Fprintf(out, "verify %s: rollups match the raw views (site total %d)\n", span, rep.SiteTotal)
	return nil
}

func runSeed(ctx context.Context, cfg config.Config, args []string, out io.Writer) error {
	fs := newFlags("seed --views N [--days D] [--paths P]", "Generates synthetic views spread over the last D days (not yet rolled up),\n"+
		"in transactions of --chunk views. For demos and benchmarks: never on a real site.", out)
	views := fs.Int64("views", 0, "how many views to generate (required)")
	days := fs.Int("days", 30, "spread the views over this many days before now")
	paths := fs.Int("paths", 1000, "how many distinct paths (/page/0 ...)")
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
	case *chunk < 1 || *chunk > 10_000_000:
		return usageError{"seed: --chunk must be from 1 to 10000000"}
	}
	a, _, err := openMigrated(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	p := newProgress("seeded", *views, a.Log)
	end, span := time.Now(), time.Duration(*days)*24*time.Hour
	var done int64
	for done < *views {
		n := min(int64(*chunk), *views-done)
		if _, err := a.Store.SeedViews(ctx, int(n), *paths, end, span); err != nil {
			return err
		}
		done += n
		p.update(done, done == *views)
	}
	el := time.Since(p.start)
	fmt.Fprintf(out, "seeded %d views over %d days in %s (%.0f views/s); run `prawn rollup` to fold them\n",
		done, *days, el.Round(time.Millisecond), float64(done)/max(el.Seconds(), 1e-9))
	return nil
}
