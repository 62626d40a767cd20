package transfer

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/prawnhq/prawn/internal/pageview"
	"github.com/prawnhq/prawn/internal/rollup"
	"github.com/prawnhq/prawn/internal/storage"
)

// Formats of an import.
const (
	// FormatPrawn is prawn's own views export, CSV or JSON lines (told apart by the first byte).
	FormatPrawn = "prawn"
	// FormatGoatCounter is GoatCounter's CSV export, version 2.
	FormatGoatCounter = "goatcounter"
	// FormatTotals is a CSV of path,views or path,date,views (optionally with a host column),
	// from a counter that only knew totals.
	FormatTotals = "totals"
)

// DefaultChunk is how many records of a file one transaction imports.
const DefaultChunk = 20_000

// Importer is what an import needs from the database.
type Importer interface {
	ImportChunk(ctx context.Context, c storage.ImportChunk, compute storage.FoldFunc) (storage.ChunkResult, error)
	AnalyzeImported(ctx context.Context) error
}

// ImportOptions describe an import.
type ImportOptions struct {
	// Format is FormatPrawn, FormatGoatCounter or FormatTotals.
	Format string
	// Source names the file ("-" for standard input), for the record of what was imported.
	Source string
	// Host is the host of every view of a GoatCounter export, or of a totals file without a host
	// column ("" is the default site). A prawn export names its hosts.
	Host string
	// ChunkSize is how many records one transaction imports; 0 means DefaultChunk.
	ChunkSize int
	// Now is the clock (views may not lie in the future); nil means time.Now.
	Now func() time.Time
	// Progress, when set, is called after every chunk.
	Progress func(ImportResult)
}

// ImportResult is what an import did (so far, when it failed).
type ImportResult struct {
	Format string
	// Lines is the last line read; Records the records (data lines) read.
	Lines, Records int64
	// Chunks were imported by this run, holding Rows rows that stand for Views views.
	Chunks      int
	Rows, Views int64
	// Repeated chunks were imported before (by content) and left alone.
	Repeated int
	// Imported is the range of lines whose records are now in the database (this run's and
	// earlier runs'), as "2–50001"; empty when none.
	FirstLine, LastLine int64
	// Skipped counts, by reason, the records that are valid but not counted (bots, events, paths
	// prawn does not count); SkippedAt is the first line of each reason.
	Skipped   map[string]int64
	SkippedAt map[string]int64
	Elapsed   time.Duration
}

// ImportError is a refused file: the line and what is wrong with it, and how far the import got
// (every chunk before the one holding the line is in; nothing from it on).
type ImportError struct {
	Line   int64
	Reason string
	Done   ImportResult
}

func (e *ImportError) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	b.WriteString(e.Reason)
	b.WriteString(". ")
	b.WriteString(e.Done.Summary())
	if e.Done.LastLine > 0 {
		fmt.Fprintf(&b, "; nothing from line %d on was imported: fix the file and import it again (the chunks already in are skipped)", e.Done.LastLine+1)
	} else {
		b.WriteString("; nothing was imported")
	}
	return b.String()
}

// Is makes an ImportError an ErrInvalid: the file, not the server, is at fault.
func (e *ImportError) Is(target error) bool { return target == ErrInvalid }

// Summary says in one line what an import brought in.
func (r ImportResult) Summary() string {
	var b strings.Builder
	switch {
	case r.LastLine == 0:
		b.WriteString("no lines are imported")
	default:
		fmt.Fprintf(&b, "lines %d–%d are imported", r.FirstLine, r.LastLine)
	}
	fmt.Fprintf(&b, " (this run: %s, %d views", plural(r.Chunks, "chunk"), r.Views)
	if r.Repeated > 0 {
		fmt.Fprintf(&b, "; %s already imported and skipped", plural(r.Repeated, "chunk"))
	}
	b.WriteString(")")
	if len(r.Skipped) > 0 {
		reasons := make([]string, 0, len(r.Skipped))
		for k := range r.Skipped {
			reasons = append(reasons, k)
		}
		sort.Strings(reasons)
		parts := make([]string, len(reasons))
		for i, k := range reasons {
			parts[i] = fmt.Sprintf("%d %s (first on line %d)", r.Skipped[k], k, r.SkippedAt[k])
		}
		b.WriteString("; not counted: " + strings.Join(parts, ", "))
	}
	return b.String()
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// record is one record of an imported file, parsed.
type record struct {
	line   int64    // its first line
	fields []string // what it holds, for the chunk's hash
	row    storage.ImportRow
	skip   string // why it is not counted; "" counts it
}

// lineError is a record that is not what its format says.
type lineError struct {
	line int64
	msg  string
}

func (e *lineError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

// source reads the records of one format.
type source interface {
	// header is what identifies the file's columns, for the chunks' hashes.
	header() []string
	// next returns the next record, io.EOF after the last, or a *lineError.
	next() (record, error)
	// lastLine is the last line read.
	lastLine() int64
}

// Import reads a file of opt.Format from r and imports it chunk by chunk, each in one
// transaction (storage.ImportChunk): counted as the fold counts recorded views (rollup.Compute),
// so that `prawn verify` agrees. A chunk imported before is skipped, so importing a file again
// changes nothing. A record that breaks its format stops the import with an *ImportError naming
// the line and how far it got; nothing of the chunk holding it is imported. When anything was
// imported, the planner's statistics are refreshed before Import returns.
func Import(ctx context.Context, store Importer, r io.Reader, opt ImportOptions) (ImportResult, error) {
	start := time.Now()
	res := ImportResult{Format: opt.Format, Skipped: map[string]int64{}, SkippedAt: map[string]int64{}}
	now := time.Now
	if opt.Now != nil {
		now = opt.Now
	}
	host, err := pageview.NormalizeHost(opt.Host)
	if err != nil {
		return res, invalidf("host: %v", err)
	}
	size := opt.ChunkSize
	if size <= 0 {
		size = DefaultChunk
	}
	br := bufio.NewReaderSize(r, MaxRecordBytes+1)
	if bom, _ := br.Peek(3); string(bom) == "\xef\xbb\xbf" {
		_, _ = br.Discard(3) // a byte order mark, as spreadsheets write
	}
	src, err := newSource(opt.Format, br, host, now().Add(FutureGrace))
	if err != nil {
		return res, fail(err, res)
	}
	base := sha256.New()
	fmt.Fprintf(base, "prawn import 1\x00%s\x00%s\x00", opt.Format, host)
	writeFields(base, src.header())
	prefix := base.Sum(nil)

	// The chunk being read: its rows, and the hash of every record read into it (records are
	// hashed as they come, so their fields are not kept).
	var (
		c       storage.ImportChunk
		h       hash.Hash
		records int   // records in the chunk
		ordinal int64 // records before the chunk
	)
	startChunk := func() {
		c = storage.ImportChunk{Format: opt.Format, Source: opt.Source, Rows: make([]storage.ImportRow, 0, min(size, 4096))}
		h = sha256.New()
		h.Write(prefix)
		_ = binary.Write(h, binary.BigEndian, ordinal)
		records = 0
	}
	flush := func() error {
		if records == 0 {
			return nil
		}
		c.Hash = h.Sum(nil)
		out, err := store.ImportChunk(ctx, c, rollup.Compute)
		if err != nil {
			return err
		}
		if out.Done {
			res.Repeated++
		} else {
			res.Chunks++
			res.Rows += out.Rows
			res.Views += out.Views
		}
		if res.FirstLine == 0 {
			res.FirstLine = c.FirstLine
		}
		res.LastLine = c.LastLine
		ordinal += int64(records)
		res.Elapsed = time.Since(start)
		if opt.Progress != nil {
			opt.Progress(res)
		}
		startChunk()
		return nil
	}
	startChunk()
	for {
		rec, err := src.next()
		res.Lines = src.lastLine()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return res, fail(err, res)
		}
		// A full chunk is imported only once the next record is read whole, so the last chunk
		// always holds the last record: a file cut short is refused before its last chunk.
		if records == size {
			if err := flush(); err != nil {
				return res, fail(err, res)
			}
		}
		res.Records++
		if records == 0 {
			c.FirstLine = rec.line
		}
		c.LastLine = src.lastLine()
		records++
		writeFields(h, rec.fields)
		if rec.skip != "" {
			if res.Skipped[rec.skip] == 0 {
				res.SkippedAt[rec.skip] = rec.line
			}
			res.Skipped[rec.skip]++
			c.Skipped++
			continue
		}
		c.Rows = append(c.Rows, rec.row)
	}
	if err := flush(); err != nil {
		return res, fail(err, res)
	}
	if res.Chunks > 0 {
		if err := store.AnalyzeImported(ctx); err != nil {
			return res, err
		}
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// fail turns a bad record into an ImportError; other errors (the database, reading the file)
// are returned as they are, wrapped with how far the import got.
func fail(err error, res ImportResult) error {
	var le *lineError
	if errors.As(err, &le) {
		return &ImportError{Line: le.line, Reason: le.msg, Done: res}
	}
	if errors.Is(err, ErrInvalid) {
		return &ImportError{Reason: strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": "), Done: res}
	}
	return fmt.Errorf("import stopped: %w (%s)", err, res.Summary())
}

// writeFields writes fields to h unambiguously: each with its length first.
func writeFields(h hash.Hash, fields []string) {
	var n [binary.MaxVarintLen64]byte
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(fields)))])
	for _, f := range fields {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(f)))])
		_, _ = io.WriteString(h, f)
	}
}

func newSource(format string, br *bufio.Reader, host string, latest time.Time) (source, error) {
	switch format {
	case FormatPrawn:
		return newPrawnSource(br, latest)
	case FormatGoatCounter:
		return newGoatCounterSource(br, host, latest)
	case FormatTotals:
		return newTotalsSource(br, host, latest)
	}
	return nil, invalidf("format %q: want prawn, goatcounter or totals", format)
}
