package transfer

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/prawnhq/prawn/internal/pageview"
	"github.com/prawnhq/prawn/internal/storage"
)

// Exporter is what an export needs from the database.
type Exporter interface {
	BeginExport(ctx context.Context, q storage.ExportQuery) (*storage.Export, error)
}

// ExportOptions ask for an export: Data is views (default) or a rollup (hourly, daily,
// breakdowns, totals); Format csv (default) or jsonl; From and To bound the range (nil: the
// first and the last view); Host picks one host (nil: every host).
type ExportOptions struct {
	Data, Format string
	From, To     *time.Time
	Host         *string
}

// NewExportQuery validates an export request.
func NewExportQuery(o ExportOptions) (storage.ExportQuery, error) {
	q := storage.ExportQuery{Data: o.Data, Format: o.Format}
	if q.Data == "" {
		q.Data = storage.ExportViews
	}
	if q.Format == "" {
		q.Format = storage.FormatCSV
	}
	switch q.Data {
	case storage.ExportViews, storage.ExportHourly, storage.ExportDaily, storage.ExportBreakdowns, storage.ExportTotals:
	default:
		return q, invalidf("data %q: want views, hourly, daily, breakdowns or totals", q.Data)
	}
	if q.Format != storage.FormatCSV && q.Format != storage.FormatJSONL {
		return q, invalidf("format %q: want csv or jsonl", q.Format)
	}
	if q.Data == storage.ExportTotals && (o.From != nil || o.To != nil) {
		return q, invalidf("totals are of all time: leave out from and to")
	}
	for _, t := range []struct {
		name string
		t    *time.Time
	}{{"from", o.From}, {"to", o.To}} {
		if t.t != nil && (t.t.Before(MinTime) || !t.t.Before(time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC))) {
			return q, invalidf("%s (%s) must be from 2000-01-01T00:00:00Z to before 3000-01-01T00:00:00Z", t.name, t.t.Format(time.RFC3339))
		}
	}
	if o.From != nil {
		q.From = *o.From
	}
	if o.To != nil {
		q.To = *o.To
	}
	if o.From != nil && o.To != nil && !q.From.Before(q.To) {
		return q, invalidf("from (%s) must be before to (%s)", q.From.Format(time.RFC3339), q.To.Format(time.RFC3339))
	}
	if o.Host != nil {
		h, err := pageview.NormalizeHost(*o.Host)
		if err != nil {
			return q, invalidf("host: %s", ruleOf(err))
		}
		q.Host = &h
	}
	return q, nil
}

// ExportResult is what an export wrote.
type ExportResult struct {
	Rows     int64
	From, To time.Time
	Elapsed  time.Duration
}

// Export writes the export q asks for to w, streamed from one snapshot. progress, when set,
// is called with the rows written so far and the views the range holds by the rollups.
func Export(ctx context.Context, store Exporter, q storage.ExportQuery, w io.Writer, progress func(done, expected int64)) (ExportResult, error) {
	start := time.Now()
	e, err := store.BeginExport(ctx, q)
	if err != nil {
		return ExportResult{}, err
	}
	defer e.Close()
	from, to := e.Range()
	res := ExportResult{From: from, To: to}
	var p func(int64)
	if progress != nil {
		expected := e.Expected()
		p = func(n int64) { progress(n, expected) }
	}
	res.Rows, err = e.WriteTo(ctx, w, p)
	res.Elapsed = time.Since(start)
	if err != nil {
		return res, fmt.Errorf("export stopped after %d rows: %w", res.Rows, err)
	}
	return res, nil
}
