package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/prawnhq/prawn/internal/pgembed"
	"github.com/prawnhq/prawn/internal/storage"
	"github.com/prawnhq/prawn/scripts/internal/benchdoc"
	"github.com/prawnhq/prawn/scripts/internal/benchkit"
)

// bench is one run: its tools, its database server, the servers it started and what it measured.
type bench struct {
	c   config
	log *slog.Logger
	tmp string
	hz  int64

	prawn, vegeta, vegetaVersion string

	cluster *pgembed.Cluster // the private cluster, when there is no -server-url
	admin   string           // URL of the server's "postgres" database
	dbDesc  string           // where the databases are, for the report
	master  int              // the server's postmaster, 0 when it cannot be seen in /proc

	dbs      []string  // databases created, dropped at the end
	servers  []*server // every prawn serve started
	contract string    // GET /api/openapi.yaml of the first server

	started    time.Time
	loadBefore string
}

// database is one database of the run and what was done to it before it was read.
type database struct {
	label string
	url   string
	setup []step
	views int64 // views in it when its reads began
	paths int64 // distinct paths with views (rollup totals)
	size  int64 // bytes (pg_database_size) when its reads began
}

// step is one thing done to a database, and how long it took.
type step struct {
	what string
	took time.Duration
}

// tables are prawn's raw views and rollups: those whose statistics the planner uses.
var tables = []string{"views", "hourly_stats", "daily_stats", "totals", "daily_breakdowns", "visitor_days"}

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
	if b.tmp, err = os.MkdirTemp("", "prawn-benchreads-"); err != nil {
		return nil, err
	}
	// A private cluster runs as an unprivileged user when this runs as root: it must reach its folder.
	if err := os.Chmod(b.tmp, 0o755); err != nil {
		return nil, err
	}
	if c.serverURL == "" {
		var fs syscall.Statfs_t
		if err := syscall.Statfs(b.tmp, &fs); err == nil {
			if free, need := int64(fs.Bavail)*int64(fs.Bsize), diskNeed(c); need > free {
				return nil, fmt.Errorf("the cases' databases need about %s in %s (the private cluster's folder; set TMPDIR, or use -server-url), and %s is free",
					size(need), os.TempDir(), size(free))
			}
		}
	}
	if c.has("e") || c.has("b") {
		if b.vegeta, err = benchkit.FindVegeta(ctx, c.vegeta, log); err != nil {
			return nil, err
		}
		b.vegetaVersion = benchkit.BuildVersion(b.vegeta)
	}
	log.Info("building prawn")
	b.prawn = filepath.Join(b.tmp, "prawn")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", b.prawn, "./cmd/prawn").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build ./cmd/prawn: %w: %s", err, out)
	}
	if err := b.openServer(ctx); err != nil {
		return nil, err
	}
	return b, nil
}

// Bytes of database per view, measured with `prawn seed` at 1 M views (views, indexes, rollups,
// visitors): 1 000 paths, and 100 000 paths (more rollup rows per view).
const (
	bytesPerView      = 420
	bytesPerFloodView = 680
)

// diskNeed estimates the most disk the run's databases take at one time (each is dropped when its
// cases are done), with a quarter more for WAL and VACUUM.
func diskNeed(c config) int64 {
	var need int64
	if c.has("a") || c.has("b") || c.has("e") {
		n := int64(c.history)
		if c.has("b") {
			n += int64(c.tail)
		}
		if c.has("e") {
			n += int64(c.ingestRate) * int64((c.budget + c.ramp).Seconds()) // the ingest, at most
		}
		need = max(need, n*bytesPerView)
	}
	if c.has("c") {
		need = max(need, int64(c.floodViews)*bytesPerFloodView)
	}
	if c.has("d") {
		need = max(need, int64(c.bulk)*bytesPerView)
	}
	return need + need/4
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
		b.dbDesc = "fresh databases on a private cluster (internal/pgembed) in a temp folder, default settings"
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
		if len(sql) > 60 {
			sql = sql[:60] + "…"
		}
		return fmt.Errorf("%s: %w", sql, err)
	}
	return nil
}

// timed runs one statement on db and records it as a setup step.
func (b *bench) timed(ctx context.Context, db *database, what, sql string) error {
	b.log.Info(what, "db", db.label)
	t := time.Now()
	if err := b.query(ctx, db.url, sql); err != nil {
		return fmt.Errorf("%s: %w", db.label, err)
	}
	db.setup = append(db.setup, step{what: what, took: time.Since(t)})
	return nil
}

// newDatabase creates and migrates a fresh database.
func (b *bench) newDatabase(ctx context.Context, label string) (*database, error) {
	name := "prawn_benchreads_" + label + "_" + strconv.Itoa(os.Getpid())
	if err := b.query(ctx, b.admin, "CREATE DATABASE "+name); err != nil {
		return nil, err
	}
	b.dbs = append(b.dbs, name)
	u, err := benchkit.WithDatabase(b.admin, name)
	if err != nil {
		return nil, err
	}
	db := &database{label: label, url: u}
	if _, err := b.prawnRun(ctx, db, "migrate"); err != nil {
		return nil, err
	}
	return db, nil
}

// drop drops db once its cases are done, so the run needs the disk of one case's data at a time.
func (b *bench) drop(ctx context.Context, db *database) error {
	name := db.url[strings.LastIndex(db.url, "/")+1:]
	name, _, _ = strings.Cut(name, "?")
	if err := b.query(ctx, b.admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop %s: %w", db.label, err)
	}
	b.dbs = slices.DeleteFunc(b.dbs, func(n string) bool { return n == name })
	return nil
}

// prawnRun runs the prawn command args on db and returns its output.
func (b *bench) prawnRun(ctx context.Context, db *database, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, b.prawn, args...)
	cmd.Env = append(benchkit.Without(os.Environ(), "DATABASE_URL"), "DATABASE_URL="+db.url)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("prawn %s on %s: %w: %s", strings.Join(args, " "), db.label, err, benchkit.LastLine(string(out)))
	}
	return string(out), nil
}

// prawnStep runs a prawn command on db as a setup step.
func (b *bench) prawnStep(ctx context.Context, db *database, what string, args ...string) (time.Duration, error) {
	b.log.Info(what, "db", db.label, "command", "prawn "+strings.Join(args, " "))
	t := time.Now()
	if _, err := b.prawnRun(ctx, db, args...); err != nil {
		return 0, err
	}
	took := time.Since(t)
	db.setup = append(db.setup, step{what: what, took: took})
	return took, nil
}

// openVisitors opens every day of the last month for visitors, so that folding seeded history
// counts its visitors as a live site's fold would have (the benchmark owns its databases).
const openVisitors = "UPDATE rollup_state SET visitors_open_from = (now() AT TIME ZONE 'UTC')::date - 31"

// seeded makes db a folded, analyzed history: `prawn seed`, visitor days opened, `prawn rollup`,
// VACUUM ANALYZE.
func (b *bench) seeded(ctx context.Context, db *database, views, paths int) error {
	n := strconv.Itoa(views)
	if _, err := b.prawnStep(ctx, db, "`prawn seed --views "+n+" --days 30 --paths "+strconv.Itoa(paths)+"`",
		"seed", "--views", n, "--days", "30", "--paths", strconv.Itoa(paths)); err != nil {
		return err
	}
	if err := b.query(ctx, db.url, openVisitors); err != nil {
		return err
	}
	if _, err := b.prawnStep(ctx, db, "`prawn rollup` (folds the history)", "rollup"); err != nil {
		return err
	}
	return b.timed(ctx, db, "`VACUUM ANALYZE`", "VACUUM ANALYZE")
}

// seedRaw writes n synthetic views in transactions of 500 000, each a consecutive slice of the
// span in time order, as `prawn seed` does, but without its ANALYZE: a plain INSERT … SELECT.
func seedRaw(ctx context.Context, url string, n int, s storage.Seed) error {
	store, err := storage.Open(ctx, url, storage.Options{MaxConns: 2})
	if err != nil {
		return err
	}
	defer store.Close()
	const chunk = 500_000
	const perVisitor = 3 // prawn seed's default: about three views per visitor a day
	end, span := s.End, s.Span
	for done := 0; done < n; {
		c := min(chunk, n-done)
		s.Span = time.Duration(float64(span) * float64(c) / float64(n))
		s.End = end.Add(-time.Duration(float64(span) * float64(n-done-c) / float64(n)))
		perDay := float64(c) * float64(24*time.Hour) / float64(max(s.Span, time.Minute))
		s.VisitorPool = max(int(perDay/perVisitor), 1)
		if _, err := store.SeedViews(ctx, c, s); err != nil {
			return err
		}
		done += c
	}
	return nil
}

// describe records db's size, views and distinct paths before its reads.
func (b *bench) describe(ctx context.Context, db *database) error {
	return b.query(ctx, db.url, `SELECT (SELECT count(*) FROM views), (SELECT count(*) FROM totals WHERE path <> ''),
		pg_database_size(current_database())`, &db.views, &db.paths, &db.size)
}

// statistics counts the planner's column statistics of prawn's tables (pg_stats rows).
func (b *bench) statistics(ctx context.Context, db *database) (int64, error) {
	var n int64
	err := b.query(ctx, db.url, "SELECT count(*) FROM pg_stats WHERE schemaname = 'public' AND tablename IN ('"+
		strings.Join(tables, "', '")+"')", &n)
	return n, err
}

// server is one `prawn serve`.
type server struct {
	label   string
	cmd     *exec.Cmd
	done    chan struct{} // closed when it exits
	url     string
	logPath string
	stopped bool
}

// benchEnv are the settings the benchmark gives every server, whatever its environment says.
var benchEnv = []string{"DATABASE_URL", "PRAWN_ADDR", "PRAWN_RATE_LIMIT", "PRAWN_ROLLUP_INTERVAL", "PRAWN_TRUSTED_PROXIES"}

// serverEnv is the environment of a `prawn serve`: the benchmark's own (so PRAWN_* settings given
// to `make bench/reads` reach it) less benchEnv, then the database, the address,
// PRAWN_RATE_LIMIT=0 (load tests never rely on loopback's exemption from it),
// PRAWN_TRUSTED_PROXIES=127.0.0.1 (the ingest's X-Forwarded-For gives its views many visitors)
// and, when foldOff, PRAWN_ROLLUP_INTERVAL=0; otherwise the fold interval is prawn's default.
func serverEnv(environ []string, addr, databaseURL string, foldOff bool) []string {
	var env []string
	for _, kv := range environ {
		if k, _, _ := strings.Cut(kv, "="); !slices.Contains(benchEnv, k) {
			env = append(env, kv)
		}
	}
	env = append(env, "DATABASE_URL="+databaseURL, "PRAWN_ADDR="+addr, "PRAWN_RATE_LIMIT=0", "PRAWN_TRUSTED_PROXIES=127.0.0.1")
	if foldOff {
		env = append(env, "PRAWN_ROLLUP_INTERVAL=0")
	}
	return env
}

// userEnv are the PRAWN_* settings of environ that reach the servers.
func userEnv(environ []string) []string {
	var out []string
	for _, kv := range environ {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "PRAWN_") && !slices.Contains(benchEnv, k) {
			out = append(out, kv)
		}
	}
	slices.Sort(out)
	return out
}

// serve starts `prawn serve` on db and waits until it answers.
func (b *bench) serve(ctx context.Context, db *database, label string, foldOff bool) (*server, error) {
	port, err := benchkit.FreePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	s := &server{label: label, url: "http://" + addr, done: make(chan struct{}), logPath: filepath.Join(b.tmp, label+".log")}
	s.cmd = exec.Command(b.prawn, "serve")
	s.cmd.Env = serverEnv(os.Environ(), addr, db.url, foldOff)
	logf, err := os.Create(s.logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	// Its own process group: a ^C reaches the benchmark, which stops the servers in order.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	b.log.Info("starting prawn serve", "case", label, "fold", map[bool]string{true: "off", false: "default interval"}[foldOff])
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start prawn serve: %w", err)
	}
	b.servers = append(b.servers, s)
	go func() { s.cmd.Wait(); close(s.done) }()
	if err := b.waitHealthy(ctx, s); err != nil {
		return nil, err
	}
	if b.contract == "" {
		c := newClient(s.url)
		defer c.close()
		smp, body, err := c.get(ctx, "/api/openapi.yaml")
		if err != nil || smp.Code != http.StatusOK {
			return nil, fmt.Errorf("GET /api/openapi.yaml: %d %v", smp.Code, err)
		}
		b.contract = string(body)
	}
	return s, nil
}

// has reports whether the served contract has the operation path (a line "  /api/x:").
func (b *bench) hasOperation(path string) bool {
	for _, line := range strings.Split(b.contract, "\n") {
		if strings.TrimRight(line, "\r") == "  "+path+":" {
			return true
		}
	}
	return false
}

// waitHealthy waits (at most a minute) until s answers GET /healthz.
func (b *bench) waitHealthy(ctx context.Context, s *server) error {
	client := &http.Client{Timeout: time.Second}
	for range 120 {
		if resp, err := client.Get(s.url + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.done:
			return fmt.Errorf("prawn serve (%s) exited at start: %s", s.label, b.logTail(s))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return fmt.Errorf("prawn serve (%s) did not answer /healthz within a minute: %s", s.label, b.logTail(s))
}

func (b *bench) logTail(s *server) string {
	out, _ := os.ReadFile(s.logPath)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return strings.Join(lines[max(0, len(lines)-3):], " | ")
}

// stop ends s (SIGTERM, then SIGKILL after 15 s).
func (b *bench) stop(s *server) {
	if s.stopped {
		return
	}
	s.stopped = true
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

// caseResult is what one case (or one phase of a case) measured.
type caseResult struct {
	key    string // "a", "b", "c", "d", "d2" (after ANALYZE), "e" (under ingest), "e2" (after it)
	db     *database
	rounds rounds
	// CPU over the timed rounds, % of one core; NaN where unknown.
	cpuServer, cpuPG float64
	exact            string // what the check of the site's total against count(*) found
	checked, exactOK bool   // it was checked; it was exact (or not checked)
	stats            string // case (d): the planner's statistics before and after the reads
	ingest           *ingestResult
}

// readCase times the reads of the run on s; with check, it then compares the site's total
// with the raw views (see checkExact).
func (b *bench) readCase(ctx context.Context, s *server, db *database, key string, n int, check bool) (*caseResult, error) {
	r, err := RangesAt(time.Now())
	if err != nil {
		return nil, err
	}
	cl := newClient(s.url)
	defer cl.close()
	b.log.Info("reading", "case", key, "rounds", n)
	cr := &caseResult{key: key, db: db}
	pid := s.cmd.Process.Pid
	srv0, pg0 := benchkit.Snap(pid), benchkit.PGSnap(b.master)
	t0 := time.Now()
	if cr.rounds, err = cl.measure(ctx, b.reads(), r, b.c.path, n, b.c.budget); err != nil {
		return nil, fmt.Errorf("case %s: %w (server: %s)", key, err, b.logTail(s))
	}
	cr.cpuServer, cr.cpuPG = b.cpu(srv0, pg0, pid, time.Since(t0))
	if check {
		if err := b.checkExact(ctx, cl, db, cr); err != nil {
			return nil, err
		}
	}
	b.logCase(cr)
	return cr, nil
}

// cpu is the CPU of the server and of Postgres since the snapshots, % of one core.
func (b *bench) cpu(srv0, pg0 benchkit.CPUSnap, pid int, d time.Duration) (float64, float64) {
	srv := benchkit.CPUPercent(srv0, benchkit.Snap(pid), b.hz, d)
	pg := math.NaN()
	if pg0 != nil {
		pg = benchkit.CPUPercent(pg0, benchkit.PGSnap(b.master), b.hz, d)
	}
	return srv, pg
}

func (b *bench) logCase(cr *caseResult) {
	var worst Summary
	label := ""
	for _, r := range cr.rounds.results {
		if s := r.Summarize(); s.P99 >= worst.P99 {
			worst, label = s, r.Read.Label
		}
	}
	b.log.Info("case read", "case", cr.key, "worst_p99_ms", ms(worst.P99), "read", label, "exact", cr.exact)
}

// checkExact compares the site's all-time total answered by the server with count(*) of the raw
// views (nothing else writes meanwhile): rollups plus tail must count every view once.
func (b *bench) checkExact(ctx context.Context, cl *client, db *database, cr *caseResult) error {
	total, pending, code, err := cl.total(ctx)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		cr.exact = fmt.Sprintf("GET /api/stats answered %d", code)
		cr.exactOK = true
		return nil
	}
	var n int64
	if err := b.query(ctx, db.url, "SELECT count(*) FROM views", &n); err != nil {
		return err
	}
	cr.checked, cr.exactOK = true, total == n
	cr.exact = fmt.Sprintf("total %d, count(*) %d, tail %d", total, n, pending)
	return nil
}

// reads are the reads the served contract has.
func (b *bench) reads() []Read {
	var out []Read
	for _, r := range Reads {
		if r.Needs == "" || b.hasOperation(r.Needs) {
			out = append(out, r)
		}
	}
	return out
}

// skipped are the reads left out, and why.
func (b *bench) skipped() []string {
	var out []string
	for _, r := range Reads {
		if r.Needs != "" && !b.hasOperation(r.Needs) {
			out = append(out, fmt.Sprintf("%s: skipped, this build's contract has no `%s` yet", r.Label, r.Needs))
		}
	}
	return out
}

// settle folds whatever a stopped server left in the tail (`prawn rollup --wait`).
func (b *bench) settle(ctx context.Context, db *database) error {
	_, err := b.prawnRun(ctx, db, "rollup", "--wait")
	return err
}

// measure runs the cases and returns the report.
func (b *bench) measure(ctx context.Context) (*report, error) {
	rep := &report{c: b.c, started: b.started, host: benchdoc.ThisHost(), loadBefore: b.loadBefore,
		commit: benchdoc.Commit(), dbDesc: b.dbDesc, env: userEnv(os.Environ()), vegetaVersion: b.vegetaVersion}
	if err := b.query(ctx, b.admin, `SELECT current_setting('server_version'), current_setting('fsync'),
		current_setting('synchronous_commit'), current_setting('autovacuum'), current_setting('shared_buffers')`,
		&rep.pg.version, &rep.pg.fsync, &rep.pg.syncCommit, &rep.pg.autovacuum, &rep.pg.sharedBuffers); err != nil {
		return nil, err
	}
	add := func(cr *caseResult) {
		rep.cases = append(rep.cases, cr)
		if !cr.exactOK {
			rep.problem(fmt.Sprintf("case %s: the site's total is not count(*) of the views (%s)", cr.key, cr.exact))
		}
	}

	if b.c.has("a") || b.c.has("b") || b.c.has("e") {
		db, err := b.newDatabase(ctx, "history")
		if err != nil {
			return nil, err
		}
		rep.dbs = append(rep.dbs, db)
		if err := b.seeded(ctx, db, b.c.history, b.c.paths); err != nil {
			return nil, err
		}
		if err := b.describe(ctx, db); err != nil {
			return nil, err
		}
		if b.c.has("a") || b.c.has("e") {
			s, err := b.serve(ctx, db, "a", false)
			if err != nil {
				return nil, err
			}
			a, err := b.readCase(ctx, s, db, "a", b.c.reads, true)
			if err != nil {
				return nil, err
			}
			add(a)
			if b.c.has("e") {
				under, after, err := b.ingestCase(ctx, s, db)
				if err != nil {
					return nil, err
				}
				add(under)
				add(after)
				ctl, err := b.controlCase(ctx, s, db)
				if err != nil {
					return nil, err
				}
				add(ctl)
				for _, cr := range []*caseResult{under, ctl} {
					if lost := cr.ingest.acked - cr.ingest.counted; lost > 0 {
						rep.problem(fmt.Sprintf("case %s: %d views acknowledged but not in the database", cr.key, lost))
					}
				}
			}
			b.stop(s)
		}
		if b.c.has("b") {
			bc, b2, err := b.tailCase(ctx, db, rep)
			if err != nil {
				return nil, err
			}
			add(bc)
			add(b2)
			if lost := b2.ingest.acked - b2.ingest.counted; lost > 0 {
				rep.problem(fmt.Sprintf("case b2: %d views acknowledged but not in the database", lost))
			}
		}
		if err := b.drop(ctx, db); err != nil {
			return nil, err
		}
	}

	if b.c.has("c") {
		db, err := b.newDatabase(ctx, "paths")
		if err != nil {
			return nil, err
		}
		rep.dbs = append(rep.dbs, db)
		if err := b.seeded(ctx, db, b.c.floodViews, b.c.floodPaths); err != nil {
			return nil, err
		}
		if err := b.describe(ctx, db); err != nil {
			return nil, err
		}
		s, err := b.serve(ctx, db, "c", false)
		if err != nil {
			return nil, err
		}
		cc, err := b.readCase(ctx, s, db, "c", b.c.reads, true)
		if err != nil {
			return nil, err
		}
		add(cc)
		b.stop(s)
		if err := b.drop(ctx, db); err != nil {
			return nil, err
		}
	}

	if b.c.has("d") {
		before, after, err := b.bulkCase(ctx, rep)
		if err != nil {
			return nil, err
		}
		add(before)
		add(after)
		if err := b.drop(ctx, before.db); err != nil {
			return nil, err
		}
	}
	rep.skipped = b.skipped()
	rep.took = time.Since(b.started)
	rep.loadAfter = benchdoc.LoadAvg()
	return rep, nil
}

// tailCase is case (b): the history of (a) (its server stopped, everything folded) plus
// -tail views seeded into the last hour, read by a server that does not fold; then the same reads
// while vegeta records to that server, which still does not fold (b2: folding has stopped, views
// keep coming); then the time `prawn rollup` takes to fold them all.
func (b *bench) tailCase(ctx context.Context, db *database, rep *report) (bc, b2 *caseResult, err error) {
	if err := b.settle(ctx, db); err != nil {
		return nil, nil, err
	}
	b.log.Info("seeding the tail", "views", b.c.tail)
	t := time.Now()
	if err := seedRaw(ctx, db.url, b.c.tail, storage.Seed{Paths: b.c.paths, Referrers: 200, End: time.Now(), Span: time.Hour}); err != nil {
		return nil, nil, err
	}
	db.setup = append(db.setup, step{what: fmt.Sprintf("case (b): %d views seeded into the last hour (INSERT … SELECT, not folded)", b.c.tail), took: time.Since(t)})
	s, err := b.serve(ctx, db, "b", true)
	if err != nil {
		return nil, nil, err
	}
	if rep.warm, err = b.warmUp(ctx, s); err != nil {
		return nil, nil, err
	}
	if bc, err = b.readCase(ctx, s, db, "b", b.c.reads, true); err != nil {
		return nil, nil, err
	}
	if b2, err = b.underIngest(ctx, s, db, s, db, "b2"); err != nil {
		return nil, nil, err
	}
	cl := newClient(s.url)
	defer cl.close()
	if err := b.checkExact(ctx, cl, db, b2); err != nil {
		return nil, nil, err
	}
	b.stop(s)
	b.log.Info("draining the tail with prawn rollup")
	t = time.Now()
	out, err := b.prawnRun(ctx, db, "rollup")
	if err != nil {
		return nil, nil, err
	}
	rep.drain = &drain{took: time.Since(t), output: strings.TrimSpace(lastOutputLine(out, "folded "))}
	var views, totals int64
	if err := b.query(ctx, db.url, "SELECT (SELECT count(*) FROM views), (SELECT coalesce(sum(views), 0)::bigint FROM totals WHERE path = '')", &views, &totals); err != nil {
		return nil, nil, err
	}
	rep.drain.exact = views == totals
	if !rep.drain.exact {
		rep.problem(fmt.Sprintf("case b: after the drain the rollups hold %d views, the raw views %d", totals, views))
	}
	return bc, b2, nil
}

// warmUp waits (at most two minutes) until s answers GET /api/hosts, a read that counts the tail
// itself: beside a long tail prawn first folds it in memory, and refuses such reads meanwhile.
func (b *bench) warmUp(ctx context.Context, s *server) (*warm, error) {
	cl := newClient(s.url)
	defer cl.close()
	w := &warm{}
	t0 := time.Now()
	for time.Since(t0) < 2*time.Minute {
		smp, _, err := cl.get(ctx, "/api/hosts")
		if err != nil {
			return nil, fmt.Errorf("case b: GET /api/hosts: %w", err)
		}
		if smp.Code == http.StatusOK {
			w.ok = true
			break
		}
		w.refused++
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	w.took = time.Since(t0)
	out, _ := os.ReadFile(s.logPath)
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "in memory") {
			w.log = strings.TrimSpace(line)
		}
	}
	if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid)); err == nil {
		for _, line := range strings.Split(string(st), "\n") {
			if strings.HasPrefix(line, "VmHWM:") || strings.HasPrefix(line, "VmRSS:") {
				w.memory = append(w.memory, strings.Join(strings.Fields(line), " "))
			}
		}
	}
	b.log.Info("case b: the reads that count the tail answer", "after", w.took.Round(time.Millisecond), "refused", w.refused, "ok", w.ok, "memory", w.memory)
	return w, nil
}

// lastOutputLine is the last line of out that starts with prefix ("" if none).
func lastOutputLine(out, prefix string) string {
	lines := strings.Split(out, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], prefix) {
			return lines[i]
		}
	}
	return ""
}

// bulkCase is case (d): -bulk views loaded with a plain INSERT … SELECT (no prawn seed, so no
// ANALYZE), folded with `prawn rollup`, and read at once, with autovacuum off on the tables so
// that only prawn can have analyzed them (every rollup run analyzes tables whose statistics are
// missing or stale); then a manual ANALYZE and the same reads again.
func (b *bench) bulkCase(ctx context.Context, rep *report) (before, after *caseResult, err error) {
	db, err := b.newDatabase(ctx, "bulk")
	if err != nil {
		return nil, nil, err
	}
	rep.dbs = append(rep.dbs, db)
	for _, t := range tables {
		if err := b.query(ctx, db.url, "ALTER TABLE "+t+" SET (autovacuum_enabled = off)"); err != nil {
			return nil, nil, err
		}
	}
	b.log.Info("bulk load", "views", b.c.bulk)
	t := time.Now()
	if err := seedRaw(ctx, db.url, b.c.bulk, storage.Seed{Paths: b.c.paths, Referrers: 200, End: time.Now(), Span: 30 * 24 * time.Hour}); err != nil {
		return nil, nil, err
	}
	db.setup = append(db.setup, step{what: fmt.Sprintf("%d views over 30 days by INSERT … SELECT (the query `prawn seed` runs, without its ANALYZE)", b.c.bulk), took: time.Since(t)})
	if err := b.query(ctx, db.url, openVisitors); err != nil {
		return nil, nil, err
	}
	if _, err := b.prawnStep(ctx, db, "`prawn rollup` (folds the load)", "rollup"); err != nil {
		return nil, nil, err
	}
	if err := b.describe(ctx, db); err != nil {
		return nil, nil, err
	}
	n0, err := b.statistics(ctx, db)
	if err != nil {
		return nil, nil, err
	}
	s, err := b.serve(ctx, db, "d", false)
	if err != nil {
		return nil, nil, err
	}
	defer b.stop(s)
	if before, err = b.readCase(ctx, s, db, "d", b.c.reads, true); err != nil {
		return nil, nil, err
	}
	n1, err := b.statistics(ctx, db)
	if err != nil {
		return nil, nil, err
	}
	before.stats = fmt.Sprintf("pg_stats rows of %s: %d before the reads, %d after", strings.Join(tables, ", "), n0, n1)
	before.stats += " (autovacuum off: what `prawn rollup` analyzed)"
	if err := b.timed(ctx, db, "`ANALYZE` (after the reads without statistics)", "ANALYZE"); err != nil {
		return nil, nil, err
	}
	if after, err = b.readCase(ctx, s, db, "d2", b.c.reads, true); err != nil {
		return nil, nil, err
	}
	return before, after, nil
}

// close stops every server, drops the databases, stops the private cluster and removes the temp
// folder. It runs on errors and on ^C too.
func (b *bench) close() {
	for _, s := range b.servers {
		b.stop(s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// A private cluster goes with the temp folder; on -server-url drop what was created.
	if b.cluster == nil {
		for _, name := range b.dbs {
			if err := b.query(ctx, b.admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
				b.log.Warn("drop database", "name", name, "err", err)
			}
		}
	} else if err := b.cluster.Close(); err != nil {
		b.log.Warn("stop the private cluster", "err", err)
	}
	if b.tmp != "" {
		if err := os.RemoveAll(b.tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
			b.log.Warn("remove the temp folder", "dir", b.tmp, "err", err)
		}
	}
}
