package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prawnhq/prawn/gen/api"
)

// MaxBodyBytes caps request bodies; a view is a few hundred bytes.
const MaxBodyBytes = 8 << 10

// Options build the handler.
type Options struct {
	// Web serves the page and every path that is not an API route; nil answers 404 there.
	Web http.Handler
	Log *slog.Logger
	// Edge sets the protections: rate limits, trusted proxies, CORS, HSTS, the database bound.
	Edge Edge
}

// NewHandler is the one http.Handler of prawn: the API, the spec, health checks and the page.
func NewHandler(s *Server, opt Options) http.Handler {
	log := opt.Log
	if log == nil {
		log = slog.Default()
	}
	if s.Drops == nil {
		s.Drops = NewDrops()
	}
	spec, err := loadContract()
	if err != nil {
		panic(err) // the contract is embedded; tests load it
	}
	mux := http.NewServeMux()
	strict := api.NewStrictHandlerWithOptions(s, nil, api.StrictHTTPServerOptions{
		RequestErrorHandlerFunc: func(w http.ResponseWriter, r *http.Request, err error) {
			status, detail := describeBodyError(err)
			writeProblem(w, status, detail)
		},
		ResponseErrorHandlerFunc: func(w http.ResponseWriter, r *http.Request, err error) {
			respondError(w, r, log, err)
		},
	})
	api.HandlerWithOptions(strict, api.StdHTTPServerOptions{
		BaseRouter:  mux,
		Middlewares: []api.MiddlewareFunc{checkInputs(spec)},
		ErrorHandlerFunc: func(w http.ResponseWriter, r *http.Request, err error) {
			writeProblem(w, http.StatusBadRequest, describeParamError(err))
		},
	})
	mux.HandleFunc("GET /api/", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, http.StatusNotFound, fmt.Sprintf("no API operation at %s", r.URL.Path))
	})
	if opt.Web != nil {
		mux.Handle("GET /api/docs", opt.Web)
		mux.Handle("GET /", opt.Web)
	}
	lim := newLimiter(opt.Edge.RateLimit, opt.Edge.RateBurst, rateClients, nil)
	var h http.Handler = problemRouting(mux)
	h = limitBody(h)
	h = guardRecording(lim, opt.Edge.TrustedProxies, s.Drops, h)
	h = withDBDeadline(opt.Edge.DBTimeout, h)
	h = withCORS(opt.Edge.CORSOrigins, h)
	h = recoverPanics(log, h)
	h = withSecurityHeaders(opt.Edge.HSTS, h)
	return withRequestID(log, h)
}

// respondError answers an error returned by an operation, logging what the client does not see.
func respondError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	status, detail := errorStatus(err)
	switch status {
	case http.StatusInternalServerError:
		id := requestID(r)
		log.ErrorContext(r.Context(), "request failed", "err", err, "method", r.Method, "path", r.URL.Path, "request_id", id)
		detail = "internal error; reference " + id
	case http.StatusServiceUnavailable:
		log.WarnContext(r.Context(), "request failed", "err", err, "method", r.Method, "path", r.URL.Path, "request_id", requestID(r))
		w.Header().Set("Retry-After", "1")
	}
	writeProblem(w, status, detail)
}

// problemRouting answers the router's own 404 and 405 with problem+json instead of plain text.
func problemRouting(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		rec := &captureWriter{header: http.Header{}}
		mux.ServeHTTP(rec, r)
		switch rec.status {
		case http.StatusMethodNotAllowed:
			if allow := rec.header.Get("Allow"); allow != "" {
				w.Header().Set("Allow", allow)
			}
			writeProblem(w, rec.status, fmt.Sprintf("%s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, rec.header.Get("Allow")))
		case http.StatusNotFound, 0:
			writeProblem(w, http.StatusNotFound, fmt.Sprintf("nothing at %s", r.URL.Path))
		default:
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.status)
			_, _ = w.Write(rec.body.Bytes())
		}
	})
}

// captureWriter records what the router would have answered.
type captureWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (c *captureWriter) Header() http.Header { return c.header }
func (c *captureWriter) WriteHeader(s int) {
	if c.status == 0 {
		c.status = s
	}
}
func (c *captureWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return c.body.Write(b)
}

// limitBody caps every request body at MaxBodyBytes; reading past it fails with 413.
func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > MaxBodyBytes {
			writeProblem(w, http.StatusRequestEntityTooLarge,
				fmt.Sprintf("request body is %d bytes; at most %d are allowed", r.ContentLength, MaxBodyBytes))
			return
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		}
		next.ServeHTTP(w, r)
	})
}

// recoverPanics turns a panic in a handler into a logged 500 instead of a dropped connection.
func recoverPanics(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				respondError(w, r, log, fmt.Errorf("panic: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

type ctxKey struct{}

// withRequestID gives every request an id (the client's X-Request-Id when sane), echoes it and
// logs slow or failed requests.
func withRequestID(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 64 || strconv.QuoteToASCII(id) != `"`+id+`"` {
			var b [8]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-Id", id)
		r = r.WithContext(contextWithID(r, id))
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if log.Enabled(r.Context(), slog.LevelDebug) {
			log.DebugContext(r.Context(), "request", "method", r.Method, "path", r.URL.Path,
				"status", sw.status, "duration", time.Since(start), "request_id", id)
		}
	})
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func contextWithID(r *http.Request, id string) context.Context {
	return context.WithValue(r.Context(), ctxKey{}, id)
}

func requestID(r *http.Request) string {
	id, _ := r.Context().Value(ctxKey{}).(string)
	return id
}
