// Package lambda runs prawn as AWS Lambda functions: the one binary is the bootstrap of every
// function and picks its handler from _HANDLER (api, rollup, migrate or consume).
package lambda

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	awslambda "github.com/aws/aws-lambda-go/lambda"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/prawnhq/prawn/internal/app"
	"github.com/prawnhq/prawn/internal/config"
	"github.com/prawnhq/prawn/internal/dbconn"
	"github.com/prawnhq/prawn/internal/ingest"
	"github.com/prawnhq/prawn/internal/pageview"
	"github.com/prawnhq/prawn/internal/queue"
	"github.com/prawnhq/prawn/internal/rollup"
	"github.com/prawnhq/prawn/internal/stats"
	"github.com/prawnhq/prawn/internal/storage"
)

// The handler names that _HANDLER may hold.
const (
	HandlerAPI     = "api"
	HandlerRollup  = "rollup"
	HandlerMigrate = "migrate"
	HandlerConsume = "consume"
)

// Handlers lists the valid values of _HANDLER.
var Handlers = []string{HandlerAPI, HandlerRollup, HandlerMigrate, HandlerConsume}

// memoryLimit is the Go runtime's soft memory limit in a Lambda function: 90 % of its memory
// (AWS_LAMBDA_FUNCTION_MEMORY_SIZE, MB), so that the collector works harder before the function
// runs out of it (the largest thing an instance keeps is a held fold of a long tail, bounded by
// PRAWN_TAIL_FOLD_MB). None when GOMEMLIMIT is set (the runtime reads it) or the size is unknown.
func memoryLimit(getenv func(string) string) (int64, bool) {
	if getenv("GOMEMLIMIT") != "" {
		return 0, false
	}
	mb, err := strconv.Atoi(strings.TrimSpace(getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")))
	if err != nil || mb <= 0 {
		return 0, false
	}
	return int64(mb) << 20 * 9 / 10, true
}

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
	if n, ok := memoryLimit(getenv); ok {
		debug.SetMemoryLimit(n)
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
	var sender app.QueueRecorder
	if name == HandlerAPI && cfg.IngestMode == config.IngestQueue {
		awsCfg, err := dbconn.EnvAWSConfig(getenv)
		if err != nil {
			db.Close()
			return fmt.Errorf("PRAWN_INGEST_MODE=queue: %w", err)
		}
		sender = queue.NewSender(queue.NewClient(awsCfg, getenv), cfg.QueueURL, log)
	}
	a, err := app.Build(db.Store, cfg, log, sender)
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

// New returns the Lambda handler function called name, built on a and db. The migrate handler
// provisions the app role when db says which (a *dbconn.DB with DB_APP_USER).
func New(name string, a *app.App, db AuthCounter) (any, error) {
	switch name {
	case HandlerAPI:
		a.Recorder = trackWrites{a.Recorder}
		return NewAPI(a.Handler(), db, a.Log).Handle, nil
	case HandlerRollup:
		return (&Rollup{Store: a.Store, DB: db, Log: a.Log, CanaryPath: a.CanaryPath, Stats: a.Stats,
			Options: rollup.Options{RawRetention: a.RawRetention}, Linger: a.RollupLinger}).Handle, nil
	case HandlerMigrate:
		m := &Migrate{Store: a.Store, DB: db, Log: a.Log}
		if r, ok := db.(AppRoles); ok {
			m.AppRole = r.AppRole
		}
		return m.Handle, nil
	case HandlerConsume:
		return (&Consume{Consumer: &queue.Consumer{Store: a.Store, Log: a.Log}, DB: db, Log: a.Log}).Handle, nil
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

// Handle answers one HTTP API event. A request that failed with a 5xx after the database refused
// a rotated password is served once more, so that it fetches the new secret, but only when it
// cannot have recorded anything: a request that tried to record a view is never re-run (its view
// may be committed though the answer was lost), unless the recording failed before it reached the
// database (see trackWrites).
func (a *API) Handle(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	before := failures(a.db)
	st := &writeState{}
	resp, err := a.adapter.ProxyWithContext(context.WithValue(ctx, writeStateKey{}, st), ev)
	if err == nil && resp.StatusCode >= 500 && authFailed(a.db, before) && ctx.Err() == nil {
		if st.mayHaveWritten.Load() {
			a.log.WarnContext(ctx, "not retrying a request that may have recorded a view, although the database refused a password", "path", ev.RawPath)
		} else {
			a.log.WarnContext(ctx, "retrying a request after the database refused the password", "path", ev.RawPath)
			resp, err = a.adapter.ProxyWithContext(context.WithValue(ctx, writeStateKey{}, &writeState{}), ev)
		}
	}
	if err != nil {
		return resp, fmt.Errorf("api: %w", err)
	}
	return resp, nil
}

// writeState says whether the request being served may have recorded a view.
type writeState struct{ mayHaveWritten atomic.Bool }

type writeStateKey struct{}

// trackWrites is the api handler's recorder: it notes in the request's writeState every Record
// that may have written, which is any but those that failed before reaching the database (no
// connection could be made, or the view was refused into a full or closing queue).
type trackWrites struct{ pageview.Recorder }

// Record records v and notes whether it may have written.
func (t trackWrites) Record(ctx context.Context, v pageview.View) error {
	err := t.Recorder.Record(ctx, v)
	if st, ok := ctx.Value(writeStateKey{}).(*writeState); ok && !cannotHaveWritten(err) {
		st.mayHaveWritten.Store(true)
	}
	return err
}

// Close closes the recorder underneath, when it has a Close.
func (t trackWrites) Close() error {
	if c, ok := t.Recorder.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// cannotHaveWritten reports errors that prove no statement reached the database.
func cannotHaveWritten(err error) bool {
	var connect *pgconn.ConnectError
	return err != nil && (errors.As(err, &connect) || errors.Is(err, ingest.ErrQueueFull) || errors.Is(err, ingest.ErrClosed))
}

// RollupSummary is what the rollup handler returns.
type RollupSummary struct {
	Folded     int64 `json:"folded"`
	Batches    int   `json:"batches"`
	Runs       int   `json:"runs"` // folds this invocation ran: more than 1 when it lingered
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
	// CanaryPath, when set, is the synthetic view checked after each run (PRAWN_CANARY_PATH), in
	// the views of storage.CanaryHost, with Stats.
	CanaryPath string
	Stats      *stats.Service
	// Now is the clock of the canary check; nil means time.Now.
	Now func() time.Time
	// Linger is how long a run keeps folding, once a second, while each fold finds at least
	// LingerViews views or that many wait (PRAWN_ROLLUP_LINGER): EventBridge runs the rollup
	// once a minute at most, and while the tail passes storage.MaxTail the reads that count its
	// rows (series, top pages, breakdowns) answer 503. 0: one run.
	Linger time.Duration
}

// LingerViews is how many views a fold must find for a lingering rollup to fold again: fewer,
// and the schedule's next run is soon enough.
const LingerViews = 1000

// The messages of the canary check: CloudWatch's metric filter counts canaryOK lines.
const (
	canaryOK      = "canary_ok"
	canaryMissing = "canary_missing"
)

// checkCanary counts the canary path's views in the current and the previous UTC hour, as
// GET /api/stats?host=canary.prawn.invalid&path=... would, and logs canary_ok when there is at
// least one, else canary_missing (a warning).
func (r *Rollup) checkCanary(ctx context.Context) {
	if r.CanaryPath == "" || r.Stats == nil {
		return
	}
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	host, path := storage.CanaryHost, r.CanaryPath
	sc, err := stats.NewScope(&host, &path)
	if err != nil {
		r.Log.ErrorContext(ctx, "canary check failed", "err", err, "path", path)
		return
	}
	at := now().UTC()
	from := at.Truncate(time.Hour).Add(-time.Hour)
	q, err := stats.NewQuery(sc, &from, nil, string(stats.Hour), "UTC", at)
	if err != nil {
		r.Log.ErrorContext(ctx, "canary check failed", "err", err, "path", path)
		return
	}
	res, err := r.Stats.Stats(ctx, q)
	if err != nil {
		r.Log.ErrorContext(ctx, "canary check failed", "err", err, "path", path)
		return
	}
	if res.Range.Views > 0 {
		r.Log.InfoContext(ctx, canaryOK, "host", host, "path", path, "views", res.Range.Views, "from", q.From)
		return
	}
	r.Log.WarnContext(ctx, canaryMissing, "host", host, "path", path, "from", q.From)
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
	sum := RollupSummary{Folded: res.Folded, Batches: res.Batches, Busy: res.Busy, Runs: 1}
	first, start := res.Duration, time.Now()
	for err == nil && !res.Busy && r.Linger > 0 && time.Since(start) < r.Linger && r.busySite(ctx, res) {
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
		if ctx.Err() != nil {
			break
		}
		res, err = rollup.Run(ctx, r.Store, r.Options)
		sum.Folded += res.Folded
		sum.Batches += res.Batches
		sum.Runs++
	}
	sum.DurationMS = (first + time.Since(start)).Milliseconds()
	if ctx.Err() == nil {
		r.checkCanary(ctx) // reads are exact whether or not the fold worked
	}
	if err != nil {
		log.ErrorContext(ctx, "rollup failed", "err", err, "event_id", ev.ID, "folded", sum.Folded)
		return sum, fmt.Errorf("rollup failed after folding %d views: %w", sum.Folded, err)
	}
	log.InfoContext(ctx, "rollup", "folded", sum.Folded, "batches", sum.Batches, "runs", sum.Runs, "busy", sum.Busy,
		"duration_ms", sum.DurationMS, "event_id", ev.ID, "scheduled_for", ev.Time)
	return sum, nil
}

// busySite reports whether a lingering run should fold again: its last fold found at least
// LingerViews views, or that many wait now (a fold can find fewer while an open transaction
// anywhere in the cluster holds the fold horizon back).
func (r *Rollup) busySite(ctx context.Context, last rollup.Result) bool {
	if last.Folded >= LingerViews {
		return true
	}
	waiting, err := r.Store.TailAtLeast(ctx, LingerViews)
	return err == nil && waiting
}

// MigrateSummary is what the migrate handler returns.
type MigrateSummary struct {
	// Applied lists the migrations this invocation applied; empty when the schema was up to date.
	Applied []string `json:"applied"`
	// Skipped says why nothing was done, for a CloudFormation Delete.
	Skipped string `json:"skipped,omitempty"`
	// AppRole is the least-privilege role provisioned, and AppRoleAuth how it logs in
	// ("password" from DB_APP_SECRET_ARN, "iam" with rds_iam, "unchanged").
	AppRole     string `json:"appRole,omitempty"`
	AppRoleAuth string `json:"appRoleAuth,omitempty"`
}

// AppRoles says which least-privilege role migrate provisions (dbconn.DB.AppRole).
type AppRoles interface {
	AppRole(ctx context.Context) (storage.AppRole, bool, error)
}

// Migrate brings the schema up to date when invoked (by the CDK trigger at deploy, or by hand),
// then provisions the app role that the other handlers log in as.
type Migrate struct {
	Store *storage.Store
	DB    AuthCounter
	Log   *slog.Logger
	// AppRole, when set, says which role to provision after migrating (false: none).
	AppRole func(ctx context.Context) (storage.AppRole, bool, error)
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
	sum := MigrateSummary{Applied: applied}
	if m.AppRole != nil {
		role, ok, err := m.AppRole(ctx)
		if err == nil && ok {
			err = m.Store.ProvisionAppRole(ctx, role)
		}
		if err != nil {
			m.Log.ErrorContext(ctx, "provisioning the app role failed", "err", err)
			return sum, fmt.Errorf("migrate: app role: %w", err)
		}
		if ok {
			sum.AppRole = role.Name
			sum.AppRoleAuth = "password"
			if role.IAM {
				sum.AppRoleAuth = "iam"
			} else if role.Password == "" {
				sum.AppRoleAuth = "unchanged"
			}
		}
	}
	m.Log.InfoContext(ctx, "migrate", "applied", applied, "app_role", sum.AppRole, "app_role_auth", sum.AppRoleAuth, "request_type", cfn.RequestType)
	return sum, nil
}

// Consume writes the SQS batches of queue ingest (see internal/queue): one INSERT per batch,
// every view once however often SQS delivers it; messages that are not views are reported as
// batch item failures (ReportBatchItemFailures), so SQS offers them again and then moves them to
// the dead-letter queue. When the database cannot be reached the invocation fails: the whole
// batch comes back after the visibility timeout, and what was written is skipped then.
type Consume struct {
	Consumer *queue.Consumer
	DB       AuthCounter
	Log      *slog.Logger
}

// Handle writes one batch.
func (c *Consume) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	ctx, cancel := beforeDeadline(ctx)
	defer cancel()
	start := time.Now()
	batch := make([]queue.Received, len(ev.Records))
	for i, r := range ev.Records {
		batch[i] = queue.Received{MessageID: r.MessageId, Body: r.Body}
	}
	before := failures(c.DB)
	res, err := c.Consumer.Consume(ctx, batch)
	if err != nil && authFailed(c.DB, before) && ctx.Err() == nil {
		// Safe to run again: a view already written is recognised by its id.
		c.Log.WarnContext(ctx, "retrying a batch after the database refused the password")
		res, err = c.Consumer.Consume(ctx, batch)
	}
	if err != nil {
		c.Log.ErrorContext(ctx, "consume failed", "err", err, "messages", len(batch))
		return events.SQSEventResponse{}, fmt.Errorf("consume a batch of %d: %w", len(batch), err)
	}
	out := events.SQSEventResponse{BatchItemFailures: make([]events.SQSBatchItemFailure, 0, len(res.Failed))}
	for _, id := range res.Failed {
		out.BatchItemFailures = append(out.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: id})
	}
	c.Log.InfoContext(ctx, "consume", "messages", res.Received, "written", res.Written, "duplicates", res.Duplicates,
		"refused", res.Refused, "expired", res.Expired, "duration_ms", time.Since(start).Milliseconds())
	return out, nil
}

// beforeDeadline ends ctx a second before the invocation's deadline, so that a long run returns
// its own error (and summary) instead of being cut off by the runtime.
func beforeDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok && time.Until(d) > 2*time.Second {
		return context.WithDeadline(ctx, d.Add(-time.Second))
	}
	return context.WithCancel(ctx)
}
