// Package storage is prawn's only door to PostgreSQL: it owns the connection pool, the migrations
// and the sqlc-generated queries, and hands plain Go values to the rest of the program.
package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/prawnhq/prawn/gen/db"
	"github.com/prawnhq/prawn/schema"
)

// ErrUnavailable means the database could not be reached or did not answer in time.
var ErrUnavailable = errors.New("database unavailable")

// Options tune the connection pool.
type Options struct {
	// MaxConns caps the pool; 0 means pgx's default (4 per CPU, at least 4).
	MaxConns int32
	// ConnectTimeout bounds each new connection; 0 means 5 s.
	ConnectTimeout time.Duration
	// BeforeConnect, when set, may change a connection's settings (credentials) before dialling.
	BeforeConnect func(context.Context, *pgx.ConnConfig) error
}

// Store runs prawn's queries on a pool of connections.
type Store struct {
	pool *pgxpool.Pool
	q    *db.Queries

	// tail holds the counts of the views not yet folded, for the counters (see tailCounts);
	// counting is set while a background count runs; countAfter is when the next may start
	// (Unix nanoseconds).
	tail       atomic.Pointer[tailCounts]
	counting   atomic.Bool
	countAfter atomic.Int64
	// tailMaxScopes is tailCountsMaxScopes (tests lower it).
	tailMaxScopes int
	// compute, when set, is the fold's arithmetic, and fold holds the tail's fold for the reads
	// (see tailFold); folding, foldAfter and incAfter pace the background folds (whole, and of
	// the views after the held one: see foldTailSoon) as counting and countAfter
	// pace the counts. tailFoldMaxBytes bounds the estimate of a held fold's memory.
	compute          FoldFunc
	fold             atomic.Pointer[tailFold]
	folding          atomic.Bool
	foldAfter        atomic.Int64
	incAfter         atomic.Int64
	tailFoldMaxBytes atomic.Int64
	// bgCtx ends, and bg waits for the background counts, when the Store is closed.
	bgCtx  context.Context
	bgStop context.CancelFunc
	bg     sync.WaitGroup
}

// Open builds a pool for the database at url. It does not connect: the first query does.
func Open(ctx context.Context, url string, opt Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database URL: %w", redact(err))
	}
	if opt.MaxConns > 0 {
		cfg.MaxConns = opt.MaxConns
	}
	cfg.ConnConfig.ConnectTimeout = opt.ConnectTimeout
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	// Hour and day arithmetic in SQL is done in UTC whatever the server's default.
	cfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
	cfg.ConnConfig.RuntimeParams["application_name"] = "prawn"
	// prawn's queries read ranges of primary keys and indexes; a plan must not depend on table
	// statistics, which are missing after a bulk load until ANALYZE runs (autovacuum may be off
	// or behind): a sequential scan is never the plan unless no index can serve, and no query
	// pays for JIT compilation because an estimate without statistics looks huge. Checks and
	// rebuilds, which do read everything, turn sequential scans back on for their transaction.
	cfg.ConnConfig.RuntimeParams["enable_seqscan"] = "off"
	cfg.ConnConfig.RuntimeParams["jit"] = "off"
	cfg.BeforeConnect = opt.BeforeConnect
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("create pool: %w", redact(err))
	}
	s := &Store{pool: pool, q: db.New(pool), tailMaxScopes: tailCountsMaxScopes}
	s.bgCtx, s.bgStop = context.WithCancel(context.Background())
	return s, nil
}

// Close stops the background work and closes every connection.
func (s *Store) Close() {
	s.bgStop()
	s.bg.Wait()
	s.pool.Close()
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	_, err := s.q.Ping(ctx)
	return classify(err)
}

// Migrate brings the schema up to date with the embedded migrations. Concurrent callers wait for
// each other (a session advisory lock), so every process may call it at start.
func (s *Store) Migrate(ctx context.Context) ([]string, error) {
	sqlDB := stdlib.OpenDBFromPool(s.pool)
	defer sqlDB.Close()
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, schema.Migrations, goose.WithSessionLocker(locker))
	if err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", classify(err))
	}
	applied := make([]string, 0, len(results))
	for _, r := range results {
		applied = append(applied, r.Source.Path)
	}
	return applied, nil
}

// View is one view as it is stored: its host ("" is the default site), its normalised path, and
// what is known of where it came from and of its client. An empty string means unknown, and so
// does a Visitor of 0.
type View struct {
	Host, Path                        string
	Referrer, RefHost                 string
	UTMSource, UTMMedium, UTMCampaign string
	Browser, OS, Device, Country      string
	Visitor                           int64
}

// InsertViews records views in one statement and one transaction: all of them or none.
func (s *Store) InsertViews(ctx context.Context, views []View) error {
	p := db.InsertViewsParams{
		Hosts: make([]string, len(views)), Paths: make([]string, len(views)),
		Referrers: make([]string, len(views)), RefHosts: make([]string, len(views)),
		UtmSources: make([]string, len(views)), UtmMediums: make([]string, len(views)),
		UtmCampaigns: make([]string, len(views)), Browsers: make([]string, len(views)),
		Oses: make([]string, len(views)), Devices: make([]string, len(views)),
		Countries: make([]string, len(views)), Visitors: make([]int64, len(views)),
	}
	for i, v := range views {
		p.Hosts[i], p.Paths[i], p.Referrers[i], p.RefHosts[i] = v.Host, v.Path, v.Referrer, v.RefHost
		p.UtmSources[i], p.UtmMediums[i], p.UtmCampaigns[i] = v.UTMSource, v.UTMMedium, v.UTMCampaign
		p.Browsers[i], p.Oses[i], p.Devices[i], p.Countries[i] = v.Browser, v.OS, v.Device, v.Country
		p.Visitors[i] = v.Visitor
	}
	if _, err := s.q.InsertViews(ctx, p); err != nil {
		return fmt.Errorf("insert %d views: %w", len(views), classify(err))
	}
	return nil
}

// classify marks connection-level failures with ErrUnavailable, keeping the cause.
func classify(err error) error {
	if err == nil || errors.Is(err, context.Canceled) {
		return err
	}
	var netErr net.Error
	var connErr *pgconn.ConnectError
	// A connection cut mid-statement (the server crashed or was stopped) surfaces as EOF, a reset
	// or a broken pipe; an error pgx knows happened before anything was sent is safe to retry.
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) || errors.As(err, &connErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) || pgconn.SafeToRetry(err) ||
		pgconn.Timeout(err) || isShutdown(err) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

// isShutdown reports server-side errors that mean "not now": admin shutdown, crash recovery,
// too many connections.
func isShutdown(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch pgErr.Code {
	case "57P01", "57P02", "57P03", "53300", "08000", "08003", "08006":
		return true
	}
	return false
}

// redact drops a connection string from parse errors, which may hold a password.
func redact(err error) error {
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) {
		return errors.New("invalid connection string")
	}
	return err
}

// Seed describes synthetic views for `prawn seed`.
type Seed struct {
	// Host receives the views; Paths, Referrers and VisitorPool bound the distinct paths,
	// referrer hosts and visitor ids.
	Host                          string
	Paths, Referrers, VisitorPool int
	// The views are spread over the Span before End, recorded in time order.
	End  time.Time
	Span time.Duration
}

// SeedViews generates n synthetic views in one transaction. See `prawn seed`.
func (s *Store) SeedViews(ctx context.Context, n int, seed Seed) (int64, error) {
	rows, err := s.q.SeedViews(ctx, db.SeedViewsParams{
		Host: seed.Host, Paths: int32(seed.Paths), Referrers: int32(seed.Referrers),
		VisitorPool: int32(max(seed.VisitorPool, 1)), N: int32(n),
		EndTime: seed.End, SpanSeconds: seed.Span.Seconds()})
	if err != nil {
		return 0, fmt.Errorf("seed %d views: %w", n, classify(err))
	}
	return rows, nil
}

// AnalyzeIfStale analyzes prawn's tables when their planner statistics are missing or stale (as
// autovacuum would, for servers where it is off or behind) and reports whether it did.
func (s *Store) AnalyzeIfStale(ctx context.Context) (bool, error) {
	stale, err := s.q.ListStaleTables(ctx)
	if err != nil || len(stale) == 0 {
		return false, classify(err)
	}
	return true, s.Analyze(ctx)
}

// Analyze gives the planner fresh statistics of the raw views and the rollups, and vacuums the
// rollups, as a bulk load (seed, import, rebuild) needs before reads are fast again.
func (s *Store) Analyze(ctx context.Context) error {
	s.summarizeViewsIndex(ctx)
	if err := s.q.AnalyzeViews(ctx); err != nil {
		return fmt.Errorf("analyze views: %w", classify(err))
	}
	return s.vacuumRollups(ctx)
}

// vacuumRollups vacuums and analyzes the rollups: index-only reads need their visibility map.
func (s *Store) vacuumRollups(ctx context.Context) error {
	if err := s.q.VacuumRollups(ctx); err != nil {
		return fmt.Errorf("vacuum and analyze rollups: %w", classify(err))
	}
	return nil
}

// CanaryHost is the reserved host of the synthetic canary view: reads of every host (no host
// given) leave it out, so the canary never shows in a site's numbers; reads of this host count
// it. ".invalid" is a top-level domain that can never be a real site (RFC 6761).
const CanaryHost = "canary.prawn.invalid"

// AcceptedView is a view accepted by the api in queue mode: its id (a UUIDv7) and the time it
// was accepted travel with it through SQS.
type AcceptedView struct {
	ID         [16]byte
	AcceptedAt time.Time
	View
}

// InsertAcceptedViews records views accepted earlier in one statement and one transaction, each
// at the time it was accepted, skipping those whose id was recorded before (a redelivery); it
// returns how many were new.
func (s *Store) InsertAcceptedViews(ctx context.Context, views []AcceptedView) (int64, error) {
	n := len(views)
	p := db.InsertAcceptedViewsParams{
		Ids: make([]pgtype.UUID, n), ViewedAt: make([]time.Time, n),
		Hosts: make([]string, n), Paths: make([]string, n), Referrers: make([]string, n), RefHosts: make([]string, n),
		UtmSources: make([]string, n), UtmMediums: make([]string, n), UtmCampaigns: make([]string, n),
		Browsers: make([]string, n), Oses: make([]string, n), Devices: make([]string, n),
		Countries: make([]string, n), Visitors: make([]int64, n),
	}
	for i, a := range views {
		v := a.View
		p.Ids[i], p.ViewedAt[i] = pgtype.UUID{Bytes: a.ID, Valid: true}, a.AcceptedAt
		p.Hosts[i], p.Paths[i], p.Referrers[i], p.RefHosts[i] = v.Host, v.Path, v.Referrer, v.RefHost
		p.UtmSources[i], p.UtmMediums[i], p.UtmCampaigns[i] = v.UTMSource, v.UTMMedium, v.UTMCampaign
		p.Browsers[i], p.Oses[i], p.Devices[i], p.Countries[i] = v.Browser, v.OS, v.Device, v.Country
		p.Visitors[i] = v.Visitor
	}
	inserted, err := s.q.InsertAcceptedViews(ctx, p)
	if err != nil {
		return 0, fmt.Errorf("insert %d accepted views: %w", n, classify(err))
	}
	return inserted, nil
}

// PruneAcceptedViews forgets at most maxRows ids of views accepted before the id before (a UUIDv7
// of the cutoff time), oldest first; it returns how many it forgot.
func (s *Store) PruneAcceptedViews(ctx context.Context, before [16]byte, maxRows int) (int64, error) {
	n, err := s.q.PruneAcceptedViews(ctx, db.PruneAcceptedViewsParams{Before: pgtype.UUID{Bytes: before, Valid: true}, MaxRows: int32(maxRows)})
	if err != nil {
		return 0, fmt.Errorf("prune accepted ids: %w", classify(err))
	}
	return n, nil
}
