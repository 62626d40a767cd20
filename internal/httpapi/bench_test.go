package httpapi_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prawnhq/prawn/internal/app"
	"github.com/prawnhq/prawn/internal/pgtest"
)

// BenchmarkRecordView posts views through the whole handler (edge, recorder, Postgres) from
// parallel clients; with -cpuprofile it shows where a request's time goes.
func BenchmarkRecordView(b *testing.B) {
	a := app.New(pgtest.Store(b), slog.New(slog.DiscardHandler))
	defer a.Close()
	h := a.Handler()
	srv := newBenchServer(b, h)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Post(srv+"/api/views", "application/json", strings.NewReader(`{"path":"/bench","referrer":"https://example.com/"}`))
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}

func newBenchServer(b *testing.B, h http.Handler) string {
	b.Helper()
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	return srv.URL
}
