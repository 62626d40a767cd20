package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"sync"
)

// readSlots bound the reads in flight: per client (so that one client with many connections
// cannot hold every database connection; its other reads wait their turn) and overall (so that
// reads never hold the connections recording needs). A read waits for its slots until its
// database deadline, then is answered 503.
type readSlots struct {
	perClient int
	global    chan struct{} // nil: no overall bound
	mu        sync.Mutex
	clients   map[netip.Addr]*clientSlots
}

type clientSlots struct {
	sem   chan struct{}
	users int
}

// newReadSlots allows perClient reads in flight per client and max overall; 0 means no bound
// (nil when both are 0).
func newReadSlots(perClient, max int) *readSlots {
	if perClient <= 0 && max <= 0 {
		return nil
	}
	s := &readSlots{perClient: perClient, clients: map[netip.Addr]*clientSlots{}}
	if max > 0 {
		s.global = make(chan struct{}, max)
	}
	return s
}

// acquire waits for addr's slot and an overall one until ctx ends; release gives them back.
func (s *readSlots) acquire(ctx context.Context, addr netip.Addr) (release func(), ok bool) {
	release, err := s.take(ctx, addr)
	return release, err == nil
}

// errOwnSlot and errSlot say which slot a read gave up waiting for.
var (
	errOwnSlot = errors.New("the client's own reads are in flight")
	errSlot    = errors.New("the server's reads are in flight")
)

// take is acquire, saying which slot it gave up waiting for.
func (s *readSlots) take(ctx context.Context, addr netip.Addr) (release func(), err error) {
	var cs *clientSlots
	if s.perClient > 0 {
		if addr.Is6() {
			addr = netip.PrefixFrom(addr, 64).Masked().Addr()
		}
		s.mu.Lock()
		cs = s.clients[addr]
		if cs == nil {
			cs = &clientSlots{sem: make(chan struct{}, s.perClient)}
			s.clients[addr] = cs
		}
		cs.users++
		s.mu.Unlock()
	}
	leave := func() {
		if cs == nil {
			return
		}
		s.mu.Lock()
		if cs.users--; cs.users == 0 {
			delete(s.clients, addr)
		}
		s.mu.Unlock()
	}
	if cs != nil {
		select {
		case cs.sem <- struct{}{}:
		case <-ctx.Done():
			leave()
			return nil, errOwnSlot
		}
	}
	if s.global != nil {
		select {
		case s.global <- struct{}{}:
		case <-ctx.Done():
			if cs != nil {
				<-cs.sem
			}
			leave()
			return nil, errSlot
		}
	}
	return func() {
		if s.global != nil {
			<-s.global
		}
		if cs != nil {
			<-cs.sem
		}
		leave()
	}, nil
}

// tracked is the number of clients with reads in flight or waiting, for tests.
func (s *readSlots) tracked() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.clients)
}

// wrap runs a read once it has its slots (see readSlots). When its database deadline passes
// first, it answers 429 if it waited for the client's own reads, 503 if for the server's.
func (s *readSlots) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		release, err := s.take(r.Context(), clientFrom(r.Context()).addr)
		if err != nil {
			w.Header().Set("Retry-After", "1")
			if errors.Is(err, errOwnSlot) {
				writeProblem(w, http.StatusTooManyRequests, fmt.Sprintf(
					"too many reads in flight from this client (at most %d at once); wait for their answers", s.perClient))
			} else {
				writeProblem(w, http.StatusServiceUnavailable, "too many reads in flight; try again shortly")
			}
			return
		}
		defer release()
		next.ServeHTTP(w, r)
	})
}
