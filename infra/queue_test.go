package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestQueueIngest(t *testing.T) {
	stacks, cfg := synthApp(t, map[string]any{"ingest": "queue"})
	tpl := template(t, stacks.Prawn)
	raw := rawTemplate(t, tpl)

	fns := goFunctions(t, tpl)
	consume, api := fns["consume"], fns["api"]
	if consume == nil {
		t.Fatalf("ingest=queue: no consume function among %v", keys(fns))
	}
	consumeID := ""
	for _, id := range raw.ofType("AWS::Lambda::Function") {
		if raw.Resources[id].Properties["Handler"] == "consume" {
			consumeID = id
		}
	}
	queueID, queue := raw.one(t, "AWS::SQS::Queue", "ViewQueue")
	dlqID, dlq := raw.one(t, "AWS::SQS::Queue", "ViewDeadLetterQueue")

	t.Run("consume function", func(t *testing.T) {
		if fmt.Sprint(consume["Code"]) != fmt.Sprint(api["Code"]) || consume["Runtime"] != "provided.al2023" || consume["VpcConfig"] == nil {
			t.Errorf("consume does not run the shared bootstrap in the VPC: %v", consume)
		}
		if consume["ReservedConcurrentExecutions"] != float64(cfg.ConsumeConcurrency) || env(consume)["PRAWN_DB_MAX_CONNS"] != fmt.Sprint(consumePoolSize) {
			t.Errorf("consume concurrency %v pool %v, want %d x %d", consume["ReservedConcurrentExecutions"], env(consume)["PRAWN_DB_MAX_CONNS"], cfg.ConsumeConcurrency, consumePoolSize)
		}
		if timeout := consume["Timeout"].(float64); queue.Properties["VisibilityTimeout"].(float64) < 6*timeout {
			t.Errorf("queue visibility %v < 6 x consume timeout %v", queue.Properties["VisibilityTimeout"], timeout)
		}
	})

	t.Run("event source mapping", func(t *testing.T) {
		ids := raw.ofType("AWS::Lambda::EventSourceMapping")
		if len(ids) != 1 {
			t.Fatalf("event source mappings %v, want one", ids)
		}
		p := raw.Resources[ids[0]].Properties
		if render(p["EventSourceArn"]) != "${"+queueID+".Arn}" || render(p["FunctionName"]) != "${"+consumeID+"}" {
			t.Errorf("mapping from %v to %v, want ViewQueue to consume", render(p["EventSourceArn"]), render(p["FunctionName"]))
		}
		if p["BatchSize"] != float64(1000) || p["MaximumBatchingWindowInSeconds"] != float64(2) ||
			!slices.Contains(list(p["FunctionResponseTypes"]), any("ReportBatchItemFailures")) {
			t.Errorf("mapping batch %v window %v responses %v", p["BatchSize"], p["MaximumBatchingWindowInSeconds"], p["FunctionResponseTypes"])
		}
		if got := dig(p, "ScalingConfig", "MaximumConcurrency"); got != consume["ReservedConcurrentExecutions"] {
			t.Errorf("mapping maximum concurrency %v, consume reserved concurrency %v: they must agree, or SQS batches are throttled into the dead-letter queue", got, consume["ReservedConcurrentExecutions"])
		}
	})

	t.Run("queues", func(t *testing.T) {
		redrive := queue.Properties["RedrivePolicy"]
		if render(dig(redrive, "deadLetterTargetArn")) != "${"+dlqID+".Arn}" || dig(redrive, "maxReceiveCount") != float64(deadLetterMaxReceive) {
			t.Errorf("redrive policy %v, want the dead-letter queue after %d receives", redrive, deadLetterMaxReceive)
		}
		q, d := queue.Properties["MessageRetentionPeriod"].(float64), dlq.Properties["MessageRetentionPeriod"].(float64)
		if q != 4*86400 || d != 14*86400 {
			t.Errorf("retention: queue %vs, dead letters %vs; want 4 and 14 days", q, d)
		}
		for id, r := range map[string]cfnResource{queueID: queue, dlqID: dlq} {
			if r.Properties["SqsManagedSseEnabled"] != true || r.Deletion != "Retain" {
				t.Errorf("%s: encryption %v, deletion %q; want SSE and kept (it holds accepted views)", id, r.Properties["SqsManagedSseEnabled"], r.Deletion)
			}
		}
		enforced := map[string]bool{}
		for _, id := range raw.ofType("AWS::SQS::QueuePolicy") {
			p := raw.Resources[id].Properties
			for _, st := range list(dig(p, "PolicyDocument", "Statement")) {
				if dig(st, "Effect") == "Deny" && dig(st, "Condition", "Bool", "aws:SecureTransport") == "false" {
					for _, q := range list(p["Queues"]) {
						enforced[render(q)] = true
					}
				}
			}
		}
		if !enforced["${"+queueID+"}"] || !enforced["${"+dlqID+"}"] {
			t.Errorf("TLS enforced on %v, want both queues", enforced)
		}
	})

	t.Run("api sends to the queue", func(t *testing.T) {
		e := env(api)
		if e["PRAWN_INGEST_MODE"] != "queue" || render(e["PRAWN_QUEUE_URL"]) != "${"+queueID+"}" {
			t.Errorf("api PRAWN_INGEST_MODE=%v PRAWN_QUEUE_URL=%v", e["PRAWN_INGEST_MODE"], render(e["PRAWN_QUEUE_URL"]))
		}
		for handler, gs := range raw.grants() {
			sends := slices.Contains(gs, "sqs:SendMessage ${"+queueID+".Arn}")
			if sends != (handler == "api") {
				t.Errorf("%s may send to the queue: %v", handler, sends)
			}
			receives := slices.Contains(gs, "sqs:ReceiveMessage ${"+queueID+".Arn}")
			if receives != (handler == "consume") {
				t.Errorf("%s may receive from the queue: %v", handler, receives)
			}
		}
		for name, p := range fns {
			if name != "api" && (env(p)["PRAWN_QUEUE_URL"] != nil || env(p)["PRAWN_INGEST_MODE"] != nil) {
				t.Errorf("%s has the queue settings", name)
			}
		}
	})

	t.Run("SQS endpoint", func(t *testing.T) {
		var sqs []string
		for _, id := range raw.ofType("AWS::EC2::VPCEndpoint") {
			if strings.HasSuffix(render(raw.Resources[id].Properties["ServiceName"]), ".sqs") {
				sqs = append(sqs, id)
			}
		}
		if len(sqs) != 1 {
			t.Fatalf("SQS endpoints %v, want one", sqs)
		}
		p := raw.Resources[sqs[0]].Properties
		if p["ServiceName"] != "com.amazonaws.us-east-1.sqs" || p["PrivateDnsEnabled"] != true || p["VpcEndpointType"] != "Interface" || len(list(p["SubnetIds"])) != 1 {
			t.Errorf("SQS endpoint %v, want a private-DNS interface endpoint in one subnet", p)
		}
		for _, st := range list(dig(p, "PolicyDocument", "Statement")) {
			if render(dig(st, "Resource")) != "${"+queueID+".Arn}" {
				t.Errorf("SQS endpoint policy allows %v", render(dig(st, "Resource")))
			}
		}
		// The Lambdas' security group may reach it on 443, and nothing else may.
		endpointSG, _ := refOf(list(p["SecurityGroupIds"])[0])
		lambdaSG, _ := refOf(list(dig(api, "VpcConfig", "SecurityGroupIds"))[0])
		var from []string
		for _, id := range raw.ofType("AWS::EC2::SecurityGroupIngress") {
			in := raw.Resources[id].Properties
			if g, _ := refOf(in["GroupId"]); g == endpointSG {
				src, _ := refOf(in["SourceSecurityGroupId"])
				from = append(from, fmt.Sprintf("%s:%v", src, in["FromPort"]))
			}
		}
		if len(from) != 1 || from[0] != lambdaSG+":443" {
			t.Errorf("SQS endpoint admits %v, want only %s:443", from, lambdaSG)
		}
	})

	t.Run("dead-letter and backlog alarms", func(t *testing.T) {
		for prefix, want := range map[string]struct {
			metric, queue string
			threshold     float64
		}{
			"ViewDeadLetters": {"ApproximateNumberOfMessagesVisible", dlqID, 1},
			"ViewQueueAge":    {"ApproximateAgeOfOldestMessage", queueID, 900},
		} {
			_, alarm := raw.one(t, "AWS::CloudWatch::Alarm", prefix)
			p := alarm.Properties
			dims := list(p["Dimensions"])
			if p["Namespace"] != "AWS/SQS" || p["MetricName"] != want.metric || p["Threshold"] != want.threshold || p["ComparisonOperator"] != "GreaterThanOrEqualToThreshold" ||
				len(dims) != 1 || render(dig(dims[0], "Value")) != "${"+want.queue+".QueueName}" {
				t.Errorf("%s: %v", prefix, p)
			}
			if a := list(p["AlarmActions"]); len(a) != 1 || !strings.HasPrefix(render(a[0]), "${AlarmTopic") {
				t.Errorf("%s mails %v, want the alarm topic", prefix, p["AlarmActions"])
			}
		}
	})

	t.Run("least-privilege database logins", func(t *testing.T) { assertDatabaseLogins(t, raw, false) })
	t.Run("origin secret", func(t *testing.T) { assertOriginSecret(t, raw) })
	t.Run("canary", func(t *testing.T) { assertCanary(t, raw) })
	t.Run("connection arithmetic", func(t *testing.T) { assertConnectionBudget(t, tpl, cfg, 4) })
	t.Run("cdk-nag", func(t *testing.T) { assertNoNagErrors(t, stacks.Prawn) })
}

func TestQueueIngestSettings(t *testing.T) {
	stacks, cfg := synthApp(t, map[string]any{"ingest": "queue", "consumeConcurrency": "5", "consumeBatchSize": "10000", "consumeBatchWindowSeconds": "10", "dbAuth": "iam"})
	tpl := template(t, stacks.Prawn)
	raw := rawTemplate(t, tpl)
	ids := raw.ofType("AWS::Lambda::EventSourceMapping")
	if len(ids) != 1 {
		t.Fatalf("event source mappings %v", ids)
	}
	p := raw.Resources[ids[0]].Properties
	if p["BatchSize"] != float64(10000) || p["MaximumBatchingWindowInSeconds"] != float64(10) || dig(p, "ScalingConfig", "MaximumConcurrency") != float64(5) {
		t.Errorf("mapping %v, want batch 10000, window 10 s, concurrency 5", p)
	}
	if _, q := raw.one(t, "AWS::SQS::Queue", "ViewQueue"); q.Properties["VisibilityTimeout"] != float64(6*consumeTimeoutSec+10) {
		t.Errorf("visibility timeout %v, want 6 x %d + 10", q.Properties["VisibilityTimeout"], consumeTimeoutSec)
	}
	// With IAM auth the api still reaches SQS: the SQS endpoint is the only one.
	if eps := raw.ofType("AWS::EC2::VPCEndpoint"); len(eps) != 1 || !strings.HasSuffix(render(raw.Resources[eps[0]].Properties["ServiceName"]), ".sqs") {
		t.Errorf("endpoints %v, want only SQS's", eps)
	}
	assertDatabaseLogins(t, raw, true)
	assertConnectionBudget(t, tpl, cfg, 4)
	assertNoNagErrors(t, stacks.Prawn)
}

func TestOriginSecretGeneration(t *testing.T) {
	stacks, _ := synthApp(t, map[string]any{"originSecretGeneration": "3"})
	raw := rawTemplate(t, template(t, stacks.Prawn))
	id, _ := raw.one(t, "AWS::SecretsManager::Secret", "OriginVerifySecret")
	if !strings.HasPrefix(id, "OriginVerifySecret3") {
		t.Errorf("origin secret %s, want the third generation's", id)
	}
	assertOriginSecret(t, raw) // the header, the api and the canary all use the new secret
	assertNoNagErrors(t, stacks.Prawn)
}
