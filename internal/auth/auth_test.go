package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/prawnhq/prawn/internal/auth"
	"github.com/prawnhq/prawn/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestTokens(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	tok, hash, hint, err := auth.New()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, auth.Prefix) || len(tok) != len(auth.Prefix)+43 || hint != tok[len(tok)-4:] || string(auth.Hash(tok)) != string(hash) {
		t.Fatalf("token %q, hint %q", tok, hint)
	}
	other, _, _, _ := auth.New()
	if other == tok {
		t.Fatal("two tokens are the same")
	}
	if _, err := db.CreateToken(ctx, "t", "export", hash, hint); err != nil {
		t.Fatal(err)
	}
	for header, want := range map[string]error{
		"Bearer " + tok:        nil,
		"bearer  " + tok + " ": nil,
		"":                     auth.ErrMissing,
		"Bearer " + other:      auth.ErrInvalid,
		"Bearer " + tok + "x":  auth.ErrInvalid,
		"Basic " + tok:         auth.ErrInvalid,
		tok:                    auth.ErrInvalid,
		"Bearer":               auth.ErrInvalid,
	} {
		scope, err := auth.Check(ctx, db.Store, header)
		if !errors.Is(err, want) || (want == nil && scope != auth.ScopeExport) {
			t.Errorf("Check(%q) = %v, %v; want %v", header, scope, err, want)
		}
	}
	if ok, err := db.RevokeToken(ctx, 0, "t"); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if _, err := auth.Check(ctx, db.Store, "Bearer "+tok); !errors.Is(err, auth.ErrInvalid) {
		t.Errorf("a revoked token: %v", err)
	}
}

func TestScopes(t *testing.T) {
	r, _ := auth.ParseScope("read")
	e, _ := auth.ParseScope("export")
	a, _ := auth.ParseScope("admin")
	if !a.Allows(e) || !e.Allows(r) || !a.Allows(r) || r.Allows(e) || e.Allows(a) || auth.ScopeNone.Allows(r) {
		t.Error("scopes do not nest as admin ⊇ export ⊇ read")
	}
	if _, err := auth.ParseScope("root"); err == nil {
		t.Error("an unknown scope was accepted")
	}
	for _, name := range []string{"", strings.Repeat("x", 101), "a\nb", "\xff"} {
		if auth.CheckName(name) == nil {
			t.Errorf("name %q was accepted", name)
		}
	}
}
