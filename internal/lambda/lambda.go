// Package lambda runs prawn as AWS Lambda functions: the one binary is the bootstrap of every
// function and picks its handler from _HANDLER (api, rollup or migrate).
package lambda

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	awslambda "github.com/aws/aws-lambda-go/lambda"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/prawnhq/prawn/internal/app"
	"github.com/prawnhq/prawn/internal/config"
	"github.com/prawnhq/prawn/internal/dbconn"
	"github.com/prawnhq/prawn/internal/rollup"
	"github.com/prawnhq/prawn/internal/storage"
)

// The handler names that _HANDLER may hold.
const (
	HandlerAPI     = "api"
	HandlerRollup  = "rollup"
	HandlerMigrate = "migrate"
)

// Handlers lists the valid values of _HANDLER.
var Handlers = []string{HandlerAPI, HandlerRollup, HandlerMigrate}

// Main builds the handler that _HANDLER names and serves invocations from the Lambda runtime API
// until the process ends. It returns only when init fails, with an error that says why. Every
// setting but the database's whereabouts comes from internal/config, as for `prawn serve`; the
// database is internal/dbconn's (DATABASE_URL, or RDS with a secret or IAM), with the pool
// size of the configuration.
func Main(getenv func(string) string) error {
	name := strings.TrimSpace(getenv("_HANDLER"))
	if !slices.Contains(Handlers, name) {
		return fmt.Errorf("_HANDLER=%q: want one of %s", name, strings.Join(Handlers, ", "))
	}
	use := config.LambdaJob
	if name == HandlerAPI {
		use = config.LambdaAPI
	}
	cfg, err := config.Load(getenv, use)
	if err != nil {
		return fmt.Errorf("configuration:\n  %s", strings.ReplaceAll(err.Error(), "\n", "\n  "))
	}
	log := cfg.Logger()
	settings, err := dbconn.FromEnv(getenv)
	if err != nil {
		return fmt.Errorf("database settings:\n  %s", strings.ReplaceAll(err.Error(), "\n", "\n  "))
	}
	settings.MaxConns = cfg.DBMaxConns
	db, err := dbconn.Open(context.Background(), settings, log)
	if err != nil {
		return err
	}
	a, err := app.Build(db.Store, cfg, log)
	if err != nil {
		db.Close()
		return err
	}
	h, err := New(name, a, db)
	if err != nil {
		db.Close()
		return err
	}
	log.Debug("lambda handler ready", "handler", name, "db_max_conns", cfg.DBMaxConns, "ingest_flushers", cfg.IngestFlushers)
	awslambda.Start(h)
	return nil
}

// AuthCounter reports how many connection attempts the database refused for a wrong password;
// see dbconn.DB.AuthFailures. A nil AuthCounter never retries.
type AuthCounter interface{ AuthFailures() uint64 }

// New returns the Lambda handler function called name, built on a and db.
func New(name string, a *app.App, db AuthCounter) (any, error) {
	switch name {
	case HandlerAPI:
		return NewAPI(a.Handler(), db, a.Log).Handle, nil
	case HandlerRollup:
		return (&Rollup{Store: a.Store, DB: db, Log: a.Log, Options: rollup.Options{RawRetention: a.RawRetention}}).Handle, nil
	case HandlerMigrate:
		return (&Migrate{Store: a.Store, DB: db, Log: a.Log}).Handle, nil
	}
	return nil, fmt.Errorf("unknown handler %q: want one of %s", name, strings.Join(Handlers, ", "))
}

// authFailed reports whether the database refused a password since before was read.
func authFailed(db AuthCounter, before uint64) bool {
	return db != nil && db.AuthFailures() != before
}

func failures(db AuthCounter) uint64 {
	if db == nil {
		return 0
	}
	return db.AuthFailures()
}

// API serves API Gateway HTTP API (payload 2.0) events with an http.Handler.
type API struct {
	adapter *httpadapter.HandlerAdapterV2
	db      AuthCounter
	log     *slog.Logger
}

// NewAPI adapts h, the same handler as `prawn serve`, to HTTP API events.
func NewAPI(h http.Handler, db AuthCounter, log *slog.Logger) *API {
	if log == nil {
		log = slog.Default()
	}
	return &API{adapter: httpadapter.NewV2(h), db: db, log: log}
}

// Handle answers one HTTP API event. A request that failed with a 5xx because the database
// refused a rotated password is served once more: no statement ran, and the retry fetches the
// new secret.
func (a *API) Handle(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	before := failures(a.db)
	resp, err := a.adapter.ProxyWithContext(ctx, ev)
	if err == nil && resp.StatusCode >= 500 && authFailed(a.db, before) && ctx.Err() == nil {
		a.log.WarnContext(ctx, "retrying a request after the database refused the password", "path", ev.RawPath)
		resp, err = a.adapter.ProxyWithContext(ctx, ev)
	}
	if err != nil {
		return resp, fmt.Errorf("api: %w", err)
	}
	return resp, nil
}

// RollupSummary is what the rollup handler returns.
type RollupSummary struct {
	Folded     int64 `json:"folded"`
	Batches    int   `json:"batches"`
	Busy       bool  `json:"busy"` // another rollup was running, so this one did nothing
	DurationMS int64 `json:"duration_ms"`
}

// Rollup folds new views into the hourly rollups on EventBridge scheduled events.
type Rollup struct {
	Store *storage.Store
	DB    AuthCounter
	Log   *slog.Logger
	// Options are passed to rollup.Run (zero: its defaults, and no waiting for a running rollup).
	Options rollup.Options
}

// Handle runs one rollup. Its error fails the invocation, so Lambda's Errors metric counts it.
func (r *Rollup) Handle(ctx context.Context, ev events.EventBridgeEvent) (RollupSummary, error) {
	ctx, cancel := beforeDeadline(ctx)
	defer cancel()
	log := r.Log
	before := failures(r.DB)
	res, err := rollup.Run(ctx, r.Store, r.Options)
	if err != nil && authFailed(r.DB, before) && ctx.Err() == nil {
		log.WarnContext(ctx, "retrying the rollup after the database refused the password")
		res, err = rollup.Run(ctx, r.Store, r.Options)
	}
	sum := RollupSummary{Folded: res.Folded, Batches: res.Batches, Busy: res.Busy, DurationMS: res.Duration.Milliseconds()}
	if err != nil {
		log.ErrorContext(ctx, "rollup failed", "err", err, "event_id", ev.ID, "folded", res.Folded)
		return sum, fmt.Errorf("rollup failed after folding %d views: %w", res.Folded, err)
	}
	log.InfoContext(ctx, "rollup", "folded", sum.Folded, "batches", sum.Batches, "busy", sum.Busy,
		"duration_ms", sum.DurationMS, "event_id", ev.ID, "scheduled_for", ev.Time)
	return sum, nil
}

// MigrateSummary is what the migrate handler returns.
type MigrateSummary struct {
	// Applied lists the migrations this invocation applied; empty when the schema was up to date.
	Applied []string `json:"applied"`
	// Skipped says why nothing was done, for a CloudFormation Delete.
	Skipped string `json:"skipped,omitempty"`
}

// Migrate brings the schema up to date when invoked (by the CDK trigger at deploy, or by hand).
type Migrate struct {
	Store *storage.Store
	DB    AuthCounter
	Log   *slog.Logger
}

// Handle migrates on any payload, except a CloudFormation custom-resource Delete, which it skips:
// deleting the stack must not touch the schema.
func (m *Migrate) Handle(ctx context.Context, ev json.RawMessage) (MigrateSummary, error) {
	ctx, cancel := beforeDeadline(ctx)
	defer cancel()
	var cfn struct {
		RequestType string `json:"RequestType"`
	}
	_ = json.Unmarshal(ev, &cfn) // any payload is accepted; only an object may carry RequestType
	if cfn.RequestType == "Delete" {
		m.Log.InfoContext(ctx, "migrate skipped on a CloudFormation Delete")
		return MigrateSummary{Applied: []string{}, Skipped: "CloudFormation Delete: the schema is left alone"}, nil
	}
	before := failures(m.DB)
	applied, err := m.Store.Migrate(ctx)
	if err != nil && authFailed(m.DB, before) && ctx.Err() == nil {
		m.Log.WarnContext(ctx, "retrying the migration after the database refused the password")
		applied, err = m.Store.Migrate(ctx)
	}
	if err != nil {
		m.Log.ErrorContext(ctx, "migrate failed", "err", err)
		return MigrateSummary{Applied: []string{}}, fmt.Errorf("migrate failed: %w", err)
	}
	if applied == nil {
		applied = []string{}
	}
	m.Log.InfoContext(ctx, "migrate", "applied", applied, "request_type", cfn.RequestType)
	return MigrateSummary{Applied: applied}, nil
}

// beforeDeadline ends ctx a second before the invocation's deadline, so that a long run returns
// its own error (and summary) instead of being cut off by the runtime.
func beforeDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok && time.Until(d) > 2*time.Second {
		return context.WithDeadline(ctx, d.Add(-time.Second))
	}
	return context.WithCancel(ctx)
}
