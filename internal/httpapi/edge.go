package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Edge holds the protections of the HTTP edge. The zero value turns them off; DefaultEdge is
// what `prawn serve` uses unless configured otherwise.
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
	// CORSOrigins may post views from their pages ("https://example.com"; "*" for any).
	CORSOrigins []string
	// HSTS sends Strict-Transport-Security on every answer (behind TLS-terminating proxies); it
	// is always sent on requests that came over TLS.
	HSTS bool
	// DBTimeout bounds the database work of one API request: past it the answer is 503; 0 means
	// no bound.
	DBTimeout time.Duration
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

// isRecording reports whether r records a view (before the router: exact paths only).
func isRecording(r *http.Request) bool {
	return (r.Method == http.MethodPost && r.URL.Path == "/api/views") ||
		((r.Method == http.MethodGet || r.Method == http.MethodHead) && r.URL.Path == "/api/home")
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

// guardRecording rate limits recording requests per client, marks bots and prefetches for the
// operation (which answers without counting them) and counts the requests it refuses by reason.
func guardRecording(lim *limiter, trusted []netip.Prefix, drops *Drops, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isRecording(r) {
			next.ServeHTTP(w, r)
			return
		}
		if lim != nil {
			if addr := clientAddr(r, trusted); addr.IsValid() && !addr.IsLoopback() {
				if ok, wait := lim.allow(addr); !ok {
					drops.rateLimited.Add(1)
					secs := retryAfter(wait)
					w.Header().Set("Retry-After", strconv.Itoa(secs))
					writeProblem(w, http.StatusTooManyRequests, fmt.Sprintf(
						"too many views from this client (at most %g a second, bursts of %d); retry in %d s",
						float64(lim.every), lim.burst, secs))
					return
				}
			}
		}
		r = r.WithContext(context.WithValue(r.Context(), visitorKey{}, visitor{notCounted: notCounted(r)}))
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		switch sw.status {
		case http.StatusBadRequest:
			drops.invalid.Add(1)
		case http.StatusRequestEntityTooLarge:
			drops.tooLarge.Add(1)
		}
	})
}

// withDBDeadline bounds the work of API requests (the database's included) by d, so a database
// that hangs yields a 503 instead of a hung request.
func withDBDeadline(d time.Duration, next http.Handler) http.Handler {
	if d <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/api/") {
			next.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
