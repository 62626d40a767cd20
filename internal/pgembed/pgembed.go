// Package pgembed runs prawn's default database: a private PostgreSQL cluster kept in a folder.
//
// Every prawn process that needs the database opens the cluster; the first one starts it and the
// last one to close it stops it. Processes coordinate with two lock files: start.lock serialises
// starting, and every user holds a shared lock on users.lock for its lifetime, so a process that
// closes can tell whether it is the last one. A process killed without closing leaves the server
// running; the next user finds and reuses it.
package pgembed

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
)

// Database is the name of the database prawn uses inside the cluster.
const Database = "prawn"

// superuser is the cluster's superuser role.
const superuser = "prawn"

// Cluster is an open handle on the private cluster.
type Cluster struct {
	dir   string // the cluster's folder (holds pg/, lock files and cluster.json)
	state state
	run   runAs
	bin   string
	users *os.File
	log   *slog.Logger
}

// state is what cluster.json keeps between processes.
type state struct {
	Port     int    `json:"port"`
	Password string `json:"password"`
	BinDir   string `json:"binDir"`
}

// Open starts the cluster kept under dataDir (creating it on first use) or joins it when another
// prawn process already runs it. Close must be called when the process is done with it.
func Open(ctx context.Context, dataDir string, log *slog.Logger) (*Cluster, error) {
	run, err := currentRunAs()
	if err != nil {
		return nil, err
	}
	dir, err := clusterDir(dataDir, run, log)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	c := &Cluster{dir: dir, run: run, log: log}

	startLock, err := lockFile(filepath.Join(dir, "start.lock"), syscall.LOCK_EX)
	if err != nil {
		return nil, err
	}
	defer startLock.Close() // closing releases the lock
	if c.users, err = lockFile(filepath.Join(dir, "users.lock"), syscall.LOCK_SH); err != nil {
		return nil, err
	}
	if err := c.start(ctx); err != nil {
		c.users.Close()
		return nil, err
	}
	return c, nil
}

// URL is the connection string of prawn's database in the cluster.
func (c *Cluster) URL() string { return c.DatabaseURL(Database) }

// DatabaseURL is the connection string of the named database in the cluster.
func (c *Cluster) DatabaseURL(name string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(superuser, c.state.Password),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(c.state.Port)),
		Path:     "/" + name,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Close leaves the cluster, stopping it when no other prawn process uses it.
func (c *Cluster) Close() error {
	if c.users == nil {
		return nil
	}
	users := c.users
	c.users = nil
	if err := syscall.Flock(int(users.Fd()), syscall.LOCK_UN); err != nil {
		users.Close()
		return fmt.Errorf("unlock users.lock: %w", err)
	}
	defer users.Close()
	if err := syscall.Flock(int(users.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		c.log.Debug("database still in use by another prawn process; leaving it running")
		return nil
	}
	c.log.Info("stopping the embedded database", "dir", c.dir)
	return c.pgctl("stop", "-m", "fast", "-w")
}

// Crash stops the cluster the hard way — no shutdown checkpoint, every connection cut — as a
// crashed or unplugged database server would go, for tests of prawn without its database.
func (c *Cluster) Crash() error { return c.pgctl("stop", "-w", "-m", "immediate") }

// Restart starts a crashed or stopped cluster again on the port it had, so connection strings
// handed out before stay valid.
func (c *Cluster) Restart() error {
	logFile := filepath.Join(c.dataDir(), "postgresql.log")
	if err := c.pgctl("start", "-w", "-t", "60", "-l", logFile, "-o", "-p "+strconv.Itoa(c.state.Port)); err != nil {
		return fmt.Errorf("restart embedded database (see %s): %w", logFile, err)
	}
	return nil
}

func (c *Cluster) dataDir() string { return filepath.Join(c.dir, "pg") }

// start initialises the cluster if needed and starts it unless it is running.
func (c *Cluster) start(ctx context.Context) error {
	if err := c.loadState(); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(c.dataDir(), "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		if err := c.initdb(ctx); err != nil {
			return err
		}
	}
	if c.bin == "" {
		bin, err := c.binaries(c.state.BinDir)
		if err != nil {
			return err
		}
		c.bin = bin
	}
	if c.pgctl("status") == nil {
		c.log.Debug("embedded database already running", "port", c.state.Port)
		return c.ensureDatabase(ctx)
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	c.state.Port = port
	c.log.Info("starting the embedded database", "dir", c.dataDir(), "port", port)
	logFile := filepath.Join(c.dataDir(), "postgresql.log")
	if err := c.pgctl("start", "-w", "-t", "60", "-l", logFile, "-o", "-p "+strconv.Itoa(port)); err != nil {
		return fmt.Errorf("start embedded database (see %s): %w", logFile, err)
	}
	if err := c.saveState(); err != nil {
		return err
	}
	return c.ensureDatabase(ctx)
}

// initdb creates a new cluster with a generated superuser password.
func (c *Cluster) initdb(ctx context.Context) error {
	bin, err := c.binaries("")
	if err != nil {
		return err
	}
	c.bin = bin
	pw := make([]byte, 18)
	if _, err := rand.Read(pw); err != nil {
		return err
	}
	c.state = state{Password: hex.EncodeToString(pw), BinDir: bin}
	if err := os.MkdirAll(c.dataDir(), 0o700); err != nil {
		return err
	}
	if err := c.run.own(c.dataDir()); err != nil {
		return err
	}
	pwFile := filepath.Join(c.dir, "initdb.pw")
	if err := os.WriteFile(pwFile, []byte(c.state.Password+"\n"), 0o600); err != nil {
		return err
	}
	defer os.Remove(pwFile)
	if err := c.run.own(pwFile); err != nil {
		return err
	}
	c.log.Info("creating the embedded database cluster", "dir", c.dataDir(), "binaries", bin)
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", c.dataDir(), "-U", superuser,
		"--pwfile="+pwFile, "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C")
	if out, err := c.run.command(cmd).CombinedOutput(); err != nil {
		os.RemoveAll(c.dataDir())
		return fmt.Errorf("initdb: %w: %s", err, lastLines(out, 3))
	}
	conf := "\n# prawn: private cluster, reachable on loopback only.\n" +
		"listen_addresses = '127.0.0.1'\nunix_socket_directories = ''\ntimezone = 'UTC'\n"
	f, err := os.OpenFile(filepath.Join(c.dataDir(), "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(conf); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return c.saveState()
}

// ensureDatabase creates prawn's database if the cluster lacks it.
func (c *Cluster) ensureDatabase(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, c.DatabaseURL("postgres"))
	if err != nil {
		return fmt.Errorf("connect to the embedded database: %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", Database).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+Database)
	return err
}

func (c *Cluster) pgctl(args ...string) error {
	all := append([]string{args[0], "-D", c.dataDir()}, args[1:]...)
	cmd := exec.Command(filepath.Join(c.bin, "pg_ctl"), all...)
	out, err := c.run.command(cmd).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl %s: %w: %s", args[0], err, lastLines(out, 3))
	}
	return nil
}

func (c *Cluster) loadState() error {
	b, err := os.ReadFile(filepath.Join(c.dir, "cluster.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return json.Unmarshal(b, &c.state)
}

func (c *Cluster) saveState() error {
	b, err := json.MarshalIndent(c.state, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(c.dir, "cluster.json.tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(c.dir, "cluster.json"))
}

// binaries finds local PostgreSQL binaries, or downloads them into the cluster's folder with
// embedded-postgres where the machine can reach its repository.
func (c *Cluster) binaries(preferred string) (string, error) {
	bin, err := findBinaries(preferred)
	if !errors.Is(err, ErrNoPostgres) {
		return bin, err
	}
	return fetchBinaries(filepath.Join(c.dir, "binaries"), c.log)
}

// ErrNoPostgres is returned when no PostgreSQL binaries can be found or fetched.
var ErrNoPostgres = errors.New("no PostgreSQL server binaries found (looked for pg_ctl in PATH and /usr/lib/postgresql/*/bin); " +
	"install PostgreSQL (Debian/Ubuntu: apt-get install postgresql; macOS: brew install postgresql) " +
	"or set DATABASE_URL to a database you already have")

// findBinaries returns a folder holding initdb and pg_ctl: the preferred one when it still has
// them, else PATH, else the newest /usr/lib/postgresql/N/bin.
func findBinaries(preferred string) (string, error) {
	has := hasBinaries
	if preferred != "" && has(preferred) {
		return preferred, nil
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil && has(filepath.Dir(real)) {
			return filepath.Dir(real), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if has(d) {
			return d, nil
		}
	}
	return "", ErrNoPostgres
}

// hasBinaries reports whether dir holds initdb, pg_ctl and postgres.
func hasBinaries(dir string) bool {
	for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
		if st, err := os.Stat(filepath.Join(dir, name)); err != nil || st.IsDir() {
			return false
		}
	}
	return true
}

func versionOf(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// runAs is the account the server runs as: the current one, or "postgres" when prawn runs as
// root (initdb and postgres refuse root).
type runAs struct {
	uid, gid int
	name     string
	switchTo bool
}

func currentRunAs() (runAs, error) {
	if os.Geteuid() != 0 {
		return runAs{uid: os.Geteuid(), gid: os.Getegid()}, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return runAs{}, errors.New("prawn runs as root, and PostgreSQL refuses to: create an unprivileged user named " +
			"'postgres' for the embedded database (useradd --system postgres), run prawn as another user, or set DATABASE_URL")
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return runAs{uid: uid, gid: gid, name: u.Username, switchTo: true}, nil
}

func (r runAs) command(cmd *exec.Cmd) *exec.Cmd {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if r.switchTo {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(r.uid), Gid: uint32(r.gid)}
		cmd.Dir = "/"
	}
	return cmd
}

func (r runAs) own(path string) error {
	if !r.switchTo {
		return nil
	}
	return os.Chown(path, r.uid, r.gid)
}

// clusterDir is dataDir/postgres, unless the server's account could not reach it (prawn runs as
// root inside a folder other users cannot enter); then a folder under /var/tmp named after it.
func clusterDir(dataDir string, run runAs, log *slog.Logger) (string, error) {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(abs, "postgres")
	if !run.switchTo || reachable(abs, run) {
		return dir, nil
	}
	alt := filepath.Join("/var/tmp", "prawn-"+strings.NewReplacer("/", "_").Replace(strings.TrimPrefix(abs, "/")))
	log.Info("the data folder is not reachable by the database's account; keeping the cluster elsewhere",
		"data_dir", abs, "account", run.name, "cluster_dir", alt)
	if err := os.MkdirAll(filepath.Dir(alt), 0o755); err != nil {
		return "", err
	}
	return alt, nil
}

// reachable reports whether every existing folder on the way to path lets run's account through.
func reachable(path string, run runAs) bool {
	for p := filepath.Dir(path); ; p = filepath.Dir(p) {
		st, err := os.Stat(p)
		if err == nil {
			sys := st.Sys().(*syscall.Stat_t)
			mode := st.Mode().Perm()
			ok := mode&0o001 != 0 ||
				(int(sys.Gid) == run.gid && mode&0o010 != 0) ||
				(int(sys.Uid) == run.uid && mode&0o100 != 0)
			if !ok {
				return false
			}
		}
		if p == "/" || p == "." {
			return true
		}
	}
}

func lockFile(path string, how int) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
