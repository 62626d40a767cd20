package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prawnhq/prawn/internal/storage"
)

// Store is what the Consumer writes to.
type Store interface {
	InsertAcceptedViews(ctx context.Context, views []storage.AcceptedView) (int64, error)
	PruneAcceptedViews(ctx context.Context, before [16]byte, maxRows int) (int64, error)
}

// Pruning of accepted ids: at most every pruneEvery per consumer instance, at most pruneRows ids
// a time (the oldest first).
const (
	pruneEvery = 10 * time.Minute
	pruneRows  = 50_000
)

// expireMargin keeps a message from being written when its id may already have been pruned.
const expireMargin = time.Hour

// Received is one SQS message as the event source mapping delivers it.
type Received struct {
	// MessageID is SQS's id of this message (a batch item failure names it).
	MessageID string
	Body      string
}

// Result is what one batch came to.
type Result struct {
	// Received is the batch's messages; Written the views stored by this batch; Duplicates the
	// copies skipped (within the batch, or stored before); Refused the messages that are not
	// views (poison: they go back to the queue and, after enough receives, to the dead-letter
	// queue); Expired those accepted too long ago to tell from a copy (dropped, logged).
	Received, Written, Duplicates, Refused, Expired int
	// Failed names the messages to report as batch item failures.
	Failed []string
}

// Consumer writes the batches of queued views that SQS delivers. One Consumer serves one Lambda
// instance; its Consume calls may not overlap.
type Consumer struct {
	Store Store
	Log   *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu        sync.Mutex
	lastPrune time.Time
}

func (c *Consumer) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Consumer) log() *slog.Logger {
	if c.Log == nil {
		return slog.Default()
	}
	return c.Log
}

// entry is one distinct view of a batch and the messages that carried it.
type entry struct {
	view     storage.AcceptedView
	messages []string
}

// Consume writes a batch: every message that is a view is stored once, with one INSERT for the
// whole batch. A message that is not a view is reported in Failed (SQS offers it again, then moves
// it to the dead-letter queue). When the INSERT fails for a reason of the rows (a value the
// database refuses), the batch is split in halves until the rows at fault are found and
// reported alone; the others are written. When the database cannot be reached, Consume returns
// the error: the whole batch comes back later, and what was already written is skipped then.
func (c *Consumer) Consume(ctx context.Context, batch []Received) (Result, error) {
	res := Result{Received: len(batch)}
	log := c.log()
	byID := map[[16]byte]int{}
	var entries []entry
	expiredBefore := c.now().Add(-DedupWindow + expireMargin)
	for _, m := range batch {
		v, err := Decode(m.Body)
		if err != nil {
			res.Refused++
			res.Failed = append(res.Failed, m.MessageID)
			log.WarnContext(ctx, "queued message is not a view", "message_id", m.MessageID, "err", err)
			continue
		}
		if v.AcceptedAt.Before(expiredBefore) {
			res.Expired++
			log.WarnContext(ctx, "queued view accepted too long ago to tell from a copy: dropped", "message_id", m.MessageID, "accepted_at", v.AcceptedAt)
			continue
		}
		if i, ok := byID[v.ID]; ok {
			entries[i].messages = append(entries[i].messages, m.MessageID)
			continue
		}
		byID[v.ID] = len(entries)
		entries = append(entries, entry{view: v, messages: []string{m.MessageID}})
	}
	written, failed, err := c.write(ctx, entries)
	res.Written = int(written)
	if err != nil {
		return res, err
	}
	for _, i := range failed {
		res.Refused += len(entries[i].messages)
		res.Failed = append(res.Failed, entries[i].messages...)
	}
	stored := len(batch) - res.Refused - res.Expired
	res.Duplicates = stored - res.Written
	c.prune(ctx)
	return res, nil
}

// write inserts entries with one statement; on a failure of the rows it bisects. It returns the
// views written and the indexes of the entries the database refused.
func (c *Consumer) write(ctx context.Context, entries []entry) (int64, []int, error) {
	if len(entries) == 0 {
		return 0, nil, nil
	}
	views := make([]storage.AcceptedView, len(entries))
	for i, e := range entries {
		views[i] = e.view
	}
	return c.insert(ctx, views, 0)
}

func (c *Consumer) insert(ctx context.Context, views []storage.AcceptedView, offset int) (int64, []int, error) {
	n, err := c.Store.InsertAcceptedViews(ctx, views)
	if err == nil {
		return n, nil, nil
	}
	if errors.Is(err, storage.ErrUnavailable) || ctx.Err() != nil {
		return 0, nil, fmt.Errorf("write %d queued views: %w", len(views), err)
	}
	if len(views) == 1 {
		c.log().WarnContext(ctx, "the database refused a queued view", "id", fmt.Sprintf("%x", views[0].ID), "err", err)
		return 0, []int{offset}, nil
	}
	half := len(views) / 2
	n1, f1, err := c.insert(ctx, views[:half], offset)
	if err != nil {
		return n1, nil, err
	}
	n2, f2, err := c.insert(ctx, views[half:], offset+half)
	return n1 + n2, append(f1, f2...), err
}

// prune forgets the ids older than DedupWindow, at most every pruneEvery; a failure is logged
// (the next batch tries again).
func (c *Consumer) prune(ctx context.Context) {
	c.mu.Lock()
	now := c.now()
	due := now.Sub(c.lastPrune) >= pruneEvery
	if due {
		c.lastPrune = now
	}
	c.mu.Unlock()
	if !due {
		return
	}
	n, err := c.Store.PruneAcceptedViews(ctx, idBefore(now.Add(-DedupWindow)), pruneRows)
	if err != nil {
		c.log().WarnContext(ctx, "pruning accepted view ids failed", "err", err)
		return
	}
	if n > 0 {
		c.log().InfoContext(ctx, "pruned accepted view ids", "ids", n)
	}
}
