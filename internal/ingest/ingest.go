// Package ingest records page views durably and fast: concurrent views are gathered into one
// multi-row INSERT (group commit) and each caller is answered only after its batch commits.
//
// # Design
//
// A Batcher keeps a bounded queue and a few flushers. One flusher at a time gathers a batch from
// the queue while the others commit theirs, so gathering never stops while a commit is in
// flight. A gathering flusher takes the first view that arrives; when that view is alone (no
// other view waits and no commit is in flight) it commits it at once, so a lone view (a Lambda
// invocation, a quiet site) pays no batching delay. Under load (more views already waiting, or
// another batch committing) it keeps gathering for up to MaxWait, or until MaxBatch views, and
// then hands over to the next flusher and commits. A batch therefore holds about rate × MaxWait
// views: the per-transaction cost of Postgres (a commit, a WAL flush, a round trip) is shared by
// many views, which is what makes group commit cheaper per view than one INSERT per view.
//
// # Semantics
//
//   - Record returns nil only when the view's batch has committed. A batch that fails fails every
//     view in it, and only those; nothing is retried, so nothing is counted twice by prawn.
//   - When the queue is full Record fails at once with ErrQueueFull (pageview.ErrOverloaded): the
//     HTTP edge answers 503 with Retry-After instead of letting latency grow without bound.
//   - A caller whose context ends while its view still waits in the queue withdraws the view: it is
//     not recorded and Record returns the context's error. Once a flusher has taken the view into
//     a batch the caller's context no longer matters: the view is committed or fails with its
//     batch, and Record waits (at most CommitTimeout) to report which. So an error from Record
//     never hides a view that was counted, except when the database's answer to the COMMIT itself
//     is lost, which no client of a database can tell apart from a failure.
//   - Close stops taking views (Record then fails with ErrClosed) and commits every view already
//     queued before it returns.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prawnhq/prawn/internal/pageview"
	"github.com/prawnhq/prawn/internal/storage"
)

// Defaults, chosen by measurement on a 2-core machine (see docs/benchmarks.md).
const (
	DefaultMaxBatch      = 256
	DefaultMaxWait       = 2 * time.Millisecond
	DefaultQueue         = 2048
	DefaultFlushers      = 4
	DefaultCommitTimeout = 5 * time.Second
)

// ErrQueueFull means too many views already wait to be committed; try again shortly.
var ErrQueueFull = fmt.Errorf("ingest queue is full: %w", pageview.ErrOverloaded)

// ErrClosed means the recorder is shutting down and takes no more views.
var ErrClosed = fmt.Errorf("ingest is shutting down: %w", pageview.ErrOverloaded)

// Options tune a Batcher; zero values mean the defaults, except MaxWait (zero: never wait).
type Options struct {
	// MaxBatch is the most views one INSERT carries.
	MaxBatch int
	// MaxWait is how long a flusher keeps gathering a batch under load (another view already
	// waiting, or another batch committing); a lone view never waits. 0 commits what is waiting
	// at once; DefaultMaxWait is what prawn uses.
	MaxWait time.Duration
	// Queue is the most views waiting for a flusher; beyond it Record fails with ErrQueueFull.
	Queue int
	// Flushers is how many batches may be committing at the same time (each holds a connection).
	Flushers int
	// CommitTimeout bounds one batch's INSERT.
	CommitTimeout time.Duration
	// Log receives failed batches; nil means slog.Default().
	Log *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.MaxBatch <= 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	if o.Queue <= 0 {
		o.Queue = DefaultQueue
	}
	if o.Flushers <= 0 {
		o.Flushers = DefaultFlushers
	}
	if o.CommitTimeout <= 0 {
		o.CommitTimeout = DefaultCommitTimeout
	}
	if o.MaxWait < 0 {
		o.MaxWait = 0
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return o
}

// States of a pending view.
const (
	queued    int32 = iota // waiting in the queue; its caller may still withdraw it
	claimed                // taken into a batch; its batch's outcome is final
	withdrawn              // its caller gave up before a flusher took it; it is not recorded
)

// pending is one view waiting for its batch.
type pending struct {
	view  pageview.View
	state atomic.Int32
	done  chan error // receives the batch's outcome once
}

// Batcher is a pageview.Recorder that commits concurrent views together. Build it with New and
// Close it when done.
type Batcher struct {
	store pageview.Store
	opt   Options
	queue chan *pending

	mu       sync.RWMutex // guards closed against sends on a closed queue
	closed   bool
	wg       sync.WaitGroup
	inflight atomic.Int32 // batches committing now
	gather   sync.Mutex   // held by the one flusher gathering a batch
}

var _ pageview.Recorder = (*Batcher)(nil)

// New starts a Batcher committing to store.
func New(store pageview.Store, opt Options) *Batcher {
	opt = opt.withDefaults()
	b := &Batcher{store: store, opt: opt, queue: make(chan *pending, opt.Queue)}
	b.wg.Add(opt.Flushers)
	for range opt.Flushers {
		go b.flush()
	}
	return b
}

// Record queues v and returns once its batch has committed; see the package documentation for
// what happens on a full queue, a failed batch and a cancelled context.
func (b *Batcher) Record(ctx context.Context, v pageview.View) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p := &pending{view: v, done: make(chan error, 1)}
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return ErrClosed
	}
	select {
	case b.queue <- p:
	default:
		b.mu.RUnlock()
		return ErrQueueFull
	}
	b.mu.RUnlock()

	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		if p.state.CompareAndSwap(queued, withdrawn) {
			return fmt.Errorf("view withdrawn before it was committed: %w", ctx.Err())
		}
		// A flusher has it: the batch's outcome is the truth, whatever the caller wanted.
		return <-p.done
	}
}

// Waiting is how many views wait in the queue for a flusher (for monitoring and tests).
func (b *Batcher) Waiting() int { return len(b.queue) }

// Close stops taking views and returns once every queued view has been committed or failed.
func (b *Batcher) Close() error {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.queue)
	}
	b.mu.Unlock()
	b.wg.Wait()
	return nil
}

// flush commits batches until the queue is closed and empty.
func (b *Batcher) flush() {
	defer b.wg.Done()
	batch := make([]*pending, 0, b.opt.MaxBatch)
	rows := make([]storage.View, 0, b.opt.MaxBatch)
	var timer *time.Timer
	for {
		b.gather.Lock()
		first, ok := <-b.queue
		if !ok {
			b.gather.Unlock()
			return
		}
		batch = claim(batch[:0], first)
		batch, ok = b.fill(batch, &timer)
		b.gather.Unlock()
		if len(batch) > 0 {
			b.commit(batch, rows[:0])
			clear(batch) // let the answered views be collected
		}
		if !ok {
			return
		}
	}
}

// fill adds what waits in the queue to batch, up to MaxBatch. Under load (a second view was
// already waiting, or a batch is committing) it keeps waiting for more, up to MaxWait in all.
// It reports false when the queue is closed and empty.
func (b *Batcher) fill(batch []*pending, timer **time.Timer) ([]*pending, bool) {
	var deadline <-chan time.Time
	wait := b.opt.MaxWait > 0 && b.inflight.Load() > 0
	for len(batch) < b.opt.MaxBatch {
		select {
		case p, ok := <-b.queue:
			if !ok {
				return batch, false
			}
			batch = claim(batch, p)
			wait = b.opt.MaxWait > 0
			continue
		default:
		}
		if !wait {
			return batch, true
		}
		if deadline == nil {
			if *timer == nil {
				*timer = time.NewTimer(b.opt.MaxWait)
			} else {
				(*timer).Reset(b.opt.MaxWait)
			}
			deadline = (*timer).C
		}
		select {
		case p, ok := <-b.queue:
			if !ok {
				(*timer).Stop()
				return batch, false
			}
			batch = claim(batch, p)
		case <-deadline:
			return batch, true
		}
	}
	if deadline != nil {
		(*timer).Stop()
	}
	return batch, true
}

// claim adds p to batch unless its caller has withdrawn it.
func claim(batch []*pending, p *pending) []*pending {
	if p.state.CompareAndSwap(queued, claimed) {
		batch = append(batch, p)
	}
	return batch
}

// commit inserts the batch in one statement and answers every view in it with the outcome.
func (b *Batcher) commit(batch []*pending, rows []storage.View) {
	for _, p := range batch {
		rows = append(rows, p.view.Row())
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.opt.CommitTimeout)
	b.inflight.Add(1)
	err := pageview.Unavailable(b.store.InsertViews(ctx, rows))
	b.inflight.Add(-1)
	cancel()
	if err != nil {
		err = fmt.Errorf("commit a batch of %d views: %w", len(batch), err)
		level := slog.LevelError
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, pageview.ErrOverloaded) || errors.Is(err, pageview.ErrUnavailable) {
			level = slog.LevelWarn
		}
		b.opt.Log.Log(context.Background(), level, "ingest batch failed", "views", len(batch), "err", err)
	}
	for _, p := range batch {
		p.done <- err
	}
}

// Modes of recording views.
const (
	// ModeBatch is group commit through a Batcher (the default).
	ModeBatch = "batch"
	// ModeDirect is one INSERT transaction per view (pageview.Direct): the benchmark baseline.
	ModeDirect = "direct"
)

// NewRecorder builds the recorder mode asks for; an empty mode means ModeBatch. A Batcher must be
// closed (it is an io.Closer) to drain its queue.
func NewRecorder(store pageview.Store, mode string, opt Options) (pageview.Recorder, error) {
	switch mode {
	case "", ModeBatch:
		return New(store, opt), nil
	case ModeDirect:
		return pageview.Direct{Store: store}, nil
	}
	return nil, fmt.Errorf("ingest mode %q: want %s or %s", mode, ModeBatch, ModeDirect)
}
