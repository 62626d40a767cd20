package main

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prawnhq/prawn/scripts/internal/benchdoc"
	"github.com/prawnhq/prawn/scripts/internal/benchkit"
)

// The goals of issue 17.
const (
	// goalP99 bounds every read's p99 in cases (a) to (d).
	goalP99 = 10 * time.Millisecond
	// sameP99 is how much higher a read's p99 under ingest may be than without it and still count
	// as the same: the higher of the two p99s measured without ingest (before and after it) times
	// this, as the spread between two runs on this shared machine is of that order.
	sameP99 = 1.25
)

// cases are the report's columns: key, heading.
var caseTitles = map[string]string{
	"a": "(a) history", "b": "(b) + tail", "b2": "(b) under ingest, not folding", "c": "(c) many paths", "d": "(d) bulk load",
	"d2": "(d) after ANALYZE", "e": "(e) under ingest", "e2": "(e) after ingest",
	"ec": "(e) control: ingest to another server",
}

type pgInfo struct {
	version, fsync, syncCommit, autovacuum, sharedBuffers string
}

// drain is how long `prawn rollup` took to fold case (b)'s tail.
type drain struct {
	took   time.Duration
	output string // its last line: "folded N views in B batches in D (R views/s)"
	exact  bool   // afterwards the rollups' site total is count(*) of the views
}

// warm is how long case (b)'s server, once it answered, took until the reads that count the tail
// answered (it first folds the tail in memory), and what its log said of that fold.
type warm struct {
	took    time.Duration
	refused int      // 503s before
	ok      bool     // a read answered within the wait
	log     string   // the server's last log line of a fold in memory
	memory  []string // the server's VmHWM (peak) and VmRSS then, from /proc
}

// report is everything one run measured, and writes the generated part of the Reads section.
type report struct {
	c                     config
	started               time.Time
	took                  time.Duration
	host                  benchdoc.Host
	loadBefore, loadAfter string
	commit                string
	pg                    pgInfo
	dbDesc                string
	env                   []string // PRAWN_* of the environment that reached the servers
	vegetaVersion         string
	dbs                   []*database
	cases                 []*caseResult
	drain                 *drain
	warm                  *warm
	skipped               []string
	problemList           []string
}

func (r *report) problem(p string) { r.problemList = append(r.problemList, p) }

// problems are what makes the run invalid: counts that are not exact, views lost, statistics
// where there should be none.
func (r *report) problems() []string { return r.problemList }

func (r *report) find(key string) *caseResult {
	for _, c := range r.cases {
		if c.key == key {
			return c
		}
	}
	return nil
}

// markdown is the report as the section's generated Markdown.
func (r *report) markdown() string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	cmd := strings.TrimSpace("go run ./scripts/benchreads " + strings.Join(r.c.args, " "))
	p("%s\n\n", benchdoc.Generated(fmt.Sprintf("`make bench/reads` (`%s`)", cmd), r.started, r.took))
	if r.c.quick {
		p("**A `-quick` run: small sizes, to check that the benchmark works; it measures nothing worth keeping. Do not commit its numbers.**\n\n")
	}
	p("- Machine: %s; load average (1/5/15 min) before the run: %s, after: %s (the machine is shared: other work runs alongside)\n",
		r.host, r.loadBefore, r.loadAfter)
	p("- Database: PostgreSQL %s, fsync=%s, synchronous_commit=%s, autovacuum=%s, shared_buffers=%s; %s; one database per case's data, dropped at the end\n",
		r.pg.version, r.pg.fsync, r.pg.syncCommit, r.pg.autovacuum, r.pg.sharedBuffers, r.dbDesc)
	env := "none"
	if len(r.env) > 0 {
		env = "`" + strings.Join(r.env, " ") + "`"
	}
	p("- prawn %s: a real `prawn serve` per case, with `PRAWN_RATE_LIMIT=0` and `PRAWN_TRUSTED_PROXIES=127.0.0.1` set by the benchmark, "+
		"`PRAWN_ROLLUP_INTERVAL` unset (prawn's default: the server folds every second, and as soon as 200 views wait) except in (b), where it is `0`; "+
		"other PRAWN_* settings from the environment: %s\n", r.commit, env)
	p("- Client: one Go net/http client on one keep-alive connection, one request at a time. A round asks every read once, in the order of the tables; "+
		"each case's first round is the *first* table (a new connection, cold caches); its next rounds (%d, or fewer once they have taken %s, but at least %d: the count is in the details) "+
		"give p50 and p99, exact (nearest rank over the rounds). "+
		"A latency runs from sending the request to the last byte of the answer; an answer other than 200 counts with its latency and is named in its cell.\n",
		r.c.reads, secs(r.c.budget), minRounds)
	p("- Ranges as the page sends them at the start of each case: *30 d* hourly is the 720 whole hours ending at the next full hour; *30 d* daily and top pages "+
		"are the 30 whole days ending with today (UTC midnights, or Asia/Kolkata's for that series); *24 h* the 24 hours ending at the next full hour; "+
		"breakdowns the 30 whole UTC days ending with today. *One path* is `%s`, one of the most viewed seeded paths.\n", r.c.path)
	p("- Cases:\n")
	if r.find("a") != nil || r.find("b") != nil || r.find("e") != nil {
		p("  - (a) a history of %d views over 30 days on %d paths: `prawn seed` (in time order, with visitors, 200 referrer hosts, campaigns, browsers, systems, devices, countries); "+
			"before folding, every day of the month is opened for visitors (`%s`) so the history has them, as a live site's would; folded by `prawn rollup`; then `VACUUM ANALYZE`. "+
			"Its server folds on the default interval, so the tail holds at most the few views `GET /api/home` records.\n", r.c.history, r.c.paths, openVisitors)
	}
	if r.find("b") != nil {
		p("  - (b) the database of (a)%s, plus %d views seeded into the last hour by the same INSERT … SELECT and not folded: its server runs with `PRAWN_ROLLUP_INTERVAL=0`, "+
			"and nothing else folds until its reads are done; then the same reads while vegeta records %d views/s to that server as in (e) (*under ingest, not folding*: folding has stopped and views keep coming); "+
			"then `prawn rollup` drains the tail.\n", map[bool]string{true: " (with the views (e) recorded, folded)", false: ""}[r.find("e") != nil], r.c.tail, r.c.ingestRate)
	}
	if r.find("c") != nil {
		p("  - (c) a separate database of %d views over 30 days on %d distinct paths, made as (a).\n", r.c.floodViews, r.c.floodPaths)
	}
	if r.find("d") != nil {
		p("  - (d) a separate database of %d views over 30 days loaded by a plain INSERT … SELECT (the query `prawn seed` runs, without its ANALYZE), days opened as in (a), folded by `prawn rollup`, "+
			"and read at once (autovacuum is off on its tables, so only prawn can have analyzed them: every rollup run analyzes tables whose statistics are missing or stale); then a manual `ANALYZE` and the same reads again on the same server.\n", r.c.bulk)
	}
	if r.find("e") != nil {
		p("  - (e) the reads of (a), on the same server and database, while vegeta %s records %d views/s (open loop, `vegeta attack -rate=%d -timeout=5s`): `POST /api/views` of %d distinct paths `%sN` "+
			"(a few get most views), half of them with a referrer (search engines, news sites, social media, a newsletter), six browsers and systems, and client addresses from 10.0.0.0/14 in `X-Forwarded-For`, "+
			"so they have many visitors. The ingest runs %s before the reads are timed; then it stops, the server folds its views, and the reads run once more (*after ingest*). "+
			"The reads without ingest are (a), right before it, and *after ingest*.\n",
			r.vegetaVersion, r.c.ingestRate, r.c.ingestRate, r.c.ingestPaths, ingestPrefix, secs(r.c.ramp))
	}
	if r.find("ec") != nil {
		p("  - (e)'s control (*ingest elsewhere*), right after *after ingest*: the same reads of the same server while the same ingest records to a second `prawn serve` on a fresh database " +
			"of its own in the same Postgres cluster. The readers' tail stays as short as without ingest, but the machine does the same work beside them: " +
			"a read slowed as much here as under ingest is slowed by the machine's CPUs, not by counting the ingest's tail.\n")
	}

	cols := r.present("a", "b", "b2", "c", "d", "d2")
	if len(cols) > 0 {
		p("\np50 / p99 of each read, ms:\n\n")
		r.table(&b, cols, func(s Summary, _ ReadResult) string {
			return ms(s.P99) + failed(s.Failed)
		}, func(s Summary, _ ReadResult) string { return ms(s.P50) })
		p("\nThe first request of each read in a case (cold), ms:\n\n")
		r.table(&b, cols, func(_ Summary, rr ReadResult) string {
			cell := ms(rr.First.Latency)
			if rr.First.Code != http.StatusOK {
				cell += fmt.Sprintf(" (%d)", rr.First.Code)
			}
			return cell
		}, nil)
	}
	if r.find("e") != nil {
		r.ingestTable(&b)
	}

	p("\n| goal | result | met |\n|---|---|---|\n")
	for _, key := range []string{"a", "b", "c", "d"} {
		cr := r.find(key)
		if cr == nil {
			continue
		}
		worst, label, fails := worstP99(cr)
		met := worst <= goalP99 && fails == 0
		goal := map[string]string{
			"a": fmt.Sprintf("(a) every read p99 ≤ %s at %d views of history", msText(goalP99), r.c.history),
			"b": fmt.Sprintf("(b) every read p99 ≤ %s with %d views not yet folded", msText(goalP99), r.c.tail),
			"c": fmt.Sprintf("(c) every read p99 ≤ %s with %d distinct paths", msText(goalP99), r.c.floodPaths),
			"d": fmt.Sprintf("(d) reads fast at once after a bulk load: every read p99 ≤ %s before any manual ANALYZE", msText(goalP99)),
		}[key]
		res := fmt.Sprintf("slowest p99 %s ms (%s)", ms(worst), label)
		if fails == 1 {
			res += "; 1 answer was not 200"
		} else if fails > 1 {
			res += fmt.Sprintf("; %d answers were not 200", fails)
		}
		p("| %s | %s | %s |\n", goal, res, yesNo(met))
		if b2 := r.find("b2"); key == "b" && b2 != nil {
			worst, label, fails := worstP99(b2)
			res := fmt.Sprintf("slowest p99 %s ms (%s)", ms(worst), label)
			if fails > 0 {
				res += fmt.Sprintf("; %d answers were not 200", fails)
			}
			if !b2.ingest.sustained() {
				res += "; the ingest did not hold its rate"
			}
			p("| (b) the same reads while %d views/s are recorded and nothing folds | %s | – |\n", r.c.ingestRate, res)
		}
		if key == "b" && r.warm != nil {
			res := fmt.Sprintf("%s after the server answered (%d refusals of `GET /api/hosts` before)", secs(r.warm.took.Round(100*time.Millisecond)), r.warm.refused)
			if !r.warm.ok {
				res = fmt.Sprintf("not within %s (%d refusals of `GET /api/hosts`)", secs(r.warm.took.Round(time.Second)), r.warm.refused)
			}
			p("| (b) the reads that count the tail answer (the server first folds it in memory; the reads are timed from then on) | %s | – |\n", res)
		}
		if key == "b" && r.drain != nil {
			p("| (b) `prawn rollup` drains the tail | %s (%s) | – |\n", secs(r.drain.took.Round(100*time.Millisecond)), r.drain.output)
		}
	}
	if e := r.find("e"); e != nil {
		worst, label, met := r.ingestVerdict()
		res := fmt.Sprintf("largest ratio %.2f (%s)", worst, label)
		if !e.ingest.sustained() {
			res += "; **the ingest did not hold its rate, so this is not a measurement of the goal**"
			met = false
		}
		p("| (e) every read's p99 under %d views/s of ingest ≤ %.2f × its p99 without (the higher of before and after) | %s | %s |\n",
			r.c.ingestRate, sameP99, res, yesNo(met))
		if ec := r.find("ec"); ec != nil {
			worst, label := r.controlVerdict()
			res := fmt.Sprintf("largest ratio %.2f (%s)", worst, label)
			if !ec.ingest.sustained() {
				res += "; **the ingest did not hold its rate**"
			}
			p("| (e) control: the same ratio while the ingest goes to another server and database | %s | – |\n", res)
		}
	}

	p("\nDetails:\n\n")
	for _, db := range r.dbs {
		p("- Database %q: %d views, %d distinct paths, %s when its reads began. Made by:", db.label, db.views, db.paths, size(db.size))
		for i, s := range db.setup {
			sep := ";"
			if i == 0 {
				sep = ""
			}
			p("%s %s %s", sep, s.what, secs(s.took.Round(100*time.Millisecond)))
		}
		p(".\n")
	}
	for _, cr := range r.cases {
		p("- %s: %d timed rounds; tail (`pending`) seen by the reads: %s; CPU over the rounds: server %s %%, postgres %s %%; exact: %s.",
			caseTitles[cr.key], len(cr.rounds.results[0].Samples), pendingText(cr.rounds.pending), pct(cr.cpuServer), pct(cr.cpuPG), exactText(cr))
		if cr.stats != "" {
			p(" %s.", cr.stats)
		}
		p("\n")
	}
	for _, key := range []string{"e", "ec", "b2"} {
		e := r.find(key)
		if e == nil {
			continue
		}
		ir := e.ingest
		whose, sink := "(e)'s", ""
		if key == "b2" {
			whose = "(b) under ingest's"
		}
		if key == "ec" {
			whose, sink = "the control's", fmt.Sprintf("; the sink server's CPU %s %%", pct(ir.cpuTarget))
		}
		p("- Ingest while %s reads were timed (%s): %d requests sent, %.0f views/s acknowledged (201), success %.4f, p50 %s ms, p99 %s ms, answers %s; "+
			"vegeta's CPU %s %%%s; views acknowledged over the whole attack / counted in the database afterwards: %d / %d "+
			"(counted above acknowledged: requests that timed out at the client while their view committed; below would be a lost view, and fails the run).\n",
			whose, secs(ir.window.Round(100*time.Millisecond)), ir.requests, ir.throughput, ir.success, ms(ir.p50), ms(ir.p99), codes(ir.codes), pct(ir.cpuVegeta), sink, ir.acked, ir.counted)
	}
	if r.warm != nil && r.warm.log != "" {
		p("- (b)'s server logged: `%s`; its memory then (/proc): %s.\n", r.warm.log, strings.Join(r.warm.memory, ", "))
	}
	if r.drain != nil {
		p("- (b)'s drain: the rollups' site total equals count(*) of the views afterwards: %s.\n", yesNo(r.drain.exact))
	}
	for _, s := range r.skipped {
		p("- %s.\n", s)
	}
	if len(r.problemList) > 0 {
		p("\n**The run is not valid:** %s.\n", strings.Join(r.problemList, "; "))
	}
	p("\nCommands: `make bench/reads` (= `go run ./scripts/benchreads`; sizes: `make bench/reads BENCH_FLAGS='-history 100000000'`, `go run ./scripts/benchreads -help`); " +
		"`make bench/reads BENCH_FLAGS=-quick` checks it with small sizes.\n")
	return b.String()
}

// present are the keys of the cases the run has, in order.
func (r *report) present(keys ...string) []string {
	var out []string
	for _, k := range keys {
		if r.find(k) != nil {
			out = append(out, k)
		}
	}
	return out
}

// table writes one row per read and one column per case; a cell is first(...) or, with second,
// "second / first".
func (r *report) table(b *strings.Builder, keys []string, first, second func(Summary, ReadResult) string) {
	b.WriteString("| read |")
	for _, k := range keys {
		b.WriteString(" " + caseTitles[k] + " |")
	}
	b.WriteString("\n|---|")
	for range keys {
		b.WriteString("---:|")
	}
	b.WriteString("\n")
	for i, rd := range r.cases[0].rounds.results {
		b.WriteString("| " + rd.Read.Label + " |")
		for _, k := range keys {
			rr := r.find(k).rounds.results[i]
			s := rr.Summarize()
			cell := first(s, rr)
			if second != nil {
				cell = second(s, rr) + " / " + cell
			}
			b.WriteString(" " + cell + " |")
		}
		b.WriteString("\n")
	}
}

// ingestTable compares each read's p99 under ingest (and, with the control, under ingest to
// another server) with its p99 without.
func (r *report) ingestTable(b *strings.Builder) {
	a, e, e2, ec := r.find("a"), r.find("e"), r.find("e2"), r.find("ec")
	fmt.Fprintf(b, "\n(e) p50 / p99 of each read without and under %d views/s of ingest, ms, and the ratio of its p99 under ingest to the higher p99 without:\n\n", r.c.ingestRate)
	if ec != nil {
		b.WriteString("| read | (a) before ingest | under ingest | after ingest | ratio | ingest elsewhere | ratio elsewhere |\n|---|---:|---:|---:|---:|---:|---:|\n")
	} else {
		b.WriteString("| read | (a) before ingest | under ingest | after ingest | ratio |\n|---|---:|---:|---:|---:|\n")
	}
	cell := func(s Summary) string { return ms(s.P50) + " / " + ms(s.P99) + failed(s.Failed) }
	for i, rd := range e.rounds.results {
		before, under, after := a.rounds.results[i].Summarize(), rd.Summarize(), e2.rounds.results[i].Summarize()
		fmt.Fprintf(b, "| %s | %s | %s | %s | %.2f |", rd.Read.Label, cell(before), cell(under), cell(after),
			ratio(under.P99, max(before.P99, after.P99)))
		if ec != nil {
			ctl := ec.rounds.results[i].Summarize()
			fmt.Fprintf(b, " %s | %.2f |", cell(ctl), ratio(ctl.P99, max(before.P99, after.P99)))
		}
		b.WriteString("\n")
	}
}

// controlVerdict is the largest ratio of a read's p99 under the control's ingest (to another
// server) to its p99 without, and which read.
func (r *report) controlVerdict() (float64, string) {
	a, ec, e2 := r.find("a"), r.find("ec"), r.find("e2")
	worst, label := 0.0, ""
	for i, rd := range ec.rounds.results {
		before, ctl, after := a.rounds.results[i].Summarize(), rd.Summarize(), e2.rounds.results[i].Summarize()
		if q := ratio(ctl.P99, max(before.P99, after.P99)); q > worst || label == "" {
			worst, label = q, rd.Read.Label
		}
	}
	return worst, label
}

// ingestVerdict is the largest ratio of a read's p99 under ingest to its p99 without, which
// read, and whether every read met sameP99 with only 200 answers.
func (r *report) ingestVerdict() (float64, string, bool) {
	a, e, e2 := r.find("a"), r.find("e"), r.find("e2")
	worst, label, met := 0.0, "", true
	for i, rd := range e.rounds.results {
		before, under, after := a.rounds.results[i].Summarize(), rd.Summarize(), e2.rounds.results[i].Summarize()
		q := ratio(under.P99, max(before.P99, after.P99))
		if q > worst || label == "" {
			worst, label = q, rd.Read.Label
		}
		if q > sameP99 || len(under.Failed) > 0 {
			met = false
		}
	}
	return worst, label, met
}

// worstP99 is a case's slowest p99, its read, and how many answers were not 200.
func worstP99(cr *caseResult) (time.Duration, string, int) {
	var worst time.Duration
	label, fails := "", 0
	for _, rr := range cr.rounds.results {
		s := rr.Summarize()
		if s.P99 > worst || label == "" {
			worst, label = s.P99, rr.Read.Label
		}
		for _, n := range s.Failed {
			fails += n
		}
	}
	return worst, label, fails
}

func ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return math.Inf(1)
	}
	return float64(a) / float64(b)
}

// failed names a cell's answers that were not 200: " (503×3)".
func failed(m map[int]int) string {
	if len(m) == 0 {
		return ""
	}
	var s []string
	for _, code := range sortedCodes(m) {
		s = append(s, fmt.Sprintf("%d×%d", code, m[code]))
	}
	return " (" + strings.Join(s, " ") + ")"
}

func sortedCodes(m map[int]int) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// codes is answers by status: "201:9999 503:1".
func codes(m map[int]int) string {
	var s []string
	for _, code := range sortedCodes(m) {
		s = append(s, fmt.Sprintf("%d:%d", code, m[code]))
	}
	return strings.Join(s, " ")
}

// pendingText sums up the tail the stats reads reported: "0–1 (median 0)".
func pendingText(p []int64) string {
	if len(p) == 0 {
		return "–"
	}
	s := slices.Clone(p)
	slices.Sort(s)
	return fmt.Sprintf("%d–%d views (median %d)", s[0], s[len(s)-1], benchkit.Quantile(s, 0.5))
}

func exactText(cr *caseResult) string {
	switch {
	case cr.exact == "":
		return "not checked"
	case !cr.checked:
		return "not checked (" + cr.exact + ")"
	case cr.exactOK:
		return "yes (" + cr.exact + ")"
	}
	return "**no** (" + cr.exact + ")"
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

// ms is a latency in milliseconds with two decimals.
func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

func msText(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', -1, 64) + " ms"
}

// secs is a duration as the report's prose writes it: "2 s", "0.5 s", "1234.5 s".
func secs(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + " s" }

// pct is a CPU percentage, "–" where unknown.
func pct(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	return fmt.Sprintf("%.0f", v)
}

// size is a byte count in MiB or GiB.
func size(n int64) string {
	if n >= 10<<30 {
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	}
	return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
}
