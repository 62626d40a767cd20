package httpapi_test

import (
	"bufio"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
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
	go httpapi.Listener(ln, httpapi.ConnLimits{}).Serve(srv)
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
		{"expectation", "GET /healthz HTTP/1.1\r\nHost: x\r\nExpect: coffee\r\n\r\n", 417, []string{"Expect header asks for more than 100-continue"}},
		{"OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 400, []string{"OPTIONS * is not a request this server answers"}},
		{"CONNECT", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 404, []string{"nothing at example.com:443"}},
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

// TestConnectionsAreCapped is issue 18 finding 3: one client held thousands of idle keep-alive
// connections until the server ran out of file descriptors. Now a client address holds at most
// PerClient connections (a new one closes one of its idle ones, or is refused with a 429 problem
// when all are busy), the server at most Max (a new one closes any idle one, or gets a 503), and
// a trusted proxy is not held to PerClient.
func TestConnectionsAreCapped(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/busy" {
			select {
			case <-release:
			case <-r.Context().Done(): // its client went away
				return
			}
		}
		io.WriteString(w, "ok")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := httpapi.Listener(ln, httpapi.ConnLimits{Max: 5, PerClient: 3, Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.9/32")}, Wait: 300 * time.Millisecond})
	srv := httpapi.NewHTTPServer(h, slog.New(slog.DiscardHandler))
	go cl.Serve(srv)
	t.Cleanup(func() { srv.Close() })
	addr := ln.Addr().String()
	dial := func(from string) (net.Conn, *bufio.Reader) {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		return c, bufio.NewReader(c)
	}
	get := func(c net.Conn, br *bufio.Reader, path string) (*http.Response, error) {
		if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			return nil, err
		}
		resp, err := http.ReadResponse(br, nil)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body = io.NopCloser(strings.NewReader(string(b)))
		}
		return resp, err
	}
	waitConns := func(want int) {
		t.Helper()
		for i := 0; cl.Conns() != want; i++ {
			if i > 500 {
				t.Fatalf("the server holds %d connections, want %d", cl.Conns(), want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// Idle connections of one client: a fourth closes one of the three.
	type conn struct {
		c  net.Conn
		br *bufio.Reader
	}
	var idle []conn
	for range 3 {
		c, br := dial("127.0.0.1")
		if resp, err := get(c, br, "/"); err != nil || resp.StatusCode != 200 {
			t.Fatalf("idle connection: %v %v", resp, err)
		}
		idle = append(idle, conn{c, br})
	}
	waitConns(3)
	c4, br4 := dial("127.0.0.1")
	if resp, err := get(c4, br4, "/"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("a fourth connection of the client: %v %v; want 200 (an idle one closed for it)", resp, err)
	}
	closed := 0
	for _, ic := range idle {
		if _, err := get(ic.c, ic.br, "/"); err != nil {
			closed++
		}
	}
	if closed < 1 {
		t.Errorf("%d of the client's idle connections were closed, want at least 1", closed)
	}
	// Busy connections: three requests in flight, a fourth connection is refused with a 429.
	for _, ic := range idle {
		ic.c.Close()
	}
	c4.Close()
	waitConns(0)
	var busy []*bufio.Reader
	for range 3 {
		c, br := dial("127.0.0.2")
		io.WriteString(c, "GET /busy HTTP/1.1\r\nHost: x\r\n\r\n")
		busy = append(busy, br)
	}
	waitConns(3)
	time.Sleep(50 * time.Millisecond) // let the server read the requests: then they are busy, not waiting
	c, br := dial("127.0.0.2")
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 429 {
		t.Fatalf("a fourth connection while three are busy: %v %v; want a 429", resp, err)
	}
	if detail := problemDetail(t, resp); !strings.Contains(detail, "holds 3 connections") || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("429 detail %q, headers %v", detail, resp.Header)
	}
	c.Close()
	// Overall: two more busy connections from elsewhere fill the server; a sixth waits for room
	// (Wait), then gets a 503; a seventh that finds room while it waits is served.
	var last net.Conn
	for _, from := range []string{"127.0.0.3", "127.0.0.4"} {
		c, br := dial(from)
		io.WriteString(c, "GET /busy HTTP/1.1\r\nHost: x\r\n\r\n")
		busy = append(busy, br)
		last = c
	}
	waitConns(5)
	time.Sleep(50 * time.Millisecond)
	c5, br := dial("127.0.0.5")
	io.WriteString(c5, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("a connection over the server's cap: %v %v; want a 503 with Retry-After after waiting", resp, err)
	}
	c6, br6 := dial("127.0.0.6")
	time.AfterFunc(100*time.Millisecond, func() { last.Close() }) // its client goes: room for c6
	if resp, err := get(c6, br6, "/"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("a connection that found room while it waited: %v %v; want 200", resp, err)
	}
	busy = busy[:len(busy)-1]
	once.Do(func() { close(release) })
	for _, br := range busy { // the busy ones answer and are idle then
		if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 200 {
			t.Fatalf("a busy request: %v %v", resp, err)
		}
	}
	time.Sleep(50 * time.Millisecond)
	// A trusted proxy may hold more than PerClient: it closes connections of others idle for a
	// moment instead.
	time.Sleep(300 * time.Millisecond)
	for i := range 4 {
		c, br := dial("127.0.0.9")
		if resp, err := get(c, br, "/"); err != nil || resp.StatusCode != 200 {
			t.Fatalf("trusted proxy's connection %d: %v %v", i, resp, err)
		}
	}
	if n := cl.Conns(); n > 5 {
		t.Errorf("the server holds %d connections, over its cap of 5", n)
	}
}
