package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
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
	// IdleTimeout closes keep-alive connections idle this long.
	IdleTimeout = 2 * time.Minute
	// MaxHeaderBytes caps a request's line and headers (net/http allows 4 KiB more): over it the
	// answer is a 431 problem.
	MaxHeaderBytes = 16 << 10
)

// NewHTTPServer is the http.Server `prawn serve` runs h on, with timeouts that drop slow
// clients (slowloris) and a cap on header size. Serve it on Listener(ln), so that the answers
// net/http gives before any handler runs are problems too.
func NewHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// Listener wraps ln so that the answers net/http writes itself, before any handler and in plain
// text, are problems like every other error prawn sends: 431 for a request line or headers over
// MaxHeaderBytes, 400 for a request that is not HTTP/1.1, 501 for an unknown transfer encoding,
// 505 for an unsupported protocol version.
func Listener(ln net.Listener) net.Listener { return problemListener{ln} }

type problemListener struct{ net.Listener }

func (l problemListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return problemConn{c}, nil
}

// problemConn rewrites net/http's own error answers. net/http writes each of them in one Write
// on the connection, as "HTTP/1.1 <status>" then exactly plainErrorHeaders and the text; an
// answer of a handler always carries prawn's security headers first, so it never looks so.
type problemConn struct{ net.Conn }

// plainErrorHeaders are the headers of net/http's own error answers (net/http's errorHeaders).
const plainErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

func (c problemConn) Write(b []byte) (int, error) {
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
func (c problemConn) CloseWrite() error {
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
	body, _ := json.Marshal(problem(status, detail))
	body = append(body, '\n')
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", status, http.StatusText(status))
	b.WriteString("Content-Type: " + problemType + "\r\nCache-Control: no-store\r\n")
	for _, kv := range securityHeaders {
		b.WriteString(kv.key + ": " + kv.value[0] + "\r\n")
	}
	b.WriteString("Content-Security-Policy: " + apiCSP + "\r\n")
	fmt.Fprintf(&b, "Connection: close\r\nContent-Length: %d\r\n\r\n", len(body))
	b.Write(body)
	return b.Bytes()
}
