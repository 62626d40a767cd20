// Command benchreads is `make bench/reads`: every read the page and the badges make, timed
// against a real `prawn serve` by one client sending one request at a time, in the cases of
// docs/benchmarks.md#reads:
//
//	(a) a history of -history views over 30 days with -paths paths, all folded;
//	(b) the same plus a tail of -tail views not yet folded, and how long `prawn rollup` takes to
//	    drain it;
//	(c) -flood-views views over 30 days with -flood-paths distinct paths;
//	(d) -bulk views loaded with a plain INSERT … SELECT and folded, read before any manual ANALYZE
//	    (and again after one);
//	(e) the reads of (a) under an open-loop ingest of -ingest-rate views/s, against the same
//	    reads without it, in the same run.
//
// It prints the report and rewrites the generated part of the "Reads" section of
// docs/benchmarks.md (-out; "-" writes nothing). The databases are on a private cluster in a temp
// folder, or fresh databases on the server of -server-url (BENCH_SERVER_URL), dropped at the end.
// `-quick` runs small sizes (about two minutes) to check the benchmark itself; it writes no
// document unless -out says where.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prawnhq/prawn/scripts/internal/benchdoc"
)

// config is what the flags set.
type config struct {
	history, paths          int // case (a): views of history over 30 days, distinct paths
	tail                    int // case (b): views not yet folded, in the last hour
	floodViews, floodPaths  int // case (c)
	bulk                    int // case (d): views loaded without prawn seed
	ingestRate, ingestPaths int // case (e): views/s and the distinct paths they are spread over
	ramp                    time.Duration
	reads                   int           // timed rounds of every read in a case
	budget                  time.Duration // most time a case's timed rounds may take
	path                    string        // the one path of the per-path reads
	cases                   []string
	out                     string
	serverURL, vegeta       string
	quick                   bool
	args                    []string // as given, for the report
}

// allCases are the cases in the order they run.
var allCases = []string{"a", "b", "c", "d", "e"}

func main() {
	c, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchreads:", err)
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c, log); err != nil {
		if ctx.Err() != nil {
			log.Error("benchreads interrupted; servers, databases and temp files are cleaned up")
			stop()
			os.Exit(130)
		}
		log.Error("benchreads failed", "err", err)
		stop()
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	fs := flag.NewFlagSet("benchreads", flag.ContinueOnError)
	c := config{args: args}
	fs.IntVar(&c.history, "history", 10_000_000, "case (a): views of history over 30 days (the issue asks for 100000000, or the most this machine holds in the time)")
	fs.IntVar(&c.paths, "paths", 1000, "case (a): distinct paths of the history")
	fs.IntVar(&c.tail, "tail", 1_000_000, "case (b): views not yet folded, seeded into the last hour")
	fs.IntVar(&c.floodViews, "flood-views", 3_000_000, "case (c): views over 30 days")
	fs.IntVar(&c.floodPaths, "flood-paths", 100_000, "case (c): distinct paths")
	fs.IntVar(&c.bulk, "bulk", 10_000_000, "case (d): views bulk-loaded with INSERT … SELECT and read before any manual ANALYZE")
	fs.IntVar(&c.ingestRate, "ingest-rate", 5000, "case (e): rate of the open-loop ingest, views/s")
	fs.IntVar(&c.ingestPaths, "ingest-paths", 10_000, "case (e): distinct paths the ingest's views are spread over")
	fs.DurationVar(&c.ramp, "ramp", 3*time.Second, "case (e): how long the ingest runs before the reads are timed")
	fs.IntVar(&c.reads, "reads", 200, "timed rounds of every read in each case (after one first, cold round)")
	fs.DurationVar(&c.budget, "budget", 2*time.Minute, fmt.Sprintf("most time the timed rounds of one case may take: slow cases (reads that answer 503 after PRAWN_DB_TIMEOUT) stop there, after at least %d rounds", minRounds))
	fs.StringVar(&c.path, "path", "/page/1", "the path of the per-path reads (one of the seeded /page/N)")
	cases := fs.String("cases", strings.Join(allCases, ","), "comma list of the cases to run (e includes a: its reads without ingest)")
	fs.StringVar(&c.out, "out", "docs/benchmarks.md", `document whose Reads section is rewritten; "-" writes nothing`)
	fs.StringVar(&c.serverURL, "server-url", os.Getenv("BENCH_SERVER_URL"),
		"Postgres server (URL) on which to create fresh databases (default $BENCH_SERVER_URL, else a private cluster in a temp folder)")
	fs.StringVar(&c.vegeta, "vegeta", os.Getenv("BENCH_VEGETA"), "vegeta binary (default $BENCH_VEGETA, else vegeta installed into the user's cache)")
	fs.BoolVar(&c.quick, "quick", false, "small sizes (about two minutes) to check the benchmark, not to measure; writes nothing unless -out is given")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: go run ./scripts/benchreads [flags]  (make bench/reads)\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if c.quick {
		quick := map[string]func(){
			"history":     func() { c.history = 200_000 },
			"tail":        func() { c.tail = 20_000 },
			"flood-views": func() { c.floodViews = 200_000 },
			"flood-paths": func() { c.floodPaths = 50_000 },
			"bulk":        func() { c.bulk = 200_000 },
			"ramp":        func() { c.ramp = 2 * time.Second },
			"reads":       func() { c.reads = 20 },
			"budget":      func() { c.budget = 20 * time.Second },
			"out":         func() { c.out = "-" },
		}
		for name, apply := range quick {
			if !set[name] {
				apply()
			}
		}
	}
	for _, n := range strings.Split(*cases, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if !slices.Contains(allCases, n) {
			return c, fmt.Errorf("-cases: no case %q (there are %s)", n, strings.Join(allCases, ", "))
		}
		if !slices.Contains(c.cases, n) {
			c.cases = append(c.cases, n)
		}
	}
	slices.SortFunc(c.cases, func(a, b string) int { return slices.Index(allCases, a) - slices.Index(allCases, b) })
	switch {
	case len(c.cases) == 0:
		return c, fmt.Errorf("-cases: name at least one of %s", strings.Join(allCases, ", "))
	case c.history < 1 || c.tail < 1 || c.floodViews < 1 || c.bulk < 1:
		return c, fmt.Errorf("-history, -tail, -flood-views and -bulk must be at least 1")
	case c.paths < 1 || c.floodPaths < 1:
		return c, fmt.Errorf("-paths and -flood-paths must be at least 1")
	case c.paths > 1_000_000 || c.floodPaths > 1_000_000:
		return c, fmt.Errorf("-paths and -flood-paths must be at most 1000000 (prawn seed's limit)")
	case c.ingestRate < 1 || c.ingestPaths < 1:
		return c, fmt.Errorf("-ingest-rate and -ingest-paths must be at least 1")
	case c.ramp < 0:
		return c, fmt.Errorf("-ramp cannot be negative")
	case c.reads < minRounds:
		return c, fmt.Errorf("-reads must be at least %d", minRounds)
	case c.budget <= 0:
		return c, fmt.Errorf("-budget must be positive")
	}
	n, err := strconv.Atoi(strings.TrimPrefix(c.path, "/page/"))
	if most := min(c.paths, c.floodPaths); !strings.HasPrefix(c.path, "/page/") || err != nil || n < 0 || n >= most || c.path != "/page/"+strconv.Itoa(n) {
		return c, fmt.Errorf("-path %q: want one of the seeded paths, /page/0 to /page/%d", c.path, most-1)
	}
	return c, nil
}

// has reports whether the run includes case name.
func (c config) has(name string) bool { return slices.Contains(c.cases, name) }

// run is the whole benchmark: it chdirs to the repository, measures, and writes the report.
func run(ctx context.Context, c config, log *slog.Logger) error {
	root, err := benchdoc.Root()
	if err != nil {
		return err
	}
	if err := os.Chdir(root); err != nil {
		return err
	}
	b, err := newBench(ctx, c, log)
	if err != nil {
		return err
	}
	defer b.close()
	rep, err := b.measure(ctx)
	if err != nil {
		return err
	}
	body := rep.markdown()
	fmt.Print(body)
	if c.out != "-" {
		if err := benchdoc.Write(c.out, benchdoc.Section{Name: "reads", Heading: "## Reads", By: "make bench/reads", Body: body}); err != nil {
			return err
		}
		log.Info("wrote the Reads section", "file", c.out)
	}
	if p := rep.problems(); len(p) > 0 {
		return fmt.Errorf("the run is not valid: %s", strings.Join(p, "; "))
	}
	return nil
}
