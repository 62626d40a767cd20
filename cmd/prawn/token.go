package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/prawnhq/prawn/internal/auth"
	"github.com/prawnhq/prawn/internal/config"
)

func runToken(ctx context.Context, cfg config.Config, args []string, out io.Writer) error {
	synopsis := "token create --name NAME --scope read|export|admin | token list | token revoke ID|NAME"
	help := "Manages API tokens, sent as Authorization: Bearer <token>. Scopes: read (counts, when\n" +
		"PRAWN_STATS=private), export (also GET /api/export), admin (also POST /api/import and the\n" +
		"drop counters when stats are private). A token is shown once, when created; prawn keeps only\n" +
		"its SHA-256. A revoked token stops working at once."
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fs := newFlags(synopsis, help, out)
		fs.Usage()
		if len(args) == 0 {
			return usageError{"token: give create, list or revoke"}
		}
		return flag.ErrHelp
	}
	switch args[0] {
	case "create":
		fs := newFlags("token create --name NAME --scope read|export|admin", help, out)
		name := fs.String("name", "", "what the token is for, such as ci or dashboard (required; unique among live tokens)")
		scope := fs.String("scope", "read", "read, export or admin")
		if err := parse(fs, args[1:]); err != nil {
			return err
		}
		if err := auth.CheckName(*name); err != nil {
			return usageError{"token create: --name: " + err.Error()}
		}
		s, err := auth.ParseScope(*scope)
		if err != nil {
			return usageError{"token create: --" + err.Error()}
		}
		a, _, err := openMigrated(ctx, cfg)
		if err != nil {
			return err
		}
		defer a.Close()
		token, hash, hint, err := auth.New()
		if err != nil {
			return err
		}
		t, err := a.Store.CreateToken(ctx, *name, s.String(), hash, hint)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "created token %d %q, scope %s. It is shown only now (prawn keeps only its hash):\n%s\n", t.ID, t.Name, t.Scope, token)
		return nil
	case "list":
		if err := parse(newFlags("token list", "Lists every token: live ones first.", out), args[1:]); err != nil {
			return err
		}
		a, _, err := openMigrated(ctx, cfg)
		if err != nil {
			return err
		}
		defer a.Close()
		tokens, err := a.Store.Tokens(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tSCOPE\tTOKEN\tCREATED\tREVOKED")
		for _, t := range tokens {
			revoked := "-"
			if t.RevokedAt != nil {
				revoked = t.RevokedAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s…%s\t%s\t%s\n", t.ID, t.Name, t.Scope, auth.Prefix, t.Hint, t.CreatedAt.UTC().Format(time.RFC3339), revoked)
		}
		return tw.Flush()
	case "revoke":
		fs := newFlags("token revoke ID|NAME", "Revokes a live token by its id or its name (see prawn token list).", out)
		if err := fs.Parse(args[1:]); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return usageError{err.Error()}
		}
		if fs.NArg() != 1 {
			return usageError{"token revoke: give the token's id or name"}
		}
		which := fs.Arg(0)
		id, _ := strconv.ParseInt(which, 10, 64)
		a, _, err := openMigrated(ctx, cfg)
		if err != nil {
			return err
		}
		defer a.Close()
		ok, err := a.Store.RevokeToken(ctx, max(id, 0), which)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("token revoke: no live token has the id or name %q (see prawn token list)", which)
		}
		fmt.Fprintf(out, "revoked token %s\n", which)
		return nil
	}
	return usageError{fmt.Sprintf("token: unknown subcommand %q: give create, list or revoke", args[0])}
}
