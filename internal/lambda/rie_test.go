package lambda

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/prawnhq/prawn/internal/pgtest"
)

// rieModule is the Lambda Runtime Interface Emulator, pinned as a tool in go.mod.
const rieModule = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"

// TestBootstrapInTheRuntimeInterfaceEmulator builds the real bootstrap (host arch, -tags
// lambda.norpc) and the real emulator, and invokes each handler through the Lambda runtime API.
func TestBootstrapInTheRuntimeInterfaceEmulator(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the bootstrap and the emulator; skipped with -short")
	}
	bin := buildBinaries(t)

	t.Run("api", func(t *testing.T) {
		url := pgtest.URL(t)
		fn := startFunction(t, bin, "api", url)
		for _, name := range []string{"api-post-view.json", "api-post-view-base64.json"} {
			var resp struct {
				StatusCode int    `json:"statusCode"`
				Body       string `json:"body"`
			}
			fn.invoke(t, readFile(t, name), &resp)
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("%s: status %d, body %s", name, resp.StatusCode, resp.Body)
			}
		}
		var resp struct {
			StatusCode int               `json:"statusCode"`
			Headers    map[string]string `json:"headers"`
			Body       string            `json:"body"`
		}
		fn.invoke(t, readFile(t, "api-get-stats.json"), &resp)
		var stats struct {
			Total int64 `json:"total"`
		}
		if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(resp.Body), &stats) != nil || stats.Total != 2 {
			t.Fatalf("GET /api/stats: status %d, body %s; want total 2", resp.StatusCode, resp.Body)
		}
		if resp.Headers["X-Request-Id"] != "fixture-get-1" {
			t.Errorf("headers = %v", resp.Headers)
		}
		if n := queryInt(t, url, "SELECT count(*) FROM views WHERE path = '/docs'"); n != 2 {
			t.Errorf("views of /docs = %d, want 2", n)
		}
		fn.stop(t)
	})

	t.Run("api edge settings", func(t *testing.T) {
		url := pgtest.URL(t)
		// Behind CloudFront: the peer API Gateway sees is a CloudFront address, the visitor is in
		// X-Forwarded-For. The settings are the ones docs/security.md tells AWS users to set.
		fn := startFunction(t, bin, "api", url,
			"PRAWN_RATE_LIMIT=1", "PRAWN_RATE_BURST=1", "PRAWN_TRUSTED_PROXIES=130.176.0.0/16",
			"PRAWN_CORS_ORIGINS=https://blog.example", "PRAWN_DB_MAX_CONNS=3", "PRAWN_INGEST_FLUSHERS=2",
			"PRAWN_DB_TIMEOUT=5s")
		type response struct {
			StatusCode int               `json:"statusCode"`
			Headers    map[string]string `json:"headers"`
			Body       string            `json:"body"`
		}
		send := func(method, visitor string, headers map[string]string) response {
			t.Helper()
			var ev map[string]any
			if err := json.Unmarshal(readFile(t, "api-post-view.json"), &ev); err != nil {
				t.Fatal(err)
			}
			h := ev["headers"].(map[string]any)
			h["x-forwarded-for"] = visitor
			for k, v := range headers {
				h[k] = v
			}
			rc := ev["requestContext"].(map[string]any)["http"].(map[string]any)
			rc["method"], rc["sourceIp"] = method, "130.176.12.34"
			if method != http.MethodPost {
				delete(ev, "body")
			}
			payload, _ := json.Marshal(ev)
			var resp response
			fn.invoke(t, payload, &resp)
			return resp
		}
		origin := map[string]string{"origin": "https://blog.example"}
		first := send(http.MethodPost, "198.51.100.23", origin)
		if first.StatusCode != http.StatusCreated || first.Headers["Access-Control-Allow-Origin"] != "https://blog.example" {
			t.Errorf("first view: %d %v %s; want 201 readable by https://blog.example", first.StatusCode, first.Headers, first.Body)
		}
		second := send(http.MethodPost, "198.51.100.23", origin)
		if second.StatusCode != http.StatusTooManyRequests || second.Headers["Retry-After"] == "" ||
			!strings.HasPrefix(second.Headers["Content-Type"], "application/problem+json") || !strings.Contains(second.Body, "at most 1 a second") {
			t.Errorf("second view from the same visitor: %d %v %s; want a 429 problem with Retry-After", second.StatusCode, second.Headers, second.Body)
		}
		if other := send(http.MethodPost, "198.51.100.24", nil); other.StatusCode != http.StatusCreated {
			t.Errorf("another visitor through the same CloudFront address: %d %s; want 201 (a bucket of its own)", other.StatusCode, other.Body)
		}
		pre := send(http.MethodOptions, "198.51.100.25", map[string]string{"origin": "https://blog.example", "access-control-request-method": "POST"})
		if pre.StatusCode != http.StatusNoContent || pre.Headers["Access-Control-Allow-Origin"] != "https://blog.example" || pre.Headers["Access-Control-Allow-Methods"] != "POST" {
			t.Errorf("preflight: %d %v", pre.StatusCode, pre.Headers)
		}
		if n := queryInt(t, url, "SELECT count(*) FROM views WHERE path = '/docs'"); n != 2 {
			t.Errorf("views of /docs = %d, want 2 (the 429 recorded nothing)", n)
		}
		fn.stop(t)
	})

	t.Run("api refuses ingest settings its pool cannot serve", func(t *testing.T) {
		fn := startFunction(t, bin, "api", "postgres://unused@127.0.0.1:1/x", "PRAWN_INGEST_FLUSHERS=2")
		fn.invokeRaw(t, []byte(`{}`), nil) // the emulator answers an init failure with no body
		fn.stop(t)
		out := fn.out.String()
		if !strings.Contains(out, "PRAWN_INGEST_FLUSHERS=2 with the pool of a Lambda instance (2 connections)") || !strings.Contains(out, "INIT RTDONE(status: error)") {
			t.Errorf("emulator output does not show an init failure naming PRAWN_INGEST_FLUSHERS:\n%s", out)
		}
	})

	t.Run("rollup", func(t *testing.T) {
		url := pgtest.URL(t)
		c := connect(t, url)
		if _, err := c.Exec(context.Background(), "INSERT INTO views (path) VALUES ('/a'), ('/a'), ('/b')"); err != nil {
			t.Fatal(err)
		}
		fn := startFunction(t, bin, "rollup", url)
		// The fold stops short of transactions still running on the server (other tests'), so
		// invoke again until all three views are in, as the schedule would.
		var folded int64
		for deadline := time.Now().Add(20 * time.Second); folded < 3 && time.Now().Before(deadline); {
			var sum RollupSummary
			fn.invoke(t, readFile(t, "scheduled-event.json"), &sum)
			folded += sum.Folded
		}
		if folded != 3 {
			t.Fatalf("folded %d views, want 3", folded)
		}
		if n := queryInt(t, url, "SELECT views FROM totals WHERE path = '/a'"); n != 2 {
			t.Errorf("totals /a = %d, want 2", n)
		}
		fn.stop(t)
	})

	t.Run("migrate", func(t *testing.T) {
		url := pgtest.URL(t)
		c := connect(t, url)
		if _, err := c.Exec(context.Background(), "DROP SCHEMA public CASCADE; CREATE SCHEMA public"); err != nil {
			t.Fatal(err)
		}
		fn := startFunction(t, bin, "migrate", url)
		var sum MigrateSummary
		fn.invoke(t, readFile(t, "cfn-create.json"), &sum)
		if len(sum.Applied) == 0 {
			t.Fatalf("summary = %+v, want migrations applied", sum)
		}
		if n := queryInt(t, url, "SELECT count(*) FROM rollup_state"); n != 1 {
			t.Errorf("rollup_state rows = %d, want 1", n)
		}
		fn.invoke(t, []byte(`{}`), &sum)
		if len(sum.Applied) != 0 {
			t.Errorf("second run applied %v, want none", sum.Applied)
		}
		fn.stop(t)
	})

	t.Run("unknown handler", func(t *testing.T) {
		fn := startFunction(t, bin, "serve", "postgres://unused@127.0.0.1:1/x")
		fn.invokeRaw(t, []byte(`{}`), nil) // the emulator answers an init failure with no body
		fn.stop(t)
		out := fn.out.String()
		if !strings.Contains(out, `_HANDLER="serve": want one of api, rollup, migrate`) || !strings.Contains(out, "INIT RTDONE(status: error)") {
			t.Errorf("emulator output does not show an init failure naming the valid handlers:\n%s", out)
		}
	})
}

type binaries struct{ bootstrap, rie string }

// buildBinaries builds the bootstrap and the emulator into a temp folder, with the usual build
// cache (warm after the first run).
func buildBinaries(t *testing.T) binaries {
	t.Helper()
	dir := t.TempDir()
	root := moduleRoot(t)
	b := binaries{bootstrap: filepath.Join(dir, "bootstrap"), rie: filepath.Join(dir, "aws-lambda-rie")}
	for _, args := range [][]string{
		{"build", "-tags", "lambda.norpc", "-o", b.bootstrap, "./cmd/prawn"},
		{"build", "-o", b.rie, rieModule},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return b
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		t.Fatalf("go env GOMOD: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

// function is one emulator running the bootstrap with one handler.
type function struct {
	cmd  *exec.Cmd
	url  string
	out  *syncBuffer
	done chan struct{}
}

// startFunction runs handler in the emulator on databaseURL, with extra settings (NAME=value).
func startFunction(t *testing.T, b binaries, handler, databaseURL string, extra ...string) *function {
	t.Helper()
	port, apiPort := freePort(t), freePort(t)
	cmd := exec.Command(b.rie,
		"--runtime-interface-emulator-address", fmt.Sprintf("127.0.0.1:%d", port),
		"--runtime-api-address", fmt.Sprintf("127.0.0.1:%d", apiPort),
		b.bootstrap)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_LAMBDA_RUNTIME_API=") && !strings.HasPrefix(kv, "_HANDLER=") && !strings.HasPrefix(kv, "DATABASE_URL=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(append(env, "_HANDLER="+handler, "DATABASE_URL="+databaseURL, "PRAWN_LOG_LEVEL=info"), extra...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // the bootstrap is its child: stop both
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	fn := &function{cmd: cmd, url: fmt.Sprintf("http://127.0.0.1:%d/2015-03-31/functions/function/invocations", port), out: out, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(fn.done) }()
	t.Cleanup(func() { fn.stop(t) })
	for deadline := time.Now().Add(15 * time.Second); ; {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			return fn
		}
		select {
		case <-fn.done:
			t.Fatalf("emulator exited:\n%s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("emulator did not listen in 15 s:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// invoke posts payload and decodes the function's result into v, failing on a function error.
func (f *function) invoke(t *testing.T, payload []byte, v any) {
	t.Helper()
	body := f.invokeRaw(t, payload, v)
	if bytes.Contains(body, []byte(`"errorType"`)) {
		t.Fatalf("function error: %s\n%s", body, f.out.String())
	}
}

func (f *function) invokeRaw(t *testing.T, payload []byte, v any) []byte {
	t.Helper()
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Post(f.url, "application/json", bytes.NewReader(payload))
	if err != nil {
		t.Fatalf("invoke: %v\n%s", err, f.out.String())
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if v == nil {
		return body
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("invoke: result %q: %v\n%s", body, err, f.out.String())
	}
	return body
}

// stop ends the emulator and the bootstrap and logs the emulator's REPORT lines.
func (f *function) stop(t *testing.T) {
	t.Helper()
	select {
	case <-f.done:
		return
	default:
	}
	if hwm := childPeakRSS(f.cmd.Process.Pid); hwm != "" {
		t.Logf("bootstrap peak RSS (VmHWM of the emulator's child): %s", hwm)
	}
	_ = syscall.Kill(-f.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-f.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-f.cmd.Process.Pid, syscall.SIGKILL)
		<-f.done
	}
	for _, line := range strings.Split(f.out.String(), "\n") {
		if strings.Contains(line, "REPORT") || strings.Contains(line, "INIT") {
			t.Log(strings.TrimSpace(line))
		}
	}
}

// childPeakRSS reads VmHWM of the emulator's child process (the bootstrap): the emulator's own
// "Max Memory Used" only repeats the memory size.
func childPeakRSS(parent int) string {
	dirs, _ := filepath.Glob("/proc/[0-9]*/status")
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil || !strings.Contains(string(b), fmt.Sprintf("\nPPid:\t%d\n", parent)) {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "VmHWM:") {
				return strings.Join(strings.Fields(strings.TrimPrefix(line, "VmHWM:")), " ")
			}
		}
	}
	return ""
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// syncBuffer is a bytes.Buffer safe for the emulator's two output streams and the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
