package dbconn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/rds/auth"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// minRefetch spaces out fetches of the secret after refused passwords, so that a wrong secret
// does not turn every connection attempt into a Secrets Manager call.
const minRefetch = 5 * time.Second

// awsConfig is the AWS SDK configuration of a Lambda function, read once on first use (not at
// init): the region and the function role's credentials that Lambda puts in the environment.
// (config.LoadDefaultConfig would find the same in Lambda, but links SSO, STS and IMDS clients
// that a function never uses: about 2 MB more bootstrap.)
var awsConfig = sync.OnceValues(func() (aws.Config, error) {
	return EnvAWSConfig(os.Getenv)
})

// EnvAWSConfig is the AWS SDK configuration of a Lambda function from its environment: the
// region and the function role's credentials (AWS_REGION, AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN).
func EnvAWSConfig(getenv func(string) string) (aws.Config, error) {
	region := getenv("AWS_REGION")
	if region == "" {
		region = getenv("AWS_DEFAULT_REGION")
	}
	key, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	if region == "" || key == "" || secret == "" {
		return aws.Config{}, errors.New("AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set (Lambda sets them from the function's role)")
	}
	return aws.Config{
		Region:      region,
		Credentials: credentials.NewStaticCredentialsProvider(key, secret, getenv("AWS_SESSION_TOKEN")),
	}, nil
}

// secretCreds are the username and password of an RDS-generated Secrets Manager secret, fetched
// once and again only when asked to refresh (the password was refused: rotation).
type secretCreds struct {
	arn   string
	fetch func(ctx context.Context, arn string) (user, password string, err error)

	mu        sync.Mutex
	user      string
	password  string
	fetchedAt time.Time
	now       func() time.Time // for tests; nil means time.Now
}

func (s *secretCreds) get(ctx context.Context, refresh bool) (string, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now
	if s.now != nil {
		now = s.now
	}
	cached := !s.fetchedAt.IsZero()
	if cached && (!refresh || now().Sub(s.fetchedAt) < minRefetch) {
		return s.user, s.password, nil
	}
	user, password, err := s.fetch(ctx, s.arn)
	if err != nil {
		return "", "", err
	}
	s.user, s.password, s.fetchedAt = user, password, now()
	return user, password, nil
}

// fetchSecret reads the secret's current version and picks its username and password.
func fetchSecret(ctx context.Context, arn string) (string, string, error) {
	cfg, err := awsConfig()
	if err != nil {
		return "", "", err
	}
	out, err := secretsmanager.NewFromConfig(cfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		return "", "", fmt.Errorf("get secret %s: %w", arn, err)
	}
	if out.SecretString == nil {
		return "", "", fmt.Errorf("secret %s has no string value", arn)
	}
	return parseSecret(*out.SecretString)
}

// parseSecret reads the JSON of an RDS-generated secret; its text never appears in an error.
func parseSecret(text string) (string, string, error) {
	var v struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		return "", "", errors.New("secret is not a JSON object with username and password")
	}
	if v.Username == "" || v.Password == "" {
		return "", "", errors.New("secret lacks a username or a password")
	}
	return v.Username, v.Password, nil
}

// iamToken logs in as an IAM-enabled role with a fresh RDS auth token (valid 15 minutes) for every
// connection; signing is local, with the function role's credentials.
type iamToken struct {
	endpoint, region, user string
	config                 func() (aws.Config, error) // nil means awsConfig
}

func (t *iamToken) get(ctx context.Context, _ bool) (string, string, error) {
	load := t.config
	if load == nil {
		load = awsConfig
	}
	cfg, err := load()
	if err != nil {
		return "", "", err
	}
	token, err := auth.BuildAuthToken(ctx, t.endpoint, t.region, t.user, cfg.Credentials)
	if err != nil {
		return "", "", fmt.Errorf("build RDS IAM auth token: %w", err)
	}
	return t.user, token, nil
}
