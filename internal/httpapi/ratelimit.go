package httpapi

import (
	"math"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiter is a token bucket per client address. IPv6 clients are keyed by their /64 (the block
// one subscriber usually gets) and must also find a token in the bucket of their /48 (one site's
// allocation), which holds ipv6BlockShare times as much: a client that spreads its requests over
// the /64s of its /48 gets that much, not a full bucket per /64. Its map is bounded: entries idle
// long enough to have refilled their bucket are swept (forgetting them changes nothing), and when
// the map is still full, arbitrary entries go (those clients start over with a full bucket).
type limiter struct {
	every   rate.Limit
	burst   int
	max     int
	refill  time.Duration // time for an empty bucket to fill up
	now     func() time.Time
	mu      sync.Mutex
	clients map[limitKey]*bucket
	swept   time.Time
}

// ipv6BlockShare is how many /64s' worth of requests one IPv6 /48 may make.
const ipv6BlockShare = 4

// limitKey is a bucket's block: an address masked to bits.
type limitKey struct {
	addr netip.Addr
	bits uint8
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// newLimiter allows perSecond requests a second per client with bursts of burst, tracking at
// most maxClients clients; perSecond <= 0 means no limit (nil).
func newLimiter(perSecond float64, burst, maxClients int, now func() time.Time) *limiter {
	if perSecond <= 0 {
		return nil
	}
	if burst < 1 {
		burst = 1
	}
	if maxClients < 1 {
		maxClients = 1
	}
	if now == nil {
		now = time.Now
	}
	return &limiter{
		every:   rate.Limit(perSecond),
		burst:   burst,
		max:     maxClients,
		refill:  time.Duration(float64(burst) / perSecond * float64(time.Second)),
		now:     now,
		clients: make(map[limitKey]*bucket),
	}
}

// allow takes a token for addr (and for an IPv6 address, one of its /48 too); when there is none
// it says how long until there will be.
func (l *limiter) allow(addr netip.Addr) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if !addr.Is6() {
		return l.take(now, limitKey{addr, 32}, 1)
	}
	p64 := netip.PrefixFrom(addr, 64).Masked().Addr()
	p48 := netip.PrefixFrom(addr, 48).Masked().Addr()
	own := l.bucket(now, limitKey{p64, 64}, 1).lim.ReserveN(now, 1)
	block := l.bucket(now, limitKey{p48, 48}, ipv6BlockShare).lim.ReserveN(now, 1)
	if d := max(own.DelayFrom(now), block.DelayFrom(now)); d > 0 {
		own.CancelAt(now)
		block.CancelAt(now)
		return false, d
	}
	return true, 0
}

// take takes a token from k's bucket.
func (l *limiter) take(now time.Time, k limitKey, share int) (bool, time.Duration) {
	res := l.bucket(now, k, share).lim.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return false, d
	}
	return true, 0
}

// bucket is k's bucket, made with share times the rate and burst when new.
func (l *limiter) bucket(now time.Time, k limitKey, share int) *bucket {
	b := l.clients[k]
	if b == nil {
		if len(l.clients) >= l.max || now.Sub(l.swept) > l.refill+time.Minute {
			l.sweep(now)
		}
		b = &bucket{lim: rate.NewLimiter(l.every*rate.Limit(share), l.burst*share)}
		l.clients[k] = b
	}
	b.seen = now
	return b
}

// sweep forgets clients whose bucket is full again, then arbitrary ones while at capacity.
func (l *limiter) sweep(now time.Time) {
	l.swept = now
	for a, b := range l.clients {
		if now.Sub(b.seen) >= l.refill {
			delete(l.clients, a)
		}
	}
	for a := range l.clients {
		if len(l.clients) <= l.max*9/10 {
			break
		}
		delete(l.clients, a)
	}
}

// size is the number of clients tracked.
func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.clients)
}

// retryAfter is d in whole seconds, at least 1, for the Retry-After header.
func retryAfter(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
