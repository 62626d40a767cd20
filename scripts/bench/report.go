package main

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prawnhq/prawn/scripts/internal/benchdoc"
)

// report is everything one run measured, and writes the generated part of the Ingest section.
type report struct {
	c                            config
	started                      time.Time
	took                         time.Duration
	quick                        bool
	host                         benchdoc.Host
	loadBefore, loadAfter        string
	commit                       string
	pgVersion, fsync, syncCommit string
	dbDesc                       string
	ingestEnv                    []string
	ladders                      []Ladder
	steps                        []*Step
	insts                        []*instance
	pgbench                      []pgbenchRun
	timeWait                     time.Duration // spent waiting for TIME_WAIT to clear
	vegetaVersion                string
}

// markdown is the report as the section's generated Markdown.
func (r *report) markdown() string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("%s", benchdoc.Generated("`make bench` (`go run ./scripts/bench`)", r.started, r.took))
	if w := r.timeWait.Round(time.Second); w > 0 {
		p(" %d s of it went to waiting for closed connections to a target (TIME_WAIT) to clear before its next step.", int(w.Seconds()))
	}
	p("\n\n")
	if r.quick {
		p("**A `-quick` run (`make bench/quick`): it checks that the benchmark works and is too short to measure anything. Do not commit its numbers.**\n\n")
	}
	p("- Machine: %s, load average (1/5/15 min) before the run: %s, after: %s (the machine is shared: other work runs alongside)\n",
		r.host, r.loadBefore, r.loadAfter)
	p("- Database: PostgreSQL %s, fsync=%s, synchronous_commit=%s; %s\n", r.pgVersion, r.fsync, r.syncCommit, r.dbDesc)
	env := "none"
	if len(r.ingestEnv) > 0 {
		env = "`" + strings.Join(r.ingestEnv, " ") + "`"
	}
	p("- prawn %s; PRAWN_INGEST_* settings from the environment: %s (unset ones are the defaults)\n", r.commit, env)
	p("- Targets:\n")
	for _, t := range r.targets() {
		p("  - `%s`, %s: %s; `%s`, acknowledged by %d", t.Name, t.About, serverDesc(t), t.Request, t.Ack)
		if t.Records {
			p(", which records one view")
		}
		p("\n")
	}
	p("  - Every `prawn serve` has a fresh database of its own, PRAWN_RATE_LIMIT=0 and PRAWN_ROLLUP_INTERVAL=0 unless its settings say otherwise.\n")
	p("- Load: vegeta %s on the same machine, open loop (constant rate, no coordinated omission), `vegeta attack -rate=R -duration=%s -timeout=%s`, after a %s warm-up at %d/s. "+
		"Every step reports its last %s only: the first %s of each attack (the jump from the previous rate: new connections, goroutines, a cold heap) are left out of the latencies, "+
		"the CPU columns and views per transaction, but not out of the views acknowledged. Latency percentiles are exact (nearest rank over the step's requests).\n",
		r.vegetaVersion, r.c.ramp+r.c.duration, r.c.timeout, secs(r.c.warmDuration), r.c.warmRate, secs(r.c.duration), secs(r.c.ramp))
	p("- Held = 100 %% success, p99 ≤ %s and a throughput of at least 95 %% of the rate (so a load generator that falls behind cannot pass a step). "+
		"The targets of a ladder take turns at each rate (all at the first rate, then all at the second, ...), so each meets the machine in about the same state at a given rate. "+
		"%s "+
		"A target leaves the ladder after two rates in a row that it did not hold. CPU columns: %% of one core over the step (server process, all Postgres processes, vegeta).\n",
		msText(MaxP99), retryText(r.c.tries))
	for _, l := range r.ladders {
		if len(l.DB) > 0 {
			p("- %s: %s, on databases with %s.\n", upperFirst(l.Name), strings.Join(l.Targets, " and "), settingsText(l.DB))
			if _, ok := l.DB["commit_delay"]; ok {
				p("  Every commit's WAL flush waits `commit_delay` µs first (`commit_siblings=0` makes it unconditional), as on a networked disk.\n")
			}
		}
	}
	p("\n| target | rate/s | throughput/s | success | p50 ms | p99 ms | p99.9 ms | views per transaction | CPU server %% | CPU postgres %% | CPU vegeta %% | status codes |\n")
	p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, s := range r.steps {
		label := s.Label
		if s.Try > 1 {
			label += " (try " + strconv.Itoa(s.Try) + ")"
		}
		p("| %s | %d | %d | %.4f | %s | %s | %s | %s | %s | %s | %s | %s |\n", label, s.Rate, int(s.M.Throughput), s.M.Success,
			ms(s.M.P50), ms(s.M.P99), ms(s.M.P999), perTxn(s.PerTxn), pct(s.CPUServer), pct(s.CPUPostgres), pct(s.CPUVegeta), codes(s.M.Codes))
	}
	p("\n| summary | value |\n|---|---:|\n")
	for _, in := range r.insts {
		p("| %s%s: highest rate held | %d/s |\n", r.ladderPrefix(in.label), in.t.About, r.best(in.label))
	}
	for _, g := range r.pgbench {
		prefix := ""
		if g.Ladder != "" {
			prefix = g.Ladder + ": "
		}
		if g.Clients == 1 {
			p("| %spgbench single-row INSERT, 1 client (per-commit cost) | %.0f tps (mean %s ms, p99 %s ms per commit) |\n", prefix, g.TPS, ms3(g.Mean), ms(g.P99))
		} else {
			p("| %spgbench single-row INSERT, %d clients | %.0f tps (mean %s ms, p99 %s ms) |\n", prefix, g.Clients, g.TPS, ms3(g.Mean), ms(g.P99))
		}
	}
	for _, q := range Ratios {
		of, okOf := r.rate(q.Of)
		over, okOver := r.rate(q.Over)
		if !okOf || !okOver {
			continue
		}
		label := q.Label
		if q.Over == "pgbench" {
			label += fmt.Sprintf(" (%d clients)", r.c.pgbenchClients)
		}
		v := "n/a"
		if over > 0 {
			v = fmt.Sprintf("%.2f", of/over)
		}
		if q.Important {
			label, v = "**"+label+"**", "**"+v+"**"
		}
		if q.Goal != "" {
			v += " (" + q.Goal + ")"
		}
		p("| %s | %s |\n", label, v)
	}
	for _, in := range r.insts {
		if in.t.Server == Prawn {
			p("| %s: peak RSS (VmHWM) | %d MiB |\n", in.label, in.rss/1024)
		}
	}
	for _, in := range r.insts {
		if in.t.Records {
			p("| %s: views acknowledged (%d) / counted in the database | %d / %d |\n", in.label, in.t.Ack, in.acked, in.counted)
		}
	}
	if lost := r.lost(); lost != "" {
		p("| **views lost (acknowledged, not in the database)** | **%s** |\n", lost)
	} else {
		p("| views lost (acknowledged, not in the database) | none |\n")
	}
	p("\nCPU per request at the highest rate held (from the CPU columns; %d cores = %s µs of CPU a second for everything on the machine):\n",
		r.host.CPUs, thousands(r.host.CPUs*1_000_000))
	for _, in := range r.insts {
		best := r.best(in.label)
		if best == 0 {
			continue
		}
		for _, s := range r.steps {
			if s.Label == in.label && s.Rate == best && s.M.Held(s.Rate) {
				p("- %s: server %s, postgres %s, vegeta %s per request at %d/s\n", in.label,
					perRequest(s.CPUServer, best), perRequest(s.CPUPostgres, best), perRequest(s.CPUVegeta, best), best)
				break
			}
		}
	}
	p("\nAcknowledged / counted include the warm-up. Counted above acknowledged means views that were committed although their answer was an error or never arrived " +
		"(a request timed out while its INSERT committed); counted below acknowledged is a lost view, and fails the run.\n")
	p("\nCommands: `make bench` (= `go run ./scripts/bench`; `make bench/quick` checks it in about 1.5 minutes); baselines: `PRAWN_INGEST_MODE=direct prawn serve`, "+
		"`go run ./scripts/bench/hello`, `pgbench -n -c %d -j %d -T %d -f insert.sql` with `%s`.\n",
		r.c.pgbenchClients, min(runtime.NumCPU(), r.c.pgbenchClients), int(r.c.pgbenchDuration.Round(time.Second).Seconds()), pgbenchSQL)
	return b.String()
}

// targets are the distinct targets of the run, in order.
func (r *report) targets() []Target {
	var out []Target
	for _, in := range r.insts {
		if !slices.ContainsFunc(out, func(t Target) bool { return t.Name == in.t.Name }) {
			out = append(out, in.t)
		}
	}
	return out
}

// ladderPrefix is "slow fsync: " for a row of the slow-fsync ladder, "" for the main one.
func (r *report) ladderPrefix(label string) string {
	for _, l := range r.ladders {
		if l.Suffix != "" && strings.HasSuffix(label, l.Suffix) && l.Name != "" {
			return l.Name + ": "
		}
	}
	return ""
}

// best is the highest rate a row held (0 for none).
func (r *report) best(label string) int {
	best := 0
	for _, s := range r.steps {
		if s.Label == label && s.M.Held(s.Rate) && s.Rate > best {
			best = s.Rate
		}
	}
	return best
}

// rate is a row's highest rate held, or for "pgbench" the tps of the main ladder's pgbench at
// -pgbench-clients; false when the run has no such row.
func (r *report) rate(label string) (float64, bool) {
	if label == "pgbench" {
		for _, g := range r.pgbench {
			if g.Ladder == "" && g.Clients == r.c.pgbenchClients {
				return g.TPS, true
			}
		}
		return 0, false
	}
	for _, in := range r.insts {
		if in.label == label {
			return float64(r.best(label)), true
		}
	}
	return 0, false
}

// lost lists the rows with fewer views in the database than requests acknowledged ("" for none).
func (r *report) lost() string {
	var out []string
	for _, in := range r.insts {
		if in.t.Records && in.counted < in.acked {
			out = append(out, fmt.Sprintf("%s: %d", in.label, in.acked-in.counted))
		}
	}
	return strings.Join(out, ", ")
}

func serverDesc(t Target) string {
	switch t.Server {
	case Prawn:
		if len(t.Env) == 0 {
			return "`prawn serve`"
		}
		return "`prawn serve` with " + envSummary(t)
	case Hello:
		return "`scripts/bench/hello` (net/http, no database)"
	}
	return string(t.Server)
}

func settingsText(m map[string]string) string {
	var s []string
	for _, k := range sortedKeys(m) {
		s = append(s, "`"+k+"="+m[k]+"`")
	}
	return strings.Join(s, " and ")
}

func retryText(tries int) string {
	switch tries {
	case 1:
		return "A step is run once."
	case 2:
		return "A step that is not held is run once more (the machine is shared; a stall of the host fails a step of any target) and the rate counts as held if either try is; every try is listed."
	}
	return fmt.Sprintf("A step that is not held is run again, up to %d tries in all (the machine is shared; a stall of the host fails a step of any target), and the rate counts as held if any try is; every try is listed.", tries)
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// secs is a duration as the report's prose writes it: "2 s", "0.5 s".
func secs(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + " s" }

// ms is a latency in milliseconds with two decimals.
func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

func ms3(d time.Duration) string { return fmt.Sprintf("%.3f", float64(d)/float64(time.Millisecond)) }

func msText(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', -1, 64) + " ms"
}

// pct is a CPU percentage, "–" where unknown.
func pct(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%.0f", v)
}

func perTxn(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%.1f", v)
}

// perRequest is the CPU a request cost, from a step's CPU % (of one core) at rate.
func perRequest(cpu float64, rate int) string {
	if math.IsNaN(cpu) || rate <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f µs", cpu*10_000/float64(rate))
}

// codes is a step's answers by status: "201:9999 503:1".
func codes(m map[int]int) string {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	s := make([]string, len(keys))
	for i, k := range keys {
		s[i] = fmt.Sprintf("%d:%d", k, m[k])
	}
	return strings.Join(s, " ")
}

// thousands writes n with commas between groups of three digits: 2,000,000.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
