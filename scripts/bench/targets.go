package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
)

// Server is how a target's server is started.
type Server string

const (
	// Prawn is `prawn serve` on a fresh, migrated database of its own.
	Prawn Server = "prawn"
	// Hello is scripts/bench/hello: net/http answering without a database (the ceiling).
	Hello Server = "hello"
)

// Request is the one request a target's load repeats.
type Request struct {
	Method string
	Path   string            // with its query, such as "/api/views.gif?path=/x"
	Body   string            // sent as is; empty for none
	Header map[string]string // request headers
}

// String is the request as the report shows it: "POST /api/views {"path":…}".
func (r Request) String() string {
	s := r.Method + " " + r.Path
	if r.Body != "" {
		s += " " + r.Body
	}
	return s
}

// vegetaTarget is r in vegeta's JSON target format (one line).
func (r Request) vegetaTarget(base string) ([]byte, error) {
	h := http.Header{}
	for k, v := range r.Header {
		h.Set(k, v)
	}
	t := struct {
		Method string      `json:"method"`
		URL    string      `json:"url"`
		Body   string      `json:"body,omitempty"`
		Header http.Header `json:"header,omitempty"`
	}{Method: r.Method, URL: strings.TrimRight(base, "/") + r.Path, Header: h}
	if r.Body != "" {
		t.Body = base64.StdEncoding.EncodeToString([]byte(r.Body))
	}
	return json.Marshal(t)
}

// Target is one row kind of the report: a server, how it is started, and the request sent to it.
// Adding a target is adding an entry to Targets (and its name to a ladder).
type Target struct {
	Name    string            // row label, such as "batch"
	About   string            // what it is, for the summary: "prawn (batch)"
	Server  Server            // what runs
	Env     map[string]string // environment of a Prawn server beyond the benchmark's own (see prawnEnv)
	Request Request           // what the load sends
	Ack     int               // the status that acknowledges a request (and, when Records, one view)
	Records bool              // each acknowledged request records one view: views are counted afterwards
}

// Ladder is a group of targets that take turns at each of its rates, each on a database with the
// ladder's settings, followed by the pgbench baseline on such a database when Pgbench is set.
type Ladder struct {
	Name    string            // "" for the main ladder, "slow fsync"
	Suffix  string            // appended to the targets' names in this ladder's rows: "-slow"
	Rates   []int             // requests per second, in order
	Targets []string          // names in Targets
	DB      map[string]string // settings of the ladder's databases (ALTER DATABASE … SET)
	Pgbench bool              // also measure pgbench's single-row INSERT on such a database
}

// Ratio is a summary line comparing two rows' highest rates held (or pgbench's tps).
type Ratio struct {
	Label     string
	Of, Over  string // row labels; "pgbench" is pgbench's tps at the main ladder's concurrency
	Goal      string // such as "goal ≥ 0.8"; empty for none
	Important bool   // printed in bold
}

// viewBody is the view POST /api/views records in every target that takes one.
const viewBody = `{"path":"/bench/ingest","referrer":"https://example.com/"}`

var postView = Request{Method: http.MethodPost, Path: "/api/views", Body: viewBody,
	Header: map[string]string{"Content-Type": "application/json"}}

// Targets are every target the benchmark knows. Targets that are coming (reads of /api/stats and
// /api/pages with Records false) are one entry each here.
var Targets = []Target{
	{Name: "batch", About: "prawn (batch)", Server: Prawn,
		Env: map[string]string{"PRAWN_INGEST_MODE": "batch"}, Request: postView, Ack: http.StatusCreated, Records: true},
	{Name: "direct", About: "naive path (PRAWN_INGEST_MODE=direct)", Server: Prawn,
		Env: map[string]string{"PRAWN_INGEST_MODE": "direct"}, Request: postView, Ack: http.StatusCreated, Records: true},
	{Name: "hello", About: "hello-world net/http (ceiling)", Server: Hello, Request: postView, Ack: http.StatusCreated},
	// GET /api/home records a view of / and reads the site's total: the rollups plus the views
	// not yet folded, so it runs with the default fold interval as it would on a real site
	// (without folding, the unfolded tail it counts would grow for the whole run).
	{Name: "home", About: "GET /api/home (record + read)", Server: Prawn,
		Env:     map[string]string{"PRAWN_INGEST_MODE": "batch", "PRAWN_ROLLUP_INTERVAL": "1m"},
		Request: Request{Method: http.MethodGet, Path: "/api/home"}, Ack: http.StatusOK, Records: true},
	// The pixel is POST /api/views's path once its parameters are parsed: a view, committed by the
	// same group commit, answered with a GIF.
	{Name: "pixel", About: "GET /api/views.gif (record)", Server: Prawn,
		Env:     map[string]string{"PRAWN_INGEST_MODE": "batch"},
		Request: Request{Method: http.MethodGet, Path: "/api/views.gif?path=/bench/pixel"}, Ack: http.StatusOK, Records: true},
	// A recording badge reads the path's total (one statement: its total row plus its views not
	// yet folded, which it counts one by one), records a view and draws the SVG. It folds every
	// second, so the unfolded tail each read counts stays about one second of views.
	{Name: "badge", About: "GET /api/badge.svg?record=true (read + record + draw)", Server: Prawn,
		Env:     map[string]string{"PRAWN_INGEST_MODE": "batch", "PRAWN_ROLLUP_INTERVAL": "1s"},
		Request: Request{Method: http.MethodGet, Path: "/api/badge.svg?path=/bench/badge&record=true"}, Ack: http.StatusOK, Records: true},
}

// Ratios are the summary's comparisons; those naming a row this run lacks are left out.
var Ratios = []Ratio{
	{Label: "prawn / hello-world ceiling", Of: "batch", Over: "hello", Goal: "goal ≥ 0.8", Important: true},
	{Label: "prawn / naive path", Of: "batch", Over: "direct", Important: true},
	{Label: "GET /api/home / POST /api/views (batch)", Of: "home", Over: "batch", Goal: "goal ≥ 0.8", Important: true},
	{Label: "GET /api/views.gif / POST /api/views (batch)", Of: "pixel", Over: "batch", Goal: "goal: the same rate, 1.0", Important: true},
	{Label: "GET /api/badge.svg?record=true / POST /api/views (batch)", Of: "badge", Over: "batch"},
	{Label: "prawn / pgbench", Of: "batch", Over: "pgbench"},
	{Label: "slow fsync: prawn / naive path", Of: "batch-slow", Over: "direct-slow", Important: true},
}

// ladders are the runs of a benchmark with configuration c, in order.
func ladders(c config) []Ladder {
	return []Ladder{
		{Rates: c.rates, Targets: []string{"batch", "direct", "hello", "home", "pixel", "badge"}, Pgbench: true},
		// Slow fsync: every WAL flush at commit first sleeps commit_delay µs (commit_siblings=0
		// makes it unconditional), as on a networked disk.
		{Name: "slow fsync", Suffix: "-slow", Rates: c.slowRates, Targets: []string{"batch", "direct"}, Pgbench: true,
			DB: map[string]string{"commit_delay": fmt.Sprint(c.commitDelayUS), "commit_siblings": "0"}},
	}
}

// targetNamed finds a target by name.
func targetNamed(name string) (Target, bool) {
	for _, t := range Targets {
		if t.Name == name {
			return t, true
		}
	}
	return Target{}, false
}

// prawnEnv is the environment of a Prawn target's server: the benchmark's own environment (so
// PRAWN_INGEST_* settings given to `make bench` reach it), then PRAWN_ROLLUP_INTERVAL=0 unless the
// target says otherwise, then the target's Env, then what the benchmark fixes: the address, the
// database, and PRAWN_RATE_LIMIT=0 (load tests never rely on loopback's exemption from it).
func prawnEnv(environ []string, addr, databaseURL string, t Target) []string {
	set := map[string]string{"PRAWN_ROLLUP_INTERVAL": "0"}
	for k, v := range t.Env {
		set[k] = v
	}
	set["PRAWN_ADDR"] = addr
	set["DATABASE_URL"] = databaseURL
	set["PRAWN_RATE_LIMIT"] = "0"
	var env []string
	for _, kv := range environ {
		if k, _, _ := strings.Cut(kv, "="); !has(set, k) {
			env = append(env, kv)
		}
	}
	for _, k := range sortedKeys(set) {
		env = append(env, k+"="+set[k])
	}
	return env
}

func has(m map[string]string, k string) bool { _, ok := m[k]; return ok }

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
