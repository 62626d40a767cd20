package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/prawnhq/prawn/internal/pgembed"
	"github.com/prawnhq/prawn/scripts/internal/benchdoc"
	"github.com/prawnhq/prawn/scripts/internal/benchkit"
)

// bench is one run: its tools, its database server, the servers it started and what it measured.
type bench struct {
	c   config
	log *slog.Logger
	tmp string
	hz  int64

	prawn, hello, vegeta, pgbench string // binaries
	vegetaVersion                 string // the module version vegeta was built from

	cluster *pgembed.Cluster // the private cluster, when there is no -server-url
	admin   string           // URL of the server's "postgres" database
	dbDesc  string           // where the databases are, for the report
	master  int              // the server's postmaster, 0 when it cannot be seen in /proc

	dbs   []string    // databases created, dropped at the end
	insts []*instance // every target started, in order
	steps []*Step
	pgb   []pgbenchRun

	started    time.Time
	loadBefore string
	timeWait   time.Duration // spent in waitTimeWait
}

// instance is a target started for a ladder.
type instance struct {
	label   string // row label: the target's name and the ladder's suffix
	t       Target
	cmd     *exec.Cmd
	done    chan struct{} // closed when the server exits
	url     string        // base URL
	port    int           // the port it listens on
	db      string        // database URL; "" for none
	targets string        // vegeta's target file

	warmAcked int
	rss       int64 // peak RSS, KiB (prawn only)
	acked     int64 // requests answered with t.Ack: warm-up, ramps and windows
	counted   int64 // views in its database at the end
	stopped   bool
}

// Step is one attack at one rate on one target.
type Step struct {
	Label   string
	Records bool // the target records views (views per transaction apply)
	UsesDB  bool // the target's server uses the database (postgres CPU applies)
	Rate    int
	Try     int
	M       Metrics // the window: requests sent after the ramp
	Acked   int     // requests answered with the target's Ack over the whole attack
	// CPU: % of one core over the window; NaN where unknown or not applicable.
	CPUServer, CPUPostgres, CPUVegeta float64
	From, To                          time.Time // the window, by the clock
	PerTxn                            float64   // mean views per transaction in the window; NaN if none
}

func newBench(ctx context.Context, c config, log *slog.Logger) (_ *bench, err error) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		return nil, fmt.Errorf("the benchmark reads CPU times from Linux's /proc: %w", err)
	}
	b := &bench{c: c, log: log, hz: benchkit.ClockTicks(), started: time.Now(), loadBefore: benchdoc.LoadAvg()}
	defer func() {
		if err != nil {
			b.close()
		}
	}()
	if b.tmp, err = os.MkdirTemp("", "prawn-bench-"); err != nil {
		return nil, err
	}
	// A private cluster runs as an unprivileged user when this runs as root: it must reach its folder.
	if err := os.Chmod(b.tmp, 0o755); err != nil {
		return nil, err
	}
	if b.pgbench, err = findPgbench(); err != nil {
		return nil, err
	}
	if b.vegeta, err = benchkit.FindVegeta(ctx, b.c.vegeta, b.log); err != nil {
		return nil, err
	}
	b.vegetaVersion = benchkit.BuildVersion(b.vegeta)
	log.Info("building prawn and the hello-world server")
	b.prawn, b.hello = filepath.Join(b.tmp, "prawn"), filepath.Join(b.tmp, "hello")
	for bin, pkg := range map[string]string{b.prawn: "./cmd/prawn", b.hello: "./scripts/bench/hello"} {
		if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build %s: %w: %s", pkg, err, out)
		}
	}
	if err := b.openServer(ctx); err != nil {
		return nil, err
	}
	return b, nil
}

// openServer starts the private cluster or checks -server-url, and finds the postmaster.
func (b *bench) openServer(ctx context.Context) error {
	if b.c.serverURL != "" {
		u, err := benchkit.WithDatabase(b.c.serverURL, "postgres")
		if err != nil {
			return fmt.Errorf("-server-url: %w", err)
		}
		b.admin = u
		b.dbDesc = "fresh databases on the server of -server-url (BENCH_SERVER_URL)"
	} else {
		c, err := pgembed.Open(ctx, filepath.Join(b.tmp, "data"), b.log)
		if err != nil {
			return fmt.Errorf("private cluster: %w", err)
		}
		b.cluster = c
		b.admin = c.DatabaseURL("postgres")
		b.dbDesc = "fresh databases on a private cluster (internal/pgembed) in a temp folder"
	}
	var backend int
	if err := b.query(ctx, b.admin, "SELECT pg_backend_pid()", &backend); err != nil {
		return err
	}
	b.master = benchkit.Postmaster(backend)
	switch {
	case b.master == 0:
		b.dbDesc += "; its processes are not visible here, so there is no Postgres CPU"
	case b.c.serverURL != "":
		b.dbDesc += "; CPU postgres is every process of that server, other clients' work included"
	}
	return nil
}

// query runs one statement on the database at url and scans its single row into dst.
func (b *bench) query(ctx context.Context, url, sql string, dst ...any) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	if len(dst) == 0 {
		_, err = conn.Exec(ctx, sql)
	} else {
		err = conn.QueryRow(ctx, sql).Scan(dst...)
	}
	if err != nil {
		if len(sql) > 40 {
			sql = sql[:40] + "…"
		}
		return fmt.Errorf("%s: %w", sql, err)
	}
	return nil
}

// newDatabase creates and migrates a fresh database with settings; it returns its URL.
func (b *bench) newDatabase(ctx context.Context, label string, settings map[string]string) (string, error) {
	name := "prawn_bench_" + strings.NewReplacer("-", "_", ".", "_").Replace(label) + "_" + strconv.Itoa(os.Getpid())
	if err := b.query(ctx, b.admin, "CREATE DATABASE "+name); err != nil {
		return "", err
	}
	b.dbs = append(b.dbs, name)
	for _, k := range sortedKeys(settings) {
		value := "'" + strings.ReplaceAll(settings[k], "'", "''") + "'"
		if err := b.query(ctx, b.admin, fmt.Sprintf("ALTER DATABASE %s SET %s = %s", name, pgx.Identifier{k}.Sanitize(), value)); err != nil {
			return "", err
		}
	}
	u, err := benchkit.WithDatabase(b.admin, name)
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, b.prawn, "migrate")
	cmd.Env = append(benchkit.Without(os.Environ(), "DATABASE_URL"), "DATABASE_URL="+u)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("prawn migrate %s: %w: %s", name, err, benchkit.LastLine(string(out)))
	}
	return u, nil
}

// start starts target t for ladder l, on a fresh database when it is a prawn, and warms it up.
func (b *bench) start(ctx context.Context, t Target, l Ladder) (*instance, error) {
	in := &instance{label: t.Name + l.Suffix, t: t, done: make(chan struct{})}
	port, err := benchkit.FreePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	in.url, in.port = "http://"+addr, port
	switch t.Server {
	case Prawn:
		if in.db, err = b.newDatabase(ctx, in.label, l.DB); err != nil {
			return nil, err
		}
		in.cmd = exec.Command(b.prawn, "serve")
		in.cmd.Env = prawnEnv(os.Environ(), addr, in.db, t)
		b.log.Info("starting", "target", in.label, "server", "prawn serve", "env", envSummary(t))
	case Hello:
		in.cmd = exec.Command(b.hello, "-addr", addr)
		b.log.Info("starting", "target", in.label, "server", "hello-world net/http")
	default:
		return nil, fmt.Errorf("target %s: unknown server %q", t.Name, t.Server)
	}
	logf, err := os.Create(filepath.Join(b.tmp, in.label+".log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	in.cmd.Stdout, in.cmd.Stderr = logf, logf
	// Its own process group: a ^C reaches the benchmark, which stops the servers in order.
	in.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := in.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", in.label, err)
	}
	b.insts = append(b.insts, in)
	go func() { in.cmd.Wait(); close(in.done) }()
	if err := b.waitHealthy(ctx, in); err != nil {
		return nil, err
	}
	tf, err := t.Request.vegetaTarget(in.url)
	if err != nil {
		return nil, err
	}
	in.targets = filepath.Join(b.tmp, in.label+".targets")
	if err := os.WriteFile(in.targets, append(tf, '\n'), 0o644); err != nil {
		return nil, err
	}
	if b.c.warmDuration > 0 {
		a, err := b.attack(ctx, in, b.c.warmRate, b.c.warmDuration, nil)
		if err != nil {
			return nil, fmt.Errorf("warm-up of %s: %w", in.label, err)
		}
		in.warmAcked = benchkit.CountCode(a.results, t.Ack)
	}
	return in, nil
}

func envSummary(t Target) string {
	var s []string
	for _, k := range sortedKeys(t.Env) {
		s = append(s, k+"="+t.Env[k])
	}
	return strings.Join(s, " ")
}

// waitHealthy waits (at most a minute) until in answers GET /healthz.
func (b *bench) waitHealthy(ctx context.Context, in *instance) error {
	client := &http.Client{Timeout: time.Second}
	for range 120 {
		if resp, err := client.Get(in.url + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-in.done:
			return fmt.Errorf("%s exited at start: %s", in.label, b.logTail(in))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s did not answer /healthz within a minute: %s", in.label, b.logTail(in))
}

func (b *bench) logTail(in *instance) string {
	out, _ := os.ReadFile(filepath.Join(b.tmp, in.label+".log"))
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return strings.Join(lines[max(0, len(lines)-3):], " | ")
}

// attackRun is what one vegeta attack measured.
type attackRun struct {
	results  []benchkit.Result
	from, to time.Time // the window, by the clock: the ramp's end to vegeta's exit
	cpuVeg   float64   // vegeta's CPU over the window, % of one core
}

// attack runs vegeta at rate for d against in. When atWindow is set it is called once the ramp
// is over (at b.c.ramp), and again after vegeta exits, to read the CPU counters.
func (b *bench) attack(ctx context.Context, in *instance, rate int, d time.Duration, atWindow func()) (attackRun, error) {
	var a attackRun
	out := filepath.Join(b.tmp, "results.bin")
	cmd := exec.CommandContext(ctx, b.vegeta, "attack", "-rate="+strconv.Itoa(rate), "-duration="+d.String(),
		"-timeout="+b.c.timeout.String(), "-format=json", "-targets="+in.targets, "-output="+out)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return a, fmt.Errorf("vegeta attack: %w", err)
	}
	var veg0 int64
	if atWindow != nil {
		select {
		case <-time.After(b.c.ramp):
		case <-ctx.Done():
		}
		a.from = time.Now()
		veg0 = benchkit.Snap(cmd.Process.Pid)[cmd.Process.Pid]
		atWindow()
	}
	err := cmd.Wait()
	if ctx.Err() != nil {
		return a, ctx.Err()
	}
	if err != nil {
		return a, fmt.Errorf("vegeta attack: %w: %s", err, benchkit.LastLine(stderr.String()))
	}
	if atWindow != nil {
		a.to = time.Now()
		atWindow()
		total := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		win := total - time.Duration(veg0)*time.Second/time.Duration(b.hz)
		a.cpuVeg = win.Seconds() / a.to.Sub(a.from).Seconds() * 100
	}
	a.results, err = benchkit.ReadResults(ctx, b.vegeta, out)
	return a, err
}

// step attacks in at rate for the ramp and the window and measures the window.
func (b *bench) step(ctx context.Context, in *instance, rate, try int) (*Step, error) {
	b.waitTimeWait(ctx, in)
	s := &Step{Label: in.label, Records: in.t.Records, UsesDB: in.db != "", Rate: rate, Try: try,
		CPUPostgres: math.NaN(), PerTxn: math.NaN()}
	pid := in.cmd.Process.Pid
	var srv0, pg0 benchkit.CPUSnap
	var t0 time.Time
	a, err := b.attack(ctx, in, rate, b.c.ramp+b.c.duration, func() {
		if t0.IsZero() {
			t0, srv0, pg0 = time.Now(), benchkit.Snap(pid), benchkit.PGSnap(b.master)
			return
		}
		secs := time.Since(t0)
		s.CPUServer = benchkit.CPUPercent(srv0, benchkit.Snap(pid), b.hz, secs)
		if s.UsesDB && pg0 != nil {
			s.CPUPostgres = benchkit.CPUPercent(pg0, benchkit.PGSnap(b.master), b.hz, secs)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("%s at %d/s: %w", in.label, rate, err)
	}
	s.From, s.To, s.CPUVegeta = a.from, a.to, a.cpuVeg
	select {
	case <-in.done:
		return nil, fmt.Errorf("%s exited during the step at %d/s: %s", in.label, rate, b.logTail(in))
	default:
	}
	s.Acked = benchkit.CountCode(a.results, in.t.Ack)
	s.M = summarize(benchkit.Window(a.results, b.c.ramp))
	b.steps = append(b.steps, s)
	b.log.Info("step", "target", in.label, "rate", rate, "try", try, "held", s.M.Held(rate),
		"throughput", int(s.M.Throughput), "success", fmt.Sprintf("%.4f", s.M.Success),
		"p50_ms", ms(s.M.P50), "p99_ms", ms(s.M.P99), "p999_ms", ms(s.M.P999),
		"cpu_server", pct(s.CPUServer), "cpu_postgres", pct(s.CPUPostgres), "cpu_vegeta", pct(s.CPUVegeta),
		"codes", codes(s.M.Codes))
	return s, nil
}

// waitTimeWait waits (at most a minute) until fewer than 6000 connections to in are in
// TIME_WAIT: a step that overloads a target leaves many of vegeta's closed connections there,
// and enough of them exhaust the local ports for that target and fail its next step for a
// reason of the client's.
func (b *bench) waitTimeWait(ctx context.Context, in *instance) {
	start := time.Now()
	defer func() { b.timeWait += time.Since(start) }()
	for i := range 60 {
		n := benchkit.TimeWaitTo(in.port)
		if n < 6000 {
			return
		}
		if i == 0 {
			b.log.Info("waiting for connections in TIME_WAIT to clear", "target", in.label, "connections", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// ladder runs l's rates: at each rate its targets take turns, so every target meets the machine
// in about the same state at a given rate (on a shared host the background load drifts over
// minutes). A rate that is not held is tried again, up to -tries attempts; a target leaves the
// ladder after two rates in a row that it did not hold.
func (b *bench) ladder(ctx context.Context, l Ladder, insts []*instance) error {
	fails := map[*instance]int{}
	active := insts
	for _, rate := range l.Rates {
		if len(active) == 0 {
			break
		}
		var next []*instance
		for _, in := range active {
			held := false
			for try := 1; try <= b.c.tries && !held; try++ {
				s, err := b.step(ctx, in, rate, try)
				if err != nil {
					return err
				}
				held = s.M.Held(rate)
			}
			if held {
				fails[in] = 0
			} else {
				fails[in]++
			}
			if fails[in] < 2 {
				next = append(next, in)
			}
		}
		active = next
	}
	return nil
}

// finish stops in and, for a prawn, records its peak RSS, the views per transaction of each of
// its steps, and the views acknowledged and counted.
func (b *bench) finish(ctx context.Context, in *instance) error {
	if in.t.Server == Prawn {
		rss, err := benchkit.PeakRSS(in.cmd.Process.Pid)
		if err != nil {
			return fmt.Errorf("%s: %w", in.label, err)
		}
		in.rss = rss
	}
	b.stop(in)
	in.acked = int64(in.warmAcked)
	for _, s := range b.steps {
		if s.Label == in.label {
			in.acked += int64(s.Acked)
		}
	}
	if !in.t.Records || in.db == "" {
		return nil
	}
	conn, err := pgx.Connect(ctx, in.db)
	if err != nil {
		return fmt.Errorf("%s: connect: %w", in.label, err)
	}
	defer conn.Close(context.Background())
	// Every batch is one transaction, so one xid.
	for _, s := range b.steps {
		if s.Label != in.label {
			continue
		}
		var views, txns int64
		if err := conn.QueryRow(ctx, "SELECT count(*), count(DISTINCT xid) FROM views WHERE viewed_at >= $1 AND viewed_at < $2",
			s.From, s.To).Scan(&views, &txns); err != nil {
			return fmt.Errorf("%s: views per transaction: %w", in.label, err)
		}
		if txns > 0 {
			s.PerTxn = float64(views) / float64(txns)
		}
	}
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM views").Scan(&in.counted); err != nil {
		return fmt.Errorf("%s: count views: %w", in.label, err)
	}
	return nil
}

// stop ends in's server (SIGTERM, then SIGKILL after 10 s).
func (b *bench) stop(in *instance) {
	if in.stopped {
		return
	}
	in.stopped = true
	in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-in.done:
	case <-time.After(10 * time.Second):
		in.cmd.Process.Kill()
		<-in.done
	}
}

// measure runs every ladder and baseline and returns the report.
func (b *bench) measure(ctx context.Context) (*report, error) {
	var pgVersion, fsync, syncCommit string
	if err := b.query(ctx, b.admin, "SELECT current_setting('server_version'), current_setting('fsync'), current_setting('synchronous_commit')",
		&pgVersion, &fsync, &syncCommit); err != nil {
		return nil, err
	}
	var run []Ladder
	for _, l := range ladders(b.c) {
		l.Targets = slices.DeleteFunc(slices.Clone(l.Targets), func(n string) bool {
			return len(b.c.only) > 0 && !slices.Contains(b.c.only, n)
		})
		if len(l.Rates) > 0 && len(l.Targets) > 0 {
			run = append(run, l)
		}
	}
	for _, l := range run {
		var insts []*instance
		for _, name := range l.Targets {
			t, ok := targetNamed(name)
			if !ok {
				return nil, fmt.Errorf("ladder %q names no target %q", l.Name, name)
			}
			in, err := b.start(ctx, t, l)
			if err != nil {
				return nil, err
			}
			insts = append(insts, in)
		}
		labels := make([]string, len(insts))
		for i, in := range insts {
			labels[i] = in.label
		}
		b.log.Info("ladder: the targets take turns at each rate", "ladder", orMain(l.Name), "targets", strings.Join(labels, " "), "rates", joinInts(l.Rates))
		if err := b.ladder(ctx, l, insts); err != nil {
			return nil, err
		}
		for _, in := range insts {
			if err := b.finish(ctx, in); err != nil {
				return nil, err
			}
		}
		if l.Pgbench {
			db, err := b.newDatabase(ctx, "pgbench"+l.Suffix, l.DB)
			if err != nil {
				return nil, err
			}
			for _, clients := range []int{b.c.pgbenchClients, 1} {
				r, err := runPgbench(ctx, b.pgbench, db, b.tmp, clients, runtime.NumCPU(), b.c.pgbenchDuration)
				if err != nil {
					return nil, err
				}
				r.Ladder = l.Name
				b.pgb = append(b.pgb, r)
				b.log.Info("pgbench", "ladder", orMain(l.Name), "clients", clients, "tps", int(r.TPS), "mean_ms", ms(r.Mean), "p99_ms", ms(r.P99))
			}
		}
	}
	return &report{
		c: b.c, started: b.started, took: time.Since(b.started), quick: b.c.quick,
		host: benchdoc.ThisHost(), loadBefore: b.loadBefore, loadAfter: benchdoc.LoadAvg(), commit: benchdoc.Commit(),
		pgVersion: pgVersion, fsync: fsync, syncCommit: syncCommit, dbDesc: b.dbDesc,
		ingestEnv: ingestEnv(os.Environ()), ladders: run, steps: b.steps, insts: b.insts, pgbench: b.pgb, timeWait: b.timeWait, vegetaVersion: b.vegetaVersion,
	}, nil
}

func orMain(ladder string) string {
	if ladder == "" {
		return "main"
	}
	return ladder
}

// ingestEnv is the PRAWN_INGEST_* settings of the environment, which reach every prawn target.
func ingestEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		if strings.HasPrefix(kv, "PRAWN_INGEST_") {
			out = append(out, kv)
		}
	}
	slices.Sort(out)
	return out
}

// close stops every server, drops the databases, stops the private cluster and removes the temp
// folder. It runs on errors and on ^C too.
func (b *bench) close() {
	for _, in := range b.insts {
		b.stop(in)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// A private cluster goes with the temp folder; on -server-url drop what was created.
	for _, name := range b.dbs {
		if b.cluster != nil {
			break
		}
		if err := b.query(ctx, b.admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			b.log.Warn("drop database", "name", name, "err", err)
		}
	}
	if b.cluster != nil {
		if err := b.cluster.Close(); err != nil {
			b.log.Warn("stop the private cluster", "err", err)
		}
	}
	if b.tmp != "" {
		if err := os.RemoveAll(b.tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
			b.log.Warn("remove the temp folder", "dir", b.tmp, "err", err)
		}
	}
}
