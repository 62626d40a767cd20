// Package config reads prawn's settings from the environment and validates them at start.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is prawn's configuration.
type Config struct {
	// DatabaseURL is the Postgres to use; empty means the embedded cluster under DataDir.
	DatabaseURL string
	// Addr is where `prawn serve` listens.
	Addr string
	// DataDir keeps the embedded cluster.
	DataDir string
	// RollupInterval is how often `prawn serve` folds new views; 0 turns the ticker off.
	RollupInterval time.Duration
	// DBMaxConns caps the connection pool; 0 means the driver's default.
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
	// CORSOrigins may post views from their pages; "*" means any.
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
	// IngestFlushers is how many batches may commit at the same time.
	IngestFlushers int
}

// Var describes one environment variable, for --help and the README.
type Var struct {
	Name, Default, Help string
}

// Vars lists every setting.
var Vars = []Var{
	{"DATABASE_URL", "(embedded)", "Postgres connection string; unset: a private cluster under PRAWN_DATA_DIR"},
	{"PRAWN_ADDR", "127.0.0.1:8080", "host:port that `prawn serve` listens on"},
	{"PRAWN_DATA_DIR", "./.prawn", "folder for the embedded database"},
	{"PRAWN_ROLLUP_INTERVAL", "1m", "how often `prawn serve` folds new views into the rollups; 0 turns it off"},
	{"PRAWN_DB_MAX_CONNS", "(4 per CPU)", "connection pool size"},
	{"PRAWN_LOG_LEVEL", "info", "debug, info, warn or error"},
	{"PRAWN_LOG_FORMAT", "text", "text or json"},
	{"PRAWN_TRUSTED_PROXIES", "(none)", "comma list of CIDRs or addresses whose X-Forwarded-For is believed (CloudFront's ranges in AWS)"},
	{"PRAWN_RATE_LIMIT", "10", "views a second one client may record (POST /api/views, GET /api/home); 0 turns it off; loopback is exempt"},
	{"PRAWN_RATE_BURST", "50", "views one client may record at once before PRAWN_RATE_LIMIT applies"},
	{"PRAWN_CORS_ORIGINS", "(none)", "comma list of origins such as https://example.com whose pages may POST /api/views; * for any"},
	{"PRAWN_HSTS", "false", "true sends Strict-Transport-Security (behind an HTTPS proxy); always sent over TLS"},
	{"PRAWN_DB_TIMEOUT", "800ms", "longest an API request waits for the database before answering 503"},
	{"PRAWN_INGEST_MODE", "batch", "batch: group commit of concurrent views; direct: one INSERT per view (the benchmark baseline)"},
	{"PRAWN_INGEST_MAX_BATCH", "256", "most views one group-commit INSERT carries"},
	{"PRAWN_INGEST_MAX_WAIT", "2ms", "under load (other views waiting, or a batch committing), how long a flusher keeps gathering views into its batch; a lone view never waits; 0 never waits"},
	{"PRAWN_INGEST_QUEUE", "2048", "most views waiting to be committed; beyond it POSTs get 503 with Retry-After"},
	{"PRAWN_INGEST_FLUSHERS", "4", "how many batches may commit at the same time (each holds a database connection; keep it below PRAWN_DB_MAX_CONNS)"},
}

// FromEnv reads the configuration from the environment, naming every invalid value at once.
func FromEnv() (Config, error) {
	return Load(os.Getenv)
}

// Load reads the configuration through getenv.
func Load(getenv func(string) string) (Config, error) {
	get := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	c := Config{
		DatabaseURL: get("DATABASE_URL", ""),
		Addr:        get("PRAWN_ADDR", "127.0.0.1:8080"),
		DataDir:     get("PRAWN_DATA_DIR", "./.prawn"),
		LogFormat:   get("PRAWN_LOG_FORMAT", "text"),
		IngestMode:  get("PRAWN_INGEST_MODE", "batch"),
	}
	var errs []error
	if _, port, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("PRAWN_ADDR=%q: want host:port such as 127.0.0.1:8080", c.Addr))
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		errs = append(errs, fmt.Errorf("PRAWN_ADDR=%q: port must be a number from 0 to 65535", c.Addr))
	}
	iv := get("PRAWN_ROLLUP_INTERVAL", "1m")
	if d, err := time.ParseDuration(iv); err != nil || d < 0 || (d > 0 && d < time.Second) {
		errs = append(errs, fmt.Errorf("PRAWN_ROLLUP_INTERVAL=%q: want a duration of at least 1s such as 30s or 5m, or 0 to turn it off", iv))
	} else {
		c.RollupInterval = d
	}
	if v := get("PRAWN_DB_MAX_CONNS", ""); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			errs = append(errs, fmt.Errorf("PRAWN_DB_MAX_CONNS=%q: want a whole number from 1 to 1000", v))
		}
		c.DBMaxConns = int32(n)
	}
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
	c.IngestFlushers = intVar("PRAWN_INGEST_FLUSHERS", 4, 1, 64)
	mw := get("PRAWN_INGEST_MAX_WAIT", "2ms")
	if d, err := time.ParseDuration(mw); err != nil || d < 0 || d > time.Second {
		errs = append(errs, fmt.Errorf("PRAWN_INGEST_MAX_WAIT=%q: want a duration from 0 to 1s such as 0 or 2ms", mw))
	} else {
		c.IngestMaxWait = d
	}
	errs = append(errs, c.loadEdge(get)...)
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
