package stats

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// gatedRead is a read that reports when it starts and ends only when released; it answers how
// many reads had started when it did.
type gatedRead struct {
	mu       sync.Mutex
	started  int
	running  chan int // receives the number of each read as it starts
	release  chan struct{}
	deadline []time.Time
}

func newGatedRead() *gatedRead {
	return &gatedRead{running: make(chan int, 16), release: make(chan struct{})}
}

func (g *gatedRead) fn(ctx context.Context) (int, error) {
	g.mu.Lock()
	g.started++
	n := g.started
	dl, _ := ctx.Deadline()
	g.deadline = append(g.deadline, dl)
	g.mu.Unlock()
	g.running <- n
	<-g.release
	return n, nil
}

// waitingCallers is how many callers wait for key's next read (0 when none waits).
func (g *sharedReads[K, V]) waitingCallers(key K) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if s := g.keys[key]; s != nil && s.next != nil {
		return s.next.callers
	}
	return 0
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(time.Millisecond)
	}
}

type answer struct {
	n   int
	err error
}

// ask calls g.do in a goroutine of its own; its answer comes on the channel.
func ask(ctx context.Context, g *sharedReads[string, int], key string, fn func(context.Context) (int, error)) <-chan answer {
	c := make(chan answer, 1)
	go func() { n, err := g.do(ctx, key, fn); c <- answer{n, err} }()
	return c
}

func TestSharedReadsNeverAnswerFromAnEarlierRead(t *testing.T) {
	var g sharedReads[string, int]
	read := newGatedRead()
	ctx := context.Background()

	first := ask(ctx, &g, "k", read.fn)
	if n := <-read.running; n != 1 {
		t.Fatalf("first read is #%d", n)
	}

	// Callers that come while read 1 runs must not get its answer: they share read 2.
	const later = 5
	answers := make(chan answer, later)
	for i := range later {
		go func() { n, err := g.do(ctx, "k", read.fn); answers <- answer{n, err} }()
		waitFor(t, func() bool { return g.waitingCallers("k") == i+1 })
	}
	// Another key is not held back by k's reads.
	other := ask(ctx, &g, "other", read.fn)
	if n := <-read.running; n != 2 {
		t.Fatalf("the other key's read is #%d, want 2", n)
	}

	read.release <- struct{}{} // one of the two running reads ends
	read.release <- struct{}{} // and the other
	if n := <-read.running; n != 3 {
		t.Fatalf("the read shared by the later callers is #%d, want 3", n)
	}
	close(read.release)
	if a := <-first; a.n != 1 || a.err != nil {
		t.Errorf("first caller got %+v, want read #1", a)
	}
	if a := <-other; a.n != 2 || a.err != nil {
		t.Errorf("other key's caller got %+v, want read #2", a)
	}
	for range later {
		if a := <-answers; a.n != 3 || a.err != nil {
			t.Errorf("a caller that came while read #1 ran got %+v, want read #3", a)
		}
	}
	if got := g.reads.Load(); got != 3 {
		t.Errorf("reads = %d for %d callers, want 3", got, 2+later)
	}
	g.mu.Lock()
	if len(g.keys) != 0 {
		t.Errorf("%d keys kept after every read ended", len(g.keys))
	}
	g.mu.Unlock()
}

func TestSharedReadsCallerThatGivesUpFailsOnlyItself(t *testing.T) {
	var g sharedReads[string, int]
	read := newGatedRead()
	bg := context.Background()

	first := ask(bg, &g, "k", read.fn)
	<-read.running

	// The waiting read is created by a caller that then gives up; one that stays gets it.
	quitter, quit := context.WithCancel(bg)
	gaveUp := ask(quitter, &g, "k", read.fn)
	waitFor(t, func() bool { return g.waitingCallers("k") == 1 })
	stayed := ask(bg, &g, "k", read.fn)
	waitFor(t, func() bool { return g.waitingCallers("k") == 2 })
	quit()
	if a := <-gaveUp; !errors.Is(a.err, context.Canceled) {
		t.Errorf("caller that gave up got %+v, want context.Canceled", a)
	}

	// Even the running read's own caller may give up: the read goes on for the others.
	close(read.release)
	if a := <-first; a.n != 1 || a.err != nil {
		t.Errorf("first caller got %+v", a)
	}
	if n := <-read.running; n != 2 {
		t.Fatalf("second read is #%d", n)
	}
	if a := <-stayed; a.n != 2 || a.err != nil {
		t.Errorf("caller that stayed got %+v, want read #2", a)
	}
}

func TestSharedReadsRunToTheLatestDeadline(t *testing.T) {
	var g sharedReads[string, int]
	read := newGatedRead()
	bg := context.Background()
	go g.do(bg, "k", read.fn)
	<-read.running

	soon, cancelSoon := context.WithTimeout(bg, time.Hour)
	defer cancelSoon()
	late, cancelLate := context.WithTimeout(bg, 2*time.Hour)
	defer cancelLate()
	lateDeadline, _ := late.Deadline()
	done := make(chan answer, 2)
	go func() { n, err := g.do(soon, "k", read.fn); done <- answer{n, err} }()
	waitFor(t, func() bool { return g.waitingCallers("k") == 1 })
	go func() { n, err := g.do(late, "k", read.fn); done <- answer{n, err} }()
	waitFor(t, func() bool { return g.waitingCallers("k") == 2 })
	close(read.release)
	<-done
	<-done

	read.mu.Lock()
	defer read.mu.Unlock()
	if len(read.deadline) != 2 || !read.deadline[0].IsZero() || !read.deadline[1].Equal(lateDeadline) {
		t.Errorf("deadlines of the reads = %v; want none for the first, %v for the shared one", read.deadline, lateDeadline)
	}

	// A caller without a deadline lifts it.
	var h sharedReads[string, int]
	read2 := newGatedRead()
	go h.do(bg, "k", read2.fn)
	<-read2.running
	go h.do(soon, "k", read2.fn)
	waitFor(t, func() bool { return h.waitingCallers("k") == 1 })
	go h.do(bg, "k", read2.fn)
	waitFor(t, func() bool { return h.waitingCallers("k") == 2 })
	close(read2.release)
	<-read2.running
	waitFor(t, func() bool { read2.mu.Lock(); defer read2.mu.Unlock(); return len(read2.deadline) == 2 })
	read2.mu.Lock()
	defer read2.mu.Unlock()
	if !read2.deadline[1].IsZero() {
		t.Errorf("shared read's deadline = %v, want none (one caller has none)", read2.deadline[1])
	}
}

func TestSharedReadsShareErrors(t *testing.T) {
	var g sharedReads[string, int]
	boom := errors.New("boom")
	started, release := make(chan struct{}), make(chan struct{})
	fail := func(context.Context) (int, error) { started <- struct{}{}; <-release; return 0, boom }
	go g.do(context.Background(), "k", fail)
	<-started
	errs := make(chan error, 3)
	for i := range 3 {
		go func() { _, err := g.do(context.Background(), "k", fail); errs <- err }()
		waitFor(t, func() bool { return g.waitingCallers("k") == i+1 })
	}
	release <- struct{}{}
	<-started
	close(release)
	for range 3 {
		if err := <-errs; !errors.Is(err, boom) {
			t.Errorf("err = %v, want the shared read's", err)
		}
	}
}
