package main

import (
	"errors"
	"fmt"
	"maps"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
)

// DBAuth selects how the Lambdas authenticate to PostgreSQL.
type DBAuth string

const (
	// DBAuthSecret makes every function read the RDS-generated secret through a Secrets Manager
	// interface endpoint; it works on a fresh deploy without any manual step.
	DBAuthSecret DBAuth = "secret"
	// DBAuthIAM makes every function log in with an RDS IAM auth token as DBIAMUser; no endpoint is
	// created (no path to Secrets Manager), which needs a one-time `GRANT rds_iam` (see docs/aws.md).
	DBAuthIAM DBAuth = "iam"
)

// Config is the validated deployment configuration, read from cdk.json context, -c flags or the
// environment (PRAWN_<UPPER_SNAKE_KEY>), in that order, falling back to defaults.
type Config struct {
	Region            string   // AWS region of PrawnStack.
	Account           string   // AWS account, optional: empty leaves the stacks account-agnostic.
	AvailabilityZones []string // Two AZs of Region, named explicitly so synth never looks them up.
	AlertEmail        string   // Receives alarm and budget e-mails.
	BudgetUSD         float64  // Monthly AWS Budget limit.

	DomainName     string // Optional custom domain served by CloudFront.
	CertificateARN string // Optional existing us-east-1 ACM certificate for DomainName.

	LambdaAssetDir string // Directory with the linux/arm64 `bootstrap` built by `make lambda`.
	FrontendDir    string // Directory with the built frontend (index.html) from `make frontend`.

	DBInstanceClass     string // RDS instance size within the t4g family, e.g. "t4g.micro".
	DBStorageGB         int    // Allocated gp3 storage.
	PostgresMajor       int    // 16 or 17.
	BackupRetentionDays int
	DeletionProtection  bool
	RemovalPolicy       string // "snapshot", "retain" or "destroy" for the database and its logs.
	DBAuth              DBAuth
	DBIAMUser           string // PostgreSQL master role used with DBAuthIAM (migrate logs in as it).
	DBAppUser           string // Least-privilege PostgreSQL role migrate creates for api, rollup and consume.

	APIReservedConcurrency int
	DBPoolSize             int // PRAWN_DB_MAX_CONNS of each api instance.
	APIMemoryMB            int
	APIThrottleRate        int // Requests per second on the HTTP API stage.
	APIThrottleBurst       int
	RollupRateMinutes      int
	LogRetentionDays       int
	Bastion                bool // Opt-in t4g.nano bastion for SSM port forwarding to the database.

	OriginSecretGeneration int // Bumping it replaces the X-Origin-Verify secret (a new value) in one deploy.

	Ingest                    Ingest // How the api function records views: directly or through SQS.
	ConsumeConcurrency        int    // Most consume instances at once (reserved concurrency and the ESM's maximum).
	ConsumeBatchSize          int    // Most views one consume invocation receives.
	ConsumeBatchWindowSeconds int    // How long the event source mapping gathers a batch.
}

// Ingest selects how the api function records views.
type Ingest string

const (
	// IngestDirect writes every view to PostgreSQL inside the request (the smallest install).
	IngestDirect Ingest = "direct"
	// IngestQueue sends validated views to SQS (202) and the consume function writes them in batches.
	IngestQueue Ingest = "queue"
)

// Connections opened by the two single-instance functions (reserved concurrency 1 each).
const (
	rollupConcurrency  = 1
	rollupPoolSize     = 2
	migrateConcurrency = 1
	migratePoolSize    = 2
	// consumePoolSize is the pool of each consume instance: it writes a batch with one INSERT.
	consumePoolSize = 2
)

// dbInstanceMemoryBytes is the nominal memory of the supported RDS instance classes.
var dbInstanceMemoryBytes = map[string]int64{
	"t4g.micro":  1 << 30,
	"t4g.small":  2 << 30,
	"t4g.medium": 4 << 30,
}

// logRetentions maps the CloudWatch Logs retention periods (days) that CDK names to its enum.
var logRetentions = map[int]awslogs.RetentionDays{
	1: awslogs.RetentionDays_ONE_DAY, 3: awslogs.RetentionDays_THREE_DAYS, 5: awslogs.RetentionDays_FIVE_DAYS,
	7: awslogs.RetentionDays_ONE_WEEK, 14: awslogs.RetentionDays_TWO_WEEKS, 30: awslogs.RetentionDays_ONE_MONTH,
	60: awslogs.RetentionDays_TWO_MONTHS, 90: awslogs.RetentionDays_THREE_MONTHS, 120: awslogs.RetentionDays_FOUR_MONTHS,
	150: awslogs.RetentionDays_FIVE_MONTHS, 180: awslogs.RetentionDays_SIX_MONTHS, 365: awslogs.RetentionDays_ONE_YEAR,
	400: awslogs.RetentionDays_THIRTEEN_MONTHS, 545: awslogs.RetentionDays_EIGHTEEN_MONTHS, 731: awslogs.RetentionDays_TWO_YEARS,
	1096: awslogs.RetentionDays_THREE_YEARS, 1827: awslogs.RetentionDays_FIVE_YEARS, 2192: awslogs.RetentionDays_SIX_YEARS,
	2557: awslogs.RetentionDays_SEVEN_YEARS, 2922: awslogs.RetentionDays_EIGHT_YEARS, 3288: awslogs.RetentionDays_NINE_YEARS,
	3653: awslogs.RetentionDays_TEN_YEARS,
}

var (
	regionRe  = regexp.MustCompile(`^[a-z]{2}(-gov)?-[a-z]+-\d$`)
	accountRe = regexp.MustCompile(`^\d{12}$`)
	domainRe  = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)
	certARNRe = regexp.MustCompile(`^arn:aws[a-z-]*:acm:us-east-1:\d{12}:certificate/[0-9a-f-]{36}$`)
	pgUserRe  = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)
)

// ContextFunc returns the raw value of a CDK context key, or nil when it is unset.
type ContextFunc func(key string) any

// LoadConfig reads and validates the configuration; the error lists every invalid setting.
func LoadConfig(ctx ContextFunc) (*Config, error) {
	r := reader{ctx: ctx}
	c := &Config{
		Region:                 r.str("region", os.Getenv("CDK_DEFAULT_REGION")),
		Account:                r.str("account", ""),
		AlertEmail:             r.str("alertEmail", ""),
		BudgetUSD:              r.float("budgetUsd", 1),
		DomainName:             strings.ToLower(r.str("domainName", "")),
		CertificateARN:         r.str("certificateArn", ""),
		LambdaAssetDir:         r.str("lambdaAssetDir", filepath.Join("..", "dist", "lambda")),
		FrontendDir:            r.str("frontendDir", filepath.Join("..", "frontend", "dist", "app")),
		DBInstanceClass:        r.str("dbInstanceClass", "t4g.micro"),
		DBStorageGB:            r.int("dbStorageGb", 20),
		PostgresMajor:          r.int("postgresVersion", 17),
		BackupRetentionDays:    r.int("backupRetentionDays", 7),
		DeletionProtection:     r.bool("deletionProtection", true),
		RemovalPolicy:          r.str("removalPolicy", "snapshot"),
		DBAuth:                 DBAuth(r.str("dbAuth", string(DBAuthSecret))),
		DBIAMUser:              r.str("dbIamUser", "prawn"),
		DBAppUser:              r.str("dbAppUser", "prawn_app"),
		APIReservedConcurrency: r.int("apiReservedConcurrency", 20),
		DBPoolSize:             r.int("dbPoolSize", 2),
		APIMemoryMB:            r.int("apiMemoryMb", 256),
		APIThrottleRate:        r.int("apiThrottleRate", 50),
		APIThrottleBurst:       r.int("apiThrottleBurst", 100),
		RollupRateMinutes:      r.int("rollupRateMinutes", 1),
		LogRetentionDays:       r.int("logRetentionDays", 30),
		Bastion:                r.bool("bastion", false),

		OriginSecretGeneration: r.int("originSecretGeneration", 1),

		Ingest:                    Ingest(r.str("ingest", string(IngestDirect))),
		ConsumeConcurrency:        r.int("consumeConcurrency", 2),
		ConsumeBatchSize:          r.int("consumeBatchSize", 1000),
		ConsumeBatchWindowSeconds: r.int("consumeBatchWindowSeconds", 2),
	}
	if c.Account == "" {
		c.Account = os.Getenv("CDK_DEFAULT_ACCOUNT")
	}
	azs := r.str("availabilityZones", "")
	if azs == "" && c.Region != "" {
		azs = c.Region + "a," + c.Region + "b"
	}
	for _, az := range strings.Split(azs, ",") {
		if az = strings.TrimSpace(az); az != "" {
			c.AvailabilityZones = append(c.AvailabilityZones, az)
		}
	}
	errs := r.errs
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	if !regionRe.MatchString(c.Region) {
		add("region %q is not an AWS region: set context region (e.g. -c region=us-east-1) or CDK_DEFAULT_REGION", c.Region)
	}
	if c.Account != "" && !accountRe.MatchString(c.Account) {
		add("account %q must be 12 digits", c.Account)
	}
	if len(c.AvailabilityZones) != 2 {
		add("availabilityZones must name exactly 2 zones, got %q", azs)
	}
	for _, az := range c.AvailabilityZones {
		if !strings.HasPrefix(az, c.Region) || len(az) != len(c.Region)+1 {
			add("availability zone %q is not in region %q", az, c.Region)
		}
	}
	if a, err := mail.ParseAddress(c.AlertEmail); err != nil || a.Address != c.AlertEmail {
		add("alertEmail %q must be a plain e-mail address (alarms and the budget alert go there): set -c alertEmail=you@example.com or PRAWN_ALERT_EMAIL", c.AlertEmail)
	}
	if c.BudgetUSD < 1 || c.BudgetUSD > 100000 {
		add("budgetUsd %v must be between 1 and 100000", c.BudgetUSD)
	}
	if c.DomainName != "" && !domainRe.MatchString(c.DomainName) {
		add("domainName %q is not a valid DNS name", c.DomainName)
	}
	if c.CertificateARN != "" {
		if c.DomainName == "" {
			add("certificateArn is set but domainName is not: CloudFront needs the domain the certificate is for")
		}
		if !certARNRe.MatchString(c.CertificateARN) {
			add("certificateArn %q must be an ACM certificate ARN in us-east-1 (CloudFront only uses certificates from there)", c.CertificateARN)
		}
	}
	if _, ok := dbInstanceMemoryBytes[c.DBInstanceClass]; !ok {
		add("dbInstanceClass %q is not supported: use one of t4g.micro, t4g.small, t4g.medium", c.DBInstanceClass)
	}
	if c.DBStorageGB < 20 || c.DBStorageGB > 1000 {
		add("dbStorageGb %d must be between 20 and 1000", c.DBStorageGB)
	}
	if c.PostgresMajor != 16 && c.PostgresMajor != 17 {
		add("postgresVersion %d must be 16 or 17", c.PostgresMajor)
	}
	if c.BackupRetentionDays < 1 || c.BackupRetentionDays > 35 {
		add("backupRetentionDays %d must be between 1 and 35 (0 would disable automated backups)", c.BackupRetentionDays)
	}
	if !slices.Contains([]string{"snapshot", "retain", "destroy"}, c.RemovalPolicy) {
		add("removalPolicy %q must be snapshot, retain or destroy", c.RemovalPolicy)
	}
	if c.DBAuth != DBAuthSecret && c.DBAuth != DBAuthIAM {
		add("dbAuth %q must be secret or iam", c.DBAuth)
	}
	if !pgUserRe.MatchString(c.DBIAMUser) {
		add("dbIamUser %q is not a valid PostgreSQL role name", c.DBIAMUser)
	}
	if !pgUserRe.MatchString(c.DBAppUser) {
		add("dbAppUser %q is not a valid PostgreSQL role name", c.DBAppUser)
	} else if c.DBAppUser == c.DBIAMUser || c.DBAppUser == dbMasterUser {
		add("dbAppUser %q must differ from the master user %q and dbIamUser %q: it is the least-privilege role of api, rollup and consume", c.DBAppUser, dbMasterUser, c.DBIAMUser)
	}
	if c.Ingest != IngestDirect && c.Ingest != IngestQueue {
		add("ingest %q must be direct or queue", c.Ingest)
	}
	checkRange := func(name string, v, lo, hi int) {
		if v < lo || v > hi {
			add("%s %d must be between %d and %d", name, v, lo, hi)
		}
	}
	checkRange("apiReservedConcurrency", c.APIReservedConcurrency, 1, 1000)
	checkRange("dbPoolSize", c.DBPoolSize, 1, 20)
	checkRange("apiMemoryMb", c.APIMemoryMB, 128, 10240)
	checkRange("apiThrottleRate", c.APIThrottleRate, 1, 10000)
	checkRange("apiThrottleBurst", c.APIThrottleBurst, 1, 5000)
	// The missed-run alarm looks at 3 periods of this length; CloudWatch caps that at one day.
	checkRange("rollupRateMinutes", c.RollupRateMinutes, 1, 480)
	checkRange("originSecretGeneration", c.OriginSecretGeneration, 1, 1000000)
	// An SQS event source mapping's maximum concurrency is 2 to 1000; batches above 10 need a window.
	checkRange("consumeConcurrency", c.ConsumeConcurrency, 2, 1000)
	checkRange("consumeBatchSize", c.ConsumeBatchSize, 1, 10000)
	checkRange("consumeBatchWindowSeconds", c.ConsumeBatchWindowSeconds, 0, 300)
	if c.ConsumeBatchSize > 10 && c.ConsumeBatchWindowSeconds < 1 {
		add("consumeBatchSize %d needs consumeBatchWindowSeconds of at least 1 (SQS batches above 10 need a batching window)", c.ConsumeBatchSize)
	}
	if _, ok := logRetentions[c.LogRetentionDays]; !ok {
		days := slices.Sorted(maps.Keys(logRetentions))
		add("logRetentionDays %d is not a CloudWatch Logs retention: use one of %v", c.LogRetentionDays, days)
	}
	if mem, ok := dbInstanceMemoryBytes[c.DBInstanceClass]; ok && c.APIReservedConcurrency > 0 && c.DBPoolSize > 0 {
		if need, budget := c.PeakConnections(), ConnectionBudget(mem); need > budget {
			consume, lower := "", "apiReservedConcurrency or dbPoolSize"
			if c.Ingest == IngestQueue {
				consume = fmt.Sprintf(" + consumeConcurrency %d x %d", c.ConsumeConcurrency, consumePoolSize)
				lower = "apiReservedConcurrency, dbPoolSize or consumeConcurrency"
			}
			add("apiReservedConcurrency %d x dbPoolSize %d + rollup %d + migrate %d%s = %d connections exceeds the %d that db.%s allows: lower %s",
				c.APIReservedConcurrency, c.DBPoolSize, rollupConcurrency*rollupPoolSize, migrateConcurrency*migratePoolSize, consume, need, budget, c.DBInstanceClass, lower)
		}
	}
	if fi, err := os.Stat(filepath.Join(c.LambdaAssetDir, "bootstrap")); err != nil || !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
		add("lambdaAssetDir %q has no executable bootstrap: run `make lambda` first (it builds dist/lambda/bootstrap) or set -c lambdaAssetDir=DIR", c.LambdaAssetDir)
	}
	if _, err := os.Stat(filepath.Join(c.FrontendDir, "index.html")); err != nil {
		add("frontendDir %q has no index.html: run `make frontend` first (it builds frontend/dist/app) or set -c frontendDir=DIR", c.FrontendDir)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("invalid prawn infra configuration:\n%w", errors.Join(errs...))
	}
	return c, nil
}

// PeakConnections is the most database connections all Lambda instances can hold at once.
func (c *Config) PeakConnections() int {
	n := c.APIReservedConcurrency*c.DBPoolSize + rollupConcurrency*rollupPoolSize + migrateConcurrency*migratePoolSize
	if c.Ingest == IngestQueue {
		n += c.ConsumeConcurrency * consumePoolSize
	}
	return n
}

// Connection slots kept out of the Lambdas' budget: superuser_reserved_connections (3),
// rds.rds_superuser_reserved_connections (2) and 5 for an operator's psql or a dump.
const (
	reservedConnections = 3 + 2
	operatorConnections = 5
)

// MaxConnections is RDS PostgreSQL's default max_connections,
// LEAST({DBInstanceClassMemory/9531392}, 5000), taking the nominal instance memory.
func MaxConnections(memoryBytes int64) int {
	return int(min(memoryBytes/9531392, 5000))
}

// ConnectionBudget is how many connections the Lambdas may use on an instance with that memory.
func ConnectionBudget(memoryBytes int64) int {
	return MaxConnections(memoryBytes) - reservedConnections - operatorConnections
}

// reader converts context values, which are strings from -c flags and JSON values from cdk.json.
type reader struct {
	ctx  ContextFunc
	errs []error
}

func (r *reader) raw(key string) (string, bool) {
	if v := r.ctx(key); v != nil {
		return strings.TrimSpace(fmt.Sprint(v)), true
	}
	if v, ok := os.LookupEnv(envName(key)); ok {
		return strings.TrimSpace(v), true
	}
	return "", false
}

func (r *reader) str(key, def string) string {
	if v, ok := r.raw(key); ok && v != "" {
		return v
	}
	return def
}

func (r *reader) int(key string, def int) int {
	v, ok := r.raw(key)
	if !ok || v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s %q must be a whole number", key, v))
	}
	return n
}

func (r *reader) float(key string, def float64) float64 {
	v, ok := r.raw(key)
	if !ok || v == "" {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s %q must be a number", key, v))
	}
	return f
}

func (r *reader) bool(key string, def bool) bool {
	v, ok := r.raw(key)
	if !ok || v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s %q must be true or false", key, v))
	}
	return b
}

// envName maps a context key such as alertEmail to its environment variable PRAWN_ALERT_EMAIL.
func envName(key string) string {
	var b strings.Builder
	b.WriteString("PRAWN_")
	for i, ch := range key {
		if ch >= 'A' && ch <= 'Z' && i > 0 {
			b.WriteByte('_')
		}
		b.WriteRune(ch)
	}
	return strings.ToUpper(b.String())
}
