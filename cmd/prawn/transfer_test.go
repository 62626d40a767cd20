package main

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/prawnhq/prawn/internal/pgtest"
)

// TestExportImportCLI: prawn export writes a file whole (never a partial one), prawn import
// brings it into another database and says what it did, twice changes nothing, and bad command
// lines are usage errors.
func TestExportImportCLI(t *testing.T) {
	src := pgtest.URL(t)
	t.Setenv("DATABASE_URL", src)
	t.Setenv("PRAWN_LOG_LEVEL", "error")
	if out, err := runCLI(t, "seed", "--views", "2000", "--days", "2", "--paths", "10", "--host", "cli.example"); err != nil {
		t.Fatalf("prawn seed: %v\n%s", err, out)
	}
	file := filepath.Join(t.TempDir(), "views.csv")
	out, err := runCLI(t, "export", "--host", "cli.example", "-o", file)
	if err != nil || !strings.Contains(out, "exported 2000 rows (views, csv)") {
		t.Fatalf("prawn export: %v\n%s", err, out)
	}
	data, err := os.ReadFile(file)
	if err != nil || strings.Count(string(data), "\n") != 2001 {
		t.Fatalf("the export file: %v, %d lines", err, strings.Count(string(data), "\n"))
	}
	if entries, _ := os.ReadDir(filepath.Dir(file)); len(entries) != 1 {
		t.Errorf("the export left %d files, want only %s", len(entries), file)
	}
	dst := pgtest.URL(t)
	t.Setenv("DATABASE_URL", dst)
	out, err = runCLI(t, "import", "--chunk", "700", file)
	if err != nil || !strings.Contains(out, "lines 2–2001 are imported (this run: 3 chunks, 2000 views)") {
		t.Fatalf("prawn import: %v\n%s", err, out)
	}
	out, err = runCLI(t, "import", "--chunk", "700", file)
	if err != nil || !strings.Contains(out, "this run: 0 chunks, 0 views; 3 chunks already imported and skipped") {
		t.Fatalf("prawn import again: %v\n%s", err, out)
	}
	if out, err := runCLI(t, "verify"); err != nil || !strings.Contains(out, "rollups match") {
		t.Fatalf("prawn verify after the import: %v\n%s", err, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.csv")
	if err := os.WriteFile(bad, []byte("path,views\n/a,1\n/b,x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := runCLI(t, "import", "--format", "totals", bad); err == nil || !strings.Contains(err.Error(), `line 3: views "x"`) {
		t.Errorf("import of a bad totals file: %v", err)
	}
	var usage usageError
	for _, args := range [][]string{
		{"export", "--format", "xml"}, {"export", "--data", "totals", "--from", "2026-01-01T00:00:00Z"}, {"import"},
		{"import", "a", "b"}, {"import", "--chunk", "0", file}, {"export", "stray"},
	} {
		if _, err := runCLI(t, args...); !errors.As(err, &usage) {
			t.Errorf("prawn %s: err = %v, want a usage error", strings.Join(args, " "), err)
		}
	}
	// A stopped export leaves no file: here, an export into a folder that does not exist.
	if _, err := runCLI(t, "export", "-o", filepath.Join(t.TempDir(), "missing", "x.csv")); err == nil {
		t.Error("an export into a missing folder succeeded")
	}
}

// TestTokenCLI: a token is shown once and listed by its hint only; revoking it by name or id
// works once; bad names and scopes are usage errors.
func TestTokenCLI(t *testing.T) {
	t.Setenv("DATABASE_URL", pgtest.URL(t))
	t.Setenv("PRAWN_LOG_LEVEL", "error")
	out, err := runCLI(t, "token", "create", "--name", "ci", "--scope", "export")
	if err != nil {
		t.Fatalf("token create: %v\n%s", err, out)
	}
	token := regexp.MustCompile(`prawn_[A-Za-z0-9_-]{43}`).FindString(out)
	if token == "" || !strings.Contains(out, `scope export`) {
		t.Fatalf("token create printed no token:\n%s", out)
	}
	if _, err := runCLI(t, "token", "create", "--name", "ci"); err == nil || !strings.Contains(err.Error(), "already has that name") {
		t.Errorf("a second live token named ci: %v", err)
	}
	if _, err := runCLI(t, "token", "create", "--name", "dash", "--scope", "read"); err != nil {
		t.Fatal(err)
	}
	list, err := runCLI(t, "token", "list")
	if err != nil || strings.Contains(list, token) || !strings.Contains(list, "prawn_…"+token[len(token)-4:]) || !strings.Contains(list, "dash") {
		t.Fatalf("token list: %v\n%s", err, list)
	}
	if out, err := runCLI(t, "token", "revoke", "ci"); err != nil || !strings.Contains(out, "revoked") {
		t.Errorf("token revoke ci: %v %s", err, out)
	}
	if _, err := runCLI(t, "token", "revoke", "ci"); err == nil {
		t.Error("revoking a revoked token succeeded")
	}
	id := regexp.MustCompile(`(?m)^(\d+)\s+dash\s`).FindStringSubmatch(list)
	if id == nil {
		t.Fatalf("token list has no row for dash:\n%s", list)
	}
	if out, err := runCLI(t, "token", "revoke", id[1]); err != nil {
		t.Errorf("token revoke by id: %v %s", err, out)
	}
	if list, _ := runCLI(t, "token", "list"); strings.Count(list, "  -\n") != 0 {
		t.Errorf("token list after revoking both still shows a live token:\n%s", list)
	}
	var usage usageError
	for _, args := range [][]string{{"token"}, {"token", "frob"}, {"token", "create", "--name", ""}, {"token", "create", "--name", "x", "--scope", "root"}, {"token", "revoke"}} {
		if _, err := runCLI(t, args...); !errors.As(err, &usage) {
			t.Errorf("prawn %s: err = %v, want a usage error", strings.Join(args, " "), err)
		}
	}
}
