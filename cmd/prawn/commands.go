package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"time"

	"github.com/prawnhq/prawn/internal/app"
	"github.com/prawnhq/prawn/internal/buildinfo"
	"github.com/prawnhq/prawn/internal/config"
	"github.com/prawnhq/prawn/internal/httpapi"
	"github.com/prawnhq/prawn/internal/rollup"
)

func runVersion(_ context.Context, _ config.Config, args []string, out io.Writer) error {
	if err := parse(newFlags("version", "Prints the version of this binary.", out), args); err != nil {
		return err
	}
	fmt.Fprintln(out, "prawn", buildinfo.String())
	return nil
}

func runMigrate(ctx context.Context, cfg config.Config, args []string, out io.Writer) error {
	if err := parse(newFlags("migrate", "Brings the database schema up to date (embedded migrations).", out), args); err != nil {
		return err
	}
	a, applied, err := openMigrated(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	if len(applied) == 0 {
		fmt.Fprintln(out, "schema is up to date")
	}
	for _, m := range applied {
		fmt.Fprintln(out, "applied", m)
	}
	return nil
}

// serveGCPercent is the garbage collector's target of `prawn serve` unless GOGC is set: a view
// allocates ~14 KB that dies at once, and with Go's default of 100 the collector ran several
// times a second under load; at 400 the ingest check's p50 and p90 fell in every pair of runs
// (docs/benchmarks.md, "Garbage collector target"), for ~30 MB more peak memory.
const serveGCPercent = 400

// serveMemoryLimit is the soft memory limit of `prawn serve` unless GOMEMLIMIT is set: twice
// PRAWN_TAIL_FOLD_MB and 128 MiB. At GOGC=400 the heap may grow to five times what is live, and a
// held fold of a long tail is live; the limit makes the collector run sooner then (case (b) of
// make bench/reads: 537 MB peak RSS without a limit, 395 MB at 384 MiB, the same read latencies;
// docs/benchmarks.md). It changes nothing while the heap is small.
func serveMemoryLimit(cfg config.Config) int64 { return int64(2*cfg.TailFoldMB+128) << 20 }

func runServe(ctx context.Context, cfg config.Config, args []string, out io.Writer) error {
	if err := parse(newFlags("serve", "Serves the API and the page on PRAWN_ADDR; migrates first and folds new views every PRAWN_ROLLUP_INTERVAL.", out), args); err != nil {
		return err
	}
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(serveGCPercent)
	}
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(serveMemoryLimit(cfg))
	}
	a, applied, err := openMigrated(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	log := a.Log
	if len(applied) > 0 {
		log.Info("schema migrated", "applied", applied)
	}
	a.Web = webHandler()

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	srv := httpapi.NewHTTPServer(a.Handler(), log) // timeouts against slow clients
	tickerDone := make(chan struct{})
	tickCtx, stopTicker := context.WithCancel(context.Background())
	go func() {
		defer close(tickerDone)
		rollupTicker(tickCtx, a, cfg.RollupInterval, log)
	}()
	serveErr := make(chan error, 1)
	conns := httpapi.Listener(ln, httpapi.ConnLimits{Max: cfg.MaxConns, PerClient: cfg.MaxConnsPerClient, Trusted: cfg.TrustedProxies})
	go func() { serveErr <- conns.Serve(srv) }()
	log.Info("prawn is serving", "url", "http://"+ln.Addr().String(), "version", buildinfo.String())

	select {
	case err := <-serveErr:
		stopTicker()
		<-tickerDone
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err = srv.Shutdown(shutCtx)
	stopTicker()
	<-tickerDone
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// foldEarly is how many views waiting to be folded make `prawn serve` fold before its interval
// is up, so the tail every read counts stays small under load; pollEvery is how often it looks
// (reading at most foldEarly rows of the tail).
const (
	foldEarly = 200
	pollEvery = 50 * time.Millisecond
)

// rollupTicker folds new views every interval, and sooner when foldEarly views wait, until ctx
// ends; 0 turns it off. Views recorded by other processes (other servers, Lambda) count too.
func rollupTicker(ctx context.Context, a *app.App, every time.Duration, log *slog.Logger) {
	if every <= 0 {
		return
	}
	poll := time.NewTicker(min(pollEvery, every))
	defer poll.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-poll.C:
		}
		if time.Since(last) < every {
			if many, err := a.Store.TailAtLeast(ctx, foldEarly); err != nil || !many {
				continue
			}
		}
		last = time.Now()
		res, err := rollup.Run(ctx, a.Store, rollup.Options{RawRetention: a.RawRetention})
		switch {
		case err != nil && ctx.Err() == nil:
			log.Error("rollup failed", "err", err)
		case res.Folded > 0:
			log.Debug("rollup", "folded", res.Folded, "batches", res.Batches, "duration", res.Duration.Round(time.Millisecond))
		}
	}
}
