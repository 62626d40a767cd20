package queue_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/uuid"

	"github.com/prawnhq/prawn/internal/pageview"
	"github.com/prawnhq/prawn/internal/pgtest"
	"github.com/prawnhq/prawn/internal/queue"
	"github.com/prawnhq/prawn/internal/sqstest"
	"github.com/prawnhq/prawn/internal/storage"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var ctx = context.Background()

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestMessageRoundTripAndRefusals(t *testing.T) {
	t.Parallel()
	id := uuid.Must(uuid.NewV7())
	at := time.Date(2026, 12, 1, 10, 0, 0, 123456789, time.FixedZone("x", 3600))
	v := pageview.View{Host: "blog.example", Path: "/a b", Referrer: "https://r.example/p", RefHost: "r.example",
		UTMSource: "news", Browser: "Firefox", OS: "Linux", Device: "desktop", Country: "DE", Visitor: -42}
	body, err := queue.Encode(id, at, v)
	if err != nil {
		t.Fatal(err)
	}
	got, err := queue.Decode(body)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != id || !got.AcceptedAt.Equal(at) || got.View != v.Row() {
		t.Errorf("decoded %+v, want %v at %s: %+v", got, id, at, v.Row())
	}
	v4 := uuid.New()
	for name, bad := range map[string]string{
		"not JSON":     `hello`,
		"version":      strings.Replace(body, `"v":1`, `"v":2`, 1),
		"uuid v4":      strings.Replace(body, id.String(), v4.String(), 1),
		"raw path":     strings.Replace(body, `"/a b"`, `"/a/../b/"`, 1),
		"no path":      strings.Replace(body, `"path":"/a b",`, ``, 1),
		"upper host":   strings.Replace(body, `blog.example`, `Blog.Example`, 1),
		"year":         strings.Replace(body, `2026-12-01`, `1999-12-01`, 1),
		"long browser": strings.Replace(body, `Firefox`, strings.Repeat("x", 65), 1),
	} {
		if _, err := queue.Decode(bad); err == nil {
			t.Errorf("%s: %s decoded", name, bad)
		}
	}
}

// receiveAll drains the queue as the event source mapping would receive it (without deleting).
func receiveAll(t *testing.T, client *sqs.Client, url string, visibility int32) []queue.Received {
	t.Helper()
	var out []queue.Received
	for {
		r, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, VisibilityTimeout: visibility})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Messages) == 0 {
			return out
		}
		for _, m := range r.Messages {
			out = append(out, queue.Received{MessageID: aws.ToString(m.MessageId), Body: aws.ToString(m.Body)})
		}
	}
}

// TestSendAndConsumeOverRealSQS records views through the Sender into a real SQS server, reads
// its depth, and consumes the messages into a real Postgres with duplicates on purpose (copies
// within a batch, a whole batch delivered again) and a message that is not a view.
func TestSendAndConsumeOverRealSQS(t *testing.T) {
	t.Parallel()
	srv := sqstest.Start(t)
	url := srv.CreateQueue(t, "views", nil)
	client := srv.Client()
	clock := time.Now()
	s := queue.NewSender(client, url, quiet())
	s.Now = func() time.Time { return clock }

	const n = 37
	for i := range n {
		if err := s.Record(ctx, pageview.View{Host: "blog.example", Path: fmt.Sprintf("/p%d", i%5), Visitor: int64(i % 3)}); err != nil {
			t.Fatal(err)
		}
	}
	d, err := s.Depth(ctx)
	if err != nil || d.Waiting != n || d.InFlight != 0 || !d.ReadAt.Equal(clock) {
		t.Fatalf("depth %+v, %v; want %d waiting", d, err, n)
	}
	if err := s.Record(ctx, pageview.View{Path: "/later"}); err != nil {
		t.Fatal(err)
	}
	if d2, _ := s.Depth(ctx); d2 != d {
		t.Errorf("depth within %s: %+v, want the cached %+v", queue.DepthMaxAge, d2, d)
	}
	clock = clock.Add(queue.DepthMaxAge)
	if d3, _ := s.Depth(ctx); d3.Waiting != n+1 {
		t.Errorf("depth after %s: %+v, want %d waiting", queue.DepthMaxAge, d3, n+1)
	}

	msgs := receiveAll(t, client, url, 30)
	if len(msgs) != n+1 {
		t.Fatalf("received %d messages, want %d", len(msgs), n+1)
	}
	db := pgtest.New(t)
	c := &queue.Consumer{Store: db.Store, Log: quiet()}
	batch := append(append([]queue.Received{}, msgs...), msgs[0], msgs[3], queue.Received{MessageID: "poison", Body: `{"v":1,"id":"nope"}`})
	res, err := c.Consume(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	if res.Written != n+1 || res.Duplicates != 2 || res.Refused != 1 || len(res.Failed) != 1 || res.Failed[0] != "poison" {
		t.Errorf("first delivery: %+v; want %d written, 2 copies skipped, the poison message failed", res, n+1)
	}
	res, err = c.Consume(ctx, msgs[:20]) // delivered again
	if err != nil || res.Written != 0 || res.Duplicates != 20 || len(res.Failed) != 0 {
		t.Errorf("redelivery: %+v, %v; want nothing written", res, err)
	}
	if got := db.Counts(t, `SELECT 'n', count(*) FROM views`)["n"]; got != n+1 {
		t.Errorf("stored views = %d, want %d (each accepted view once)", got, n+1)
	}
	if got := db.Counts(t, `SELECT 'at', count(*) FROM views WHERE viewed_at = $1`, clock.Add(-queue.DepthMaxAge))["at"]; got != n+1 {
		t.Errorf("%d views carry the time they were accepted, want %d", got, n+1)
	}
	db.FoldAll(t)
	if total := db.Counts(t, `SELECT 'total', sum(views) FROM totals WHERE path = ''`)["total"]; total != n+1 {
		t.Errorf("rollup total = %d, want %d", total, n+1)
	}
}

// TestBatchWithARefusedRowWritesTheRest makes the database refuse one view in the middle of a
// batch (a CHECK constraint): the batch is split until that view is found, it alone is reported,
// the others are written; once the constraint is gone its redelivery is written too.
func TestBatchWithARefusedRowWritesTheRest(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	db.Exec(t, `ALTER TABLE views ADD CONSTRAINT refuse_poison CHECK (path <> '/refused')`)
	var batch []queue.Received
	at := time.Now()
	for i := range 100 {
		p := fmt.Sprintf("/ok%d", i)
		if i == 61 {
			p = "/refused"
		}
		body, err := queue.Encode(uuid.Must(uuid.NewV7()), at, pageview.View{Path: p})
		if err != nil {
			t.Fatal(err)
		}
		batch = append(batch, queue.Received{MessageID: fmt.Sprintf("m%d", i), Body: body})
	}
	c := &queue.Consumer{Store: db.Store, Log: quiet()}
	res, err := c.Consume(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	if res.Written != 99 || len(res.Failed) != 1 || res.Failed[0] != "m61" {
		t.Fatalf("result %+v; want 99 written and m61 failed", res)
	}
	db.Exec(t, `ALTER TABLE views DROP CONSTRAINT refuse_poison`)
	res, err = c.Consume(ctx, batch) // SQS offers the failed message again (here: the whole batch)
	if err != nil || res.Written != 1 || res.Duplicates != 99 || len(res.Failed) != 0 {
		t.Fatalf("after the fix: %+v, %v; want the one view written", res, err)
	}
	if got := db.Counts(t, `SELECT 'n', count(*) FROM views`)["n"]; got != 100 {
		t.Errorf("stored %d views, want 100", got)
	}
}

// TestUnreachableDatabaseFailsTheWholeBatch: nothing is reported as written, the batch comes back.
func TestUnreachableDatabaseFailsTheWholeBatch(t *testing.T) {
	t.Parallel()
	store, err := storage.Open(ctx, "postgres://prawn@127.0.0.1:1/prawn?sslmode=disable&connect_timeout=1", storage.Options{MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	body, _ := queue.Encode(uuid.Must(uuid.NewV7()), time.Now(), pageview.View{Path: "/a"})
	res, err := (&queue.Consumer{Store: store, Log: quiet()}).Consume(ctx, []queue.Received{{MessageID: "a", Body: body}})
	if err == nil || res.Written != 0 {
		t.Errorf("result %+v, %v; want an error for the whole batch", res, err)
	}
}

// TestExpiredAndPrunedIds: ids older than the window are pruned; a view accepted before it is
// dropped rather than risk a second copy.
func TestExpiredAndPrunedIds(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	now := time.Now()
	c := &queue.Consumer{Store: db.Store, Log: quiet(), Now: func() time.Time { return now }}
	old, _ := queue.Encode(v7At(now), now, pageview.View{Path: "/old"})
	if _, err := c.Consume(ctx, []queue.Received{{MessageID: "old", Body: old}}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(queue.DedupWindow + time.Minute)
	fresh, _ := queue.Encode(v7At(now), now, pageview.View{Path: "/fresh"})
	res, err := c.Consume(ctx, []queue.Received{{MessageID: "old", Body: old}, {MessageID: "fresh", Body: fresh}})
	if err != nil || res.Expired != 1 || res.Written != 1 || len(res.Failed) != 0 {
		t.Errorf("result %+v, %v; want the old copy dropped and the fresh view written", res, err)
	}
	// The first view's id (accepted a window ago) was pruned after this batch.
	if ids := db.Counts(t, `SELECT 'ids', count(*) FROM accepted_views`)["ids"]; ids != 1 {
		t.Errorf("accepted ids = %d, want only the fresh one", ids)
	}
}

// v7At is a UUIDv7 of time t.
func v7At(t time.Time) uuid.UUID {
	id := uuid.Must(uuid.NewV7())
	ms := uint64(t.UnixMilli())
	for i := range 6 {
		id[i] = byte(ms >> (40 - 8*i))
	}
	return id
}
