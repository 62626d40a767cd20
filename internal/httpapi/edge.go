package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/prawnhq/prawn/internal/auth"
)

// Edge holds the protections of the HTTP edge, which apply to each operation as its kind says
// (see policies). The zero value turns them off; DefaultEdge is what the configuration's
// defaults give.
type Edge struct {
	// TrustedProxies are the peers whose X-Forwarded-For is believed (CloudFront, a load
	// balancer); from anyone else it is ignored.
	TrustedProxies []netip.Prefix
	// RateLimit is the views a second one client may record on average; 0 means no limit.
	// Clients on loopback are never limited (local benchmarks), unless loopback is a trusted
	// proxy and the request names another client.
	RateLimit float64
	// RateBurst is how many views a client may record at once before RateLimit applies.
	RateBurst int
	// CORSOrigins may call the recording operations from their pages ("https://example.com";
	// "*" for any).
	CORSOrigins []string
	// HSTS sends Strict-Transport-Security on every answer (behind TLS-terminating proxies); it
	// is always sent on requests that came over TLS.
	HSTS bool
	// DBTimeout bounds the database work of one API request: past it the answer is 503; 0 means
	// no bound.
	DBTimeout time.Duration
	// PrivateStats makes the operations that take a token only when stats are private need one
	// (PRAWN_STATS=private); PublicTotals exempts those marked x-prawn-public-total.
	PrivateStats, PublicTotals bool
	// Tokens looks API tokens up; nil makes every token invalid.
	Tokens auth.Store
}

// Defaults of Edge.
const (
	DefaultRateLimit = 10
	DefaultRateBurst = 50
	DefaultDBTimeout = 800 * time.Millisecond
)

// rateClients bounds the clients the rate limiter tracks (see limiter).
const rateClients = 100_000

// DefaultEdge is the edge with prawn's default protections.
func DefaultEdge() Edge {
	return Edge{RateLimit: DefaultRateLimit, RateBurst: DefaultRateBurst, DBTimeout: DefaultDBTimeout}
}

// edge is an Edge ready to serve: its limiters built, with the counters of refused views.
type edge struct {
	Edge
	limiters map[rateClass]*limiter
	cors     *corsPolicy // nil: no CORS at all
	drops    *Drops
	log      *slog.Logger
}

func newEdge(e Edge, drops *Drops) *edge {
	ed := &edge{Edge: e, drops: drops, limiters: map[rateClass]*limiter{}, log: slog.Default()}
	if lim := newLimiter(e.RateLimit, e.RateBurst, rateClients, nil); lim != nil {
		ed.limiters[rateRecording] = lim
	}
	if len(e.CORSOrigins) > 0 {
		ed.cors = newCORSPolicy(e.CORSOrigins)
	}
	return ed
}

// operation wraps h, the generated handler of op, in what op's kind asks of the edge, from the
// outside in: CORS, the token op needs, the database deadline, the recording guard, the timeouts
// of a stream, the body limit, and the check of the inputs that the generated code lets through.
func (e *edge) operation(op *operation, h http.Handler) http.Handler {
	p := policies[op.kind]
	h = checkInputs(op, h)
	h = limitBody(p.maxBody, h)
	if p.stream {
		h = keepFlowing(h)
	}
	if p.records {
		h = e.guardRecording(e.limiters[p.rate], h)
	}
	if p.dbDeadline {
		h = withDBDeadline(e.DBTimeout, h)
	}
	if op.auth.use != tokensNever {
		h = e.authorize(op, h)
	}
	if p.cors == corsConfigured && e.cors != nil {
		h = e.cors.actual(h)
	}
	return h
}

type visitorKey struct{}

// visitor is what the edge learnt about a recording request.
type visitor struct {
	notCounted NotCounted
}

func visitorFrom(ctx context.Context) visitor {
	v, _ := ctx.Value(visitorKey{}).(visitor)
	return v
}

// guardRecording rate limits a recording operation per client (lim nil: no limit), marks bots and
// prefetches for the operation (which answers without counting them) and counts the requests it
// refuses by reason.
func (e *edge) guardRecording(lim *limiter, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if lim != nil && !e.allow(lim, w, r) {
			e.drops.rateLimited.Add(1)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), visitorKey{}, visitor{notCounted: notCounted(r)}))
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		switch sw.status {
		case http.StatusBadRequest:
			e.drops.invalid.Add(1)
		case http.StatusRequestEntityTooLarge:
			e.drops.tooLarge.Add(1)
		}
	})
}

// allow takes a token of lim for r's client, or answers 429 and reports false. Clients on
// loopback and clients of unknown address are not limited.
func (e *edge) allow(lim *limiter, w http.ResponseWriter, r *http.Request) bool {
	addr := clientAddr(r, e.TrustedProxies)
	if !addr.IsValid() || addr.IsLoopback() {
		return true
	}
	ok, wait := lim.allow(addr)
	if ok {
		return true
	}
	secs := retryAfter(wait)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeProblem(w, http.StatusTooManyRequests, fmt.Sprintf(
		"too many views from this client (at most %g a second, bursts of %d); retry in %d s",
		float64(lim.every), lim.burst, secs))
	return false
}

// withDBDeadline bounds the work of an operation (the database's included) by d, so a database
// that hangs yields a 503 instead of a hung request; d <= 0 means no bound.
func withDBDeadline(d time.Duration, next http.Handler) http.Handler {
	if d <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// limitBody caps a request body at max bytes; reading past it fails with 413.
func limitBody(max int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > max {
			writeProblem(w, http.StatusRequestEntityTooLarge,
				fmt.Sprintf("request body is %d bytes; at most %d are allowed", r.ContentLength, max))
			return
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, max)
		}
		next.ServeHTTP(w, r)
	})
}
