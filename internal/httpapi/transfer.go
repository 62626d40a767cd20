package httpapi

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/prawnhq/prawn/gen/api"
	"github.com/prawnhq/prawn/internal/pageview"
	"github.com/prawnhq/prawn/internal/storage"
	"github.com/prawnhq/prawn/internal/transfer"
)

// ExportData streams an export (see transfer.Export). The snapshot is taken before the answer
// starts, so a database that is away is a 503; once rows flow, a failure cuts the connection
// instead of ending the answer as if it were whole.
func (s *Server) ExportData(ctx context.Context, req api.ExportDataRequestObject) (api.ExportDataResponseObject, error) {
	p := req.Params
	o := transfer.ExportOptions{From: p.From, To: p.To, Host: p.Host}
	if p.Data != nil {
		o.Data = string(*p.Data)
	}
	if p.Format != nil {
		o.Format = string(*p.Format)
	}
	q, err := transfer.NewExportQuery(o)
	if err != nil {
		return nil, err
	}
	if s.Exporter == nil {
		return nil, fmt.Errorf("%w: this server has no exporter", pageview.ErrUnavailable)
	}
	e, err := s.Exporter.BeginExport(ctx, q)
	if err != nil {
		return nil, storageError(err)
	}
	return exportStream{ctx: ctx, export: e, q: q, log: s.Log}, nil
}

// exportStream is the answer of ExportData: it writes the export as it is read.
type exportStream struct {
	ctx    context.Context
	export *storage.Export
	q      storage.ExportQuery
	log    *slog.Logger
}

// VisitExportDataResponse writes the export.
func (x exportStream) VisitExportDataResponse(w http.ResponseWriter) error {
	defer x.export.Close()
	ctype, ext := "text/csv; charset=utf-8", "csv"
	if x.q.Format == storage.FormatJSONL {
		ctype, ext = "application/x-ndjson", "jsonl"
	}
	from, to := x.export.Range()
	name := fmt.Sprintf("prawn-%s", x.q.Data)
	if !from.IsZero() {
		name += fmt.Sprintf("-%s-%s", from.Format("20060102T150405Z"), to.Format("20060102T150405Z"))
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name+"."+ext))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	rows, err := x.export.WriteTo(x.ctx, bw, nil)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		if x.log != nil && !errors.Is(err, context.Canceled) {
			x.log.WarnContext(x.ctx, "export cut short", "err", err, "rows", rows)
		}
		panic(http.ErrAbortHandler) // the client must not take a cut export for a whole one
	}
	return nil
}

// ImportData imports the body (see transfer.Import).
func (s *Server) ImportData(ctx context.Context, req api.ImportDataRequestObject) (api.ImportDataResponseObject, error) {
	if s.Importer == nil {
		return nil, fmt.Errorf("%w: this server has no importer", pageview.ErrUnavailable)
	}
	host := ""
	if req.Params.Host != nil {
		host = *req.Params.Host
	}
	res, err := transfer.Import(ctx, s.Importer, req.Body, transfer.ImportOptions{
		Format: string(req.Params.Format), Source: "POST /api/import", Host: host})
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, &tooLargeError{detail: fmt.Sprintf("the file is larger than %d bytes: import it with `prawn import`. %s", tooBig.Limit, res.Summary())}
	case err != nil:
		return nil, storageError(err)
	}
	out := api.ImportData200JSONResponse{Format: api.ImportResultFormat(res.Format), Lines: res.Lines, Records: res.Records,
		Chunks: int64(res.Chunks), RepeatedChunks: int64(res.Repeated), Rows: res.Rows, Views: res.Views, Skipped: res.Skipped}
	if res.LastLine > 0 {
		out.FirstLine, out.LastLine = &res.FirstLine, &res.LastLine
	}
	return out, nil
}

// tooLargeError is a body over its operation's limit, with what to do about it.
type tooLargeError struct{ detail string }

func (e *tooLargeError) Error() string { return e.detail }

// storageError maps the store's "database unavailable" to the domain's, as stats does.
func storageError(err error) error {
	if errors.Is(err, storage.ErrUnavailable) {
		return fmt.Errorf("%w: %w", pageview.ErrUnavailable, err)
	}
	return err
}
