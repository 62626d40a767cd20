package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prawnhq/prawn/scripts/internal/benchkit"
)

// pgbenchSQL is the baseline's transaction: one view, as the naive path writes it.
const pgbenchSQL = "INSERT INTO views (path, referrer) VALUES ('/bench/pgbench', 'https://example.com/');"

// pgbenchRun is one pgbench measurement.
type pgbenchRun struct {
	Ladder  string // the ladder's name ("" or "slow fsync")
	Clients int
	Threads int
	TPS     float64
	Mean    time.Duration // latency average pgbench reports
	P99     time.Duration // of single transactions, from pgbench's per-transaction log
}

// findPgbench is pgbench from PATH, else the newest /usr/lib/postgresql/N/bin/pgbench.
func findPgbench() (string, error) {
	if p, err := exec.LookPath("pgbench"); err == nil {
		return p, nil
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pgbench")
	sort.Slice(found, func(i, j int) bool { return pgMajor(found[i]) > pgMajor(found[j]) })
	if len(found) > 0 {
		return found[0], nil
	}
	return "", errors.New("pgbench is needed (Debian: postgresql-15 or postgresql-contrib; macOS: brew install postgresql)")
}

func pgMajor(bin string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(bin))))
	return n
}

// runPgbench runs pgbench's single-row INSERT on the database at url for d with clients clients,
// keeping its files in dir.
func runPgbench(ctx context.Context, bin, url, dir string, clients, threads int, d time.Duration) (pgbenchRun, error) {
	run := pgbenchRun{Clients: clients, Threads: min(threads, clients)}
	script := filepath.Join(dir, "insert.sql")
	if err := os.WriteFile(script, []byte(pgbenchSQL+"\n"), 0o644); err != nil {
		return run, err
	}
	prefix := filepath.Join(dir, "pgbench-log")
	old, _ := filepath.Glob(prefix + ".*")
	for _, f := range old {
		os.Remove(f)
	}
	cmd := exec.CommandContext(ctx, bin, "-n", "-c", strconv.Itoa(clients), "-j", strconv.Itoa(run.Threads),
		"-T", strconv.Itoa(int(d.Round(time.Second).Seconds())), "-l", "--log-prefix="+prefix, "-f", script, url)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return run, fmt.Errorf("pgbench -c %d: %w: %s", clients, err, benchkit.LastLine(stderr.String()))
	}
	if run.TPS, run.Mean, err = parsePgbenchSummary(string(out)); err != nil {
		return run, err
	}
	logs, _ := filepath.Glob(prefix + ".*")
	var lat []time.Duration
	for _, f := range logs {
		b, err := os.ReadFile(f)
		if err != nil {
			return run, err
		}
		l, err := parsePgbenchLog(b)
		if err != nil {
			return run, fmt.Errorf("%s: %w", f, err)
		}
		lat = append(lat, l...)
	}
	if len(lat) == 0 {
		return run, errors.New("pgbench wrote no transaction log")
	}
	slices.Sort(lat)
	run.P99 = benchkit.Quantile(lat, 0.99)
	return run, nil
}

var (
	tpsLine     = regexp.MustCompile(`(?m)^tps = ([0-9.]+)`)
	latencyLine = regexp.MustCompile(`(?m)^latency average = ([0-9.]+) ms`)
)

// parsePgbenchSummary reads the tps and the average latency from pgbench's report.
func parsePgbenchSummary(out string) (tps float64, mean time.Duration, err error) {
	t, l := tpsLine.FindStringSubmatch(out), latencyLine.FindStringSubmatch(out)
	if t == nil || l == nil {
		return 0, 0, fmt.Errorf("pgbench's report has no tps or latency average: %q", benchkit.LastLine(out))
	}
	tps, _ = strconv.ParseFloat(t[1], 64)
	ms, _ := strconv.ParseFloat(l[1], 64)
	return tps, time.Duration(ms * float64(time.Millisecond)), nil
}

// parsePgbenchLog reads the latencies of pgbench's per-transaction log: each line is
// "client_id transaction_no time script_no time_epoch time_us", time in µs.
func parsePgbenchLog(b []byte) ([]time.Duration, error) {
	var out []time.Duration
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 {
			continue
		}
		us, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("pgbench log line %q: %w", sc.Text(), err)
		}
		out = append(out, time.Duration(us)*time.Microsecond)
	}
	return out, sc.Err()
}
