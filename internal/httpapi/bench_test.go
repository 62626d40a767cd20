package httpapi_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prawnhq/prawn/internal/app"
	"github.com/prawnhq/prawn/internal/httpapi"
	"github.com/prawnhq/prawn/internal/pageview"
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

// discardRecorder accepts every view at once: BenchmarkEdgeRecordView measures the HTTP edge
// alone (middleware, decoding, validation, the answer), without a database or a network.
type discardRecorder struct{}

func (discardRecorder) Record(context.Context, pageview.View) error { return nil }

// BenchmarkEdgeRecordView is the CPU and allocations one POST /api/views costs in prawn's own
// handler chain, which is what prawn adds to a bare net/http server per view.
func BenchmarkEdgeRecordView(b *testing.B) {
	edge := httpapi.DefaultEdge()
	edge.RateLimit, edge.ReadRateLimit = 0, 0 // PRAWN_RATE_LIMIT=0: a benchmark turns the limit off explicitly
	h := httpapi.NewHandler(&httpapi.Server{Recorder: discardRecorder{}, Log: slog.New(slog.DiscardHandler)},
		httpapi.Options{Log: slog.New(slog.DiscardHandler), Edge: edge})
	const body = `{"path":"/bench","referrer":"https://example.com/"}`
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/api/views", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
		r.RemoteAddr = "127.0.0.1:40000"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusCreated {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}
