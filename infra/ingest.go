package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"
)

// The consume function of ingest=queue: it writes each SQS batch with one INSERT.
const (
	consumeHandler    = "consume"
	consumeMemoryMB   = 512 // a batch of 1,000 SQS records is about 1 MB of JSON
	consumeTimeoutSec = 60
	// deadLetterMaxReceive is how often a view is offered before it moves to the dead-letter queue:
	// with the visibility timeout below, about an hour of a database that refuses every batch.
	deadLetterMaxReceive = 10
)

// viewQueue is the SQS path of ingest=queue.
type viewQueue struct {
	queue, deadLetters awssqs.Queue
	endpoint           awsec2.InterfaceVpcEndpoint
}

// newViewQueue creates the queue of accepted views, its dead-letter queue and the interface
// endpoint through which the api function (in isolated subnets, without NAT) reaches SQS.
func (s *prawnStack) newViewQueue() *viewQueue {
	q := &viewQueue{}
	// Both queues hold accepted views: like the logs, they are kept unless removalPolicy=destroy.
	q.deadLetters = awssqs.NewQueue(s.stack, jsii.String("ViewDeadLetterQueue"), &awssqs.QueueProps{
		Encryption: awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL: jsii.Bool(true),
		// A dead letter keeps the enqueue time of its first delivery: keep it longer than the queue.
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
		RemovalPolicy:   s.logPolicy,
	})
	q.queue = awssqs.NewQueue(s.stack, jsii.String("ViewQueue"), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(4)),
		// AWS's rule for Lambda consumers: at least 6 x the function timeout plus the batching window.
		VisibilityTimeout: awscdk.Duration_Seconds(jsii.Number(float64(6*consumeTimeoutSec + s.cfg.ConsumeBatchWindowSeconds))),
		DeadLetterQueue:   &awssqs.DeadLetterQueue{Queue: q.deadLetters, MaxReceiveCount: jsii.Number(deadLetterMaxReceive)},
		RemovalPolicy:     s.logPolicy,
	})
	q.endpoint = s.interfaceEndpoint("Sqs", awsec2.InterfaceVpcEndpointAwsService_SQS(), "the api function sends views to SQS")
	// The endpoint serves only prawn's queue, and only what the api function does with it.
	q.endpoint.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
		Actions:    jsii.Strings("sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"),
		Resources:  jsii.Strings(*q.queue.QueueArn()),
	}))
	return q
}

// consumer defines the consume function and its SQS event source mapping. Its reserved concurrency
// and the mapping's maximum concurrency are both consumeConcurrency, so SQS never throttles it
// (a throttled batch would count as a receive towards the dead-letter queue), and
// consumeConcurrency x consumePoolSize is part of the connection budget (Config.PeakConnections).
func (s *prawnStack) consumer() awslambda.Function {
	cfg := s.cfg
	fn := s.function(fnSpec{handler: consumeHandler, memoryMB: consumeMemoryMB, timeoutSec: consumeTimeoutSec,
		concurrency: cfg.ConsumeConcurrency, poolSize: consumePoolSize})
	props := &awslambdaeventsources.SqsEventSourceProps{
		BatchSize:               jsii.Number(float64(cfg.ConsumeBatchSize)),
		ReportBatchItemFailures: jsii.Bool(true),
		MaxConcurrency:          jsii.Number(float64(cfg.ConsumeConcurrency)),
	}
	if cfg.ConsumeBatchWindowSeconds > 0 {
		props.MaxBatchingWindow = awscdk.Duration_Seconds(jsii.Number(float64(cfg.ConsumeBatchWindowSeconds)))
	}
	fn.AddEventSource(awslambdaeventsources.NewSqsEventSource(s.queue.queue, props))
	s.output("ConsumeFunctionName", fn.FunctionName(), "consume Lambda (its SQS event source mapping pauses ingest when disabled)")
	s.output("ViewQueueUrl", s.queue.queue.QueueUrl(), "queue of accepted views")
	s.output("ViewDeadLetterQueueArn", s.queue.deadLetters.QueueArn(), "dead-letter queue of refused views (redrive with aws sqs start-message-move-task)")
	return fn
}

// canaryEvent is the API Gateway HTTP API (payload 2.0) event of the hourly synthetic view: POST
// /api/views of canaryPath on the reserved canaryHost, carrying the origin secret as CloudFront
// would. The app's tests record the same event (internal/lambda/testdata/canary-event.json).
func canaryEvent(originSecret *string) map[string]any {
	return map[string]any{
		"version":        "2.0",
		"routeKey":       "$default",
		"rawPath":        "/api/views",
		"rawQueryString": "",
		"headers": map[string]any{
			"content-type":    "application/json",
			"user-agent":      canaryUserAgent,
			"x-origin-verify": originSecret,
		},
		"requestContext": map[string]any{
			"domainName": "canary.prawn.invalid",
			"http": map[string]any{
				"method": "POST", "path": "/api/views", "protocol": "HTTP/1.1",
				"sourceIp": "127.0.0.1", "userAgent": canaryUserAgent,
			},
			"requestId": "prawn-canary",
			"routeKey":  "$default",
			"stage":     "$default",
		},
		"body":            `{"host":"` + canaryHost + `","path":"` + canaryPath + `"}`,
		"isBase64Encoded": false,
	}
}
