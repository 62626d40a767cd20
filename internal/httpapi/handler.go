package httpapi

import (
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
// Each request is routed once, by a ServeMux whose routes are the contract's operations, each
// wrapped in what its kind asks of the edge (see policies); the router's own 404 and 405 are
// problems too.
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
	ed := newEdge(opt.Edge, s.Drops)
	ed.log = log
	rt := newRouter(spec, ed)
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
		BaseRouter: rt,
		ErrorHandlerFunc: func(w http.ResponseWriter, r *http.Request, err error) {
			writeProblem(w, http.StatusBadRequest, describeParamError(err))
		},
	})
	if err := rt.complete(); err != nil {
		panic(err) // gen/api is generated from the same contract; `make verify` keeps them in step
	}
	rt.handle("GET /api/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, http.StatusNotFound, fmt.Sprintf("no API operation at %s", r.URL.Path))
	}))
	if opt.Web != nil {
		web := limitBody(MaxBodyBytes, opt.Web)
		rt.handle("GET /api/docs", web)
		rt.handle("GET /", web)
	}
	var h http.Handler = rt
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
