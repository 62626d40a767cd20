package httpapi_test

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/prawnhq/prawn/internal/httpapi"
)

// TestSlowClientsAreDropped runs the server `prawn serve` uses and checks that a client sending
// its headers one byte at a time (slowloris) and one that never finishes its body are cut off
// by the server's timeouts instead of holding a connection for ever.
func TestSlowClientsAreDropped(t *testing.T) {
	t.Parallel()
	h, _ := edgeHandler(&fakeRecorder{}, httpapi.Edge{})
	srv := httpapi.NewHTTPServer(h, slog.New(slog.DiscardHandler))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go httpapi.Listener(ln, httpapi.ConnLimits{}).Serve(srv)
	t.Cleanup(func() { srv.Close() })

	for _, tt := range []struct {
		name  string
		start string // sent at once
		drip  string // then one byte every 200 ms
		limit time.Duration
	}{
		{"headers", "POST /api/views HTTP/1.1\r\nHost: x\r\n", "X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", httpapi.ReadHeaderTimeout},
		{"body", "POST /api/views HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n", `{"path":"/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa`, httpapi.ReadTimeout},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			start := time.Now()
			if _, err := io.WriteString(conn, tt.start); err != nil {
				t.Fatal(err)
			}
			closed := make(chan time.Duration, 1)
			go func() { // the server's answer (if any) and its closing
				_, _ = io.Copy(io.Discard, conn)
				closed <- time.Since(start)
			}()
			for i := 0; ; i++ {
				select {
				case d := <-closed:
					t.Logf("slow %s cut off after %s (timeout %s)", tt.name, d.Round(time.Millisecond), tt.limit)
					if d < tt.limit-time.Second || d > tt.limit+2*time.Second {
						t.Errorf("cut off after %s, want about %s", d, tt.limit)
					}
					return
				case <-time.After(200 * time.Millisecond):
				}
				if time.Since(start) > tt.limit+5*time.Second {
					t.Fatalf("slow %s still connected after %s", tt.name, time.Since(start))
				}
				b := []byte{tt.drip[i%len(tt.drip)]}
				if _, err := conn.Write(b); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
					// The server closed the connection; the reader reports when.
					continue
				}
			}
		})
	}
	if srv.ReadHeaderTimeout == 0 || srv.ReadTimeout == 0 || srv.WriteTimeout == 0 || srv.IdleTimeout == 0 || srv.MaxHeaderBytes == 0 {
		t.Errorf("server without timeouts: %+v", srv)
	}
}
