package httpapi

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/prawnhq/prawn/internal/auth"
	"github.com/prawnhq/prawn/internal/config"
)

// Edge holds the protections of the HTTP edge, which apply to each operation as its kind says
// (see policies). The zero value turns them off; DefaultEdge is what the configuration's
// defaults give.
type Edge struct {
	// TrustedProxies are the peers whose X-Forwarded-For is believed (a load balancer, a
	// reverse proxy on the same machine); from anyone else it is ignored.
	TrustedProxies []netip.Prefix
	// OriginSecret, when set, must come with every request in X-Origin-Verify (the CDN adds it):
	// requests without it are answered 403, and only requests with it have
	// CloudFront-Viewer-Address believed. It prints as [redacted].
	OriginSecret config.Secret
	// RateLimit is the views a second one client may record on average; 0 means no limit.
	RateLimit float64
	// RateBurst is how many views a client may record at once before RateLimit applies.
	RateBurst int
	// ReadRateLimit is the reads a second one client may make on average; 0 means no limit.
	ReadRateLimit float64
	// ReadRateBurst is how many reads a client may make at once before ReadRateLimit applies.
	ReadRateBurst int
	// ReadsPerClient is how many reads one client may have in flight; more wait for their turn
	// until their database deadline. 0 means no bound.
	ReadsPerClient int
	// MaxReads is how many reads may be in flight at once, so that reads never hold the
	// database connections recording needs (prawn serve and Lambda: half the pool, at least
	// one); 0 means no bound.
	MaxReads int
	// RateExemptLoopback leaves unlimited the clients that connect from loopback directly (not
	// through a trusted proxy): for local benchmarks. Off, loopback is limited like any client.
	RateExemptLoopback bool
	// CORSOrigins may call the recording operations from their pages ("https://example.com";
	// "*" for any).
	CORSOrigins []string
	// HSTS sends Strict-Transport-Security on every answer (behind TLS-terminating proxies); it
	// is always sent on requests that came over TLS.
	HSTS bool
	// DBTimeout bounds the database work of one API request: past it the answer is 503; 0 means
	// no bound.
	DBTimeout time.Duration
	// CountryHeader names the header a trusted proxy gives the viewer's country in (such as
	// CloudFront-Viewer-Country); "" reads no country.
	CountryHeader string
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
	// The page makes about a dozen reads a view (hosts, stats, top pages, nine breakdowns): the
	// read burst lets a reader click through ten views at once, the rate one view a second.
	DefaultReadRateLimit = 20
	DefaultReadRateBurst = 120
	// DefaultReadsPerClient lets a page's parallel reads run two at a time.
	DefaultReadsPerClient = 2
	DefaultDBTimeout      = 800 * time.Millisecond
)

// rateClients bounds the clients the rate limiter tracks (see limiter).
const rateClients = 100_000

// DefaultEdge is the edge with prawn's default protections.
func DefaultEdge() Edge {
	return Edge{RateLimit: DefaultRateLimit, RateBurst: DefaultRateBurst,
		ReadRateLimit: DefaultReadRateLimit, ReadRateBurst: DefaultReadRateBurst, ReadsPerClient: DefaultReadsPerClient,
		DBTimeout: DefaultDBTimeout}
}

// edge is an Edge ready to serve: its limiters built, with the counters of refused views.
type edge struct {
	Edge
	limiters map[rateClass]*limiter
	cors     *corsPolicy // nil: no CORS at all
	reads    *readSlots  // nil: no bound on reads in flight
	drops    *Drops
	log      *slog.Logger
	secret   *[sha256.Size]byte // the origin secret's hash; nil: none configured
	// warnedLoopback is done once the loopback warning is logged (see identify).
	warnedLoopback sync.Once
}

func newEdge(e Edge, drops *Drops, log *slog.Logger) *edge {
	if log == nil {
		log = slog.Default()
	}
	ed := &edge{Edge: e, drops: drops, log: log, limiters: map[rateClass]*limiter{}}
	if lim := newLimiter(e.RateLimit, e.RateBurst, rateClients, nil); lim != nil {
		ed.limiters[rateRecording] = lim
	}
	if lim := newLimiter(e.ReadRateLimit, e.ReadRateBurst, rateClients, nil); lim != nil {
		ed.limiters[rateReading] = lim
	}
	if len(e.CORSOrigins) > 0 {
		ed.cors = newCORSPolicy(e.CORSOrigins)
	}
	ed.reads = newReadSlots(e.ReadsPerClient, e.MaxReads)
	if e.OriginSecret != "" {
		sum := sha256.Sum256([]byte(e.OriginSecret))
		ed.secret = &sum
		ed.OriginSecret = "" // only the hash is kept
	}
	return ed
}

// identify decides who every request comes from (see identifyClient) and keeps it in the
// request's context. With an origin secret configured, a request without it is answered 403
// and goes no further; the header is removed before anything else sees the request. The first
// request that arrives from loopback while no proxy is trusted logs a warning: behind a reverse
// proxy on the same machine every visitor would share the proxy's address.
func (e *edge) identify(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cdn := false
		if e.secret != nil {
			if !secretMatches(r.Header.Get(OriginVerifyHeader), *e.secret) {
				writeProblem(w, http.StatusForbidden, "this endpoint answers only requests that come through the site's CDN")
				return
			}
			cdn = true
		}
		r.Header.Del(OriginVerifyHeader)
		c := identifyClient(r, e.TrustedProxies, cdn)
		if c.direct && c.addr.IsLoopback() && len(e.TrustedProxies) == 0 && len(e.limiters) > 0 {
			e.warnedLoopback.Do(func() {
				exempt := "they are all limited as one client"
				if e.RateExemptLoopback {
					exempt = "PRAWN_RATE_EXEMPT_LOOPBACK=true leaves them unlimited"
				}
				e.log.Warn("requests arrive from loopback and PRAWN_TRUSTED_PROXIES is not set: if a reverse proxy on this machine forwards them, "+
					"every visitor has the proxy's address and "+exempt+"; list the proxy in PRAWN_TRUSTED_PROXIES (such as 127.0.0.1)", "peer", c.addr.String())
			})
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientKey{}, c)))
	})
}

// operation wraps h, the generated handler of op, in what op's kind asks of the edge (see
// protect). An operation whose recording is optional (op.recordParam) serves the requests that
// do not ask for it as reads. An operation that answers errors with an image does so for clients
// that accept images (see imageErrors), whichever layer refused the request.
func (e *edge) operation(op *operation, h http.Handler) http.Handler {
	out := e.protect(op, policies[op.kind], h)
	if op.recordParam != "" {
		records, reads := out, e.protect(op, badgeRead, h)
		out = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if asksToRecord(r, op.recordParam) {
				records.ServeHTTP(w, r)
			} else {
				reads.ServeHTTP(w, r)
			}
		})
	}
	if op.errorImage != "" {
		out = imageErrors(op.errorImage, out)
	}
	return out
}

// protect wraps h in what policy p asks of the edge, from the outside in: CORS, the database
// deadline, the recording guard or the rate limit, the read slots, the body limit, and the check
// of the inputs that the generated code lets through.
func (e *edge) protect(op *operation, p policy, h http.Handler) http.Handler {
	h = checkInputs(op, h)
	h = limitBody(p.maxBody, h)
	if p.slots && e.reads != nil {
		h = e.reads.wrap(h)
	}
	if p.stream {
		h = keepFlowing(h)
	}
	if p.records {
		h = e.guardRecording(op, e.limiters[p.rate], h)
	} else if lim := e.limiters[p.rate]; lim != nil {
		h = e.rateLimited(lim, p.rate, h)
	}
	if p.dbDeadline {
		h = withDBDeadline(e.DBTimeout, h)
	}
	if op.auth.use != tokensNever {
		h = e.authorize(op, h)
	}
	switch {
	case p.cors == corsConfigured && e.cors != nil:
		h = e.cors.actual(h)
	case p.cors == corsAnyOrigin:
		h = anyOrigin(h)
	}
	return h
}

// guardRecording rate limits a recording operation per client (lim nil: no limit), tells the
// operation who views (see viewerOf: bots and prefetches, which it answers without counting; the
// client's address, User-Agent and country, for the view's visitor and dimensions) and counts
// the requests it refuses by reason.
func (e *edge) guardRecording(op *operation, lim *limiter, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if lim != nil && !e.allow(lim, rateRecording, w, r) {
			e.drops.rateLimited.Add(1)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), viewerKey{}, e.viewerOf(op, r)))
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		switch sw.status {
		case http.StatusBadRequest, http.StatusUnsupportedMediaType:
			e.drops.invalid.Add(1)
		case http.StatusRequestEntityTooLarge:
			e.drops.tooLarge.Add(1)
		}
	})
}

// rateLimited limits an operation per client by lim (class names what is counted in the answer).
func (e *edge) rateLimited(lim *limiter, class rateClass, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e.allow(lim, class, w, r) {
			next.ServeHTTP(w, r)
		}
	})
}

// allow takes a token of lim for r's client, or answers 429 and reports false. The client is the
// one identify decided on; clients of unknown address share one bucket. Only a client that
// connects from loopback directly is exempt, and only with RateExemptLoopback.
func (e *edge) allow(lim *limiter, class rateClass, w http.ResponseWriter, r *http.Request) bool {
	c := clientFrom(r.Context())
	if e.RateExemptLoopback && c.direct && c.addr.IsLoopback() {
		return true
	}
	ok, wait := lim.allow(c.addr)
	if ok {
		return true
	}
	secs := retryAfter(wait)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeProblem(w, http.StatusTooManyRequests, fmt.Sprintf(
		"too many %s from this client (at most %g a second, bursts of %d); retry in %d s",
		class.counts(), float64(lim.every), lim.burst, secs))
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
