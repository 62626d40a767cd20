package httpapi

import (
	"math"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiter is a token bucket per client address (IPv6 clients by /64, the block one subscriber
// usually gets). Its map is bounded: entries idle long enough to have refilled their bucket are
// swept (forgetting them changes nothing), and when the map is still full, arbitrary entries go
// (those clients start over with a full bucket).
type limiter struct {
	every   rate.Limit
	burst   int
	max     int
	refill  time.Duration // time for an empty bucket to fill up
	now     func() time.Time
	mu      sync.Mutex
	clients map[netip.Addr]*bucket
	swept   time.Time
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
		clients: make(map[netip.Addr]*bucket),
	}
}

// allow takes a token for addr; when there is none it says how long until there will be.
func (l *limiter) allow(addr netip.Addr) (bool, time.Duration) {
	if addr.Is6() {
		addr = netip.PrefixFrom(addr, 64).Masked().Addr()
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.clients[addr]
	if b == nil {
		if len(l.clients) >= l.max || now.Sub(l.swept) > l.refill+time.Minute {
			l.sweep(now)
		}
		b = &bucket{lim: rate.NewLimiter(l.every, l.burst)}
		l.clients[addr] = b
	}
	b.seen = now
	res := b.lim.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return false, d
	}
	return true, 0
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
