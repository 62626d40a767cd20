// Package config reads prawn's settings from the environment and validates them at start. It is
// the one loader of `prawn serve`, the other commands and every Lambda handler: a setting means
// the same wherever it applies, and Vars says where that is.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Config is prawn's configuration.
type Config struct {
	// DatabaseURL is the Postgres to use; empty means the embedded cluster under DataDir (in
	// Lambda: the RDS database that internal/dbconn reads from DB_HOST and the others).
	DatabaseURL string
	// Addr is where `prawn serve` listens.
	Addr string
	// DataDir keeps the embedded cluster.
	DataDir string
	// RollupInterval is how often `prawn serve` folds new views; 0 turns the ticker off.
	RollupInterval time.Duration
	// DBMaxConns is the size of the connection pool, defaults resolved (never 0).
	DBMaxConns int32
	// LogLevel is the least severe level logged.
	LogLevel slog.Level
	// LogFormat is "text" or "json".
	LogFormat string
	// TrustedProxies are the proxies whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// RateLimit is the views a second one client may record; 0 turns the limit off.
	RateLimit float64
	// RateBurst is the views one client may record at once.
	RateBurst int
	// CORSOrigins may call the recording operations from their pages; "*" means any.
	CORSOrigins []string
	// HSTS sends Strict-Transport-Security on every answer.
	HSTS bool
	// DBTimeout bounds an API request's database work; past it the answer is 503.
	DBTimeout time.Duration
	// IngestMode is "batch" (group commit) or "direct" (one INSERT per view).
	IngestMode string
	// IngestMaxBatch is the most views one group-commit INSERT carries.
	IngestMaxBatch int
	// IngestMaxWait is how long a flusher waits to fill a batch; 0 commits what waits at once.
	IngestMaxWait time.Duration
	// IngestQueue is the most views waiting to be committed before new ones get 503.
	IngestQueue int
	// IngestFlushers is how many batches may commit at the same time, defaults resolved.
	IngestFlushers int
	// OwnData is private stats and raw retention (owndata.go).
	OwnData
}

// Use is what a process does with the configuration. It picks the defaults that differ between
// the transports (the pool and the log format in Lambda) and the checks that apply (the
// ingest settings against the pool where views are recorded).
type Use int

// The uses of the configuration.
const (
	// Serve is `prawn serve`.
	Serve Use = iota
	// Command is the other commands: migrate, rollup, verify, seed.
	Command
	// LambdaAPI is the api Lambda handler.
	LambdaAPI
	// LambdaJob is the rollup and migrate Lambda handlers.
	LambdaJob
)

// Lambda reports whether u runs in AWS Lambda.
func (u Use) Lambda() bool { return u == LambdaAPI || u == LambdaJob }

// records reports whether u records views, through the ingest settings.
func (u Use) records() bool { return u == Serve || u == LambdaAPI }

// Defaults that depend on where prawn runs.
const (
	// LambdaMaxConns is the pool of a Lambda instance, which serves one request at a time.
	LambdaMaxConns = 2
	// MaxFlushers is the default of PRAWN_INGEST_FLUSHERS where the pool leaves room for it.
	MaxFlushers = 4
)

// Where says in which uses a setting applies.
type Where uint8

// Places where a setting applies.
const (
	InServe  Where = 1 << iota // prawn serve
	InCLI                      // prawn migrate, rollup, verify, seed
	InLambda                   // the Lambda handlers (edge and ingest settings: the api handler)
)

// String is the list that --help and the README show.
func (w Where) String() string {
	var names []string
	for _, p := range []struct {
		w    Where
		name string
	}{{InServe, "serve"}, {InCLI, "CLI"}, {InLambda, "Lambda"}} {
		if w&p.w != 0 {
			names = append(names, p.name)
		}
	}
	return strings.Join(names, ", ")
}

// Var describes one environment variable, for --help and the README.
type Var struct {
	Name, Default string
	Where         Where
	Help          string
}

const (
	everywhere = InServe | InCLI | InLambda
	recording  = InServe | InLambda // the HTTP edge and ingest: serve and the api handler
)

// Vars lists every setting. Every one is validated by every use (a typo is refused wherever it
// is made); Where says where it has an effect.
var Vars = []Var{
	{"DATABASE_URL", "embedded", everywhere, "Postgres connection string; unset: a private cluster under PRAWN_DATA_DIR (in Lambda: the DB_* settings)"},
	{"PRAWN_ADDR", "127.0.0.1:8080", InServe, "host:port that `prawn serve` listens on"},
	{"PRAWN_DATA_DIR", "./.prawn", InServe | InCLI, "folder for the embedded database"},
	{"PRAWN_ROLLUP_INTERVAL", "1s", InServe, "how often `prawn serve` folds new views into the rollups (sooner when 1000 views wait); 0 turns it off"},
	{"PRAWN_DB_MAX_CONNS", "pool_max_conns of DATABASE_URL if given, else 4 or the CPUs, whichever is more; Lambda: 2", everywhere, "connection pool size"},
	{"PRAWN_LOG_LEVEL", "info", everywhere, "debug, info, warn or error"},
	{"PRAWN_LOG_FORMAT", "text; Lambda: json", everywhere, "text or json"},
	{"PRAWN_TRUSTED_PROXIES", "none", recording, "comma list of CIDRs or addresses whose X-Forwarded-For is believed (CloudFront's ranges in AWS)"},
	{"PRAWN_RATE_LIMIT", "10", recording, "views a second one client may record (POST /api/views, GET /api/home); 0 turns it off; loopback is exempt"},
	{"PRAWN_RATE_BURST", "50", recording, "views one client may record at once before PRAWN_RATE_LIMIT applies"},
	{"PRAWN_CORS_ORIGINS", "none", recording, "comma list of origins such as https://example.com whose pages may record views (POST /api/views, GET /api/home); * for any"},
	{"PRAWN_HSTS", "false", recording, "true sends Strict-Transport-Security (behind an HTTPS proxy); always sent over TLS"},
	{"PRAWN_DB_TIMEOUT", "800ms", recording, "longest an API request waits for the database before answering 503"},
	{"PRAWN_INGEST_MODE", "batch", recording, "batch: group commit of concurrent views; direct: one INSERT per view (the benchmark baseline)"},
	{"PRAWN_INGEST_MAX_BATCH", "256", recording, "most views one group-commit INSERT carries"},
	{"PRAWN_INGEST_MAX_WAIT", "2ms", recording, "under load (other views waiting, or a batch committing), how long a flusher keeps gathering views into its batch; a lone view never waits; 0 never waits"},
	{"PRAWN_INGEST_QUEUE", "2048", recording, "most views waiting to be committed; beyond it POSTs get 503 with Retry-After"},
	{"PRAWN_INGEST_FLUSHERS", "4, at most the pool less one; Lambda: 1", recording, "how many batches may commit at the same time; each holds a connection, so it must be below PRAWN_DB_MAX_CONNS"},
	{"DB_HOST", "none", InLambda, "RDS host, when DATABASE_URL is not set; with DB_PORT (5432) and DB_NAME"},
	{"DB_PORT", "5432", InLambda, "RDS port"},
	{"DB_NAME", "none", InLambda, "RDS database name"},
	{"DB_SECRET_ARN", "none", InLambda, "Secrets Manager secret with the database user name and password"},
	{"DB_IAM_USER", "none", InLambda, "instead of DB_SECRET_ARN: log in with an RDS IAM auth token as this user (with AWS_REGION)"},
}

// FromEnv reads the configuration for use from the environment, naming every invalid value at
// once.
func FromEnv(use Use) (Config, error) {
	return Load(os.Getenv, use)
}

// Load reads the configuration for use through getenv.
func Load(getenv func(string) string, use Use) (Config, error) {
	get := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	logFormat := "text"
	if use.Lambda() {
		logFormat = "json" // for CloudWatch Logs Insights
	}
	c := Config{
		DatabaseURL: get("DATABASE_URL", ""),
		Addr:        get("PRAWN_ADDR", "127.0.0.1:8080"),
		DataDir:     get("PRAWN_DATA_DIR", "./.prawn"),
		LogFormat:   get("PRAWN_LOG_FORMAT", logFormat),
		IngestMode:  get("PRAWN_INGEST_MODE", "batch"),
	}
	var errs []error
	if _, port, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("PRAWN_ADDR=%q: want host:port such as 127.0.0.1:8080", c.Addr))
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		errs = append(errs, fmt.Errorf("PRAWN_ADDR=%q: port must be a number from 0 to 65535", c.Addr))
	}
	iv := get("PRAWN_ROLLUP_INTERVAL", "1s")
	if d, err := time.ParseDuration(iv); err != nil || d < 0 || (d > 0 && d < 100*time.Millisecond) {
		errs = append(errs, fmt.Errorf("PRAWN_ROLLUP_INTERVAL=%q: want a duration of at least 100ms such as 1s or 1m, or 0 to turn it off", iv))
	} else {
		c.RollupInterval = d
	}
	pool := c.pool(get("PRAWN_DB_MAX_CONNS", ""), use)
	if pool.err != nil {
		errs = append(errs, pool.err)
	}
	c.DBMaxConns = pool.size
	if c.IngestMode != "batch" && c.IngestMode != "direct" {
		errs = append(errs, fmt.Errorf("PRAWN_INGEST_MODE=%q: want batch or direct", c.IngestMode))
	}
	intVar := func(name string, def, lo, hi int) int {
		v := get(name, strconv.Itoa(def))
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			errs = append(errs, fmt.Errorf("%s=%q: want a whole number from %d to %d", name, v, lo, hi))
		}
		return n
	}
	c.IngestMaxBatch = intVar("PRAWN_INGEST_MAX_BATCH", 256, 1, 10000)
	c.IngestQueue = intVar("PRAWN_INGEST_QUEUE", 2048, 1, 1000000)
	flushersSet := get("PRAWN_INGEST_FLUSHERS", "") != ""
	c.IngestFlushers = intVar("PRAWN_INGEST_FLUSHERS", defaultFlushers(int(c.DBMaxConns)), 1, 64)
	mw := get("PRAWN_INGEST_MAX_WAIT", "2ms")
	if d, err := time.ParseDuration(mw); err != nil || d < 0 || d > time.Second {
		errs = append(errs, fmt.Errorf("PRAWN_INGEST_MAX_WAIT=%q: want a duration from 0 to 1s such as 0 or 2ms", mw))
	} else {
		c.IngestMaxWait = d
	}
	if len(errs) == 0 && use.records() {
		if err := c.checkIngest(pool, flushersSet); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, c.loadEdge(get)...)
	errs = append(errs, c.loadOwnData(get)...)
	lv := get("PRAWN_LOG_LEVEL", "info")
	if err := c.LogLevel.UnmarshalText([]byte(lv)); err != nil {
		errs = append(errs, fmt.Errorf("PRAWN_LOG_LEVEL=%q: want debug, info, warn or error", lv))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("PRAWN_LOG_FORMAT=%q: want text or json", c.LogFormat))
	}
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	return c, nil
}

// poolSize is the connection pool's size and where it comes from.
type poolSize struct {
	size   int32
	source string // for messages: "PRAWN_DB_MAX_CONNS=4", "the default pool of 4", ...
	err    error
}

// pool resolves the pool's size: PRAWN_DB_MAX_CONNS (v); else DATABASE_URL's pool_max_conns;
// else LambdaMaxConns in Lambda, pgx's default elsewhere (4 or the CPUs, whichever is more).
func (c *Config) pool(v string, use Use) poolSize {
	if v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return poolSize{err: fmt.Errorf("PRAWN_DB_MAX_CONNS=%q: want a whole number from 1 to 1000", v)}
		}
		return poolSize{size: int32(n), source: "PRAWN_DB_MAX_CONNS=" + v}
	}
	if u, err := url.Parse(c.DatabaseURL); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		if s := u.Query().Get("pool_max_conns"); s != "" {
			if n, err := strconv.Atoi(s); err == nil && n >= 1 {
				return poolSize{size: int32(n), source: "pool_max_conns=" + s + " in DATABASE_URL"}
			}
		}
	}
	if use.Lambda() {
		return poolSize{size: LambdaMaxConns, source: fmt.Sprintf("the pool of a Lambda instance (%d connections)", LambdaMaxConns)}
	}
	n := max(4, runtime.NumCPU())
	return poolSize{size: int32(n), source: fmt.Sprintf("the default pool (%d connections: 4 or the CPUs, whichever is more)", n)}
}

// defaultFlushers follows the pool: MaxFlushers, but always one connection fewer than the pool,
// so that reads find one while every flusher commits.
func defaultFlushers(pool int) int {
	return max(1, min(MaxFlushers, pool-1))
}

// checkIngest refuses ingest settings that the pool cannot serve: each committing batch holds a
// connection, and the reads (the count of GET /api/home, /readyz) need one more.
func (c *Config) checkIngest(pool poolSize, flushersSet bool) error {
	if c.IngestMode != "batch" || int32(c.IngestFlushers) < pool.size {
		return nil
	}
	if !flushersSet {
		return fmt.Errorf("%s is too small for group commit (PRAWN_INGEST_MODE=batch): its flusher holds a connection and reads need another; set PRAWN_DB_MAX_CONNS to 2 or more, or PRAWN_INGEST_MODE=direct",
			pool.source)
	}
	return fmt.Errorf("PRAWN_INGEST_FLUSHERS=%d with %s: each committing batch holds a connection and reads need one more, so at most %d flushers fit; lower PRAWN_INGEST_FLUSHERS or raise PRAWN_DB_MAX_CONNS",
		c.IngestFlushers, pool.source, pool.size-1)
}

// loadEdge reads the settings of the HTTP edge: proxies, rate limit, CORS, HSTS, DB timeout.
func (c *Config) loadEdge(get func(name, def string) string) []error {
	var errs []error
	for _, v := range strings.Split(get("PRAWN_TRUSTED_PROXIES", ""), ",") {
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		p, err := netip.ParsePrefix(v)
		if err != nil {
			a, aerr := netip.ParseAddr(v)
			if aerr != nil {
				errs = append(errs, fmt.Errorf("PRAWN_TRUSTED_PROXIES: %q is neither a CIDR such as 10.0.0.0/8 nor an address", v))
				continue
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		c.TrustedProxies = append(c.TrustedProxies, p.Masked())
	}
	rl := get("PRAWN_RATE_LIMIT", "10")
	if f, err := strconv.ParseFloat(rl, 64); err != nil || f < 0 || f > 1e6 || f != f {
		errs = append(errs, fmt.Errorf("PRAWN_RATE_LIMIT=%q: want views a second from 0 (off) to 1000000, such as 10 or 0.5", rl))
	} else {
		c.RateLimit = f
	}
	rb := get("PRAWN_RATE_BURST", "50")
	if n, err := strconv.Atoi(rb); err != nil || n < 1 || n > 1000000 {
		errs = append(errs, fmt.Errorf("PRAWN_RATE_BURST=%q: want a whole number from 1 to 1000000", rb))
	} else {
		c.RateBurst = n
	}
	for _, o := range strings.Split(get("PRAWN_CORS_ORIGINS", ""), ",") {
		if o = strings.TrimSpace(o); o == "" {
			continue
		}
		if o != "*" {
			u, err := url.Parse(o)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil {
				errs = append(errs, fmt.Errorf("PRAWN_CORS_ORIGINS: %q is not an origin such as https://example.com (scheme and host, no path)", o))
				continue
			}
		}
		c.CORSOrigins = append(c.CORSOrigins, o)
	}
	hs := get("PRAWN_HSTS", "false")
	if b, err := strconv.ParseBool(hs); err != nil {
		errs = append(errs, fmt.Errorf("PRAWN_HSTS=%q: want true or false", hs))
	} else {
		c.HSTS = b
	}
	dt := get("PRAWN_DB_TIMEOUT", "800ms")
	if d, err := time.ParseDuration(dt); err != nil || d < 0 || d > time.Minute {
		errs = append(errs, fmt.Errorf("PRAWN_DB_TIMEOUT=%q: want a duration up to 1m such as 800ms, or 0 for no bound", dt))
	} else {
		c.DBTimeout = d
	}
	return errs
}

// Logger builds the logger the configuration asks for, writing to stderr.
func (c Config) Logger() *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}
