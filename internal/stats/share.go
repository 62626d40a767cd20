package stats

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// sharedReads lets concurrent callers that want the same read (the same key) share one query,
// without ever answering a caller from a read that began before it asked. That rule is what keeps
// shared answers exact: every view acknowledged before a caller asks was committed before the
// read it gets began, so the read counts it.
//
// Per key, at most one read runs and at most one waits. A caller that finds no read running
// starts one. A caller that finds one running joins the read that waits (creating it if none
// does), which starts when the running one ends. So under load a key's reads run back to back
// and each one serves everyone who asked while the one before it ran; a lone caller waits for
// nothing but its own read.
//
// A read runs on the context of the caller that created it, without its cancellation, and with
// the latest deadline of the callers that joined it (none if one of them has none): a caller that
// gives up does not fail the others, and no read outlives every caller's time limit. A caller
// stops waiting when its own context ends.
//
// The zero value is ready to use.
type sharedReads[K comparable, V any] struct {
	mu   sync.Mutex
	keys map[K]*readSlot[V]

	// reads counts the reads run (for tests and benchmarks).
	reads atomic.Int64
}

// waiting is how many callers wait for a read that has not begun.
func (g *sharedReads[K, V]) waiting() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, s := range g.keys {
		if s.next != nil {
			n += s.next.callers
		}
	}
	return n
}

// readSlot is a key's reads: it is in sharedReads.keys while one runs.
type readSlot[V any] struct {
	next *sharedRead[V] // the read that waits for the running one, if any
}

type sharedRead[V any] struct {
	ctx      context.Context
	fn       func(context.Context) (V, error)
	deadline time.Time // the latest of the callers' deadlines; zero when one has none
	callers  int       // how many callers asked for r
	done     chan struct{}
	v        V
	err      error
}

// join adds a caller to r, and extends r's deadline to ctx's.
func (r *sharedRead[V]) join(ctx context.Context) {
	r.callers++
	dl, ok := ctx.Deadline()
	if !ok || r.deadline.IsZero() {
		r.deadline = time.Time{}
		return
	}
	if dl.After(r.deadline) {
		r.deadline = dl
	}
}

// do answers fn's result for key from a read that began after do was called.
func (g *sharedReads[K, V]) do(ctx context.Context, key K, fn func(context.Context) (V, error)) (V, error) {
	g.mu.Lock()
	if g.keys == nil {
		g.keys = map[K]*readSlot[V]{}
	}
	slot := g.keys[key]
	var r *sharedRead[V]
	switch {
	case slot == nil:
		slot = &readSlot[V]{}
		g.keys[key] = slot
		r = newSharedRead(ctx, fn)
		go g.run(key, slot, r)
	case slot.next != nil:
		r = slot.next
		r.join(ctx)
	default:
		r = newSharedRead(ctx, fn)
		slot.next = r
	}
	g.mu.Unlock()

	select {
	case <-r.done:
		return r.v, r.err
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}

func newSharedRead[V any](ctx context.Context, fn func(context.Context) (V, error)) *sharedRead[V] {
	dl, _ := ctx.Deadline()
	return &sharedRead[V]{ctx: ctx, fn: fn, deadline: dl, callers: 1, done: make(chan struct{})}
}

// run runs r, then the read that waited for it, and so on, until none waits.
func (g *sharedReads[K, V]) run(key K, slot *readSlot[V], r *sharedRead[V]) {
	for r != nil {
		dl := r.deadline // no caller joins r any more: it has left slot.next
		ctx, cancel := context.WithoutCancel(r.ctx), context.CancelFunc(func() {})
		if !dl.IsZero() {
			ctx, cancel = context.WithDeadline(ctx, dl)
		}
		g.reads.Add(1)
		r.v, r.err = r.fn(ctx)
		cancel()
		close(r.done)

		g.mu.Lock()
		r, slot.next = slot.next, nil
		if r == nil {
			delete(g.keys, key)
		}
		g.mu.Unlock()
	}
}
