// Command prawn is a page view counter: one binary that serves the API and the page, migrates
// the database and folds views into hourly rollups. Run `prawn --help`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	_ "time/tzdata" // IANA zones for `tz` even where the system has none (Lambda)

	"github.com/prawnhq/prawn/internal/config"
)

// command is one subcommand.
type command struct {
	name, summary string
	run           func(ctx context.Context, cfg config.Config, args []string, out io.Writer) error
}

func commands() []command {
	return []command{
		{"serve", "serve the API and the page, folding new views on an interval", runServe},
		{"migrate", "bring the database schema up to date", runMigrate},
		{"rollup", "fold views not yet rolled up into the hourly rollups, once (or --rebuild a range)", runRollup},
		{"verify", "compare the rollups with the raw views; exit 1 on any difference", runVerify},
		{"seed", "generate synthetic views (for demos and benchmarks)", runSeed},
		{"export", "write the views or the rollups of a range as CSV or JSON lines", runExport},
		{"import", "import history: a prawn export, a GoatCounter export or a totals CSV", runImport},
		{"token", "create, list or revoke API tokens (create --name N --scope read|export|admin)", runToken},
		{"version", "print the version", runVersion},
	}
}

func main() {
	if os.Getenv("AWS_LAMBDA_RUNTIME_API") != "" {
		os.Exit(runLambda()) // bootstrap of a Lambda function: see internal/lambda
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "prawn:", err)
		var usage usageError
		if errors.As(err, &usage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// usageError is a mistake in the command line.
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg + " (see prawn --help)" }

func run(ctx context.Context, args []string, out, errOut io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(out)
		if len(args) == 0 {
			return usageError{"no command given"}
		}
		return nil
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		if c.name == "version" {
			return c.run(ctx, config.Config{}, args[1:], out)
		}
		use := config.Command
		if c.name == "serve" {
			use = config.Serve
		}
		cfg, err := config.FromEnv(use)
		if err != nil {
			return fmt.Errorf("configuration:\n  %s", strings.ReplaceAll(err.Error(), "\n", "\n  "))
		}
		return c.run(ctx, cfg, args[1:], out)
	}
	return usageError{fmt.Sprintf("unknown command %q", args[0])}
}

func usage(w io.Writer) {
	fmt.Fprint(w, "prawn — a page view counter.\n\nUsage:\n  prawn <command> [flags]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nEnvironment, validated at start; [where it applies]: serve; CLI (migrate, rollup, verify,\n"+
		"seed, export, import, token); Lambda (the HTTP edge and ingest settings: its api handler):\n")
	for _, v := range config.Vars {
		fmt.Fprintf(w, "  %-22s [%s] %s (default: %s)\n", v.Name, v.Where, v.Help, v.Default)
	}
	fmt.Fprint(w, "\nRun `prawn <command> --help` for a command's flags.\n")
}

// newFlags is a flag set whose --help names the command.
func newFlags(name, synopsis string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: prawn %s\n\n%s\n", name, synopsis)
		var n int
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprint(out, "\nFlags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parse parses a command's flags, refusing stray arguments.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))}
	}
	return nil
}
