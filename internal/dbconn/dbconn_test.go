package dbconn

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

func env(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

func TestFromEnv(t *testing.T) {
	s, err := FromEnv(env(map[string]string{"DATABASE_URL": "postgres://x@h/db"}))
	if err != nil || s.URL != "postgres://x@h/db" || s.MaxConns != 0 {
		t.Errorf("DATABASE_URL: %+v, %v", s, err)
	}
	s, err = FromEnv(env(map[string]string{"DB_HOST": "db.example", "DB_NAME": "prawn", "DB_SECRET_ARN": "arn:secret", "PRAWN_DB_MAX_CONNS": "3"}))
	if err != nil || s.Port != 5432 || s.MaxConns != 0 || s.SecretARN != "arn:secret" {
		t.Errorf("secret: %+v, %v", s, err)
	}
	if got := rdsURL(s); got != "postgres://db.example:5432/prawn?sslmode=verify-full" {
		t.Errorf("rdsURL = %q", got)
	}
	s, err = FromEnv(env(map[string]string{"DB_HOST": "h", "DB_PORT": "6543", "DB_NAME": "p", "DB_IAM_USER": "prawn", "AWS_REGION": "eu-west-1"}))
	if err != nil || s.Port != 6543 || s.IAMUser != "prawn" || s.Region != "eu-west-1" {
		t.Errorf("iam: %+v, %v", s, err)
	}
	_, err = FromEnv(env(map[string]string{"DB_PORT": "x"}))
	for _, want := range []string{"DB_PORT", "DB_HOST", "DB_NAME", "DB_SECRET_ARN"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to name %s", err, want)
		}
	}
	if _, err := FromEnv(env(map[string]string{"DB_HOST": "h", "DB_NAME": "p", "DB_IAM_USER": "prawn"})); err == nil || !strings.Contains(err.Error(), "AWS_REGION") {
		t.Errorf("IAM without region: %v", err)
	}
}

func TestEmbeddedBundleHoldsTheRDSAuthorities(t *testing.T) {
	var certs []*x509.Certificate
	rest := rdsCABundle
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if !c.IsCA {
			t.Errorf("%s is not a CA", c.Subject.CommonName)
		}
		certs = append(certs, c)
	}
	names := map[string]bool{}
	for _, c := range certs {
		names[c.Subject.CommonName] = true
	}
	for _, want := range []string{
		"Amazon RDS us-east-1 Root CA RSA2048 G1", "Amazon RDS eu-west-1 Root CA ECC384 G1",
		"Amazon RDS eu-central-1 Root CA RSA4096 G1", "Amazon Root CA 1",
	} {
		if !names[want] {
			t.Errorf("bundle lacks %q", want)
		}
	}
	if len(certs) < 90 || RDSRoots() == nil {
		t.Errorf("bundle has %d certificates, want the RDS global bundle's", len(certs))
	}
}

func TestSecretIsFetchedOnceAndAgainOnlyAfterARefusal(t *testing.T) {
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	var fetches int
	s := &secretCreds{arn: "arn", now: func() time.Time { return now }, fetch: func(context.Context, string) (string, string, error) {
		fetches++
		return "prawn", "pw" + string(rune('0'+fetches)), nil
	}}
	ctx := context.Background()
	for range 3 {
		if _, pw, err := s.get(ctx, false); err != nil || pw != "pw1" {
			t.Fatalf("get: %q, %v", pw, err)
		}
	}
	if fetches != 1 {
		t.Errorf("fetches = %d, want 1 per cold start", fetches)
	}
	now = now.Add(time.Minute)
	if _, pw, _ := s.get(ctx, true); pw != "pw2" || fetches != 2 {
		t.Errorf("refresh: %q after %d fetches, want pw2 after 2", pw, fetches)
	}
	if _, pw, _ := s.get(ctx, true); pw != "pw2" || fetches != 2 {
		t.Errorf("refresh right after a fetch: %q after %d fetches; want the cached one", pw, fetches)
	}
}

func TestParseSecret(t *testing.T) {
	u, p, err := parseSecret(`{"username":"prawn","password":"s3cr3t","engine":"postgres","host":"h","port":5432}`)
	if err != nil || u != "prawn" || p != "s3cr3t" {
		t.Errorf("%q %q %v", u, p, err)
	}
	for _, bad := range []string{`not json s3cr3t`, `{"username":"prawn"}`} {
		if _, _, err := parseSecret(bad); err == nil || strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("%q: err = %v, want one without the secret's text", bad, err)
		}
	}
}

func TestBeforeConnectRefusesPlaintext(t *testing.T) {
	cfg, err := pgx.ParseConfig("postgres://h:5432/db?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	a := &authenticator{creds: &secretCreds{fetch: func(context.Context, string) (string, string, error) { return "u", "p", nil }}, roots: RDSRoots()}
	if err := a.beforeConnect(context.Background(), cfg); err == nil {
		t.Error("connected without TLS")
	}
}

// TestRotatedPasswordIsRefetchedAndServerIsVerified runs pgx against a fake PostgreSQL server
// that speaks TLS with a certificate from a test CA and takes only the password "new".
func TestRotatedPasswordIsRefetchedAndServerIsVerified(t *testing.T) {
	ca, srv := testCerts(t)
	addr := fakePostgres(t, srv, "new")
	host, port, _ := net.SplitHostPort(addr)
	url := "postgres://" + net.JoinHostPort(host, port) + "/prawn?sslmode=verify-full&connect_timeout=5"

	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	passwords := []string{"old", "new"}
	var fetches int
	creds := &secretCreds{arn: "arn", now: func() time.Time { return now }, fetch: func(context.Context, string) (string, string, error) {
		fetches++
		return "prawn", passwords[min(fetches, len(passwords))-1], nil
	}}
	a := &authenticator{creds: creds, roots: ca}
	connect := func() error {
		cfg, err := pgx.ParseConfig(url)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.beforeConnect(context.Background(), cfg); err != nil {
			return err
		}
		c, err := pgx.ConnectConfig(context.Background(), cfg)
		if err == nil {
			c.Close(context.Background())
		}
		return err
	}

	err := connect()
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != invalidPassword {
		t.Fatalf("first connect: %v, want 28P01", err)
	}
	if a.failures.Load() != 1 || !a.stale.Load() {
		t.Errorf("failures %d stale %v after a refused password", a.failures.Load(), a.stale.Load())
	}
	now = now.Add(time.Minute)
	if err := connect(); err != nil {
		t.Fatalf("connect after the refusal: %v", err)
	}
	if fetches != 2 {
		t.Errorf("fetches = %d, want 2 (cold start, then once after the refusal)", fetches)
	}
	if err := connect(); err != nil || fetches != 2 {
		t.Errorf("third connect: %v after %d fetches, want the cached secret", err, fetches)
	}

	// The same server with the real RDS roots: its certificate is not from RDS, so no connection.
	a.roots = RDSRoots()
	err = connect()
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Errorf("connect to a server outside the RDS roots: %v, want an unknown-authority error", err)
	}
}

// testCerts makes a CA and a server certificate for 127.0.0.1 signed by it.
func testCerts(t *testing.T) (*x509.CertPool, tls.Certificate) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return pool, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// fakePostgres accepts TLS connections and cleartext-password logins with password want only.
func fakePostgres(t *testing.T, cert tls.Certificate, want string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				serveFake(c, cert, want)
			}()
		}
	}()
	return l.Addr().String()
}

func serveFake(c net.Conn, cert tls.Certificate, want string) {
	msg, err := pgproto3.NewBackend(c, c).ReceiveStartupMessage()
	if err != nil {
		return
	}
	if _, ok := msg.(*pgproto3.SSLRequest); !ok {
		return
	}
	if _, err := c.Write([]byte("S")); err != nil {
		return
	}
	tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}})
	if err := tc.Handshake(); err != nil {
		return
	}
	be := pgproto3.NewBackend(tc, tc)
	if _, err := be.ReceiveStartupMessage(); err != nil {
		return
	}
	be.Send(&pgproto3.AuthenticationCleartextPassword{})
	if be.Flush() != nil || be.SetAuthType(pgproto3.AuthTypeCleartextPassword) != nil {
		return
	}
	m, err := be.Receive()
	if err != nil {
		return
	}
	if pw, ok := m.(*pgproto3.PasswordMessage); !ok || pw.Password != want {
		be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", Code: invalidPassword, Message: `password authentication failed for user "prawn"`})
		_ = be.Flush()
		return
	}
	be.Send(&pgproto3.AuthenticationOk{})
	be.Send(&pgproto3.ParameterStatus{Name: "server_version", Value: "16.4"})
	be.Send(&pgproto3.BackendKeyData{ProcessID: 1, SecretKey: []byte{0, 0, 0, 1}})
	be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	if be.Flush() != nil {
		return
	}
	for { // until Terminate or EOF
		if m, err := be.Receive(); err != nil {
			return
		} else if _, ok := m.(*pgproto3.Terminate); ok {
			return
		}
	}
}

func TestIAMTokenIsSignedForTheUserAndEndpoint(t *testing.T) {
	if _, err := EnvAWSConfig(env(map[string]string{"AWS_REGION": "eu-west-1"})); err == nil {
		t.Error("AWS config without credentials: no error")
	}
	tok := &iamToken{endpoint: "db.example:5432", region: "eu-west-1", user: "prawn", config: func() (aws.Config, error) {
		return EnvAWSConfig(env(map[string]string{"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "session"}))
	}}
	user, token, err := tok.get(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"db.example:5432?Action=connect", "DBUser=prawn", "X-Amz-Credential=AKIDEXAMPLE%2F", "eu-west-1%2Frds-db%2Faws4_request", "X-Amz-Security-Token=session"} {
		if !strings.Contains(token, want) {
			t.Errorf("token %q lacks %q", token, want)
		}
	}
	if user != "prawn" {
		t.Errorf("user = %q", user)
	}
}

// TestMigrateReadsTwoSecrets: the migrate function logs in with the master secret (DB_SECRET_ARN)
// and sets the app role's password from the app secret (DB_APP_SECRET_ARN); neither is mixed up
// with the other, and a secret for another user is refused without its text in the error.
func TestMigrateReadsTwoSecrets(t *testing.T) {
	vars := map[string]string{"DB_HOST": "db.example", "DB_NAME": "prawn", "DB_SECRET_ARN": "arn:master",
		"DB_APP_USER": "prawn_app", "DB_APP_SECRET_ARN": "arn:app"}
	s, err := FromEnv(env(vars))
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string][2]string{"arn:master": {"prawn", "master-pw"}, "arn:app": {"prawn_app", "app-pw"}}
	var asked []string
	fetch := func(_ context.Context, arn string) (string, string, error) {
		asked = append(asked, arn)
		v, ok := secrets[arn]
		if !ok {
			return "", "", errors.New("no such secret")
		}
		return v[0], v[1], nil
	}
	// The connection's credentials: the master's.
	a := &authenticator{creds: &secretCreds{arn: s.SecretARN, fetch: fetch}, roots: RDSRoots()}
	cfg, err := pgx.ParseConfig(rdsURL(s))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.beforeConnect(context.Background(), cfg); err != nil || cfg.User != "prawn" || cfg.Password != "master-pw" {
		t.Errorf("connection as %q/%q, %v; want the master secret's", cfg.User, cfg.Password, err)
	}
	// The role to provision: the app secret's.
	db := &DB{settings: s, fetch: fetch}
	role, ok, err := db.AppRole(context.Background())
	if err != nil || !ok || role.Name != "prawn_app" || role.Password != "app-pw" || role.IAM {
		t.Errorf("app role %+v %v %v; want prawn_app with the app secret's password", role, ok, err)
	}
	if strings.Join(asked, ",") != "arn:master,arn:app" {
		t.Errorf("secrets read: %v", asked)
	}

	secrets["arn:app"] = [2]string{"someone_else", "s3cr3t"}
	if _, _, err := db.AppRole(context.Background()); err == nil || !strings.Contains(err.Error(), "someone_else") || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("a secret of another user: %v, want a refusal naming the user and not the password", err)
	}

	// IAM: no app secret; the role gets rds_iam.
	s, err = FromEnv(env(map[string]string{"DB_HOST": "h", "DB_NAME": "p", "DB_IAM_USER": "prawn", "AWS_REGION": "eu-west-1", "DB_APP_USER": "prawn_app"}))
	if err != nil {
		t.Fatal(err)
	}
	if role, ok, err := (&DB{settings: s}).AppRole(context.Background()); err != nil || !ok || !role.IAM || role.Password != "" {
		t.Errorf("IAM app role %+v %v %v", role, ok, err)
	}
	// The other handlers have no DB_APP_USER: nothing to provision.
	if _, ok, err := (&DB{}).AppRole(context.Background()); ok || err != nil {
		t.Errorf("no DB_APP_USER: %v %v", ok, err)
	}
	for _, bad := range []map[string]string{
		{"DB_HOST": "h", "DB_NAME": "p", "DB_SECRET_ARN": "arn:m", "DB_APP_USER": "prawn_app"},
		{"DB_HOST": "h", "DB_NAME": "p", "DB_SECRET_ARN": "arn:m", "DB_APP_SECRET_ARN": "arn:app"},
		{"DB_HOST": "h", "DB_NAME": "p", "DB_IAM_USER": "prawn", "AWS_REGION": "r", "DB_APP_USER": "a", "DB_APP_SECRET_ARN": "arn:app"},
	} {
		if _, err := FromEnv(env(bad)); err == nil || !strings.Contains(err.Error(), "DB_APP_") {
			t.Errorf("%v: err = %v, want one naming the DB_APP_ setting", bad, err)
		}
	}
}
