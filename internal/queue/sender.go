package queue

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/uuid"

	"github.com/prawnhq/prawn/internal/pageview"
)

// API is the part of the SQS client that the Sender uses.
type API interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, opts ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

// NewClient is an SQS client for cfg (the region and credentials of a Lambda function). The
// endpoint is SQS's for the region (in a VPC, the interface endpoint's private DNS name resolves
// to it), or AWS_ENDPOINT_URL_SQS (else AWS_ENDPOINT_URL) when set, as the AWS SDKs read them.
func NewClient(cfg aws.Config, getenv func(string) string) *sqs.Client {
	return sqs.NewFromConfig(cfg, func(o *sqs.Options) {
		for _, name := range []string{"AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL"} {
			if ep := getenv(name); ep != "" {
				o.BaseEndpoint = aws.String(ep)
				return
			}
		}
	})
}

// DepthMaxAge is how long the queue's depth is reused before SQS is asked again.
const DepthMaxAge = 5 * time.Second

// depthTimeout bounds one GetQueueAttributes call: a slow answer leaves the depth out of a read
// rather than slowing it.
const depthTimeout = 500 * time.Millisecond

// Sender is the pageview.Recorder of queue ingest: Record sends the view to SQS, with an id and
// the time it was accepted, and returns once SQS has stored it. It is also the pageview.Queue whose
// depth GET /api/stats reports.
type Sender struct {
	client API
	url    string
	log    *slog.Logger
	// Now and NewID are the clock and the id source; nil means time.Now and uuid.NewV7.
	Now   func() time.Time
	NewID func() (uuid.UUID, error)

	mu       sync.Mutex
	depth    pageview.QueueDepth
	depthErr error
	fetched  time.Time
}

var (
	_ pageview.Recorder = (*Sender)(nil)
	_ pageview.Queue    = (*Sender)(nil)
)

// NewSender sends views to the queue at url through client. It makes no call until the first
// view.
func NewSender(client API, url string, log *slog.Logger) *Sender {
	if log == nil {
		log = slog.Default()
	}
	return &Sender{client: client, url: url, log: log}
}

func (s *Sender) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Record sends v to the queue, accepted now. A nil error means SQS has stored the message durably
// (it answers SendMessage only then). Any failure is pageview.ErrUnavailable (503: try again): the
// SDK's own retries of one call reuse the same body, so a retry whose first try did reach SQS
// makes a copy with the same id, which the consumer skips.
func (s *Sender) Record(ctx context.Context, v pageview.View) error {
	newID := s.NewID
	if newID == nil {
		newID = uuid.NewV7
	}
	id, err := newID()
	if err != nil {
		return fmt.Errorf("view id: %w", err)
	}
	body, err := Encode(id, s.now(), v)
	if err != nil {
		return err
	}
	if _, err := s.client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(s.url), MessageBody: aws.String(body)}); err != nil {
		return fmt.Errorf("%w: send the view to the queue: %w", pageview.ErrUnavailable, err)
	}
	return nil
}

// Depth is the queue's ApproximateNumberOfMessages plus ApproximateNumberOfMessagesDelayed
// (waiting) and
// ApproximateNumberOfMessagesNotVisible (received by a consumer, being written), read at most
// every DepthMaxAge; a failure is remembered as long, so a queue that does not answer is not
// asked on every read.
func (s *Sender) Depth(ctx context.Context) (pageview.QueueDepth, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.fetched.IsZero() && s.now().Sub(s.fetched) < DepthMaxAge {
		return s.depth, s.depthErr
	}
	ctx, cancel := context.WithTimeout(ctx, depthTimeout)
	defer cancel()
	out, err := s.client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(s.url),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages,
			types.QueueAttributeNameApproximateNumberOfMessagesDelayed, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
	s.fetched = s.now()
	if err != nil {
		s.depth, s.depthErr = pageview.QueueDepth{}, fmt.Errorf("queue depth: %w", err)
		s.log.WarnContext(ctx, "queue depth unknown", "err", err)
		return s.depth, s.depthErr
	}
	attr := func(name types.QueueAttributeName) int64 {
		n, _ := strconv.ParseInt(out.Attributes[string(name)], 10, 64)
		return n
	}
	// A message SQS holds back (delayed) is accepted and waiting all the same.
	s.depth = pageview.QueueDepth{Waiting: attr(types.QueueAttributeNameApproximateNumberOfMessages) + attr(types.QueueAttributeNameApproximateNumberOfMessagesDelayed),
		InFlight: attr(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible), ReadAt: s.fetched}
	s.depthErr = nil
	return s.depth, nil
}
