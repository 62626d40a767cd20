package main

// The consumer benchmark (a run of its own: `make bench` runs it after the ladder, `make
// bench/consumer` alone): how fast internal/queue's Consumer writes SQS batches into Postgres,
// batch by batch as the consume Lambda handler does (decode and check every message, one
// deduplicating INSERT per batch), with batches of 100, 1 000 and 10 000 views and one or more
// consumers in parallel; what a redelivered batch (all copies) costs; and the api handler's own
// CPU per view in queue mode (the Lambda adapter, the edge, the SQS request) against a real SQS
// server (local-aws-sqs), with direct mode (one INSERT per view) as the same-run baseline.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"github.com/prawnhq/prawn/internal/app"
	prawnconfig "github.com/prawnhq/prawn/internal/config"
	"github.com/prawnhq/prawn/internal/lambda"
	"github.com/prawnhq/prawn/internal/pageview"
	"github.com/prawnhq/prawn/internal/queue"
	"github.com/prawnhq/prawn/internal/sqstest"
	"github.com/prawnhq/prawn/internal/storage"
	"github.com/prawnhq/prawn/scripts/internal/benchdoc"
	"github.com/prawnhq/prawn/scripts/internal/benchkit"
)

// consumerRow is one measured consumer run.
type consumerRow struct {
	Batch, Writers int
	Redelivery     bool
	Views          int64
	Took           time.Duration
	P50, P99       time.Duration // per batch
	CPUBench       float64       // µs of this process's CPU per view (decoding, checking, pgx)
	CPUPostgres    float64       // µs of Postgres CPU per view; NaN when not visible
}

func (r consumerRow) rate() float64 { return float64(r.Views) / r.Took.Seconds() }

// apiRow is the api handler's CPU per view in one mode.
type apiRow struct {
	Mode  string
	Views int
	CPU   float64 // µs of this process's CPU per view
	Wall  time.Duration
}

// processCPU is this process's user+system CPU so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// messages are n encoded views as the api sends them: a few hosts, a long tail of paths,
// referrers, campaigns and clients, visitor ids.
func messages(n int, at time.Time) ([]queue.Received, error) {
	out := make([]queue.Received, n)
	browsers := []string{"Chrome", "Firefox", "Safari", "Edge"}
	for i := range out {
		v := pageview.View{Host: fmt.Sprintf("site%d.example", i%3), Path: fmt.Sprintf("/post/%d", (i*7919)%500),
			Browser: browsers[i%4], OS: "Linux", Device: "desktop", Country: "DE", Visitor: int64(i%5000 + 1)}
		if i%3 == 0 {
			v.Referrer, v.RefHost = "https://news.example/item", "news.example"
		}
		if i%20 == 0 {
			v.UTMSource = "newsletter"
		}
		id, err := uuid.NewV7()
		if err != nil {
			return nil, err
		}
		body, err := queue.Encode(id, at.Add(time.Duration(i)*time.Microsecond), v)
		if err != nil {
			return nil, err
		}
		out[i] = queue.Received{MessageID: id.String(), Body: body}
	}
	return out, nil
}

// consumerBench runs every consumer measurement on fresh databases of the server at admin
// (master: its postmaster, 0 if not visible).
func consumerBench(ctx context.Context, master int, hz int64, sizes, writers []int, duration time.Duration, newDB func(ctx context.Context, label string) (string, error), log *slog.Logger) ([]consumerRow, []apiRow, error) {
	var rows []consumerRow
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, size := range sizes {
		for _, w := range writers {
			url, err := newDB(ctx, fmt.Sprintf("consume_%d_%d", size, w))
			if err != nil {
				return nil, nil, err
			}
			store, err := storage.Open(ctx, url, storage.Options{MaxConns: int32(w + 1)})
			if err != nil {
				return nil, nil, err
			}
			// Enough batches for the duration at 100 000 views/s, at least 20 a writer.
			total := max(int(duration.Seconds()*100_000), 20*size*w)
			total -= total % size
			msgs, err := messages(total, time.Now())
			if err != nil {
				store.Close()
				return nil, nil, err
			}
			log.Info("consumer", "batch", size, "writers", w, "views", total)
			row, err := runConsumers(ctx, store, msgs, size, w, duration, master, hz, quiet)
			if err != nil {
				store.Close()
				return nil, nil, err
			}
			rows = append(rows, row)
			if w == writers[0] {
				// The same batches again: every view a copy already written.
				re, err := runConsumers(ctx, store, msgs[:min(len(msgs), int(row.Views))], size, w, duration, master, hz, quiet)
				if err != nil {
					store.Close()
					return nil, nil, err
				}
				re.Redelivery = true
				rows = append(rows, re)
			}
			store.Close()
		}
	}
	api, err := apiBench(ctx, newDB, log)
	return rows, api, err
}

// runConsumers consumes msgs in batches of size with w consumers in parallel until they are all
// written or duration has passed.
func runConsumers(ctx context.Context, store *storage.Store, msgs []queue.Received, size, w int, duration time.Duration, master int, hz int64, log *slog.Logger) (consumerRow, error) {
	var next atomic.Int64
	var views atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	var firstErr error
	deadline := time.Now().Add(duration)
	pgBefore := benchkit.PGSnap(master)
	cpuBefore := processCPU()
	start := time.Now()
	var wg sync.WaitGroup
	for range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &queue.Consumer{Store: store, Log: log}
			for time.Now().Before(deadline) && ctx.Err() == nil {
				i := int(next.Add(1)-1) * size
				if i+size > len(msgs) {
					return
				}
				t0 := time.Now()
				res, err := c.Consume(ctx, msgs[i:i+size])
				d := time.Since(t0)
				mu.Lock()
				lat = append(lat, d)
				if err != nil && firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
				if err != nil || len(res.Failed) > 0 {
					return
				}
				views.Add(int64(res.Received))
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	cpu := processCPU() - cpuBefore
	row := consumerRow{Batch: size, Writers: w, Views: views.Load(), Took: took, CPUPostgres: math.NaN()}
	if firstErr != nil {
		return row, firstErr
	}
	if row.Views == 0 {
		return row, fmt.Errorf("no batch was written")
	}
	row.CPUBench = float64(cpu.Microseconds()) / float64(row.Views)
	if pgBefore != nil {
		pct := benchkit.CPUPercent(pgBefore, benchkit.PGSnap(master), hz, took)
		row.CPUPostgres = pct / 100 * took.Seconds() * 1e6 / float64(row.Views)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	row.P50, row.P99 = lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*99/100)]
	return row, nil
}

// apiBench measures the api Lambda handler (adapter, edge, recorder) per POST /api/views in
// queue mode, sending to a real SQS server, and in direct mode (one INSERT per view).
func apiBench(ctx context.Context, newDB func(ctx context.Context, label string) (string, error), log *slog.Logger) ([]apiRow, error) {
	srv, err := sqstest.Run()
	if err != nil {
		return nil, err
	}
	defer srv.Stop()
	queueURL, err := srv.NewQueue("views", nil)
	if err != nil {
		return nil, err
	}
	url, err := newDB(ctx, "api_cpu")
	if err != nil {
		return nil, err
	}
	store, err := storage.Open(ctx, url, storage.Options{MaxConns: 2})
	if err != nil {
		return nil, err
	}
	defer store.Close()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var rows []apiRow
	for _, mode := range []string{prawnconfig.IngestQueue, prawnconfig.IngestDirect} {
		env := map[string]string{"PRAWN_INGEST_MODE": mode, "PRAWN_QUEUE_URL": queueURL, "PRAWN_RATE_LIMIT": "0"}
		cfg, err := prawnconfig.Load(func(k string) string { return env[k] }, prawnconfig.LambdaAPI)
		if err != nil {
			return nil, err
		}
		var sender app.QueueRecorder
		if mode == prawnconfig.IngestQueue {
			client := srv.Client()
			sender = queue.NewSender(client, queueURL, quiet)
		}
		a, err := app.Build(store, cfg, quiet, sender)
		if err != nil {
			return nil, err
		}
		h := lambda.NewAPI(a.Handler(), nil, quiet)
		ev := events.APIGatewayV2HTTPRequest{Version: "2.0", RawPath: "/api/views",
			Headers: map[string]string{"content-type": "application/json", "user-agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"},
			Body:    `{"url":"https://blog.example/post/1?utm_source=news","referrer":"https://news.example/"}`,
			RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: http.MethodPost, Path: "/api/views", Protocol: "HTTP/1.1", SourceIP: "198.51.100.7", UserAgent: "Mozilla/5.0"}}}
		want := http.StatusCreated
		if mode == prawnconfig.IngestQueue {
			want = http.StatusAccepted
		}
		for range 200 { // warm-up: connections, caches
			if resp, err := h.Handle(ctx, ev); err != nil || resp.StatusCode != want {
				return nil, fmt.Errorf("api %s: %d %v %s", mode, resp.StatusCode, err, resp.Body)
			}
		}
		const n = 3000
		cpu0, t0 := processCPU(), time.Now()
		for range n {
			if resp, err := h.Handle(ctx, ev); err != nil || resp.StatusCode != want {
				return nil, fmt.Errorf("api %s: %d %v", mode, resp.StatusCode, err)
			}
		}
		rows = append(rows, apiRow{Mode: mode, Views: n, CPU: float64((processCPU() - cpu0).Microseconds()) / n, Wall: time.Since(t0) / n})
		log.Info("api handler", "mode", mode, "cpu_us_per_view", rows[len(rows)-1].CPU)
	}
	return rows, nil
}

// consumerMarkdown is the report of the consumer run.
func consumerMarkdown(rows []consumerRow, api []apiRow, start time.Time, took time.Duration, dbDesc string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n", benchdoc.Generated("`go run ./scripts/bench -consumer` (make bench/consumer)", start, took))
	fmt.Fprintf(&b, "Machine: %s. Database: %s. Load average before: %s. Commit %s.\n\n", benchdoc.ThisHost(), dbDesc, benchdoc.LoadAvg(), benchdoc.Commit())
	b.WriteString("Each row: internal/queue's Consumer writing batches of SQS message bodies (as the api sends them: three hosts, 500 paths, referrers, campaigns, visitor ids) into a fresh database, one deduplicating INSERT per batch, as the consume handler does, for the duration or until the prepared views are used up. *Redelivery* sends the same batches again: every view a copy already stored, skipped. CPU is per view: this process (decoding and checking the JSON, pgx) and every Postgres process.\n\n")
	b.WriteString("| batch | consumers | run | views | views/s | ms per batch p50 / p99 | CPU consumer µs/view | CPU Postgres µs/view |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		run := "new views"
		if r.Redelivery {
			run = "redelivery (all copies)"
		}
		pg := "n/a"
		if !math.IsNaN(r.CPUPostgres) {
			pg = fmt.Sprintf("%.1f", r.CPUPostgres)
		}
		fmt.Fprintf(&b, "| %d | %d | %s | %d | **%.0f** | %.1f / %.1f | %.1f | %s |\n", r.Batch, r.Writers, run, r.Views, r.rate(),
			float64(r.P50.Microseconds())/1000, float64(r.P99.Microseconds())/1000, r.CPUBench, pg)
	}
	b.WriteString("\nThe api handler's own CPU per view (`POST /api/views` through the Lambda adapter, the edge and the recorder, one at a time as a Lambda instance serves them; 3 000 views after 200 of warm-up), queue mode sending to local-aws-sqs on loopback, direct mode (one INSERT per view) as the baseline of the same run:\n\n")
	b.WriteString("| mode | views | CPU µs/view (this process) | wall µs/view |\n|---|---|---|---|\n")
	for _, r := range api {
		fmt.Fprintf(&b, "| %s | %d | %.0f | %.0f |\n", r.Mode, r.Views, r.CPU, float64(r.Wall.Microseconds()))
	}
	return b.String()
}

// runConsumerBench is `-consumer`: the consumer run alone, on the server of -server-url or a
// private cluster; it writes the "Queue ingest" section unless -out is "-".
func runConsumerBench(ctx context.Context, c config, log *slog.Logger) error {
	root, err := benchdoc.Root()
	if err != nil {
		return err
	}
	if err := os.Chdir(root); err != nil {
		return err
	}
	b := &bench{c: c, log: log, hz: benchkit.ClockTicks(), started: time.Now()}
	defer b.close()
	if b.tmp, err = os.MkdirTemp("", "prawn-bench-"); err != nil {
		return err
	}
	if err := os.Chmod(b.tmp, 0o755); err != nil {
		return err
	}
	if err := b.openServer(ctx); err != nil {
		return err
	}
	return b.consumerSection(ctx)
}

// consumerSection measures the consumer and writes its section.
func (b *bench) consumerSection(ctx context.Context) error {
	start := time.Now()
	newDB := func(ctx context.Context, label string) (string, error) { return b.newStoreDatabase(ctx, label) }
	rows, api, err := consumerBench(ctx, b.master, b.hz, b.c.consumerSizes, b.c.consumerWriters, b.c.consumerDuration, newDB, b.log)
	if err != nil {
		return err
	}
	body := consumerMarkdown(rows, api, start, time.Since(start), b.dbDesc)
	fmt.Print(body)
	if b.c.out == "-" {
		return nil
	}
	if err := benchdoc.Write(b.c.out, benchdoc.Section{Name: "consumer", Heading: "## Queue ingest: the consumer", By: "make bench/consumer", Body: body}); err != nil {
		return err
	}
	b.log.Info("wrote the consumer section", "file", b.c.out)
	return nil
}

// newStoreDatabase creates and migrates a fresh database in process (no prawn binary needed).
func (b *bench) newStoreDatabase(ctx context.Context, label string) (string, error) {
	name := "prawn_bench_" + strings.NewReplacer("-", "_", ".", "_").Replace(label) + "_" + fmt.Sprint(os.Getpid())
	if err := b.query(ctx, b.admin, "CREATE DATABASE "+name); err != nil {
		return "", err
	}
	b.dbs = append(b.dbs, name)
	u, err := benchkit.WithDatabase(b.admin, name)
	if err != nil {
		return "", err
	}
	s, err := storage.Open(ctx, u, storage.Options{MaxConns: 2})
	if err != nil {
		return "", err
	}
	defer s.Close()
	if _, err := s.Migrate(ctx); err != nil {
		return "", err
	}
	return u, nil
}
