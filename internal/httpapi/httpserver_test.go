package httpapi_test

import (
	"bufio"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prawnhq/prawn/internal/httpapi"
)

// startHTTPServer runs h as `prawn serve` does: NewHTTPServer on Listener.
func startHTTPServer(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httpapi.NewHTTPServer(h, slog.New(slog.DiscardHandler))
	go srv.Serve(httpapi.Listener(ln))
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// exchange sends raw requests on one connection and reads as many answers.
func exchange(t *testing.T, addr string, raw ...string) []*http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	var out []*http.Response
	for _, req := range raw {
		if _, err := io.WriteString(conn, req); err != nil {
			t.Fatalf("write: %v", err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("read the answer to %.60q: %v", req, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body = io.NopCloser(strings.NewReader(string(body)))
		out = append(out, resp)
	}
	return out
}

func problemDetail(t *testing.T, resp *http.Response) string {
	t.Helper()
	var p struct {
		Status int    `json:"status"`
		Title  string `json:"title"`
		Detail string `json:"detail"`
	}
	if resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("%d answer has Content-Type %q, want application/problem+json", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil || p.Status != resp.StatusCode || p.Title == "" {
		t.Errorf("%d answer is not a problem with its status: %+v, %v", resp.StatusCode, p, err)
	}
	return p.Detail
}

// TestNetHTTPErrorsAreProblems sends what net/http refuses before any handler runs — a request
// line or headers over MaxHeaderBytes, malformed requests — and checks that the answers are
// problems with prawn's headers, and that a path over 512 bytes that net/http accepts is a 400
// that says so.
func TestNetHTTPErrorsAreProblems(t *testing.T) {
	t.Parallel()
	h, _ := edgeHandler(&fakeRecorder{}, httpapi.Edge{})
	addr := startHTTPServer(t, h)
	long := "/" + strings.Repeat("a", 30_000)
	for _, tt := range []struct {
		name, raw string
		status    int
		detail    []string
	}{
		{"request line", "GET /api/stats?path=" + long + " HTTP/1.1\r\nHost: x\r\n\r\n", 431,
			[]string{"request line and headers are larger than this server reads (16 KiB)", "at most 512 bytes"}},
		{"header", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("b", 30_000) + "\r\n\r\n", 431,
			[]string{"larger than this server reads"}},
		{"no host", "GET /healthz HTTP/1.1\r\n\r\n", 400, []string{"not valid HTTP/1.1: missing required Host header"}},
		{"garbage", "GET /healthz HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", 400, []string{"not valid HTTP/1.1"}},
		{"transfer encoding", "POST /api/views HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501, []string{"Transfer-Encoding is not supported"}},
		{"path over 512", "GET /api/stats?path=/" + strings.Repeat("a", 600) + " HTTP/1.1\r\nHost: x\r\n\r\n", 400,
			[]string{"path is 601 bytes long, at most 512 are allowed"}},
	} {
		resp := exchange(t, addr, tt.raw)[0]
		detail := problemDetail(t, resp)
		for _, want := range tt.detail {
			if resp.StatusCode != tt.status || !strings.Contains(detail, want) {
				t.Errorf("%s: %d %q; want %d with %q", tt.name, resp.StatusCode, detail, tt.status, want)
			}
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("%s: headers %v lack nosniff or a CSP", tt.name, resp.Header)
		}
	}
	// A keep-alive connection answers its requests, then the oversize one with a problem.
	answers := exchange(t, addr, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", "GET "+long+" HTTP/1.1\r\nHost: x\r\n\r\n")
	if answers[0].StatusCode != 200 || answers[1].StatusCode != 431 {
		t.Fatalf("keep-alive: %d then %d, want 200 then 431", answers[0].StatusCode, answers[1].StatusCode)
	}
	problemDetail(t, answers[1])
}
