// Package config reads prawn's settings from the environment and validates them at start. It is
// the one loader of `prawn serve`, the other commands and every Lambda handler: a setting means
// the same wherever it applies, and Vars says where that is.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/prawnhq/prawn/internal/pageview"
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
	// RateLimit is the views a second one client may record; 0 turns every per-client limit
	// off (reads too).
	RateLimit float64
	// RateBurst is the views one client may record at once.
	RateBurst int
	// ReadRateLimit is the reads a second one client may make; 0 turns the read limit off.
	ReadRateLimit float64
	// ReadRateBurst is the reads one client may make at once.
	ReadRateBurst int
	// RateExemptLoopback leaves clients that connect from loopback directly (not through a
	// trusted proxy) unlimited: local benchmarks only.
	RateExemptLoopback bool
	// OriginSecret, when set, is the X-Origin-Verify value every request must carry (the CDN's
	// secret header); only requests carrying it have the CDN's viewer headers believed.
	OriginSecret Secret
	// MaxNewPaths is how many paths (and referrers, campaign values) one host may gain in a
	// UTC day that it did not have the day before; 0 means no bound.
	MaxNewPaths int
	// MaxConns caps the connections `prawn serve` holds open; MaxConnsPerClient those of one
	// client address (trusted proxies excepted; 0, no cap, when RateLimit is 0).
	MaxConns, MaxConnsPerClient int
	// CORSOrigins may call the recording operations from their pages; "*" means any.
	CORSOrigins []string
	// HSTS sends Strict-Transport-Security on every answer.
	HSTS bool
	// DBTimeout bounds an API request's database work; past it the answer is 503.
	DBTimeout time.Duration
	// Sites are the hostnames (normalised as views' hosts are) whose views are counted; empty
	// counts every host. Views without a host (the default site) always count.
	Sites []string
	// CountryHeader names the header a trusted proxy gives the viewer's country in (such as
	// CloudFront-Viewer-Country), canonical; "" reads no country.
	CountryHeader string
	// IngestMode is "batch" (group commit), "direct" (one INSERT per view) or "queue" (views
	// are sent to the SQS queue QueueURL and written by the consume Lambda handler).
	IngestMode string
	// QueueURL is the SQS queue of accepted views (IngestMode "queue").
	QueueURL string
	// CanaryPath, when set, is the path of the synthetic view whose presence the rollup Lambda
	// handler checks after each run (in the views of the reserved canary host).
	CanaryPath string
	// RollupLinger is how long the rollup Lambda handler keeps folding, once a second, while each
	// fold finds (or there wait) at least 1 000 views (PRAWN_ROLLUP_LINGER); 0: one run.
	RollupLinger time.Duration
	// IngestMaxBatch is the most views one group-commit INSERT carries.
	IngestMaxBatch int
	// IngestMaxWait is how long a flusher waits to fill a batch; 0 commits what waits at once.
	IngestMaxWait time.Duration
	// IngestQueue is the most views waiting to be committed before new ones get 503.
	IngestQueue int
	// IngestFlushers is how many batches may commit at the same time, defaults resolved.
	IngestFlushers int
	// TailFoldMB bounds the memory a process may hold a fold of a long tail in, for the reads
	// (storage.Store.HoldTailFolds), defaults resolved; 0 holds none.
	TailFoldMB int
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
	// LambdaJob is the rollup, migrate and consume Lambda handlers.
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
	{"PRAWN_ROLLUP_INTERVAL", "1s", InServe, "how often `prawn serve` folds new views into the rollups (sooner when 200 views wait); 0 turns it off"},
	{"PRAWN_DB_MAX_CONNS", "pool_max_conns of DATABASE_URL if given, else 4 or the CPUs, whichever is more; Lambda: 2", everywhere, "connection pool size"},
	{"PRAWN_LOG_LEVEL", "info", everywhere, "debug, info, warn or error"},
	{"PRAWN_LOG_FORMAT", "text; Lambda: json", everywhere, "text or json"},
	{"PRAWN_TRUSTED_PROXIES", "none", recording, "comma list of CIDRs or addresses whose X-Forwarded-For is believed (CloudFront's ranges in AWS)"},
	{"PRAWN_RATE_LIMIT", "10", recording, "views a second one client may record (POST /api/views, GET /api/views.gif, GET /api/badge.svg, GET /api/home); 0 turns off every per-client limit, reads and connections too (load tests)"},
	{"PRAWN_RATE_BURST", "50", recording, "views one client may record at once before PRAWN_RATE_LIMIT applies"},
	{"PRAWN_READ_RATE_LIMIT", "20", recording, "reads a second one client may make (GET /api/stats, /api/pages, /api/breakdown, /api/hosts, /api/badge.json); 0 turns it off"},
	{"PRAWN_READ_RATE_BURST", "120", recording, "reads one client may make at once before PRAWN_READ_RATE_LIMIT applies"},
	{"PRAWN_RATE_EXEMPT_LOOPBACK", "false", recording, "true: clients connecting from loopback directly (not through a trusted proxy) are not rate limited; for local benchmarks only"},
	{"PRAWN_ORIGIN_SECRET", "none", recording, "when set, every request without the header X-Origin-Verify: <this value> is refused (403), and only requests with it have CloudFront-Viewer-Address believed (the stack sets it)"},
	{"PRAWN_MAX_NEW_PATHS", "1000", recording, "paths (and referrers, campaign values) one host may gain in a UTC day that it did not have the day before, per process; beyond it views count under the path /(other); 0: no bound"},
	{"PRAWN_MAX_CONNS", "1024", InServe, "connections `prawn serve` holds open at once; at the cap the longest idle one is closed for a new one, or the new one waits up to 5 s, then gets 503"},
	{"PRAWN_MAX_CONNS_PER_CLIENT", "32", InServe, "connections one client address may hold open (trusted proxies excepted); over it its idle ones are closed first, else 429; PRAWN_RATE_LIMIT=0 lifts it"},
	{"PRAWN_CORS_ORIGINS", "none", recording, "comma list of origins such as https://example.com whose pages may record views with fetch and read the answer (POST /api/views, GET /api/home; the tracker's beacons need none); * for any"},
	{"PRAWN_HSTS", "false", recording, "true sends Strict-Transport-Security (behind an HTTPS proxy); always sent over TLS"},
	{"PRAWN_DB_TIMEOUT", "800ms", recording, "longest an API request waits for the database before answering 503"},
	{"PRAWN_SITES", "any", recording, "comma list of hostnames such as blog.example.com whose views are counted; views of other hosts are answered as not counted (foreignHost); views without a host always count"},
	{"PRAWN_COUNTRY_HEADER", "none", recording, "header a trusted proxy (PRAWN_TRUSTED_PROXIES) gives the viewer's country in, such as CloudFront-Viewer-Country or CF-IPCountry; unset, countries are unknown"},
	{"PRAWN_INGEST_MODE", "batch", recording, "batch: group commit of concurrent views; direct: one INSERT per view (the benchmark baseline); queue (api Lambda only): send each view to PRAWN_QUEUE_URL and answer 202, the consume function writes it"},
	{"PRAWN_QUEUE_URL", "none", InLambda, "the SQS queue of accepted views, with PRAWN_INGEST_MODE=queue (AWS_ENDPOINT_URL_SQS overrides the SQS endpoint)"},
	{"PRAWN_INGEST_MAX_BATCH", "256", recording, "most views one group-commit INSERT carries"},
	{"PRAWN_INGEST_MAX_WAIT", "2ms", recording, "under load (other views waiting, or a batch committing), how long a flusher keeps gathering views into its batch; a lone view never waits; 0 never waits"},
	{"PRAWN_INGEST_QUEUE", "2048", recording, "most views waiting to be committed; beyond it POSTs get 503 with Retry-After"},
	{"PRAWN_INGEST_FLUSHERS", "4, at most the pool less one; Lambda: 1", recording, "how many batches may commit at the same time; each holds a connection, so it must be below PRAWN_DB_MAX_CONNS"},
	{"PRAWN_TAIL_FOLD_MB", "256; Lambda: a quarter of the function's memory", recording, "beside more than 10000 views not yet folded (folding stopped or far behind), the memory a process may take to fold them in memory so that series, top pages, breakdowns and the hosts list still answer; a longer tail than fits gets 503 past 50000 views; 0: never"},
	{"PRAWN_ROLLUP_LINGER", "0", InLambda, "rollup handler: while a fold finds at least 1000 views (or that many wait), fold again every second for up to this long (such as 50s; the stack sets the schedule's period less 10 s), so a busy site's tail stays short between scheduled runs; 0: one run"},
	{"PRAWN_CANARY_PATH", "none", InLambda, "rollup handler: after each run, log canary_ok when the synthetic view of this path (host canary.prawn.invalid) was counted in the current or previous UTC hour, else canary_missing"},
	{"DB_HOST", "none", InLambda, "RDS host, when DATABASE_URL is not set; with DB_PORT (5432) and DB_NAME"},
	{"DB_PORT", "5432", InLambda, "RDS port"},
	{"DB_NAME", "none", InLambda, "RDS database name"},
	{"DB_SECRET_ARN", "none", InLambda, "Secrets Manager secret with the database user name and password"},
	{"DB_IAM_USER", "none", InLambda, "instead of DB_SECRET_ARN: log in with an RDS IAM auth token as this user (with AWS_REGION)"},
	{"DB_APP_USER", "none", InLambda, "migrate handler: after migrating, create this least-privilege role (read and write prawn's tables, no DDL) for the other handlers"},
	{"DB_APP_SECRET_ARN", "none", InLambda, "migrate handler: Secrets Manager secret whose password DB_APP_USER gets (with DB_IAM_USER: none, the role gets rds_iam)"},
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
		QueueURL:    get("PRAWN_QUEUE_URL", ""),
		CanaryPath:  get("PRAWN_CANARY_PATH", ""),
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
	linger := get("PRAWN_ROLLUP_LINGER", "0")
	if d, err := time.ParseDuration(linger); err != nil || d < 0 || d > 14*time.Minute {
		errs = append(errs, fmt.Errorf("PRAWN_ROLLUP_LINGER=%q: want a duration from 0 to 14m such as 50s (a Lambda runs at most 15 minutes)", linger))
	} else {
		c.RollupLinger = d
	}
	pool := c.pool(get("PRAWN_DB_MAX_CONNS", ""), use)
	if pool.err != nil {
		errs = append(errs, pool.err)
	}
	c.DBMaxConns = pool.size
	errs = append(errs, c.checkMode(use)...)
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
	c.TailFoldMB = intVar("PRAWN_TAIL_FOLD_MB", defaultTailFoldMB(getenv, use), 0, 1<<16)
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

// defaultTailFoldMB is PRAWN_TAIL_FOLD_MB's default: 256, and in Lambda a quarter of the
// function's memory (AWS_LAMBDA_FUNCTION_MEMORY_SIZE, which Lambda sets), 32 if it is not known.
func defaultTailFoldMB(getenv func(string) string, use Use) int {
	if !use.Lambda() {
		return 256
	}
	if mb, err := strconv.Atoi(strings.TrimSpace(getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"))); err == nil && mb > 0 {
		return mb / 4
	}
	return 32
}

// Ingest modes.
const (
	IngestBatch  = "batch"
	IngestDirect = "direct"
	IngestQueue  = "queue"
)

// checkMode validates the ingest mode, the queue it needs and the canary path.
func (c *Config) checkMode(use Use) []error {
	var errs []error
	switch c.IngestMode {
	case IngestBatch, IngestDirect:
	case IngestQueue:
		if use == Serve {
			errs = append(errs, errors.New("PRAWN_INGEST_MODE=queue is for the api Lambda function, whose views the consume function writes; prawn serve records them itself: use batch or direct"))
		}
		if c.QueueURL == "" {
			errs = append(errs, errors.New("PRAWN_INGEST_MODE=queue needs PRAWN_QUEUE_URL, the SQS queue's URL"))
		}
	default:
		errs = append(errs, fmt.Errorf("PRAWN_INGEST_MODE=%q: want batch, direct or queue", c.IngestMode))
	}
	if c.QueueURL != "" {
		if u, err := url.Parse(c.QueueURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(u.Path) < 2 {
			errs = append(errs, fmt.Errorf("PRAWN_QUEUE_URL=%q: want an SQS queue URL such as https://sqs.eu-central-1.amazonaws.com/123456789012/views", c.QueueURL))
		}
	}
	if p := c.CanaryPath; p != "" && (p[0] != '/' || len(p) > 512 || strings.ContainsAny(p, "?# ")) {
		errs = append(errs, fmt.Errorf("PRAWN_CANARY_PATH=%q: want a page path such as /_prawn/canary", p))
	}
	return errs
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
	if c.IngestMode != IngestBatch || int32(c.IngestFlushers) < pool.size {
		return nil
	}
	if !flushersSet {
		return fmt.Errorf("%s is too small for group commit (PRAWN_INGEST_MODE=batch): its flusher holds a connection and reads need another; set PRAWN_DB_MAX_CONNS to 2 or more, or PRAWN_INGEST_MODE=direct",
			pool.source)
	}
	return fmt.Errorf("PRAWN_INGEST_FLUSHERS=%d with %s: each committing batch holds a connection and reads need one more, so at most %d flushers fit; lower PRAWN_INGEST_FLUSHERS or raise PRAWN_DB_MAX_CONNS",
		c.IngestFlushers, pool.source, pool.size-1)
}

// loadEdge reads the settings of the HTTP edge: proxies, rate limit, CORS, HSTS, sites, the
// country header, DB timeout.
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
	rrl := get("PRAWN_READ_RATE_LIMIT", "20")
	if f, err := strconv.ParseFloat(rrl, 64); err != nil || f < 0 || f > 1e6 || f != f {
		errs = append(errs, fmt.Errorf("PRAWN_READ_RATE_LIMIT=%q: want reads a second from 0 (off) to 1000000, such as 10 or 0.5", rrl))
	} else {
		c.ReadRateLimit = f
	}
	rrb := get("PRAWN_READ_RATE_BURST", "120")
	if n, err := strconv.Atoi(rrb); err != nil || n < 1 || n > 1000000 {
		errs = append(errs, fmt.Errorf("PRAWN_READ_RATE_BURST=%q: want a whole number from 1 to 1000000", rrb))
	} else {
		c.ReadRateBurst = n
	}
	if c.RateLimit == 0 {
		c.ReadRateLimit = 0 // PRAWN_RATE_LIMIT=0 is the one switch load tests set
	}
	ex := get("PRAWN_RATE_EXEMPT_LOOPBACK", "false")
	if b, err := strconv.ParseBool(ex); err != nil {
		errs = append(errs, fmt.Errorf("PRAWN_RATE_EXEMPT_LOOPBACK=%q: want true or false", ex))
	} else {
		c.RateExemptLoopback = b
	}
	if s := get("PRAWN_ORIGIN_SECRET", ""); s != "" {
		if len(s) < 16 || strings.ContainsFunc(s, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
			// The value is never repeated, in an error or anywhere else.
			errs = append(errs, errors.New("PRAWN_ORIGIN_SECRET: want at least 16 printable ASCII characters without spaces"))
		} else {
			c.OriginSecret = Secret(s)
		}
	}
	intVar := func(name, def string, lo, hi int, dst *int) {
		v := get(name, def)
		if n, err := strconv.Atoi(v); err != nil || n < lo || n > hi {
			errs = append(errs, fmt.Errorf("%s=%q: want a whole number from %d to %d", name, v, lo, hi))
		} else {
			*dst = n
		}
	}
	intVar("PRAWN_MAX_NEW_PATHS", "1000", 0, 1000000, &c.MaxNewPaths)
	intVar("PRAWN_MAX_CONNS", "1024", 1, 1000000, &c.MaxConns)
	intVar("PRAWN_MAX_CONNS_PER_CLIENT", "32", 1, 1000000, &c.MaxConnsPerClient)
	if c.RateLimit == 0 {
		c.MaxConnsPerClient = 0 // a load test from one address opens as many as it needs
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
	for _, h := range strings.Split(get("PRAWN_SITES", ""), ",") {
		if h = strings.TrimSpace(h); h == "" {
			continue
		}
		n, err := pageview.NormalizeHost(h)
		if err != nil || strings.ContainsAny(h, ":/") {
			errs = append(errs, fmt.Errorf("PRAWN_SITES: %q is not a hostname such as blog.example.com (no scheme, port or path)", h))
			continue
		}
		if !slices.Contains(c.Sites, n) {
			c.Sites = append(c.Sites, n)
		}
	}
	if ch := get("PRAWN_COUNTRY_HEADER", ""); ch != "" {
		if !httpguts.ValidHeaderFieldName(ch) {
			errs = append(errs, fmt.Errorf("PRAWN_COUNTRY_HEADER=%q: want a header name such as CloudFront-Viewer-Country or CF-IPCountry", ch))
		} else {
			c.CountryHeader = http.CanonicalHeaderKey(ch)
		}
	}
	dt := get("PRAWN_DB_TIMEOUT", "800ms")
	if d, err := time.ParseDuration(dt); err != nil || d < 0 || d > time.Minute {
		errs = append(errs, fmt.Errorf("PRAWN_DB_TIMEOUT=%q: want a duration up to 1m such as 800ms, or 0 for no bound", dt))
	} else {
		c.DBTimeout = d
	}
	return errs
}

// Secret is a setting that is never shown: printed or logged it reads "[redacted]".
type Secret string

// String hides the value.
func (Secret) String() string { return "[redacted]" }

// GoString hides the value from %#v.
func (Secret) GoString() string { return `"[redacted]"` }

// LogValue hides the value from log/slog.
func (Secret) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// Logger builds the logger the configuration asks for, writing to stderr.
func (c Config) Logger() *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}
