// Command bench is `make bench`: an open-loop HTTP benchmark of prawn against a real Postgres,
// with baselines measured in the same run — the naive one-INSERT-per-view path
// (PRAWN_INGEST_MODE=direct), a hello-world net/http server, pgbench's single-row INSERT — and a
// second ladder on a slow-fsync database (commit_delay). It prints the report and rewrites the
// generated part of the "Ingest" section of docs/benchmarks.md.
//
// The load is vegeta at a constant rate (open loop: no coordinated omission), in a ladder of
// rates; the targets of a ladder take turns at each rate. What a target is — its server, the
// server's environment, the request and the status that acknowledges it — is data (targets.go).
//
// The database is a private cluster in a temp folder, or fresh databases on the server of
// -server-url (BENCH_SERVER_URL). `-quick` runs a tiny ladder (about 1.5 minutes) to check the
// benchmark itself, for development and CI; it writes no document unless -out says where.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prawnhq/prawn/scripts/internal/benchdoc"
)

// vegetaVersion is the load generator's version, installed with `go install` when -vegeta is
// not given.
const vegetaVersion = "v12.13.0"

// config is what the flags set.
type config struct {
	rates, slowRates []int
	duration         time.Duration // the measured window of a step
	ramp             time.Duration // the start of each attack, not reported
	timeout          time.Duration // vegeta's request timeout
	tries            int           // attempts at a rate that is not held
	warmRate         int
	warmDuration     time.Duration
	commitDelayUS    int
	pgbenchClients   int
	pgbenchDuration  time.Duration
	only             []string // target names; empty: every one
	out              string   // document to write; "-" for none
	serverURL        string
	vegeta           string
	quick            bool
	// The consumer run: -consumer alone, else after the ladder.
	consumer         bool
	consumerSizes    []int
	consumerWriters  []int
	consumerDuration time.Duration
}

var (
	fullRates = []int{1000, 2000, 4000, 6000, 8000, 9000, 10000, 11000, 12000, 13000, 14000, 15000, 16000, 18000, 20000}
	slowRates = []int{1000, 2000, 4000, 6000, 8000}
)

func main() {
	c, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c, log); err != nil {
		if ctx.Err() != nil {
			log.Error("bench interrupted; servers, databases and temp files are cleaned up")
			stop()
			os.Exit(130)
		}
		log.Error("bench failed", "err", err)
		stop()
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	c := config{}
	rates := fs.String("rates", joinInts(fullRates), "rates of the main ladder, requests/s, comma or space separated")
	slow := fs.String("slow-rates", joinInts(slowRates), `rates of the slow-fsync ladder; "" leaves it out`)
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "measured window of each step")
	fs.DurationVar(&c.ramp, "ramp", 2*time.Second, "start of each attack left out of the step's numbers")
	fs.DurationVar(&c.timeout, "timeout", 5*time.Second, "vegeta's request timeout")
	fs.IntVar(&c.tries, "tries", 2, "attempts at a rate that is not held (every one is reported)")
	fs.IntVar(&c.warmRate, "warm-rate", 500, "rate of each target's warm-up, requests/s")
	fs.DurationVar(&c.warmDuration, "warm", 2*time.Second, "length of each target's warm-up (not reported)")
	fs.IntVar(&c.commitDelayUS, "commit-delay", 2000, "commit_delay of the slow-fsync databases, µs")
	fs.IntVar(&c.pgbenchClients, "pgbench-clients", 4*runtime.NumCPU(), "pgbench's clients (prawn's default pool size)")
	fs.DurationVar(&c.pgbenchDuration, "pgbench-duration", 0, "length of each pgbench run (default: -duration)")
	only := fs.String("targets", "", "comma list of target names to run (default: every one): "+targetNames())
	fs.StringVar(&c.out, "out", "docs/benchmarks.md", `document whose Ingest section is rewritten; "-" writes nothing`)
	fs.StringVar(&c.serverURL, "server-url", os.Getenv("BENCH_SERVER_URL"),
		"Postgres server (URL) on which to create fresh databases (default $BENCH_SERVER_URL, else a private cluster in a temp folder)")
	fs.StringVar(&c.vegeta, "vegeta", os.Getenv("BENCH_VEGETA"), "vegeta binary (default $BENCH_VEGETA, else vegeta "+vegetaVersion+" installed into the user's cache)")
	fs.BoolVar(&c.consumer, "consumer", false, "run only the consumer benchmark (queue ingest): batches into Postgres, and the api handler's CPU per view in queue mode (make bench/consumer)")
	sizes := fs.String("consumer-sizes", "100,1000,10000", "consumer benchmark: views per SQS batch")
	writers := fs.String("consumer-writers", "1,2", "consumer benchmark: consumers writing in parallel (the consume function's concurrency)")
	fs.DurationVar(&c.consumerDuration, "consumer-duration", 10*time.Second, "consumer benchmark: longest run of each batch size")
	fs.BoolVar(&c.quick, "quick", false, "a tiny ladder (about 1.5 minutes) to check the benchmark, not to measure; writes nothing unless -out is given")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: go run ./scripts/bench [flags]  (make bench, make bench/quick)\n\n")
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
			"rates":             func() { *rates = "1000 2000" },
			"slow-rates":        func() { *slow = "1000" },
			"duration":          func() { c.duration = 2 * time.Second },
			"ramp":              func() { c.ramp = time.Second },
			"warm":              func() { c.warmDuration = time.Second },
			"out":               func() { c.out = "-" },
			"consumer-sizes":    func() { *sizes = "100,1000" },
			"consumer-writers":  func() { *writers = "1" },
			"consumer-duration": func() { c.consumerDuration = time.Second },
		}
		for name, apply := range quick {
			if !set[name] {
				apply()
			}
		}
	}
	if c.pgbenchDuration == 0 {
		c.pgbenchDuration = c.duration
	}
	var err error
	if c.rates, err = parseInts(*rates); err != nil {
		return c, fmt.Errorf("-rates: %w", err)
	}
	if c.slowRates, err = parseInts(*slow); err != nil {
		return c, fmt.Errorf("-slow-rates: %w", err)
	}
	if c.consumerSizes, err = parseInts(*sizes); err != nil || len(c.consumerSizes) == 0 {
		return c, fmt.Errorf("-consumer-sizes: %v", err)
	}
	if c.consumerWriters, err = parseInts(*writers); err != nil || len(c.consumerWriters) == 0 {
		return c, fmt.Errorf("-consumer-writers: %v", err)
	}
	for _, n := range c.consumerSizes {
		if n > 10000 {
			return c, fmt.Errorf("-consumer-sizes: %d is more than an SQS event source mapping delivers (10000)", n)
		}
	}
	if *only != "" {
		for _, n := range strings.Split(*only, ",") {
			n = strings.TrimSpace(n)
			if _, ok := targetNamed(n); !ok {
				return c, fmt.Errorf("-targets: no target %q (there are %s)", n, targetNames())
			}
			c.only = append(c.only, n)
		}
	}
	switch {
	case c.duration < time.Second:
		return c, fmt.Errorf("-duration %s: at least 1s", c.duration)
	case c.ramp < 0 || c.warmDuration < 0:
		return c, fmt.Errorf("-ramp and -warm cannot be negative")
	case c.tries < 1:
		return c, fmt.Errorf("-tries %d: at least 1", c.tries)
	case c.pgbenchClients < 1:
		return c, fmt.Errorf("-pgbench-clients %d: at least 1", c.pgbenchClients)
	}
	return c, nil
}

// parseInts reads "1000,2000 4000" (commas or spaces); "" is none.
func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive whole number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

func targetNames() string {
	names := make([]string, len(Targets))
	for i, t := range Targets {
		names[i] = t.Name
	}
	return strings.Join(names, ", ")
}

// run is the whole benchmark: it chdirs to the repository, measures, and writes the report.
func run(ctx context.Context, c config, log *slog.Logger) error {
	if c.consumer {
		return runConsumerBench(ctx, c, log)
	}
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
		if err := benchdoc.Write(c.out, benchdoc.Section{Name: "ingest", Heading: "## Ingest", By: "make bench", Body: body}); err != nil {
			return err
		}
		log.Info("wrote the Ingest section", "file", c.out)
	}
	if lost := rep.lost(); lost != "" {
		return fmt.Errorf("views lost (acknowledged but not in the database): %s", lost)
	}
	return b.consumerSection(ctx)
}
