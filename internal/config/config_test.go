package config

import (
	"fmt"
	"os"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c, err := Load(env(nil), Serve)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:8080" || c.DataDir != "./.prawn" || c.RollupInterval != time.Second || c.DatabaseURL != "" || c.LogFormat != "text" {
		t.Errorf("defaults = %+v", c)
	}
	pool := max(4, runtime.NumCPU())
	if c.DBMaxConns != int32(pool) || c.IngestFlushers != min(4, pool-1) {
		t.Errorf("pool %d, flushers %d; want pgx's default pool %d and one flusher fewer (at most 4)", c.DBMaxConns, c.IngestFlushers, pool)
	}
}

func TestInvalidValuesAreAllNamed(t *testing.T) {
	_, err := Load(env(map[string]string{
		"PRAWN_ADDR":            "localhost",
		"PRAWN_ROLLUP_INTERVAL": "10ms",
		"PRAWN_LOG_LEVEL":       "loud",
		"PRAWN_LOG_FORMAT":      "xml",
		"PRAWN_DB_MAX_CONNS":    "0",
	}), Serve)
	if err == nil {
		t.Fatal("no error")
	}
	for _, name := range []string{"PRAWN_ADDR", "PRAWN_ROLLUP_INTERVAL", "PRAWN_LOG_LEVEL", "PRAWN_LOG_FORMAT", "PRAWN_DB_MAX_CONNS"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
}

func TestRollupIntervalZeroTurnsTickerOff(t *testing.T) {
	c, err := Load(env(map[string]string{"PRAWN_ROLLUP_INTERVAL": "0"}), Serve)
	if err != nil || c.RollupInterval != 0 {
		t.Errorf("interval 0: %+v, %v", c, err)
	}
}

// TestIngestFollowsThePool checks that the flushers default to fewer than the pool's
// connections, in Lambda too, and that settings the pool cannot serve are refused at start
// where views are recorded, with an error that says what to change.
func TestIngestFollowsThePool(t *testing.T) {
	for _, tt := range []struct {
		use             Use
		env             map[string]string
		pool, flushers  int
		logFormat, errs string
	}{
		{use: Serve, env: map[string]string{"PRAWN_DB_MAX_CONNS": "10"}, pool: 10, flushers: 4},
		{use: Serve, env: map[string]string{"PRAWN_DB_MAX_CONNS": "3"}, pool: 3, flushers: 2},
		{use: Serve, env: map[string]string{"PRAWN_DB_MAX_CONNS": "2"}, pool: 2, flushers: 1},
		{use: Serve, env: map[string]string{"DATABASE_URL": "postgres://u@h/db?pool_max_conns=8"}, pool: 8, flushers: 4},
		{use: LambdaAPI, pool: 2, flushers: 1, logFormat: "json"},
		{use: LambdaAPI, env: map[string]string{"DATABASE_URL": "postgres://u@h/db?pool_max_conns=5"}, pool: 5, flushers: 4, logFormat: "json"},
		{use: LambdaJob, pool: 2, flushers: 1, logFormat: "json"},
		{use: LambdaAPI, env: map[string]string{"PRAWN_DB_MAX_CONNS": "6", "PRAWN_LOG_FORMAT": "text"}, pool: 6, flushers: 4, logFormat: "text"},
		{use: Serve, env: map[string]string{"PRAWN_DB_MAX_CONNS": "1", "PRAWN_INGEST_MODE": "direct"}, pool: 1, flushers: 1},
		{use: Command, env: map[string]string{"PRAWN_DB_MAX_CONNS": "1"}, pool: 1, flushers: 1}, // records nothing
		{use: Serve, env: map[string]string{"PRAWN_DB_MAX_CONNS": "4", "PRAWN_INGEST_FLUSHERS": "4"},
			errs: "PRAWN_INGEST_FLUSHERS=4 with PRAWN_DB_MAX_CONNS=4: each committing batch holds a connection and reads need one more, so at most 3 flushers fit"},
		{use: LambdaAPI, env: map[string]string{"PRAWN_INGEST_FLUSHERS": "4"},
			errs: "PRAWN_INGEST_FLUSHERS=4 with the pool of a Lambda instance (2 connections)"},
		{use: Serve, env: map[string]string{"PRAWN_DB_MAX_CONNS": "1"},
			errs: "PRAWN_DB_MAX_CONNS=1 is too small for group commit (PRAWN_INGEST_MODE=batch): its flusher holds a connection and reads need another"},
	} {
		c, err := Load(env(tt.env), tt.use)
		if tt.errs != "" {
			if err == nil || !strings.Contains(err.Error(), tt.errs) {
				t.Errorf("use %d %v: err = %v, want %q", tt.use, tt.env, err, tt.errs)
			}
			continue
		}
		if tt.logFormat == "" {
			tt.logFormat = "text"
		}
		if err != nil || c.DBMaxConns != int32(tt.pool) || c.IngestFlushers != tt.flushers || c.LogFormat != tt.logFormat {
			t.Errorf("use %d %v: pool %d flushers %d log %s, %v; want %d, %d, %s", tt.use, tt.env, c.DBMaxConns, c.IngestFlushers, c.LogFormat, err, tt.pool, tt.flushers, tt.logFormat)
		}
	}
}

// TestSettingsMeanTheSameInLambda loads the same environment for `prawn serve` and for the api
// Lambda handler: every setting but those whose defaults follow the transport is the same.
func TestSettingsMeanTheSameInLambda(t *testing.T) {
	e := env(map[string]string{
		"PRAWN_TRUSTED_PROXIES": "10.0.0.0/8", "PRAWN_RATE_LIMIT": "1", "PRAWN_RATE_BURST": "2",
		"PRAWN_CORS_ORIGINS": "https://blog.example", "PRAWN_HSTS": "true", "PRAWN_DB_TIMEOUT": "300ms",
		"PRAWN_INGEST_MODE": "batch", "PRAWN_INGEST_MAX_BATCH": "16", "PRAWN_INGEST_MAX_WAIT": "1ms",
		"PRAWN_INGEST_QUEUE": "64", "PRAWN_INGEST_FLUSHERS": "2", "PRAWN_DB_MAX_CONNS": "3",
		"PRAWN_LOG_LEVEL": "debug", "PRAWN_LOG_FORMAT": "json", "PRAWN_TAIL_FOLD_MB": "100",
	})
	serve, err := Load(e, Serve)
	if err != nil {
		t.Fatal(err)
	}
	lambda, err := Load(e, LambdaAPI)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(serve, lambda) {
		t.Errorf("serve %+v\nlambda %+v", serve, lambda)
	}
	if lambda.RateLimit != 1 || lambda.RateBurst != 2 || len(lambda.CORSOrigins) != 1 || lambda.DBTimeout != 300*time.Millisecond || lambda.IngestFlushers != 2 {
		t.Errorf("lambda = %+v", lambda)
	}
}

// TestTailFoldMemoryFollowsTheTransport: PRAWN_TAIL_FOLD_MB defaults to 256 for serve and to a
// quarter of the function's memory in Lambda.
func TestTailFoldMemoryFollowsTheTransport(t *testing.T) {
	for _, c := range []struct {
		use  Use
		env  map[string]string
		want int
	}{
		{Serve, nil, 256},
		{Serve, map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024"}, 256},
		{LambdaAPI, map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024"}, 256},
		{LambdaAPI, map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256"}, 64},
		{LambdaAPI, nil, 32},
		{LambdaAPI, map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256", "PRAWN_TAIL_FOLD_MB": "0"}, 0},
	} {
		cfg, err := Load(env(c.env), c.use)
		if err != nil || cfg.TailFoldMB != c.want {
			t.Errorf("%v %v: PRAWN_TAIL_FOLD_MB resolved to %d, %v; want %d", c.use, c.env, cfg.TailFoldMB, err, c.want)
		}
	}
	if _, err := Load(env(map[string]string{"PRAWN_TAIL_FOLD_MB": "-1"}), Serve); err == nil || !strings.Contains(err.Error(), "PRAWN_TAIL_FOLD_MB") {
		t.Errorf("PRAWN_TAIL_FOLD_MB=-1: %v", err)
	}
}

// TestReadmeListsEverySetting keeps the README's table true: every setting, with where it
// applies as --help says.
func TestReadmeListsEverySetting(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if cells := strings.Split(line, " | "); len(cells) >= 4 && strings.HasPrefix(line, "| `") {
			rows[strings.Trim(cells[0], "| `")] = cells[2]
		}
	}
	for _, v := range Vars {
		where, ok := rows[v.Name]
		if !ok {
			t.Errorf("README's configuration table has no row for %s", v.Name)
		} else if where != v.Where.String() {
			t.Errorf("README says %s applies in %q, --help says %q", v.Name, where, v.Where)
		}
	}
}

func TestSitesAndCountryHeader(t *testing.T) {
	c, err := Load(env(map[string]string{"PRAWN_SITES": " Blog.Example.com, docs.example.com.,blog.example.com ,",
		"PRAWN_COUNTRY_HEADER": "cloudfront-viewer-country"}), Serve)
	if err != nil || !reflect.DeepEqual(c.Sites, []string{"blog.example.com", "docs.example.com"}) || c.CountryHeader != "Cloudfront-Viewer-Country" {
		t.Errorf("sites %q, country header %q, %v", c.Sites, c.CountryHeader, err)
	}
	c, err = Load(env(nil), LambdaAPI)
	if err != nil || c.Sites != nil || c.CountryHeader != "" {
		t.Errorf("defaults: sites %q, country header %q, %v; want none", c.Sites, c.CountryHeader, err)
	}
	for _, bad := range []string{"https://blog.example.com", "blog.example.com:8080", "blog.example.com/x", "bad host", "-x.example", "*.example.com"} {
		_, err := Load(env(map[string]string{"PRAWN_SITES": "ok.example, " + bad}), Serve)
		if err == nil || !strings.Contains(err.Error(), "PRAWN_SITES: "+strconv.Quote(bad)+" is not a hostname") {
			t.Errorf("PRAWN_SITES=%q: err = %v", bad, err)
		}
	}
	for _, bad := range []string{"CF IPCountry", "Country:", "Länder"} {
		if _, err := Load(env(map[string]string{"PRAWN_COUNTRY_HEADER": bad}), Serve); err == nil || !strings.Contains(err.Error(), "PRAWN_COUNTRY_HEADER") {
			t.Errorf("PRAWN_COUNTRY_HEADER=%q: err = %v", bad, err)
		}
	}
}

func TestQueueIngest(t *testing.T) {
	q := map[string]string{"PRAWN_INGEST_MODE": "queue", "PRAWN_QUEUE_URL": "https://sqs.eu-central-1.amazonaws.com/123456789012/views"}
	c, err := Load(env(q), LambdaAPI)
	if err != nil || c.IngestMode != IngestQueue || c.QueueURL != q["PRAWN_QUEUE_URL"] {
		t.Errorf("queue mode: %+v, %v", c, err)
	}
	// The pool's flusher check is for group commit only.
	q2 := map[string]string{"PRAWN_INGEST_MODE": "queue", "PRAWN_QUEUE_URL": "http://127.0.0.1:9324/000000000000/views", "PRAWN_DB_MAX_CONNS": "1"}
	if _, err := Load(env(q2), LambdaAPI); err != nil {
		t.Errorf("queue mode with a pool of 1: %v", err)
	}
	for _, tt := range []struct {
		env  map[string]string
		use  Use
		want string
	}{
		{map[string]string{"PRAWN_INGEST_MODE": "queue"}, LambdaAPI, "PRAWN_INGEST_MODE=queue needs PRAWN_QUEUE_URL"},
		{q, Serve, "PRAWN_INGEST_MODE=queue is for the api Lambda function"},
		{map[string]string{"PRAWN_INGEST_MODE": "queue", "PRAWN_QUEUE_URL": "views"}, LambdaAPI, `PRAWN_QUEUE_URL="views": want an SQS queue URL`},
		{map[string]string{"PRAWN_INGEST_MODE": "sqs"}, LambdaAPI, "want batch, direct or queue"},
		{map[string]string{"PRAWN_CANARY_PATH": "canary"}, LambdaJob, `PRAWN_CANARY_PATH="canary": want a page path`},
	} {
		if _, err := Load(env(tt.env), tt.use); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: err = %v, want %q", tt.env, err, tt.want)
		}
	}
	c, err = Load(env(map[string]string{"PRAWN_CANARY_PATH": "/_prawn/canary"}), LambdaJob)
	if err != nil || c.CanaryPath != "/_prawn/canary" {
		t.Errorf("canary path: %+v, %v", c.CanaryPath, err)
	}
}

// TestEdgeSettings: the read limit, the loopback opt-in, the origin secret (never shown) and the
// connection caps; PRAWN_RATE_LIMIT=0 turns every per-client limit off, reads too.
func TestEdgeSettings(t *testing.T) {
	c, err := Load(env(nil), Serve)
	if err != nil || c.ReadRateLimit != 20 || c.ReadRateBurst != 120 || c.RateExemptLoopback || c.OriginSecret != "" ||
		c.MaxNewPaths != 1000 || c.MaxConns != 1024 || c.MaxConnsPerClient != 32 {
		t.Errorf("defaults: %+v, %v", c, err)
	}
	c, err = Load(env(map[string]string{"PRAWN_RATE_LIMIT": "0", "PRAWN_READ_RATE_LIMIT": "5"}), Serve)
	if err != nil || c.RateLimit != 0 || c.ReadRateLimit != 0 || c.MaxConnsPerClient != 0 || c.MaxConns != 1024 {
		t.Errorf("PRAWN_RATE_LIMIT=0: rate %g, read rate %g, conns per client %d, conns %d, %v; want every per-client limit off", c.RateLimit, c.ReadRateLimit, c.MaxConnsPerClient, c.MaxConns, err)
	}
	const secret = "0123456789abcdef-secret"
	c, err = Load(env(map[string]string{"PRAWN_ORIGIN_SECRET": secret, "PRAWN_RATE_EXEMPT_LOOPBACK": "true"}), LambdaAPI)
	if err != nil || string(c.OriginSecret) != secret || !c.RateExemptLoopback {
		t.Errorf("secret and opt-in: %v", err)
	}
	if s := fmt.Sprintf("%v %+v %#v %s", c, c, c, c.OriginSecret); strings.Contains(s, secret) {
		t.Errorf("the configuration prints the secret: %s", s)
	}
	_, err = Load(env(map[string]string{"PRAWN_ORIGIN_SECRET": "short secret", "PRAWN_READ_RATE_LIMIT": "-1", "PRAWN_READ_RATE_BURST": "0",
		"PRAWN_RATE_EXEMPT_LOOPBACK": "yes", "PRAWN_MAX_NEW_PATHS": "-1", "PRAWN_MAX_CONNS": "0", "PRAWN_MAX_CONNS_PER_CLIENT": "x"}), Serve)
	for _, name := range []string{"PRAWN_ORIGIN_SECRET", "PRAWN_READ_RATE_LIMIT", "PRAWN_READ_RATE_BURST", "PRAWN_RATE_EXEMPT_LOOPBACK",
		"PRAWN_MAX_NEW_PATHS", "PRAWN_MAX_CONNS", "PRAWN_MAX_CONNS_PER_CLIENT"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("invalid %s not named: %v", name, err)
		}
	}
	if err != nil && strings.Contains(err.Error(), "short secret") {
		t.Errorf("the error repeats the secret: %v", err)
	}
}
