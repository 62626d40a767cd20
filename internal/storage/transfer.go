package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/prawnhq/prawn/gen/db"
)

// What an export holds: the views themselves, or one of the rollups.
const (
	ExportViews      = "views"
	ExportHourly     = "hourly"
	ExportDaily      = "daily"
	ExportBreakdowns = "breakdowns"
	ExportTotals     = "totals"
)

// Formats of an export: CSV with a header line, or one JSON object per line.
const (
	FormatCSV   = "csv"
	FormatJSONL = "jsonl"
)

// ViewColumns are the columns of a views export, in order: the CSV header, and the JSON keys
// (in camelCase: referrerHost, utmSource, ...).
var ViewColumns = []string{"time", "host", "path", "referrer", "referrer_host", "utm_source", "utm_medium",
	"utm_campaign", "browser", "os", "device", "country", "visitor"}

// ExportQuery is what to export: Data (ExportViews or a rollup) in Format, over [From, To) of one
// host or every host (Host nil). Views are exported UTC day by UTC day, each day's in fold order;
// hourly rollups cover the hours of [From, To), daily ones and breakdowns its UTC days; totals
// are all-time. A zero From or To means the start of the first UTC day with views, or the end of
// the last.
type ExportQuery struct {
	Data, Format string
	From, To     time.Time
	Host         *string
}

// Export is an export under way: one repeatable-read, read-only transaction, so every row comes
// from the same snapshot however long it runs (it holds back no fold: a read-only transaction
// has no transaction id). Close it when done.
type Export struct {
	tx       pgx.Tx
	q        ExportQuery
	openFrom time.Time
	days     []time.Time // views: the UTC days of the range
	expected int64
}

// BeginExport starts an export: it takes the snapshot, resolves the range and estimates from the
// daily rollups how many rows the export holds (for progress). Nothing is written yet.
func (s *Store) BeginExport(ctx context.Context, q ExportQuery) (*Export, error) {
	if q.Data == ExportViews {
		s.summarizeViewsIndex(ctx)
	}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("begin export: %w", classify(err))
	}
	e := &Export{tx: tx, q: q}
	if err := e.plan(ctx); err != nil {
		_ = tx.Rollback(context.Background())
		return nil, classify(err)
	}
	return e, nil
}

// summarizeViewsIndex brings the block range index of views.viewed_at up to date: it finds a
// day's views only in the ranges it has summarised, which autovacuum does (the index has
// autosummarize on) but may do late, or never where autovacuum is off. Best effort: a role that
// does not own the index may not, and a day's views are then found by reading more blocks.
func (s *Store) summarizeViewsIndex(ctx context.Context) {
	_, _ = s.pool.Exec(ctx, "SELECT brin_summarize_new_values('views_viewed_at_brin'::regclass)")
}

func (e *Export) plan(ctx context.Context) error {
	// Each day's views are found through the block range index and sorted in fold order, by one
	// process: a day is small work, which JIT compilation and parallel workers only slow down.
	// Times come out as "2026-11-30 10:00:01.5+00", which rowWriter rewrites in RFC 3339.
	sets := []string{"SET LOCAL jit = off", "SET LOCAL max_parallel_workers_per_gather = 0",
		"SET LOCAL timezone = 'UTC'", "SET LOCAL datestyle = 'ISO'"}
	if e.q.Data == ExportViews {
		sets = append(sets, "SET LOCAL enable_indexscan = off", "SET LOCAL work_mem = '64MB'")
	}
	for _, set := range sets {
		if _, err := e.tx.Exec(ctx, set); err != nil {
			return fmt.Errorf("export settings: %w", err)
		}
	}
	q := db.New(e.tx)
	st, err := q.GetExportState(ctx)
	if err != nil {
		return fmt.Errorf("export state: %w", err)
	}
	e.openFrom = st.VisitorsOpenFrom
	if e.q.Data == ExportTotals {
		return nil
	}
	if e.q.From.IsZero() || e.q.To.IsZero() {
		r, err := q.GetExportDays(ctx)
		if err != nil {
			return fmt.Errorf("view range: %w", err)
		}
		if !r.Found {
			return nil // nothing to export
		}
		if e.q.From.IsZero() {
			e.q.From = UTCDay(r.FirstDay)
		}
		if e.q.To.IsZero() {
			e.q.To = UTCDay(r.LastDay).AddDate(0, 0, 1)
		}
	}
	e.q.From, e.q.To = e.q.From.UTC(), e.q.To.UTC()
	switch e.q.Data {
	case ExportHourly:
		e.q.From, e.q.To = e.q.From.Truncate(time.Hour), ceil(e.q.To, time.Hour)
	case ExportDaily, ExportBreakdowns:
		e.q.From, e.q.To = UTCDay(e.q.From), ceilDay(e.q.To)
	}
	if !e.q.From.Before(e.q.To) {
		return nil
	}
	for d := UTCDay(e.q.From); d.Before(e.q.To); d = d.AddDate(0, 0, 1) {
		e.days = append(e.days, d)
	}
	var host pgtype.Text
	if e.q.Host != nil {
		host = pgtype.Text{String: *e.q.Host, Valid: true}
	}
	rows, err := q.ListDayViews(ctx, db.ListDayViewsParams{Host: host, FromDay: UTCDay(e.q.From), ToDay: ceilDay(e.q.To)})
	if err != nil {
		return fmt.Errorf("count views: %w", err)
	}
	for _, r := range rows {
		e.expected += r.Views
	}
	return nil
}

// Range is the range the export covers, bounds resolved and rounded as ExportQuery says.
func (e *Export) Range() (from, to time.Time) { return e.q.From, e.q.To }

// Expected is about how many views the export holds, from the daily rollups (views not yet
// folded are not in it); 0 for rollup exports.
func (e *Export) Expected() int64 {
	if e.q.Data != ExportViews {
		return 0
	}
	return e.expected
}

// Close ends the export's transaction.
func (e *Export) Close() { _ = e.tx.Rollback(context.Background()) }

// WriteTo writes the export to w: a header line for CSV, then the rows, streamed from Postgres
// (COPY) with constant memory. progress, when set, is called with the rows written so far after
// every UTC day of a views export. It returns the number of rows written.
func (e *Export) WriteTo(ctx context.Context, w io.Writer, progress func(rows int64)) (int64, error) {
	cols := e.columns()
	if e.q.Format == FormatCSV {
		if _, err := io.WriteString(w, strings.Join(cols, ",")+"\n"); err != nil {
			return 0, err
		}
	}
	if e.q.Data != ExportViews {
		return e.copy(ctx, w, e.rollupSQL())
	}
	var rows int64
	for _, d := range e.days {
		from, to := maxTime(d, e.q.From), minTime(d.AddDate(0, 0, 1), e.q.To)
		n, err := e.copy(ctx, w, e.viewsSQL(from, to))
		rows += n
		if err != nil {
			return rows, err
		}
		if progress != nil {
			progress(rows)
		}
	}
	return rows, nil
}

// copy runs the select as a COPY in text format and writes its rows to w as CSV or JSON lines
// (rowWriter).
func (e *Export) copy(ctx context.Context, w io.Writer, selectSQL string) (int64, error) {
	copyTo := func(ctx context.Context, w io.Writer, sql string) (int64, error) {
		tag, err := e.tx.Conn().PgConn().CopyTo(ctx, w, sql)
		if err != nil {
			return tag.RowsAffected(), fmt.Errorf("export: %w", classify(err))
		}
		return tag.RowsAffected(), nil
	}
	return copyRows(ctx, copyTo, newRowWriter(w, e.q.Format, e.columns(), e.kinds()), "COPY ("+selectSQL+") TO STDOUT")
}

// kinds are how the export's columns are written.
func (e *Export) kinds() []colKind {
	cols := e.columns()
	kinds := make([]colKind, len(cols))
	for i, c := range cols {
		switch {
		case c == "time":
			kinds[i] = colTimeMicro
		case c == "hour":
			kinds[i] = colTimeSec
		case isCount(c):
			kinds[i] = colNumber
		}
	}
	return kinds
}

// columns are the export's columns, by the names of the CSV header.
func (e *Export) columns() []string {
	switch e.q.Data {
	case ExportHourly:
		return []string{"host", "path", "hour", "q0", "q1", "q2", "q3", "n0", "n1", "n2", "n3", "visitors"}
	case ExportDaily:
		return []string{"host", "path", "date", "views", "visitors"}
	case ExportBreakdowns:
		return []string{"host", "path", "dimension", "date", "value", "views", "visitors"}
	case ExportTotals:
		return []string{"host", "path", "views", "visitors"}
	}
	return ViewColumns
}

func (e *Export) viewsSQL(from, to time.Time) string {
	exprs := []string{"viewed_at", "host", "path", "referrer", "ref_host", "utm_source", "utm_medium",
		"utm_campaign", "browser", "os", "device", "country", "visitor"}
	// The day's rows are sorted as they are stored and formatted afterwards (OFFSET 0 keeps the
	// planner from merging the two), so the sort moves narrow rows, not text.
	return "SELECT " + strings.Join(exprs, ", ") + " FROM (SELECT * FROM export_views WHERE viewed_at >= " + literalTime(from) +
		" AND viewed_at < " + literalTime(to) + e.hostFilter() + " ORDER BY src, xid, id OFFSET 0) v"
}

func (e *Export) rollupSQL() string {
	var exprs []string
	var table, where, order string
	switch e.q.Data {
	case ExportHourly:
		exprs = []string{"host", "path", "hour", "q0", "q1", "q2", "q3", "n0", "n1", "n2", "n3", "visitors"}
		table, order = "hourly_stats", "host, path, hour"
		where = " WHERE hour >= " + literalTime(e.q.From) + " AND hour < " + literalTime(e.q.To)
	case ExportDaily:
		exprs = []string{"host", "path", "day::text", "views", "visitors"}
		table, order = "daily_stats", "host, path, day"
		where = " WHERE day >= " + literalDay(e.q.From) + " AND day < " + literalDay(e.q.To)
	case ExportBreakdowns:
		exprs = []string{"host", "path", "(ARRAY['referrer_host', 'referrer', 'utm_source', 'utm_medium', 'utm_campaign', " +
			"'browser', 'os', 'device', 'country'])[dim]", "day::text", "value", "views", "visitors"}
		table, order = "daily_breakdowns", "host, path, dim, day, value"
		where = " WHERE day >= " + literalDay(e.q.From) + " AND day < " + literalDay(e.q.To)
	default:
		exprs = []string{"host", "path", "views", "visitors"}
		table, order, where = "totals", "host, path", " WHERE true"
	}
	return "SELECT " + strings.Join(exprs, ", ") + " FROM " + table + where + e.hostFilter() + " ORDER BY " + order
}

func isCount(col string) bool {
	switch col {
	case "views", "visitors", "q0", "q1", "q2", "q3", "n0", "n1", "n2", "n3":
		return true
	}
	return false
}

// camel turns a column name such as utm_source into its JSON key, utmSource.
func camel(col string) string {
	parts := strings.Split(col, "_")
	for i := 1; i < len(parts); i++ {
		parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
	}
	return strings.Join(parts, "")
}

func (e *Export) hostFilter() string {
	if e.q.Host == nil {
		return ""
	}
	return " AND host = " + literalText(*e.q.Host)
}

// literalTime, literalDay and literalText write values into a COPY statement, which takes no
// parameters. Times and days are formatted here; text has its quotes doubled (the server's
// standard_conforming_strings is on, as it has been by default since PostgreSQL 9.1).
func literalTime(t time.Time) string {
	return "'" + t.UTC().Format("2006-01-02T15:04:05.999999Z") + "'::timestamptz"
}

func literalDay(t time.Time) string { return "'" + t.UTC().Format(time.DateOnly) + "'::date" }

func literalText(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, "'", "''"), "\x00", "") + "'::text"
}

func ceil(t time.Time, d time.Duration) time.Time {
	if c := t.Truncate(d); !c.Equal(t) {
		return c.Add(d)
	}
	return t
}

func ceilDay(t time.Time) time.Time {
	if d := UTCDay(t); !d.Equal(t.UTC()) {
		return d.AddDate(0, 0, 1)
	}
	return t.UTC()
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// ImportRow is one row of an imported file as prawn keeps it: a view (N 1, At set), a day's
// count (N views at At, a UTC midnight) or an all-time count (At nil). Visitor, when not 0, is the
// visitor-day id the view counts under (imported visitor-days are counted apart from recorded
// ones). Dims as in FoldView.
type ImportRow struct {
	Host, Path string
	At         *time.Time
	N          int64
	Visitor    int64
	Dims       [NumDims]string
}

// ImportChunk is one chunk of an imported file: its rows are imported in one transaction, or
// not at all. Hash identifies its content.
type ImportChunk struct {
	Hash                []byte
	Format, Source      string
	FirstLine, LastLine int64
	// Skipped counts the chunk's records that are not counted (bots, events, ...).
	Skipped int64
	Rows    []ImportRow
}

// ChunkResult is what importing one chunk did.
type ChunkResult struct {
	// Done means the chunk was imported before (by the same content): nothing was written.
	Done bool
	// Earlier describes that earlier import when Done.
	Earlier ChunkInfo
	// Rows and Views are what this chunk brought.
	Rows, Views int64
}

// ChunkInfo describes a chunk imported earlier.
type ChunkInfo struct {
	Source              string
	FirstLine, LastLine int64
	At                  time.Time
}

// ImportChunk writes a chunk's rows to imported_views and adds them to the rollups in one
// transaction, under the rollup lock; compute (rollup.Compute) counts its views and visitors as
// the fold counts recorded ones, against the dedup state of imported visitor-days. A chunk whose
// hash was imported before is left alone (Done).
func (s *Store) ImportChunk(ctx context.Context, c ImportChunk, compute FoldFunc) (ChunkResult, error) {
	var res ChunkResult
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		q := s.q.WithTx(tx)
		if err := lockRollup(ctx, q, true); err != nil {
			return err
		}
		prev, err := q.GetImportChunk(ctx, c.Hash)
		if err == nil {
			res = ChunkResult{Done: true, Earlier: ChunkInfo{Source: prev.Source, FirstLine: prev.FirstLine, LastLine: prev.LastLine, At: prev.CommittedAt}}
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("look up chunk: %w", err)
		}
		last, err := q.LastImportedID(ctx)
		if err != nil {
			return fmt.Errorf("last imported id: %w", err)
		}
		var views int64
		for _, r := range c.Rows {
			views += r.N
		}
		chunk, err := q.InsertImportChunk(ctx, db.InsertImportChunkParams{Hash: c.Hash, Format: c.Format, Source: c.Source,
			FirstLine: c.FirstLine, LastLine: c.LastLine, Rows: int64(len(c.Rows)), Views: views, Skipped: c.Skipped})
		if err != nil {
			return fmt.Errorf("record chunk: %w", err)
		}
		if err := importRows(ctx, q, chunk, last, c.Rows, compute); err != nil {
			return err
		}
		res.Rows, res.Views = int64(len(c.Rows)), views
		return nil
	})
	return res, classify(err)
}

// importRows writes rows (ids from last+1, in order) and adds them to the rollups.
func importRows(ctx context.Context, q *db.Queries, chunk, last int64, rows []ImportRow, compute FoldFunc) error {
	copyRows := make([]db.CopyImportedViewsParams, len(rows))
	var in FoldInput // views: computed as the fold computes
	out := FoldOutput{Hours: map[HourKey]*HourCounts{}, Days: map[DayKey]*DayCounts{}}
	undated := map[[2]string]int64{}
	for i, r := range rows {
		id := last + 1 + int64(i)
		p := db.CopyImportedViewsParams{ID: id, Chunk: chunk, Host: r.Host, Path: r.Path, ViewedAt: r.At, N: r.N,
			Referrer: text(r.Dims[DimReferrer-1]), RefHost: text(r.Dims[DimRefHost-1]),
			UtmSource: text(r.Dims[DimUTMSource-1]), UtmMedium: text(r.Dims[DimUTMMedium-1]),
			UtmCampaign: text(r.Dims[DimUTMCampaign-1]), Browser: text(r.Dims[DimBrowser-1]), Os: text(r.Dims[DimOS-1]),
			Device: text(r.Dims[DimDevice-1]), Country: text(r.Dims[DimCountry-1])}
		if r.Visitor != 0 {
			p.Visitor = pgtype.Int8{Int64: r.Visitor, Valid: true}
		}
		copyRows[i] = p
		switch {
		case r.At == nil:
			undated[[2]string{r.Host, r.Path}] += r.N
		case r.N == 1:
			in.Views = append(in.Views, FoldView{ID: id, Host: r.Host, Path: r.Path, At: r.At.UTC(), Visitor: r.Visitor, Dims: r.Dims})
		default:
			// A day's count: its views in the day's first quarter hour; no visitors, no dimensions.
			at := r.At.UTC()
			for _, path := range [2]string{r.Path, ""} {
				hk := HourKey{Host: r.Host, Path: path, Hour: at.Truncate(time.Hour)}
				if out.Hours[hk] == nil {
					out.Hours[hk] = &HourCounts{}
				}
				out.Hours[hk].Views[at.Minute()/15] += r.N
				dk := DayKey{Host: r.Host, Path: path, Day: UTCDay(at)}
				if out.Days[dk] == nil {
					out.Days[dk] = &DayCounts{}
				}
				out.Days[dk].Views += r.N
			}
		}
	}
	if _, err := q.CopyImportedViews(ctx, copyRows); err != nil {
		return fmt.Errorf("write imported views: %w", err)
	}
	if len(in.Views) > 0 {
		known, err := knownImportedVisitorDays(ctx, q, in.Views)
		if err != nil {
			return err
		}
		in.Known = known
		counted := compute(in)
		if err := applyCounts(ctx, q, counted); err != nil {
			return err
		}
		if err := writeImportedVisitorDays(ctx, q, counted); err != nil {
			return err
		}
	}
	if err := applyCounts(ctx, q, out); err != nil {
		return err
	}
	if len(undated) > 0 {
		var p db.AddTotalsOnlyParams
		for k, n := range undated {
			for _, path := range [2]string{k[1], ""} {
				p.Hosts, p.Paths, p.Views = append(p.Hosts, k[0]), append(p.Paths, path), append(p.Views, n)
			}
		}
		if err := q.AddTotalsOnly(ctx, p); err != nil {
			return fmt.Errorf("add to totals: %w", err)
		}
	}
	return nil
}

func text(s string) pgtype.Text { return pgtype.Text{String: s, Valid: s != ""} }

// knownImportedVisitorDays reads the dedup state of the imported visitor-days of views.
func knownImportedVisitorDays(ctx context.Context, q *db.Queries, views []FoldView) (map[VisitorDayKey]*VisitorDay, error) {
	known := map[VisitorDayKey]*VisitorDay{}
	var p db.ListImportedVisitorDaysParams
	seen := map[VisitorDayKey]bool{}
	for _, v := range views {
		k := VisitorDayKey{Day: UTCDay(v.At), Visitor: v.Visitor, Host: v.Host}
		if v.Visitor == 0 || seen[k] {
			continue
		}
		seen[k] = true
		p.Days, p.Visitors, p.Hosts = append(p.Days, k.Day), append(p.Visitors, k.Visitor), append(p.Hosts, k.Host)
	}
	if len(p.Days) == 0 {
		return known, nil
	}
	rows, err := q.ListImportedVisitorDays(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("read imported visitor days: %w", err)
	}
	for _, r := range rows {
		vd := &VisitorDay{Day: UTCDay(r.Day), Visitor: r.Visitor, Host: r.Host, Hours: uint32(r.Hours),
			Paths: r.Paths, PathHours: make([]uint32, len(r.PathHours))}
		for i, h := range r.PathHours {
			vd.PathHours[i] = uint32(h)
		}
		known[vd.Key()] = vd
	}
	return known, nil
}

// writeImportedVisitorDays writes the dedup state of the imported visitor-days a chunk created
// and changed.
func writeImportedVisitorDays(ctx context.Context, q *db.Queries, out FoldOutput) error {
	if len(out.NewVisitorDays) > 0 {
		copied := make([]db.CopyImportedVisitorDaysParams, len(out.NewVisitorDays))
		for i, vd := range out.NewVisitorDays {
			copied[i] = db.CopyImportedVisitorDaysParams{Day: vd.Day, Visitor: vd.Visitor, Host: vd.Host, Hours: int32(vd.Hours),
				Paths: vd.Paths, PathHours: make([]int32, len(vd.PathHours))}
			for j, h := range vd.PathHours {
				copied[i].PathHours[j] = int32(h)
			}
		}
		if _, err := q.CopyImportedVisitorDays(ctx, copied); err != nil {
			return fmt.Errorf("write new imported visitor days: %w", err)
		}
	}
	if len(out.ChangedVisitorDays) > 0 {
		a := visitorDayArrays(out.ChangedVisitorDays)
		if err := q.UpsertImportedVisitorDays(ctx, db.UpsertImportedVisitorDaysParams{Days: a.days, Visitors: a.visitors,
			Hosts: a.hosts, Hours: a.hours, Paths: a.paths, PathHours: a.pathHours}); err != nil {
			return fmt.Errorf("write imported visitor days: %w", err)
		}
	}
	return nil
}

// AnalyzeImported gives the planner fresh statistics after an import: of the imported rows and
// of the rollups they were added to, so reads are fast at once.
func (s *Store) AnalyzeImported(ctx context.Context) error {
	if err := s.q.AnalyzeImported(ctx); err != nil {
		return fmt.Errorf("analyze imported views: %w", classify(err))
	}
	return s.vacuumRollups(ctx)
}

// retentionBatch is the most raw rows one retention statement deletes.
const retentionBatch = 50_000

// DeleteExpiredRaw applies raw retention: it moves raw_kept_from to keepFrom (a UTC day; never
// past the first day still open for visitors, whose raw rows verify still needs) under the
// rollup lock, then deletes, in short statements, the folded views and the imported views of the
// days before it. The rollups keep their counts. It returns the rows deleted and the first day
// whose raw rows are kept.
func (s *Store) DeleteExpiredRaw(ctx context.Context, keepFrom time.Time) (int64, time.Time, error) {
	s.summarizeViewsIndex(ctx)
	var st db.MoveRawKeptFromRow
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		q := s.q.WithTx(tx)
		if err := lockRollup(ctx, q, true); err != nil {
			return err
		}
		var err error
		st, err = q.MoveRawKeptFrom(ctx, UTCDay(keepFrom))
		return err
	})
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("raw retention: %w", classify(err))
	}
	before := UTCDay(st.RawKeptFrom)
	var deleted int64
	for {
		n, err := s.q.DeleteOldViews(ctx, db.DeleteOldViewsParams{Before: before, FoldedXid: st.FoldedXid, FoldedID: st.FoldedID, MaxRows: retentionBatch})
		deleted += n
		if err != nil {
			return deleted, before, fmt.Errorf("delete old views: %w", classify(err))
		}
		if n < retentionBatch {
			break
		}
	}
	for {
		n, err := s.q.DeleteOldImportedViews(ctx, db.DeleteOldImportedViewsParams{Before: before, MaxRows: retentionBatch})
		deleted += n
		if err != nil {
			return deleted, before, fmt.Errorf("delete old imported views: %w", classify(err))
		}
		if n < retentionBatch {
			break
		}
	}
	return deleted, before, nil
}

// RawKeptFrom is the first UTC day whose raw rows are all kept (days before it may have lost
// theirs to PRAWN_RAW_RETENTION).
func (s *Store) RawKeptFrom(ctx context.Context) (time.Time, error) {
	d, err := s.q.GetRawKeptFrom(ctx)
	return UTCDay(d), classify(err)
}
