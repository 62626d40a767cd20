package storage_test

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/prawnhq/prawn/internal/pgtest"
	"github.com/prawnhq/prawn/internal/rollup"
	"github.com/prawnhq/prawn/internal/storage"
)

func rollupAll(s *storage.Store) (rollup.Result, error) { return rollup.Run(ctx, s, rollup.Options{}) }

// idAt is a UUIDv7 of t with a distinguishing counter in its random bits.
func idAt(t time.Time, n uint64) [16]byte {
	var id [16]byte
	ms := uint64(t.UnixMilli())
	id[0], id[1], id[2], id[3], id[4], id[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	id[6] = 0x70
	id[8] = 0x80
	binary.BigEndian.PutUint64(id[8:], n|0x8000000000000000)
	return id
}

// InsertAcceptedViews
func TestInsertAcceptedViewsCountsEachIdOnce(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	at := time.Date(2026, 12, 1, 10, 15, 30, 123456000, time.UTC)
	batch := []storage.AcceptedView{
		{ID: idAt(at, 1), AcceptedAt: at, View: storage.View{Host: "b.example", Path: "/a", Referrer: "https://r.example/x", RefHost: "r.example", Country: "DE", Visitor: 7}},
		{ID: idAt(at, 2), AcceptedAt: at.Add(time.Second), View: storage.View{Path: "/b"}},
		{ID: idAt(at, 1), AcceptedAt: at, View: storage.View{Host: "b.example", Path: "/a", Referrer: "https://r.example/x", RefHost: "r.example", Country: "DE", Visitor: 7}}, // a copy in the same batch
	}
	n, err := db.InsertAcceptedViews(ctx, batch)
	if err != nil || n != 2 {
		t.Fatalf("inserted %d, %v; want the 2 distinct views", n, err)
	}
	// The same batch again (a redelivery) and one more view: only the new one is stored.
	n, err = db.InsertAcceptedViews(ctx, append(batch, storage.AcceptedView{ID: idAt(at, 3), AcceptedAt: at, View: storage.View{Path: "/c"}}))
	if err != nil || n != 1 {
		t.Fatalf("redelivery: inserted %d, %v; want only the new view", n, err)
	}
	got := db.Counts(t, `SELECT concat_ws('|', host, path, coalesce(referrer, '-'), coalesce(country, '-'), coalesce(visitor, 0), to_char(viewed_at AT TIME ZONE 'UTC', 'HH24:MI:SS.US')), count(*) FROM views GROUP BY 1`)
	want := map[string]int64{"b.example|/a|https://r.example/x|DE|7|10:15:30.123456": 1, "|/b|-|-|0|10:15:31.123456": 1, "|/c|-|-|0|10:15:30.123456": 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("views = %v, want %v (each once, at the time it was accepted)", got, want)
	}
	if ids := db.Counts(t, `SELECT 'ids', count(*) FROM accepted_views`)["ids"]; ids != 3 {
		t.Errorf("accepted ids = %d, want 3", ids)
	}
	// Views are inserted in the order they were accepted (fold order follows it).
	order := db.Counts(t, `SELECT string_agg(path, ',' ORDER BY id), 1 FROM views WHERE path IN ('/a', '/b')`)
	if _, ok := order["/a,/b"]; !ok {
		t.Errorf("insertion order %v, want /a before /b", order)
	}

	// The rollups count each view once, however often it was delivered.
	db.FoldAll(t)
	if total := db.Counts(t, `SELECT 'total', sum(views) FROM totals WHERE path = ''`)["total"]; total != 3 {
		t.Errorf("folded total = %d, want 3", total)
	}
	if n, err := db.InsertAcceptedViews(ctx, batch); err != nil || n != 0 {
		t.Errorf("a redelivery after the fold: inserted %d, %v; want 0", n, err)
	}
	if db.Unfolded(t) != 0 {
		t.Error("a redelivery left views to fold")
	}
}

// InsertAcceptedViews under concurrency: two consumers writing the same ids at once store each
// view once (the second waits for the first's id and skips it).
func TestInsertAcceptedViewsConcurrentRedelivery(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	at := time.Now().UTC()
	var batch []storage.AcceptedView
	for i := range 500 {
		batch = append(batch, storage.AcceptedView{ID: idAt(at, uint64(i)), AcceptedAt: at, View: storage.View{Path: fmt.Sprintf("/p%d", i%7)}})
	}
	errs := make(chan error, 4)
	total := make(chan int64, 4)
	for range 4 {
		go func() {
			n, err := db.InsertAcceptedViews(ctx, batch)
			total <- n
			errs <- err
		}()
	}
	var sum int64
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		sum += <-total
	}
	if sum != 500 {
		t.Errorf("four consumers inserted %d views in all, want 500", sum)
	}
	if n := db.Counts(t, `SELECT 'n', count(*) FROM views`)["n"]; n != 500 {
		t.Errorf("views = %d, want 500", n)
	}
}

// PruneAcceptedViews
func TestPruneAcceptedViewsForgetsOnlyOldIds(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	now := time.Now().UTC()
	old, recent := now.Add(-20*24*time.Hour), now.Add(-time.Hour)
	var batch []storage.AcceptedView
	for i := range 30 {
		at := old
		if i >= 20 {
			at = recent
		}
		batch = append(batch, storage.AcceptedView{ID: idAt(at, uint64(i)), AcceptedAt: at, View: storage.View{Path: "/x"}})
	}
	if _, err := db.InsertAcceptedViews(ctx, batch); err != nil {
		t.Fatal(err)
	}
	cutoff := uuid.UUID(idAt(now.Add(-15*24*time.Hour), 0))
	cutoff[8] = 0 // the smallest id of that millisecond
	n, err := db.PruneAcceptedViews(ctx, cutoff, 15)
	if err != nil || n != 15 {
		t.Fatalf("pruned %d, %v; want 15 (the limit)", n, err)
	}
	if n, err = db.PruneAcceptedViews(ctx, cutoff, 15); err != nil || n != 5 {
		t.Fatalf("pruned %d, %v; want the other 5 old ids", n, err)
	}
	if left := db.Counts(t, `SELECT 'ids', count(*) FROM accepted_views`)["ids"]; left != 10 {
		t.Errorf("ids left = %d, want the 10 recent ones", left)
	}
	if views := db.Counts(t, `SELECT 'n', count(*) FROM views`)["n"]; views != 30 {
		t.Errorf("pruning touched the views: %d", views)
	}
}

// ListHosts, ListHostTotals, GetSiteViews: the canary's reserved host is left out of every-host
// reads, before and after the fold, and counted when asked for by name.
func TestCanaryHostIsLeftOutOfEveryHostReads(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	db.Insert(t, storage.View{Path: "/"}, storage.View{Host: "blog.example", Path: "/a"},
		storage.View{Host: storage.CanaryHost, Path: "/_prawn/canary"})
	check := func(when string) {
		t.Helper()
		site, err := db.SiteViews(ctx)
		if err != nil || site != 2 {
			t.Errorf("%s: site views %d, %v; want 2 (the canary left out)", when, site, err)
		}
		canary, err := db.ScopeViews(ctx, storage.CanaryHost, "/_prawn/canary")
		if err != nil || canary != 1 {
			t.Errorf("%s: canary views %d, %v; want 1", when, canary, err)
		}
		err = db.Read(ctx, func(r *storage.Reader) error {
			hosts, err := r.Hosts(ctx)
			if err != nil {
				return err
			}
			if strings.Join(hosts, ",") != ",blog.example" {
				t.Errorf("%s: hosts %q, want the default site and blog.example", when, hosts)
			}
			totals, err := r.HostTotals(ctx)
			for _, row := range totals {
				if row.Host == storage.CanaryHost {
					t.Errorf("%s: host totals list the canary: %v", when, totals)
				}
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	check("in the tail")
	db.FoldAll(t)
	check("folded")
}

// ProvisionAppRole: the role logs in, reads and writes prawn's tables (a fold and a read as the
// rollup and api do), and can do nothing else: no DDL, no migrations' table.
func TestAppRoleHasOnlyWhatTheHandlersNeed(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	name := "prawn_app_test_" + strings.ToLower(strings.ReplaceAll(uuid.NewString()[:8], "-", ""))
	t.Cleanup(func() { dropRole(t, db, name) })

	for range 2 { // idempotent: the second run finds the role and changes nothing
		if err := db.ProvisionAppRole(ctx, storage.AppRole{Name: name, Password: "s3cret-'quote"}); err != nil {
			t.Fatal(err)
		}
	}
	var super, createRole, createDB, login bool
	var pw string
	if err := db.Conn(t).QueryRow(ctx, `SELECT rolsuper, rolcreaterole, rolcreatedb, rolcanlogin, rolpassword FROM pg_authid WHERE rolname = $1`, name).
		Scan(&super, &createRole, &createDB, &login, &pw); err != nil {
		t.Fatal(err)
	}
	if super || createRole || createDB || !login || !strings.HasPrefix(pw, "SCRAM-SHA-256$4096:") || strings.Contains(pw, "s3cret") {
		t.Errorf("role: super %v createrole %v createdb %v login %v password %q", super, createRole, createDB, login, pw)
	}

	// Log in as the role with its password: the private test cluster (scram-sha-256) checks it
	// against the verifier prawn stored; a server that trusts local logins does not
	// (TestSCRAMVerifierMatchesPostgres checks the verifier there).
	u, err := url.Parse(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(name, "s3cret-'quote")
	app, err := storage.Open(ctx, u.String(), storage.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	if err := app.InsertViews(ctx, []storage.View{{Host: "blog.example", Path: "/a", Visitor: 3}}); err != nil {
		t.Fatalf("insert as the app role: %v", err)
	}
	if _, err := app.InsertAcceptedViews(ctx, []storage.AcceptedView{{ID: idAt(time.Now(), 1), AcceptedAt: time.Now(), View: storage.View{Path: "/q"}}}); err != nil {
		t.Fatalf("insert accepted views as the app role: %v", err)
	}
	if _, err := app.PruneAcceptedViews(ctx, idAt(time.Now().Add(-time.Hour), 0), 10); err != nil {
		t.Fatalf("prune as the app role: %v", err)
	}
	pgtest.Eventually(t, 15*time.Second, func() error {
		if _, err := rollupAll(app); err != nil {
			t.Fatalf("fold as the app role: %v", err)
		}
		if n, err := app.SiteViews(ctx); err != nil || n != 2 {
			return fmt.Errorf("site views as the app role: %d, %v", n, err)
		}
		if n := db.Unfolded(t); n != 0 {
			return fmt.Errorf("%d views left to fold", n)
		}
		return nil
	})

	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, ddl := range []string{
		"CREATE TABLE x (a int)", "DROP TABLE views", "ALTER TABLE views ADD COLUMN x int", "TRUNCATE views",
		"CREATE INDEX ON views (path)", "SELECT count(*) FROM goose_db_version", "DELETE FROM goose_db_version",
		"CREATE ROLE y", "CREATE DATABASE y", "CREATE SCHEMA y",
	} {
		if _, err := conn.Exec(ctx, ddl); err == nil || !strings.Contains(err.Error(), "denied") && !strings.Contains(err.Error(), "must be owner") {
			t.Errorf("%s as the app role: %v, want permission denied", ddl, err)
		}
	}
}

func TestAppRoleIAMAndRefusals(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	name := "prawn_app_iam_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	t.Cleanup(func() { dropRole(t, db, name) })
	var hasIAM bool
	if err := db.Conn(t).QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam')`).Scan(&hasIAM); err != nil {
		t.Fatal(err)
	}
	if !hasIAM {
		if err := db.ProvisionAppRole(ctx, storage.AppRole{Name: name, IAM: true}); err == nil || !strings.Contains(err.Error(), "rds_iam") {
			t.Errorf("IAM without rds_iam: %v, want a refusal naming rds_iam", err)
		}
		// Amazon RDS's role, made here for the test (roles are the server's, shared by its databases).
		db.Exec(t, `CREATE ROLE rds_iam NOLOGIN`)
		t.Cleanup(func() { db.Exec(t, `DROP ROLE IF EXISTS rds_iam`) })
	}
	member := func() bool {
		var m bool
		if err := db.Conn(t).QueryRow(ctx, `SELECT pg_has_role($1, 'rds_iam', 'MEMBER')`, name).Scan(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	if err := db.ProvisionAppRole(ctx, storage.AppRole{Name: name, IAM: true}); err != nil || !member() {
		t.Fatalf("IAM: %v, member of rds_iam %v", err, member())
	}
	// Back to a password: rds_iam is revoked (with it, RDS refuses password logins).
	if err := db.ProvisionAppRole(ctx, storage.AppRole{Name: name, Password: "pw"}); err != nil || member() {
		t.Fatalf("secret: %v, member of rds_iam %v", err, member())
	}
	db.Exec(t, `ALTER ROLE `+pgx.Identifier{name}.Sanitize()+` CREATEDB`)
	if err := db.ProvisionAppRole(ctx, storage.AppRole{Name: name}); err == nil || !strings.Contains(err.Error(), "CREATEDB") {
		t.Errorf("a role with CREATEDB: %v, want a refusal naming it", err)
	}
}

// dropRole removes a test's role and what it was granted in the test's database.
func dropRole(t *testing.T, db *pgtest.DB, name string) {
	ident := pgx.Identifier{name}.Sanitize()
	c, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Logf("drop role %s: %v", name, err)
		return
	}
	defer c.Close(ctx)
	for _, q := range []string{"DROP OWNED BY " + ident, "DROP ROLE " + ident} {
		if _, err := c.Exec(ctx, q); err != nil {
			t.Logf("%s: %v", q, err)
		}
	}
}

// The verifier ProvisionAppRole stores is the one PostgreSQL computes itself for the same
// password and salt.
func TestSCRAMVerifierMatchesPostgres(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	name := "prawn_scram_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	t.Cleanup(func() { dropRole(t, db, name) })
	c := db.Conn(t)
	if _, err := c.Exec(ctx, `SET password_encryption = 'scram-sha-256'`); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, `CREATE ROLE `+pgx.Identifier{name}.Sanitize()+` PASSWORD 'correct horse battery staple'`); err != nil {
		t.Fatal(err)
	}
	var theirs string
	if err := c.QueryRow(ctx, `SELECT rolpassword FROM pg_authid WHERE rolname = $1`, name).Scan(&theirs); err != nil {
		t.Fatal(err)
	}
	// SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>
	var iterations int
	var rest string
	if _, err := fmt.Sscanf(theirs, "SCRAM-SHA-256$%d:%s", &iterations, &rest); err != nil {
		t.Fatalf("%q: %v", theirs, err)
	}
	salt, err := base64.StdEncoding.DecodeString(strings.SplitN(rest, "$", 2)[0])
	if err != nil {
		t.Fatal(err)
	}
	ours, err := storage.ScramVerifierWith("correct horse battery staple", salt, iterations)
	if err != nil || ours != theirs {
		t.Errorf("verifier %q, %v; PostgreSQL's %q", ours, err, theirs)
	}
}
