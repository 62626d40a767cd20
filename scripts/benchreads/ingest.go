package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/prawnhq/prawn/internal/pageview"
	"github.com/prawnhq/prawn/scripts/internal/benchkit"
)

// ingestPrefix starts the path of every view the ingest records, so they can be counted apart.
const ingestPrefix = "/live/"

// ingestLines is how many different requests the ingest's target file holds; vegeta sends them
// in turn, over and over.
const ingestLines = 20_000

// referrers are where the ingest's views come from, with their weights (about half come from
// nowhere, as on a real site).
var referrers = []struct {
	url    string
	weight int
}{
	{"", 50},
	{"https://www.google.com/", 18},
	{"https://news.ycombinator.com/", 6},
	{"https://github.com/prawnhq/prawn", 5},
	{"https://duckduckgo.com/", 4},
	{"https://www.reddit.com/r/golang/comments/1abcde/", 4},
	{"https://t.co/x1y2z3", 3},
	{"https://www.bing.com/", 3},
	{"https://lobste.rs/s/abc123", 2},
	{"https://weekly.example.dev/issues/42?utm_source=newsletter", 2},
	{"https://mastodon.social/@someone/113456789", 2},
}

// userAgents are the ingest's browsers and systems (a view's visitor is its address and
// User-Agent).
var userAgents = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
	"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
}

// ingestTarget is one of the ingest's requests in vegeta's JSON target format: POST /api/views
// of one of paths paths (a few get most views, as seeded history does), from a referrer, a
// browser and a client address (X-Forwarded-For, which the server believes from loopback).
func ingestTarget(rnd *rand.Rand, base string, paths int) ([]byte, error) {
	view := struct {
		Path     string `json:"path"`
		Referrer string `json:"referrer,omitempty"`
	}{Path: ingestPrefix + strconv.Itoa(int(math.Pow(rnd.Float64(), 3)*float64(paths)))}
	total := 0
	for _, r := range referrers {
		total += r.weight
	}
	w := rnd.IntN(total)
	for _, r := range referrers {
		if w < r.weight {
			view.Referrer = r.url
			break
		}
		w -= r.weight
	}
	body, err := json.Marshal(view)
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("10.%d.%d.%d", rnd.IntN(4), rnd.IntN(256), 1+rnd.IntN(254))
	return json.Marshal(struct {
		Method string      `json:"method"`
		URL    string      `json:"url"`
		Body   string      `json:"body"`
		Header http.Header `json:"header"`
	}{Method: http.MethodPost, URL: base + "/api/views", Body: base64.StdEncoding.EncodeToString(body),
		Header: http.Header{
			"Content-Type":    {"application/json"},
			"User-Agent":      {userAgents[rnd.IntN(len(userAgents))]},
			"X-Forwarded-For": {addr},
		}})
}

// writeIngestTargets writes ingestLines targets for the server at base to file.
func writeIngestTargets(file, base string, paths int) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	rnd := rand.New(rand.NewPCG(17, 5000))
	for range ingestLines {
		line, err := ingestTarget(rnd, base, paths)
		if err != nil {
			f.Close()
			return err
		}
		w.Write(line)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ingestResult is what the ingest did while the reads of case (e) were timed.
type ingestResult struct {
	rate, paths int
	window      time.Duration // the timed rounds
	requests    int           // sent in the window
	success     float64       // share of those answered 201
	throughput  float64       // 201 answers a second, of the requests sent in the window
	p50, p99    time.Duration
	codes       map[int]int
	acked       int64 // 201 answers of the whole attack
	counted     int64 // its views in the database afterwards
	cpuVegeta   float64
	target      string  // the server it recorded to: the readers' own, or the control's sink
	cpuTarget   float64 // the sink server's CPU (the control only; the readers' own is the case's)
}

// sustained reports whether the ingest held its rate while the reads were timed.
func (r *ingestResult) sustained() bool {
	return r.requests > 0 && r.success == 1 && r.throughput >= 0.95*float64(r.rate)
}

// ingestCase is case (e) on the server of case (a): the same reads while vegeta records
// -ingest-rate views/s (open loop), then, once the ingest has stopped and its views are folded,
// the same reads again.
func (b *bench) ingestCase(ctx context.Context, s *server, db *database) (under, after *caseResult, err error) {
	if under, err = b.underIngest(ctx, s, db, s, db, "e"); err != nil {
		return nil, nil, err
	}
	cl := newClient(s.url)
	defer cl.close()
	if err := b.waitFolded(ctx, cl); err != nil {
		return nil, nil, err
	}
	if err := b.checkExact(ctx, cl, db, under); err != nil {
		return nil, nil, err
	}
	after, err = b.readCase(ctx, s, db, "e2", b.c.reads, true)
	return under, after, err
}

// sinkHistory is the views of the control's database before its ingest.
const sinkHistory = 200_000

// controlCase is (e)'s control: the reads of case (a)'s server while the same ingest goes to a
// second server on a database of its own (in the same Postgres cluster, on the same machine).
// The reads' tail stays as it is without ingest, but they share the CPUs with the same work, so
// the two together separate what the ingest's tail costs a read from what its CPU does.
func (b *bench) controlCase(ctx context.Context, s *server, db *database) (*caseResult, error) {
	sink, err := b.newDatabase(ctx, "sink")
	if err != nil {
		return nil, err
	}
	// A folded, analyzed history of its own, as the readers' database has.
	if err := b.seeded(ctx, sink, sinkHistory, b.c.paths); err != nil {
		return nil, err
	}
	ts, err := b.serve(ctx, sink, "sink", false)
	if err != nil {
		return nil, err
	}
	ctl, err := b.underIngest(ctx, s, db, ts, sink, "ec")
	b.stop(ts)
	if err != nil {
		return nil, err
	}
	cl := newClient(s.url)
	defer cl.close()
	if err := b.checkExact(ctx, cl, db, ctl); err != nil {
		return nil, err
	}
	return ctl, b.drop(ctx, sink)
}

// underIngest times the reads of s (on db) as case key while vegeta records -ingest-rate views/s
// (open loop) to target (on tdb), and counts the ingest's views in tdb once it has stopped.
func (b *bench) underIngest(ctx context.Context, s *server, db *database, target *server, tdb *database, key string) (under *caseResult, err error) {
	// The ingest's views already in tdb (case (b) reuses the database of (e)): counted before, so
	// that only this attack's are compared with its acknowledgements.
	var before int64
	if err := b.query(ctx, tdb.url, ingestViewsSQL, &before); err != nil {
		return nil, err
	}
	targets := filepath.Join(b.tmp, key+".targets")
	if err := writeIngestTargets(targets, target.url, b.c.ingestPaths); err != nil {
		return nil, err
	}
	out := filepath.Join(b.tmp, key+".bin")
	var stderr bytes.Buffer
	veg := exec.Command(b.vegeta, "attack", "-rate="+strconv.Itoa(b.c.ingestRate), "-duration=0", "-timeout=5s",
		"-format=json", "-targets="+targets, "-output="+out)
	veg.Stderr = &stderr
	veg.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	b.log.Info("ingest", "case", key, "to", target.label, "rate", b.c.ingestRate, "paths", b.c.ingestPaths, "ramp", b.c.ramp)
	if err := veg.Start(); err != nil {
		return nil, fmt.Errorf("vegeta attack: %w", err)
	}
	exited := make(chan struct{})
	go func() { veg.Wait(); close(exited) }()
	stopVegeta := func() {
		select {
		case <-exited:
			return
		default:
		}
		// vegeta stops attacking on an interrupt and writes the results it has.
		veg.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			veg.Process.Kill()
			<-exited
		}
	}
	defer stopVegeta()
	select {
	case <-time.After(b.c.ramp):
	case <-exited:
		return nil, fmt.Errorf("vegeta exited at start: %s", benchkit.LastLine(stderr.String()))
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	vpid, tpid := veg.Process.Pid, target.cmd.Process.Pid
	veg0, target0 := benchkit.Snap(vpid), benchkit.Snap(tpid)
	t0 := time.Now()
	under, err = b.readCase(ctx, s, db, key, b.c.reads, false)
	if err != nil {
		return nil, err
	}
	veg1, target1 := benchkit.Snap(vpid), benchkit.Snap(tpid)
	window := time.Since(t0)
	stopVegeta()
	res, err := benchkit.ReadResults(ctx, b.vegeta, out)
	if err != nil {
		return nil, err
	}
	ir := &ingestResult{rate: b.c.ingestRate, paths: b.c.ingestPaths, window: under.rounds.to.Sub(under.rounds.from),
		codes: map[int]int{}, acked: int64(benchkit.CountCode(res, http.StatusCreated)),
		cpuVegeta: benchkit.CPUPercent(veg0, veg1, b.hz, window), target: target.label}
	if target != s {
		ir.cpuTarget = benchkit.CPUPercent(target0, target1, b.hz, window)
	}
	in := benchkit.Between(res, under.rounds.from, under.rounds.to)
	lat := make([]time.Duration, len(in))
	ok := 0
	for i, r := range in {
		ir.codes[r.Code]++
		if r.Code == http.StatusCreated {
			ok++
		}
		lat[i] = time.Duration(r.Latency)
	}
	slices.Sort(lat)
	ir.requests = len(in)
	if len(in) > 0 {
		ir.success = float64(ok) / float64(len(in))
		ir.throughput = float64(ok) / ir.window.Seconds()
		ir.p50, ir.p99 = benchkit.Quantile(lat, 0.5), benchkit.Quantile(lat, 0.99)
	}
	under.ingest = ir
	b.log.Info("ingest done", "sent", len(res), "acked", ir.acked, "window_throughput", int(ir.throughput),
		"success", fmt.Sprintf("%.4f", ir.success), "p99_ms", ms(ir.p99))

	// The views of requests still in flight when vegeta stopped commit within PRAWN_DB_TIMEOUT;
	// then the server's fold empties the tail.
	time.Sleep(2 * time.Second)
	if err := b.query(ctx, tdb.url, ingestViewsSQL, &ir.counted); err != nil {
		return nil, err
	}
	ir.counted -= before
	return under, nil
}

// ingestViewsSQL counts the views the ingest records: its paths are new to the site, and beyond
// PRAWN_MAX_NEW_PATHS a day (1 000 by default) its views count under pageview.OtherPath, which the
// history has none of.
var ingestViewsSQL = "SELECT count(*) FROM views WHERE path LIKE '" + ingestPrefix + "%' OR path = '" + pageview.OtherPath + "'"

// waitFolded waits (at most a minute) until the server's fold has emptied the tail.
func (b *bench) waitFolded(ctx context.Context, cl *client) error {
	for range 120 {
		_, pending, code, err := cl.total(ctx)
		if err != nil {
			return err
		}
		if code == http.StatusOK && pending == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return fmt.Errorf("the server's fold did not empty the tail within a minute")
}
