package lambda

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/prawnhq/prawn/internal/pgtest"
	"github.com/prawnhq/prawn/internal/sqstest"
)

// visibility is how long a received message stays hidden before SQS offers it again, in seconds.
const visibility = 3

// TestQueueIngestInTheRuntimeInterfaceEmulator runs queue ingest end to end with the real
// bootstrap in the real emulator, a real SQS server (local-aws-sqs) and a real Postgres: the api
// function accepts views (202) into the queue; the test plays the event source mapping, building
// SQS events from the messages it receives and deleting those the consume function did not
// report as failed. Along the way it delivers duplicates on purpose, makes a batch fail half-way
// (its INSERT's session is terminated while it waits) and kills a consumer in the middle of a
// batch (after its INSERT was sent, before it answered). At the end every acknowledged (202) view
// is stored exactly once, the message that is no view is in the dead-letter queue, and the
// rollups agree.
func TestQueueIngestInTheRuntimeInterfaceEmulator(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the bootstrap and the emulator; skipped with -short")
	}
	bin := buildBinaries(t)
	t.Logf("%s: built", time.Now().Format(time.StampMilli))
	srv := sqstest.Start(t)
	client := srv.Client()
	ctx := context.Background()
	dlqURL := srv.CreateQueue(t, "views-dlq", nil)
	dlqArn := queueAttr(t, client, dlqURL, types.QueueAttributeNameQueueArn)
	redrive, _ := json.Marshal(map[string]string{"deadLetterTargetArn": dlqArn, "maxReceiveCount": "3"})
	queueURL := srv.CreateQueue(t, "views", map[string]string{"RedrivePolicy": string(redrive)})
	queueArn := queueAttr(t, client, queueURL, types.QueueAttributeNameQueueArn)
	dbURL := pgtest.URL(t)
	env := append(srv.Env(), "PRAWN_INGEST_MODE=queue", "PRAWN_QUEUE_URL="+queueURL, "PRAWN_RATE_LIMIT=0")

	// 1. The api function accepts views into the queue.
	api := startFunction(t, bin, "api", dbURL, env...)
	type response struct {
		StatusCode int    `json:"statusCode"`
		Body       string `json:"body"`
	}
	post := func(body, userAgent string) response {
		t.Helper()
		var ev map[string]any
		if err := json.Unmarshal(readFile(t, "api-post-view.json"), &ev); err != nil {
			t.Fatal(err)
		}
		ev["body"] = body
		ev["headers"].(map[string]any)["user-agent"] = userAgent
		payload, _ := json.Marshal(ev)
		var resp response
		api.invoke(t, payload, &resp)
		return resp
	}
	accepted := map[string]int{}
	for i := range 40 {
		p := fmt.Sprintf("/q/%d", i%8)
		if resp := post(`{"path":"`+p+`"}`, "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("view %d: %d %s; want 202", i, resp.StatusCode, resp.Body)
		}
		accepted[p]++
	}
	// The edge's rules apply before anything is queued: a bot is answered, not counted; a bad
	// view is a 400.
	if resp := post(`{"path":"/q/bot"}`, "Googlebot/2.1 (+http://www.google.com/bot.html)"); resp.StatusCode != http.StatusOK || !strings.Contains(resp.Body, `"counted":false`) {
		t.Errorf("a bot: %d %s; want 200 not counted", resp.StatusCode, resp.Body)
	}
	if resp := post(`{"path":"no-slash"}`, "Mozilla/5.0"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("an invalid view: %d %s; want 400", resp.StatusCode, resp.Body)
	}
	var stats struct {
		StatusCode int    `json:"statusCode"`
		Body       string `json:"body"`
	}
	api.invoke(t, readFile(t, "api-get-hosts.json"), &stats)
	var statsResp response
	ev := map[string]any{}
	_ = json.Unmarshal(readFile(t, "api-get-stats.json"), &ev)
	ev["rawQueryString"], ev["queryStringParameters"] = "", map[string]string{}
	payload, _ := json.Marshal(ev)
	api.invoke(t, payload, &statsResp)
	var st struct {
		Total  int64 `json:"total"`
		Queued *struct {
			Waiting int64 `json:"approximateWaiting"`
		} `json:"queued"`
	}
	if err := json.Unmarshal([]byte(statsResp.Body), &st); err != nil || st.Queued == nil || st.Queued.Waiting != 40 || st.Total != 0 {
		t.Errorf("GET /api/stats while queued: %s; want total 0 and 40 views waiting", statsResp.Body)
	}
	api.stop(t)
	// A message that is not a view.
	if _, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(queueURL), MessageBody: aws.String(`{"v":1,"path":"/not-a-view"}`)}); err != nil {
		t.Fatal(err)
	}

	t.Logf("%s: consuming", time.Now().Format(time.StampMilli))
	consume := startFunction(t, bin, "consume", dbURL)
	received := receive(t, client, queueURL)
	if len(received) != 41 {
		t.Fatalf("received %d messages, want 41", len(received))
	}
	sqsEvent := func(msgs []types.Message) []byte {
		ev := events.SQSEvent{}
		for _, m := range msgs {
			ev.Records = append(ev.Records, events.SQSMessage{MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle),
				Body: aws.ToString(m.Body), Attributes: m.Attributes, EventSource: "aws:sqs", EventSourceARN: queueArn, AWSRegion: sqstest.Region})
		}
		b, _ := json.Marshal(ev)
		return b
	}
	// deliver invokes consume with msgs and, as the event source mapping does, deletes the
	// messages not reported as failed; it returns the failures.
	deliver := func(fn *function, msgs []types.Message) []string {
		t.Helper()
		var out events.SQSEventResponse
		fn.invoke(t, sqsEvent(msgs), &out)
		failed := map[string]bool{}
		var ids []string
		for _, f := range out.BatchItemFailures {
			failed[f.ItemIdentifier] = true
			ids = append(ids, f.ItemIdentifier)
		}
		for _, m := range msgs {
			if !failed[aws.ToString(m.MessageId)] {
				_, _ = client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(queueURL), ReceiptHandle: m.ReceiptHandle})
			}
		}
		return ids
	}
	stored := func() int64 { return queryInt(t, dbURL, "SELECT count(*) FROM views") }

	// 2. Duplicates on purpose: the first 15 messages with copies of five of them in the same
	// batch, then the same batch again (a redelivery before any delete).
	first := append(append([]types.Message{}, received[:15]...), received[2:7]...)
	var out events.SQSEventResponse
	consume.invoke(t, sqsEvent(first), &out)
	if len(out.BatchItemFailures) != 0 || stored() != 15 {
		t.Fatalf("first batch: failures %v, %d views stored; want none and 15", out.BatchItemFailures, stored())
	}
	if failed := deliver(consume, first); len(failed) != 0 || stored() != 15 {
		t.Fatalf("the same batch again: failures %v, %d views stored; want none and still 15", failed, stored())
	}

	// 3. A batch that fails half-way: its INSERT waits for a lock, and its session is terminated.
	t.Logf("%s: a batch that fails half-way", time.Now().Format(time.StampMilli))
	rest := received[15:]
	lock := connect(t, dbURL)
	if _, err := lock.Exec(ctx, "BEGIN; LOCK TABLE accepted_views IN SHARE MODE"); err != nil {
		t.Fatal(err)
	}
	done := make(chan []byte, 1)
	go func() { done <- postRaw(consume.url, sqsEvent(rest)) }()
	pid := waitForLockedInsert(t, dbURL)
	if _, err := lock.Exec(ctx, "SELECT pg_terminate_backend($1)", pid); err != nil {
		t.Fatal(err)
	}
	if body := <-done; !bytes.Contains(body, []byte(`"errorType"`)) {
		t.Fatalf("a batch whose session was terminated: %s; want an invocation error (the whole batch comes back)", body)
	}
	if _, err := lock.Exec(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	if n := stored(); n != 15 {
		t.Fatalf("after the failed batch: %d views stored, want 15", n)
	}

	// 4. A consumer killed mid-batch: the redelivered batch's INSERT is sent and waits for a lock;
	// the consumer is killed; then the lock goes and the orphaned INSERT commits. SQS never heard
	// of it, so the batch comes back to a new consumer, which must store nothing twice.
	time.Sleep(visibility * time.Second)
	again := receive(t, client, queueURL)
	if len(again) != len(rest) {
		t.Fatalf("redelivered %d messages, want %d", len(again), len(rest))
	}
	// A consumer that has written before has its statement prepared on its connection, so the whole
	// INSERT (bind, execute, commit) is on its way when it starts to wait; a fresh connection would
	// still be parsing it, which takes the lock too (and then nothing would run after the kill).
	if failed := deliver(consume, received[:1]); len(failed) != 0 {
		t.Fatalf("warm-up: %v", failed)
	}
	t.Logf("%s: killing a consumer mid-batch", time.Now().Format(time.StampMilli))
	if _, err := lock.Exec(ctx, "BEGIN; LOCK TABLE accepted_views IN SHARE MODE"); err != nil {
		t.Fatal(err)
	}
	go func() { done <- postRaw(consume.url, sqsEvent(again)) }()
	pid = waitForLockedInsert(t, dbURL)
	// The emulator runs the bootstrap in a process group of its own: kill the bootstrap itself.
	if child := childPID(consume.cmd.Process.Pid); child == 0 {
		t.Fatal("no bootstrap process under the emulator")
	} else if err := syscall.Kill(child, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = syscall.Kill(-consume.cmd.Process.Pid, syscall.SIGKILL)
	<-consume.done
	<-done
	if _, err := lock.Exec(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	pgtest.Eventually(t, 10*time.Second, func() error {
		if n := queryInt(t, dbURL, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid); n != 0 {
			return fmt.Errorf("the killed consumer's session is still there")
		}
		return nil
	})
	orphaned := stored()
	t.Logf("views stored once the killed consumer's INSERT ran on: %d", orphaned)
	if orphaned != 40 {
		t.Errorf("the killed consumer's INSERT stored %d views in all, want 40 (it committed without an answer)", orphaned)
	}
	consume = startFunction(t, bin, "consume", dbURL)
	time.Sleep(visibility * time.Second)
	again = receive(t, client, queueURL)
	failed := deliver(consume, again)
	if len(failed) != 1 {
		t.Errorf("failures %v, want the one message that is no view", failed)
	}
	if !strings.Contains(consume.out.String(), `"written":0,"duplicates":25`) {
		t.Errorf("the new consumer's log does not show the redelivered batch as all copies:\n%s", consume.out.String())
	}

	// 5. The message that is no view keeps failing and moves to the dead-letter queue.
	t.Logf("%s: the dead-letter queue", time.Now().Format(time.StampMilli))
	for range 3 {
		time.Sleep(visibility * time.Second)
		if msgs := receive(t, client, queueURL); len(msgs) > 0 {
			deliver(consume, msgs)
		}
	}
	if dead := receive(t, client, dlqURL); len(dead) != 1 || !strings.Contains(aws.ToString(dead[0].Body), "/not-a-view") {
		t.Errorf("dead letters %d, want the message that is no view", len(dead))
	}
	consume.stop(t)

	// Acknowledged views = stored views, none twice; the rollups agree.
	if n := stored(); n != 40 {
		t.Errorf("stored %d views, want the 40 acknowledged", n)
	}
	if n := queryInt(t, dbURL, "SELECT count(*) FROM accepted_views"); n != 40 {
		t.Errorf("accepted ids %d, want 40", n)
	}
	for p, want := range accepted {
		if n := queryInt(t, dbURL, "SELECT count(*) FROM views WHERE path = $1", p); n != int64(want) {
			t.Errorf("%s: stored %d, accepted %d", p, n, want)
		}
	}
	fn := startFunction(t, bin, "rollup", dbURL)
	var folded int64
	for deadline := time.Now().Add(20 * time.Second); folded < 40 && time.Now().Before(deadline); {
		var sum RollupSummary
		fn.invoke(t, readFile(t, "scheduled-event.json"), &sum)
		folded += sum.Folded
	}
	fn.stop(t)
	if n := queryInt(t, dbURL, "SELECT views FROM totals WHERE host = '' AND path = ''"); n != 40 {
		t.Errorf("rollup total %d, want 40", n)
	}
}

func queueAttr(t *testing.T, client *sqs.Client, url string, name types.QueueAttributeName) string {
	t.Helper()
	out, err := client.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []types.QueueAttributeName{name}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Attributes[string(name)]
}

// receive takes every visible message, hiding each for visibility seconds.
func receive(t *testing.T, client *sqs.Client, url string) []types.Message {
	t.Helper()
	var out []types.Message
	for {
		r, err := client.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10,
			VisibilityTimeout: visibility, MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll}})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Messages) == 0 {
			return out
		}
		out = append(out, r.Messages...)
	}
}

// waitForLockedInsert waits until a prawn session's INSERT waits for a lock and returns its pid.
func waitForLockedInsert(t *testing.T, url string) int64 {
	t.Helper()
	var pid int64
	pgtest.Eventually(t, 15*time.Second, func() error {
		pid = queryInt(t, url, `SELECT coalesce(max(pid), 0) FROM pg_stat_activity
			WHERE datname = current_database() AND application_name = 'prawn' AND wait_event_type = 'Lock' AND query LIKE '%accepted_views%'`)
		if pid == 0 {
			return fmt.Errorf("no INSERT waits for the lock yet")
		}
		return nil
	})
	return pid
}

// postRaw invokes the emulator and returns the body, or the error's text when there is none.
func postRaw(url string, payload []byte) []byte {
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Post(url, "application/json", bytes.NewReader(payload))
	if err != nil {
		return []byte(err.Error())
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return buf.Bytes()
}

// childPID is the pid of parent's child process (the emulator's bootstrap), or 0.
func childPID(parent int) int {
	dirs, _ := filepath.Glob("/proc/[0-9]*/status")
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil || !strings.Contains(string(b), fmt.Sprintf("\nPPid:\t%d\n", parent)) {
			continue
		}
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(d)))
		if err == nil {
			return pid
		}
	}
	return 0
}
