// Package app wires prawn together: the database (given or embedded), the domain services and
// the HTTP handler. The CLI and the Lambda transport build the same App from the same
// configuration (internal/config).
package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/prawnhq/prawn/internal/config"
	"github.com/prawnhq/prawn/internal/httpapi"
	"github.com/prawnhq/prawn/internal/ingest"
	"github.com/prawnhq/prawn/internal/pageview"
	"github.com/prawnhq/prawn/internal/pgembed"
	"github.com/prawnhq/prawn/internal/rollup"
	"github.com/prawnhq/prawn/internal/stats"
	"github.com/prawnhq/prawn/internal/storage"
	"github.com/prawnhq/prawn/internal/visitor"
)

// App is prawn built once: use its Handler and Store, then Close it.
type App struct {
	Store    *storage.Store
	Recorder pageview.Recorder
	Stats    *stats.Service
	Log      *slog.Logger
	// Queue is where Recorder queues views with queue ingest; nil when it commits them.
	Queue pageview.Queue
	// CanaryPath is the synthetic view that the rollup Lambda handler looks for
	// (PRAWN_CANARY_PATH); empty: none.
	CanaryPath string
	// RollupLinger is how long the rollup Lambda handler keeps folding while it finds views
	// (PRAWN_ROLLUP_LINGER); 0: one run.
	RollupLinger time.Duration
	// Web serves the page; nil serves none.
	Web http.Handler
	// Edge is the HTTP edge's protections (rate limit, proxies, CORS, HSTS, database bound,
	// country header, private stats), from the configuration.
	Edge httpapi.Edge
	// Visitors makes the visitor ids of views, with the day's salt from the store: one for the
	// app, so each process fetches a day's salt once.
	Visitors *visitor.Hasher
	// Sites are the hosts whose views count (PRAWN_SITES); empty counts every host.
	Sites []string
	// Budget bounds the new paths a host gains a day (PRAWN_MAX_NEW_PATHS); nil: no bound.
	Budget *pageview.Budget
	// RawRetention is how long rollups keep raw views (PRAWN_RAW_RETENTION; 0: forever), for
	// rollup.Options.
	RawRetention time.Duration
	closers      []func() error
}

// New builds the app around a store with the default settings of `prawn serve` (an empty
// environment), for tests and tools.
func New(store *storage.Store, log *slog.Logger) *App {
	cfg, err := config.Load(func(string) string { return "" }, config.Serve)
	if err != nil {
		panic(err) // the defaults are valid: internal/config's tests
	}
	a, err := Build(store, cfg, log)
	if err != nil {
		panic(err)
	}
	return a
}

// QueueRecorder is the recorder of queue ingest: it queues views (Record) and knows how many wait
// (Depth); internal/queue's Sender.
type QueueRecorder interface {
	pageview.Recorder
	pageview.Queue
}

// Build builds the app around a store, whose pool the caller sized by cfg.DBMaxConns, with cfg's
// recorder and edge settings. With PRAWN_INGEST_MODE=queue, queue is the recorder (the api Lambda
// handler builds it); otherwise queue must be nil.
func Build(store *storage.Store, cfg config.Config, log *slog.Logger, queue ...QueueRecorder) (*App, error) {
	var rec pageview.Recorder
	var q pageview.Queue
	switch {
	case cfg.IngestMode == config.IngestQueue && len(queue) == 1 && queue[0] != nil:
		rec, q = queue[0], queue[0]
	case cfg.IngestMode == config.IngestQueue:
		return nil, fmt.Errorf("ingest: PRAWN_INGEST_MODE=queue needs the queue's sender (the api Lambda handler builds it)")
	default:
		var err error
		rec, err = ingest.NewRecorder(store, cfg.IngestMode, ingest.Options{
			MaxBatch: cfg.IngestMaxBatch, MaxWait: cfg.IngestMaxWait, Queue: cfg.IngestQueue,
			Flushers: cfg.IngestFlushers, CommitTimeout: commitTimeout(cfg.DBTimeout), Log: log})
		if err != nil {
			return nil, fmt.Errorf("ingest: %w", err)
		}
	}
	// Beside a long tail, the reads other than the counters count it from a fold held in memory.
	store.HoldTailFolds(rollup.Compute, int64(cfg.TailFoldMB)<<20)
	return &App{
		Store:        store,
		Recorder:     rec,
		Queue:        q,
		CanaryPath:   cfg.CanaryPath,
		RollupLinger: cfg.RollupLinger,
		Stats:        &stats.Service{Store: store},
		Log:          log,
		Budget:       pageview.NewBudget(cfg.MaxNewPaths, nil),
		Edge: httpapi.Edge{
			TrustedProxies: cfg.TrustedProxies, OriginSecret: cfg.OriginSecret,
			RateLimit: cfg.RateLimit, RateBurst: cfg.RateBurst,
			ReadRateLimit: cfg.ReadRateLimit, ReadRateBurst: cfg.ReadRateBurst, RateExemptLoopback: cfg.RateExemptLoopback,
			ReadsPerClient: readsPerClient(cfg), MaxReads: max(1, int(cfg.DBMaxConns)/2),
			CORSOrigins: cfg.CORSOrigins, HSTS: cfg.HSTS, DBTimeout: cfg.DBTimeout,
			CountryHeader: cfg.CountryHeader,
			PrivateStats:  cfg.PrivateStats, PublicTotals: cfg.PublicTotals,
		},
		Visitors:     visitor.New(store, nil),
		Sites:        cfg.Sites,
		RawRetention: cfg.RawRetention,
	}, nil
}

// readsPerClient is the edge's bound on one client's reads in flight; off with every per-client
// limit (PRAWN_RATE_LIMIT=0).
func readsPerClient(cfg config.Config) int {
	if cfg.RateLimit == 0 {
		return 0
	}
	return httpapi.DefaultReadsPerClient
}

// commitTimeout bounds one batch's INSERT so that a request's answer stays near its database
// bound: a view may wait in the queue until the request's deadline, or be taken into a batch just
// before it and then wait at most this long for the batch's real outcome.
func commitTimeout(dbTimeout time.Duration) time.Duration {
	if dbTimeout <= 0 {
		return 0 // ingest's default
	}
	return dbTimeout / 2
}

// Open connects to the configured database, starting the embedded cluster when no DATABASE_URL
// is set, and builds the app.
func Open(ctx context.Context, cfg config.Config, log *slog.Logger) (*App, error) {
	url := cfg.DatabaseURL
	var cluster *pgembed.Cluster
	if url == "" {
		c, err := pgembed.Open(ctx, cfg.DataDir, log)
		if err != nil {
			return nil, err
		}
		cluster, url = c, c.URL()
	}
	store, err := storage.Open(ctx, url, storage.Options{MaxConns: cfg.DBMaxConns})
	if err != nil {
		if cluster != nil {
			_ = cluster.Close()
		}
		return nil, err
	}
	a, err := Build(store, cfg, log)
	if err != nil {
		store.Close()
		if cluster != nil {
			_ = cluster.Close()
		}
		return nil, err
	}
	a.closers = append(a.closers, func() error { store.Close(); return nil })
	if cluster != nil {
		a.closers = append(a.closers, cluster.Close)
	}
	return a, nil
}

// Handler is the one http.Handler serving the API and the page.
func (a *App) Handler() http.Handler {
	s := &httpapi.Server{Recorder: a.Recorder, Queue: a.Queue, Stats: a.Stats, Ready: a.Store.Ping, Log: a.Log,
		Visitors: a.Visitors, Sites: a.Sites, Budget: a.Budget, Exporter: a.Store, Importer: a.Store}
	edge := a.Edge
	if edge.Tokens == nil {
		edge.Tokens = a.Store
	}
	return httpapi.NewHandler(s, httpapi.Options{Web: a.Web, Log: a.Log, Edge: edge})
}

// Close commits the views still queued, then releases the database (and stops the embedded
// cluster when this was its last user).
func (a *App) Close() error {
	var first error
	if c, ok := a.Recorder.(io.Closer); ok {
		first = c.Close()
	}
	for i := len(a.closers) - 1; i >= 0; i-- {
		if err := a.closers[i](); err != nil && first == nil {
			first = err
		}
	}
	return first
}
