package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/prawnhq/prawn/internal/pageview"
)

// Timeouts of the HTTP server against slow or idle clients.
const (
	// ReadHeaderTimeout is how long a client may take to send its request's headers.
	ReadHeaderTimeout = 5 * time.Second
	// ReadTimeout is how long a client may take to send a whole request, body included.
	ReadTimeout = 10 * time.Second
	// WriteTimeout is how long an answer may take from the end of the request's headers.
	WriteTimeout = 30 * time.Second
	// IdleTimeout closes keep-alive connections idle this long (a page's requests come within
	// seconds of each other; an idle connection costs a file descriptor and about 20 KB).
	IdleTimeout = 30 * time.Second
	// MaxHeaderBytes caps a request's line and headers (net/http allows 4 KiB more): over it the
	// answer is a 431 problem.
	MaxHeaderBytes = 16 << 10
)

// NewHTTPServer is the http.Server `prawn serve` runs h on, with timeouts that drop slow
// clients (slowloris) and a cap on header size. Serve it with ConnListener.Serve, so that the
// answers net/http gives before any handler runs are problems too and connections are capped.
// "OPTIONS *" reaches h (which answers it 400) instead of net/http's own empty 200.
func NewHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:                      h,
		ReadHeaderTimeout:            ReadHeaderTimeout,
		ReadTimeout:                  ReadTimeout,
		WriteTimeout:                 WriteTimeout,
		IdleTimeout:                  IdleTimeout,
		MaxHeaderBytes:               MaxHeaderBytes,
		DisableGeneralOptionsHandler: true,
		ErrorLog:                     slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// ConnLimits caps the connections a server holds open, so that idle keep-alive connections cannot
// use up its file descriptors.
type ConnLimits struct {
	// Max is the most connections open at once; 0 means no cap.
	Max int
	// PerClient is the most one client address may hold; 0 means no cap.
	PerClient int
	// Trusted are the peers PerClient does not apply to: a proxy's connections carry many clients.
	Trusted []netip.Prefix
	// Wait is how long a new connection waits for room at Max when every connection is busy
	// (meanwhile no other is accepted: they wait in the kernel's backlog); 0 means
	// ReadHeaderTimeout.
	Wait time.Duration
}

// Defaults of ConnLimits (PRAWN_MAX_CONNS, PRAWN_MAX_CONNS_PER_CLIENT).
const (
	DefaultMaxConns          = 1024
	DefaultMaxConnsPerClient = 32
)

// ConnListener is the listener `prawn serve` serves on. Its connections rewrite the answers
// net/http writes itself, before any handler and in plain text, into problems like every other
// error prawn sends: 431 for a request line or headers over MaxHeaderBytes, 400 for a request
// that is not HTTP/1.1, 417 for an Expect other than 100-continue, 501 for an unknown transfer
// encoding, 505 for an unsupported protocol version. And it caps connections: a client address
// at PerClient has one of its idle (or not yet used) connections closed to make room, or gets a
// 429 problem and its new connection closed; at Max overall, the connection idle (or unused) the
// longest, for evictAfter at least, is closed for the new one, or, when there is none, the new one
// waits for room up to Wait (a busy server is slow, not refusing), then gets a 503 problem.
type ConnListener struct {
	net.Listener
	lim    ConnLimits
	mu     sync.Mutex
	total  int
	byAddr map[netip.Addr]map[*problemConn]struct{}
	// waiting are the connections that are idle between requests or have not sent one yet.
	waiting map[*problemConn]struct{}
	// room is signalled when a connection closes or turns idle.
	room chan struct{}
}

// Listener wraps ln: see ConnListener.
func Listener(ln net.Listener, lim ConnLimits) *ConnListener {
	if lim.Wait <= 0 {
		lim.Wait = ReadHeaderTimeout
	}
	return &ConnListener{Listener: ln, lim: lim, byAddr: map[netip.Addr]map[*problemConn]struct{}{},
		waiting: map[*problemConn]struct{}{}, room: make(chan struct{}, 1)}
}

// Serve serves srv on l, tracking which connections are idle (srv.ConnState).
func (l *ConnListener) Serve(srv *http.Server) error {
	srv.ConnState = l.connState
	return srv.Serve(l)
}

// Accept returns the next connection the caps admit; those they refuse are answered and closed.
func (l *ConnListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		pc := &problemConn{Conn: c, l: l, addr: parseAddr(c.RemoteAddr().String())}
		status, evict := l.admit(pc)
		for deadline := time.Now().Add(l.lim.Wait); status == http.StatusServiceUnavailable && time.Now().Before(deadline); {
			select {
			case <-l.room:
			case <-time.After(min(time.Until(deadline), evictAfter/5)): // a connection may have waited long enough now
			}
			status, evict = l.admit(pc)
		}
		if evict != nil {
			_ = evict.Conn.Close()
		}
		if status == 0 {
			return pc, nil
		}
		detail := "the server holds as many connections as it may; retry shortly"
		if status == http.StatusTooManyRequests {
			detail = fmt.Sprintf("this address holds %d connections, as many as one client may; reuse them or close some", l.lim.PerClient)
		}
		_ = c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		_, _ = c.Write(problemResponse(status, detail, "Retry-After: 1\r\n"))
		_ = c.Close()
	}
}

// admit counts pc in, or says with which status it is refused; evict is a waiting connection to
// close to make room.
func (l *ConnListener) admit(pc *problemConn) (status int, evict *problemConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	own := l.byAddr[pc.addr]
	if l.lim.PerClient > 0 && len(own) >= l.lim.PerClient && !isTrusted(pc.addr, l.lim.Trusted) {
		if evict = l.oldestWaiting(own, now, 0); evict == nil {
			return http.StatusTooManyRequests, nil
		}
		l.release(evict)
	}
	if l.lim.Max > 0 && l.total >= l.lim.Max && evict == nil {
		// Another client's connection, idle (or unused) long enough not to be about to carry a
		// request: a busy client's keep-alive connections come back within moments.
		if evict = l.oldestWaiting(l.waiting, now, evictAfter); evict == nil {
			return http.StatusServiceUnavailable, nil
		}
		l.release(evict)
	}
	pc.since = now
	l.total++
	if l.byAddr[pc.addr] == nil {
		l.byAddr[pc.addr] = map[*problemConn]struct{}{}
	}
	l.byAddr[pc.addr][pc] = struct{}{}
	l.waiting[pc] = struct{}{}
	pc.counted = true
	return 0, evict
}

// evictAfter is how long a connection must have waited before the overall cap closes it for
// another client's: long enough for a busy client's keep-alive connection to carry its next
// request, short enough that idle ones held on purpose go at once.
const evictAfter = 250 * time.Millisecond

// oldestWaiting picks the connection of set that has waited (idle, or not yet used) longest, at
// least minAge; nil if none.
func (l *ConnListener) oldestWaiting(set map[*problemConn]struct{}, now time.Time, minAge time.Duration) *problemConn {
	var oldest *problemConn
	for c := range set {
		if _, ok := l.waiting[c]; !ok || now.Sub(c.since) < minAge {
			continue
		}
		if oldest == nil || c.since.Before(oldest.since) {
			oldest = c
		}
	}
	return oldest
}

// release stops counting c (it is closing); l.mu is held.
func (l *ConnListener) release(c *problemConn) {
	if !c.counted {
		return
	}
	l.signal()
	c.counted = false
	l.total--
	delete(l.waiting, c)
	if own := l.byAddr[c.addr]; own != nil {
		delete(own, c)
		if len(own) == 0 {
			delete(l.byAddr, c.addr)
		}
	}
}

func (l *ConnListener) connState(c net.Conn, state http.ConnState) {
	pc, ok := c.(*problemConn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch state {
	case http.StateActive:
		delete(l.waiting, pc)
	case http.StateIdle:
		if pc.counted {
			l.waiting[pc] = struct{}{}
			pc.since = time.Now()
			l.signal()
		}
	case http.StateHijacked, http.StateClosed:
		l.release(pc)
	}
}

// signal tells a new connection waiting for room that there may be some.
func (l *ConnListener) signal() {
	select {
	case l.room <- struct{}{}:
	default:
	}
}

// Conns is the number of connections open, for tests and metrics.
func (l *ConnListener) Conns() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

// problemConn rewrites net/http's own error answers. net/http writes each of them in one Write
// on the connection, as "HTTP/1.1 <status>" then exactly plainErrorHeaders and the text (a 417
// as a bare header without a body); an answer of a handler always carries prawn's security
// headers first, so it never looks so.
type problemConn struct {
	net.Conn
	l       *ConnListener
	addr    netip.Addr
	counted bool      // in l's counts; guarded by l.mu
	since   time.Time // when it last began to wait (accepted, or idle); guarded by l.mu
}

// plainErrorHeaders are the headers of net/http's own error answers (net/http's errorHeaders).
const plainErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

func (c *problemConn) Write(b []byte) (int, error) {
	if bytes.HasPrefix(b, []byte("HTTP/1.1 417 ")) && !bytes.Contains(b, []byte("X-Content-Type-Options")) {
		if _, err := c.Conn.Write(problemResponse(http.StatusExpectationFailed, "the request's Expect header asks for more than 100-continue, the only expectation this server meets", "")); err != nil {
			return 0, err
		}
		return len(b), nil
	}
	if status, text, ok := plainError(b); ok {
		if _, err := c.Conn.Write(problemAnswer(status, text)); err != nil {
			return 0, err
		}
		return len(b), nil
	}
	return c.Conn.Write(b)
}

// CloseWrite half-closes the connection, as net/http does after a 431 so that the client can read
// the answer while it is still sending.
func (c *problemConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// plainError parses one of net/http's own error answers: its status and its text.
func plainError(b []byte) (status int, text string, ok bool) {
	rest, found := bytes.CutPrefix(b, []byte("HTTP/1.1 "))
	if !found || len(rest) < 4 || rest[3] != ' ' {
		return 0, "", false
	}
	status, err := strconv.Atoi(string(rest[:3]))
	if err != nil || status < 400 {
		return 0, "", false
	}
	line, body, found := bytes.Cut(rest, []byte(plainErrorHeaders))
	if !found || bytes.ContainsAny(line, "\r\n") {
		return 0, "", false
	}
	return status, string(body), true
}

// problemAnswer is the whole HTTP answer of a problem for one of net/http's own errors.
func problemAnswer(status int, text string) []byte {
	var detail string
	switch status {
	case http.StatusRequestHeaderFieldsTooLarge:
		detail = fmt.Sprintf("the request line and headers are larger than this server reads (%d KiB); a path, in the URL or in a view, is at most %d bytes",
			MaxHeaderBytes>>10, pageview.MaxPathLen)
	case http.StatusNotImplemented:
		detail = "the request's Transfer-Encoding is not supported; send the body with a Content-Length or chunked"
	default:
		// net/http's text is "400 Bad Request" or "400 Bad Request: missing required Host header".
		detail = "the request is not valid HTTP/1.1"
		if _, why, ok := bytes.Cut([]byte(text), []byte(": ")); ok {
			detail += ": " + string(why)
		}
	}
	return problemResponse(status, detail, "")
}

// problemResponse is a whole HTTP answer with a problem, prawn's headers, extra (whole header
// lines) and Connection: close.
func problemResponse(status int, detail, extra string) []byte {
	body, _ := json.Marshal(problem(status, detail))
	body = append(body, '\n')
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", status, http.StatusText(status))
	b.WriteString("Content-Type: " + problemType + "\r\nCache-Control: no-store\r\n")
	for _, kv := range securityHeaders {
		b.WriteString(kv.key + ": " + kv.value[0] + "\r\n")
	}
	b.WriteString("Content-Security-Policy: " + apiCSP + "\r\n" + extra)
	fmt.Fprintf(&b, "Connection: close\r\nContent-Length: %d\r\n\r\n", len(body))
	b.Write(body)
	return b.Bytes()
}
