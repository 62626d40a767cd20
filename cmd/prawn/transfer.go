package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/prawnhq/prawn/internal/config"
	"github.com/prawnhq/prawn/internal/transfer"
)

// optionalString is a flag whose absence differs from its empty value (--host "" is the
// default site; no --host is every host).
type optionalString struct{ s *string }

func (f *optionalString) String() string {
	if f.s == nil {
		return ""
	}
	return *f.s
}

func (f *optionalString) Set(s string) error {
	f.s = &s
	return nil
}

func runExport(ctx context.Context, cfg config.Config, args []string, out io.Writer) error {
	fs := newFlags("export [--data D] [--format csv|jsonl] [--from T] [--to T] [--host H] [-o FILE]",
		"Writes the views (or one rollup) of a range as CSV or JSON lines, to standard output or to\n"+
			"FILE, streamed from one snapshot with constant memory. Views come UTC day by UTC day, each\n"+
			"day's in fold order; a view's visitor id only where it counted for visitors and only for\n"+
			"days already closed (never today's). Exports of disjoint ranges add up to the export of\n"+
			"their union: resume a stopped export with --from the first day it did not finish.", out)
	data := fs.String("data", "views", "what to export: views, hourly, daily, breakdowns or totals (rollups)")
	format := fs.String("format", "csv", "csv (with a header line) or jsonl (one JSON object per line)")
	var from, to timeFlag
	fs.Var(&from, "from", "start of the range, RFC 3339 (default: the first view)")
	fs.Var(&to, "to", "end of the range, RFC 3339, exclusive (default: after the last view)")
	var host optionalString
	fs.Var(&host, "host", `only this host ("" is the default site; default: every host)`)
	file := fs.String("o", "", "write to this file instead of standard output (written whole or not at all)")
	if err := parse(fs, args); err != nil {
		return err
	}
	o := transfer.ExportOptions{Data: *data, Format: *format, Host: host.s}
	if !from.t.IsZero() {
		o.From = &from.t
	}
	if !to.t.IsZero() {
		o.To = &to.t
	}
	q, err := transfer.NewExportQuery(o)
	if err != nil {
		return usageError{"export: " + err.Error()}
	}
	a, _, err := openMigrated(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()

	var w io.Writer = out
	msg := io.Writer(os.Stderr) // standard output carries the export
	var f *os.File
	if *file != "" {
		// Written next to FILE and renamed when complete: a stopped export leaves no FILE.
		f, err = os.CreateTemp(filepath.Dir(*file), "."+filepath.Base(*file)+".partial-*")
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		defer os.Remove(f.Name())
		defer f.Close()
		w, msg = f, out
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	var p *progress
	res, err := transfer.Export(ctx, a.Store, q, bw, func(done, expected int64) {
		if p == nil {
			p = newProgress("exported", expected, a.Log)
		}
		p.update(done, false)
	})
	if err == nil {
		err = bw.Flush()
	}
	if p != nil {
		p.update(res.Rows, true)
	}
	if err != nil {
		return err
	}
	if f != nil {
		if err := f.Close(); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		if err := os.Rename(f.Name(), *file); err != nil {
			return fmt.Errorf("export: %w", err)
		}
	}
	rate := float64(res.Rows) / max(res.Elapsed.Seconds(), 1e-9)
	span := "all time"
	if !res.From.IsZero() {
		span = res.From.Format(time.RFC3339Nano) + " .. " + res.To.Format(time.RFC3339Nano)
	}
	fmt.Fprintf(msg, "exported %d rows (%s, %s) of %s in %s (%.0f rows/s)\n", res.Rows, q.Data, q.Format, span,
		res.Elapsed.Round(time.Millisecond), rate)
	return nil
}

func runImport(ctx context.Context, cfg config.Config, args []string, out io.Writer) error {
	fs := newFlags("import [--format prawn|goatcounter|totals] [--host H] FILE",
		"Imports history from FILE (- for standard input): prawn's own views export (CSV or JSON\n"+
			"lines), GoatCounter's CSV export (version 2; bots and events are skipped), or a totals CSV\n"+
			"(path,views or path,date,views, optionally after a host column). Each chunk is imported\n"+
			"in one transaction and added to the rollups at once; a chunk imported before is skipped,\n"+
			"so running it twice changes nothing. A bad record stops the import, naming its line, what\n"+
			"is wrong and how far it got. Flags come before FILE.", out)
	format := fs.String("format", transfer.FormatPrawn, "prawn, goatcounter or totals")
	host := fs.String("host", "", "the host of a GoatCounter export's views or of a totals file without a host column (default: the default site)")
	chunk := fs.Int("chunk", transfer.DefaultChunk, "records per transaction")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() != 1 {
		return usageError{"import: give one FILE (or - for standard input), after the flags"}
	}
	if *chunk < 1 || *chunk > 1_000_000 {
		return usageError{"import: --chunk must be from 1 to 1000000"}
	}
	name := fs.Arg(0)
	var r io.Reader = os.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		defer f.Close()
		r = f
	}
	a, _, err := openMigrated(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	p := newProgress("imported", 0, a.Log)
	res, err := transfer.Import(ctx, a.Store, r, transfer.ImportOptions{Format: *format, Source: name, Host: *host,
		ChunkSize: *chunk, Progress: func(r transfer.ImportResult) { p.update(r.Records, false) }})
	p.update(res.Records, true)
	if err != nil {
		return err
	}
	rate := float64(res.Views) / max(res.Elapsed.Seconds(), 1e-9)
	fmt.Fprintf(out, "import of %s: %s; %d records in %s (%.0f views/s)\n", name, res.Summary(), res.Records,
		res.Elapsed.Round(time.Millisecond), rate)
	return nil
}
