// Package visitor derives cookieless visitor ids: a keyed hash of the site's host, the client's
// address and its User-Agent under a random salt that belongs to one UTC day. The salt is shared
// by every process (it lives in the database) and is destroyed after its day, so an id links the
// views of one client on one day and can never be traced across days or back to the client.
//
// The raw address and User-Agent are only hashed: this package never keeps or logs them.
package visitor

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dchest/siphash"
	"golang.org/x/sync/singleflight"
)

// SaltLen is the length in bytes of a day's salt: the SipHash-2-4 key.
const SaltLen = 16

// SaltSource hands out the salt of a UTC day; storage.(*Store).Salt is the real one.
type SaltSource interface {
	// Salt returns the SaltLen-byte salt of the UTC day that starts at day (a UTC midnight),
	// creating it on first use; the same day gives the same salt to every caller.
	Salt(ctx context.Context, day time.Time) ([]byte, error)
}

// ErrNoSalt is wrapped by every error ID returns: there was no salt, so there is no visitor id.
var ErrNoSalt = errors.New("no visitor salt")

const (
	// fetchTimeout bounds one salt fetch, which runs apart from any one caller's context so that
	// a caller that gives up does not fail the others waiting for the same fetch.
	fetchTimeout = 5 * time.Second
	// retryDelay is how long after a failed fetch ID answers with that failure again instead of
	// asking the salt source, so an unreachable database costs one wait per second, not one per view.
	retryDelay = time.Second
)

// Hasher computes visitor ids. It keeps the current UTC day's salt in memory, and only that one,
// fetching it once per day per process. It is safe for concurrent use.
type Hasher struct {
	salts SaltSource
	now   func() time.Time

	cur   atomic.Pointer[dayKey] // the current day's key; nil before the first fetch
	group singleflight.Group     // one fetch per day at a time, however many callers wait

	mu     sync.Mutex
	failed failure // the last failed fetch
}

// dayKey is one day's salt as the two SipHash key words.
type dayKey struct {
	day    int64 // days since 1970-01-01 UTC
	k0, k1 uint64
}

type failure struct {
	day   int64
	until time.Time // by the Hasher's clock
	err   error
}

// New returns a Hasher that takes salts from salts and the time from now (time.Now when nil).
func New(salts SaltSource, now func() time.Time) *Hasher {
	if now == nil {
		now = time.Now
	}
	return &Hasher{salts: salts, now: now}
}

// ID returns the visitor id of a client (its address and User-Agent) viewing a page of host now:
// a non-zero int64 that is the same for the same inputs all UTC day, and another the next day.
// An IPv4 address and its IPv4-mapped IPv6 form give the same id.
//
// When the day's salt cannot be had (the database is away) ID returns 0, meaning "no visitor",
// and an error wrapping ErrNoSalt for the caller to log: the view still counts. Until the next
// retry (a second later) further calls return the very same error value, so a caller can log a
// failure once by comparing it with the last one it logged.
func (h *Hasher) ID(ctx context.Context, host string, addr netip.Addr, userAgent string) (int64, error) {
	k, err := h.key(ctx)
	if err != nil {
		return 0, err
	}
	return k.sum(host, addr, userAgent), nil
}

// sum hashes an unambiguous encoding of the inputs: the host's length and bytes, the address's
// 16 bytes, then the User-Agent (last, so it needs no length).
func (k *dayKey) sum(host string, addr netip.Addr, userAgent string) int64 {
	var stack [512]byte // no allocation for inputs that fit, which real ones do
	b := binary.AppendUvarint(stack[:0], uint64(len(host)))
	b = append(b, host...)
	a := addr.As16() // IPv4 as ::ffff:a.b.c.d; the zone is dropped; the zero Addr is all zeroes
	b = append(b, a[:]...)
	b = append(b, userAgent...)
	id := int64(siphash.Hash(k.k0, k.k1, b))
	if id == 0 {
		return 1 // 0 means "no visitor" in storage
	}
	return id
}

// key returns the key of the UTC day of h.now().
func (h *Hasher) key(ctx context.Context) (*dayKey, error) {
	now := h.now()
	day := dayNumber(now)
	if k := h.cur.Load(); k != nil && k.day == day {
		return k, nil
	}

	h.mu.Lock()
	f := h.failed
	h.mu.Unlock()
	if f.err != nil && f.day == day && now.Before(f.until) {
		return nil, f.err
	}

	ch := h.group.DoChan(fmt.Sprint(day), func() (any, error) {
		// A caller that missed the key just before another flight stored it starts a flight of
		// its own: look again before fetching.
		if k := h.cur.Load(); k != nil && k.day == day {
			return k, nil
		}
		return h.fetch(ctx, day)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*dayKey), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: waiting for the salt of %s: %w", ErrNoSalt, dayStart(day).Format(time.DateOnly), ctx.Err())
	}
}

// fetch asks the salt source for a day's salt and, unless a later day's key is already held,
// makes it the current key. A straggler from before midnight gets the earlier day's key without
// it being kept.
func (h *Hasher) fetch(ctx context.Context, day int64) (*dayKey, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
	defer cancel()
	salt, err := h.salts.Salt(ctx, dayStart(day))
	if err == nil && len(salt) != SaltLen {
		err = fmt.Errorf("salt is %d bytes, want %d", len(salt), SaltLen)
	}
	if err != nil {
		err = fmt.Errorf("%w: salt of %s: %w", ErrNoSalt, dayStart(day).Format(time.DateOnly), err)
		h.mu.Lock()
		h.failed = failure{day: day, until: h.now().Add(retryDelay), err: err}
		h.mu.Unlock()
		return nil, err
	}
	k := &dayKey{
		day: day,
		k0:  binary.LittleEndian.Uint64(salt[:8]),
		k1:  binary.LittleEndian.Uint64(salt[8:]),
	}
	for {
		old := h.cur.Load()
		if old != nil && old.day >= day {
			break
		}
		if h.cur.CompareAndSwap(old, k) {
			break
		}
	}
	h.mu.Lock()
	if h.failed.day <= day {
		h.failed = failure{}
	}
	h.mu.Unlock()
	return k, nil
}

// dayNumber is the number of the UTC day of t, counted from 1970-01-01.
func dayNumber(t time.Time) int64 {
	s := t.Unix()
	d := s / 86400
	if s%86400 < 0 {
		d--
	}
	return d
}

// dayStart is the UTC midnight that starts day.
func dayStart(day int64) time.Time { return time.Unix(day*86400, 0).UTC() }
