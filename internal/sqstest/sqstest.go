// Package sqstest runs a real SQS-compatible server on loopback for tests: the npm package
// local-aws-sqs (pinned in testdata/package-lock.json, installed with `npm ci` on first use),
// which speaks the SQS JSON protocol of current AWS SDKs. It needs Node.js and npm.
package sqstest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// Region and the credentials that the server accepts (it checks none).
const (
	Region    = "us-east-1"
	AccessKey = "AKIDPRAWNTEST"
	SecretKey = "prawn-test-secret"
)

// Server is one running local-aws-sqs.
type Server struct {
	// Endpoint is its URL, for AWS_ENDPOINT_URL_SQS.
	Endpoint string
	cmd      *exec.Cmd
	stdin    io.WriteCloser
}

// Env is the environment a process needs to reach the server with the AWS SDK.
func (s *Server) Env() []string {
	return []string{"AWS_ENDPOINT_URL_SQS=" + s.Endpoint, "AWS_REGION=" + Region,
		"AWS_ACCESS_KEY_ID=" + AccessKey, "AWS_SECRET_ACCESS_KEY=" + SecretKey}
}

// Client is an SQS client of the server.
func (s *Server) Client() *sqs.Client {
	return sqs.New(sqs.Options{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, ""),
		BaseEndpoint: aws.String(s.Endpoint),
	})
}

// CreateQueue creates a queue and returns its URL. attrs are SQS queue attributes such as
// VisibilityTimeout.
func (s *Server) CreateQueue(t testing.TB, name string, attrs map[string]string) string {
	t.Helper()
	u, err := s.NewQueue(name, attrs)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// NewQueue is CreateQueue outside tests.
func (s *Server) NewQueue(name string, attrs map[string]string) (string, error) {
	out, err := s.Client().CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		return "", fmt.Errorf("create queue %s: %w", name, err)
	}
	return aws.ToString(out.QueueUrl), nil
}

// Start installs (once) and starts a server on a free port; it stops when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Run installs (once) and starts a server on a free port, outside tests (the benchmark); Stop it.
func Run() (*Server, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return nil, errors.New("sqstest: cannot locate its own source")
	}
	dir := filepath.Join(filepath.Dir(file), "testdata")
	if err := install(dir); err != nil {
		return nil, err
	}
	cmd := exec.Command("node", "server.mjs", "0")
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start local-aws-sqs (needs Node.js): %w", err)
	}
	s := &Server{cmd: cmd, stdin: stdin}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "listening ") {
				lines <- strings.TrimPrefix(sc.Text(), "listening ")
			}
		}
	}()
	select {
	case port := <-lines:
		s.Endpoint = "http://127.0.0.1:" + port
		return s, nil
	case <-time.After(30 * time.Second):
		s.Stop()
		return nil, errors.New("local-aws-sqs did not start in 30 s")
	}
}

// Stop ends the server.
func (s *Server) Stop() {
	_ = s.stdin.Close() // the server exits when its stdin closes
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}

// install runs `npm ci` when node_modules is missing or older than package-lock.json, under a
// file lock: test binaries of several packages may start at once.
func install(dir string) error {
	lock, err := os.OpenFile(filepath.Join(dir, ".install.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("sqstest: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("sqstest: lock: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck
	installed, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json"))
	lockfile, lerr := os.Stat(filepath.Join(dir, "package-lock.json"))
	if lerr != nil {
		return fmt.Errorf("sqstest: %w", lerr)
	}
	if err == nil && !lockfile.ModTime().After(installed.ModTime()) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("sqstest: npm ci in %s (needs Node.js and npm): %v\n%s", dir, err, out)
	}
	return nil
}
