// Package dbconn builds prawn's database connection in AWS Lambda: DATABASE_URL when set, else
// Amazon RDS reached over TLS verified against the embedded RDS certificate authorities, with
// credentials from a Secrets Manager secret or an RDS IAM auth token.
package dbconn

import (
	"context"
	"crypto/x509"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/prawnhq/prawn/internal/storage"
)

// invalidPassword is the SQLSTATE of a refused password (invalid_password).
const invalidPassword = "28P01"

//go:embed rds-ca-bundle.pem
var rdsCABundle []byte

// RDSRoots is the pool of Amazon RDS certificate authorities (the RDS global bundle and the
// Amazon roots that RDS Proxy chains to), parsed from the embedded bundle.
var RDSRoots = sync.OnceValue(func() *x509.CertPool {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(rdsCABundle) {
		panic("dbconn: the embedded RDS CA bundle holds no certificate")
	}
	return pool
})

// Settings say where the database is and how to log in.
type Settings struct {
	// URL is a full connection string (DATABASE_URL); when set, the fields below are ignored.
	URL string
	// Host, Port and Name locate the RDS database (DB_HOST, DB_PORT, DB_NAME).
	Host string
	Port int
	Name string
	// SecretARN names the Secrets Manager secret with the username and password (DB_SECRET_ARN).
	SecretARN string
	// IAMUser, when set, logs in with an RDS IAM auth token as this role (DB_IAM_USER).
	IAMUser string
	// Region is the AWS region for the IAM token (AWS_REGION).
	Region string
	// MaxConns caps the pool: the configuration's PRAWN_DB_MAX_CONNS (internal/config), which
	// the caller sets; 0 means pgx's default.
	MaxConns int32
	// AppUser is the least-privilege role that the migrate handler provisions for the others
	// (DB_APP_USER), and AppSecretARN the Secrets Manager secret whose password it gets
	// (DB_APP_SECRET_ARN; with DB_IAM_USER it gets rds_iam instead).
	AppUser, AppSecretARN string
}

// FromEnv reads where the database is and how to log in through getenv, naming every missing
// or invalid value at once. The pool size is the configuration's: set MaxConns.
func FromEnv(getenv func(string) string) (Settings, error) {
	get := func(name string) string { return strings.TrimSpace(getenv(name)) }
	s := Settings{
		URL:          get("DATABASE_URL"),
		Host:         get("DB_HOST"),
		Name:         get("DB_NAME"),
		SecretARN:    get("DB_SECRET_ARN"),
		IAMUser:      get("DB_IAM_USER"),
		Region:       get("AWS_REGION"),
		Port:         5432,
		AppUser:      get("DB_APP_USER"),
		AppSecretARN: get("DB_APP_SECRET_ARN"),
	}
	if s.Region == "" {
		s.Region = get("AWS_DEFAULT_REGION")
	}
	var errs []error
	switch {
	case s.AppSecretARN != "" && s.AppUser == "":
		errs = append(errs, errors.New("DB_APP_SECRET_ARN is set but DB_APP_USER, the role it is for, is not"))
	case s.AppSecretARN != "" && s.IAMUser != "":
		errs = append(errs, errors.New("DB_APP_SECRET_ARN is set with DB_IAM_USER: with IAM authentication the app role logs in with tokens, not a password"))
	case s.AppUser != "" && s.URL == "" && s.IAMUser == "" && s.AppSecretARN == "":
		errs = append(errs, errors.New("DB_APP_USER is set without DB_APP_SECRET_ARN: its password comes from that secret (or set DB_IAM_USER for IAM authentication)"))
	}
	if s.URL != "" {
		return s, errors.Join(errs...)
	}
	if v := get("DB_PORT"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 65535 {
			errs = append(errs, fmt.Errorf("DB_PORT=%q: want a port number from 1 to 65535", v))
		}
		s.Port = n
	}
	if s.Host == "" {
		errs = append(errs, errors.New("DB_HOST is not set (nor DATABASE_URL)"))
	}
	if s.Name == "" {
		errs = append(errs, errors.New("DB_NAME is not set (nor DATABASE_URL)"))
	}
	switch {
	case s.IAMUser != "" && s.Region == "":
		errs = append(errs, errors.New("DB_IAM_USER is set but AWS_REGION is not"))
	case s.IAMUser == "" && s.SecretARN == "":
		errs = append(errs, errors.New("neither DB_SECRET_ARN nor DB_IAM_USER is set (nor DATABASE_URL)"))
	}
	return s, errors.Join(errs...)
}

// DB is the database of one Lambda instance: a pool built once and reused by every invocation.
type DB struct {
	Store    *storage.Store
	auth     *authenticator
	settings Settings
	// fetch reads a secret's username and password; nil means Secrets Manager.
	fetch func(ctx context.Context, arn string) (user, password string, err error)
}

// AppRole is the least-privilege role the migrate handler provisions, when DB_APP_USER is set
// (else false): with DB_APP_SECRET_ARN its password is that secret's (whose username must be
// DB_APP_USER); with IAM authentication (DB_IAM_USER) it gets rds_iam; otherwise (DATABASE_URL)
// its login is left alone. The migrate handler itself logs in with the other settings (the master
// user's secret or token), so it reads two secrets: its own and this one.
func (d *DB) AppRole(ctx context.Context) (storage.AppRole, bool, error) {
	s := d.settings
	if s.AppUser == "" {
		return storage.AppRole{}, false, nil
	}
	role := storage.AppRole{Name: s.AppUser, IAM: s.URL == "" && s.IAMUser != ""}
	if s.AppSecretARN == "" {
		return role, true, nil
	}
	fetch := d.fetch
	if fetch == nil {
		fetch = fetchSecret
	}
	user, password, err := fetch(ctx, s.AppSecretARN)
	if err != nil {
		return storage.AppRole{}, false, fmt.Errorf("app role secret (DB_APP_SECRET_ARN): %w", err)
	}
	if user != s.AppUser {
		return storage.AppRole{}, false, fmt.Errorf("app role secret (DB_APP_SECRET_ARN) is for %q, but DB_APP_USER is %q", user, s.AppUser)
	}
	role.Password = password
	return role, true, nil
}

// Open builds the pool without connecting: the first query connects, fetching credentials then.
func Open(ctx context.Context, s Settings, log *slog.Logger) (*DB, error) {
	if s.URL != "" {
		store, err := storage.Open(ctx, s.URL, storage.Options{MaxConns: s.MaxConns})
		if err != nil {
			return nil, err
		}
		return &DB{Store: store, settings: s}, nil
	}
	var creds credSource
	if s.IAMUser != "" {
		creds = &iamToken{endpoint: net.JoinHostPort(s.Host, strconv.Itoa(s.Port)), region: s.Region, user: s.IAMUser}
	} else {
		creds = &secretCreds{arn: s.SecretARN, fetch: fetchSecret}
	}
	a := &authenticator{creds: creds, roots: RDSRoots(), log: log}
	store, err := storage.Open(ctx, rdsURL(s), storage.Options{MaxConns: s.MaxConns, BeforeConnect: a.beforeConnect})
	if err != nil {
		return nil, err
	}
	return &DB{Store: store, auth: a, settings: s}, nil
}

// rdsURL is the connection string of an RDS database without credentials: TLS with the server's
// certificate checked against the trusted roots and its name against the host.
func rdsURL(s Settings) string {
	u := url.URL{
		Scheme:   "postgres",
		Host:     net.JoinHostPort(s.Host, strconv.Itoa(s.Port)),
		Path:     "/" + s.Name,
		RawQuery: "sslmode=verify-full",
	}
	return u.String()
}

// AuthFailures counts connection attempts that the server refused for a wrong password since the
// instance started; a caller that saw it grow during a failed operation may retry once.
func (d *DB) AuthFailures() uint64 {
	if d.auth == nil {
		return 0
	}
	return d.auth.failures.Load()
}

// Close closes every connection.
func (d *DB) Close() { d.Store.Close() }

// credSource gives the user name and password of the next connection.
type credSource interface {
	// get returns the credentials; refresh asks for new ones instead of cached ones.
	get(ctx context.Context, refresh bool) (user, password string, err error)
}

// authenticator fills in each new connection's credentials and trusted roots, and notices when
// the server refuses a password (rotated secret) so that the next connection fetches it anew.
type authenticator struct {
	creds    credSource
	roots    *x509.CertPool
	log      *slog.Logger
	stale    atomic.Bool   // the cached password was refused: fetch again before the next connection
	failures atomic.Uint64 // connection attempts refused with invalid_password
}

func (a *authenticator) beforeConnect(ctx context.Context, cfg *pgx.ConnConfig) error {
	if cfg.TLSConfig == nil {
		return errors.New("refusing to connect to RDS without TLS")
	}
	cfg.TLSConfig.RootCAs = a.roots
	for _, fb := range cfg.Fallbacks {
		if fb.TLSConfig == nil {
			return errors.New("refusing to connect to RDS without TLS")
		}
		fb.TLSConfig.RootCAs = a.roots
	}
	refresh := a.stale.Swap(false)
	user, password, err := a.creds.get(ctx, refresh)
	if err != nil {
		if refresh {
			a.stale.Store(true)
		}
		return fmt.Errorf("database credentials: %w", err)
	}
	cfg.User, cfg.Password = user, password
	next := cfg.OnPgError
	cfg.OnPgError = func(c *pgconn.PgConn, pgErr *pgconn.PgError) bool {
		if pgErr.Code == invalidPassword {
			a.failures.Add(1)
			if !a.stale.Swap(true) && a.log != nil {
				a.log.Warn("database refused the password; fetching the credentials again before the next connection", "user", user)
			}
		}
		if next != nil {
			return next(c, pgErr)
		}
		return true
	}
	return nil
}
