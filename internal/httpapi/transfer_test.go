package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prawnhq/prawn/internal/app"
	"github.com/prawnhq/prawn/internal/pgtest"
	"github.com/prawnhq/prawn/internal/storage"
	"github.com/prawnhq/prawn/internal/transfer"
)

// TestExportImportOverHTTP: GET /api/export streams what `prawn export` writes; POST
// /api/import of it into another server brings the same counts; a bad file is a 400 naming its
// line; bad parameters are 400s.
func TestExportImportOverHTTP(t *testing.T) {
	t.Parallel()
	src := pgtest.New(t)
	day := storage.UTCDay(time.Now()).AddDate(0, 0, -3)
	for i := range 30 {
		src.InsertAt(t, day.Add(time.Duration(i)*37*time.Minute), storage.View{Host: "a.example", Path: "/p", Browser: "Firefox", Visitor: int64(i % 4)})
	}
	src.FoldAll(t)
	a := app.New(src.Store, slog.New(slog.DiscardHandler))
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	tk := makeTokens(t, src.Store)

	resp, body := callWithToken(t, srv, "GET", "/api/export?format=jsonl&host=a.example", "", "", "Bearer "+tk.export)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-ndjson" ||
		!strings.HasPrefix(resp.Header.Get("Content-Disposition"), `attachment; filename="prawn-views-`) {
		t.Fatalf("GET /api/export = %d %v %s", resp.StatusCode, resp.Header, body)
	}
	host := "a.example"
	q, _ := transfer.NewExportQuery(transfer.ExportOptions{Format: "jsonl", Host: &host})
	var want bytes.Buffer
	if _, err := transfer.Export(context.Background(), src.Store, q, &want, nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(body, want.Bytes()) || bytes.Count(body, []byte("\n")) != 30 {
		t.Errorf("the HTTP export differs from the CLI's:\n%s\n%s", body, want.Bytes())
	}

	dstSrv, dtk, _ := authServer(t, true, false)
	resp, out := callWithToken(t, dstSrv, "POST", "/api/import?format=prawn", "application/x-ndjson", string(body), "Bearer "+dtk.admin)
	var res map[string]any
	if err := json.Unmarshal(out, &res); err != nil || resp.StatusCode != 200 || res["views"] != 30.0 || res["chunks"] != 1.0 || res["lastLine"] != 30.0 {
		t.Fatalf("POST /api/import = %d %s", resp.StatusCode, out)
	}
	resp, out = callWithToken(t, dstSrv, "GET", "/api/hosts", "", "", "Bearer "+dtk.read)
	if resp.StatusCode != 200 || !strings.Contains(string(out), `{"host":"a.example","views":30,"visitors":0}`) {
		t.Errorf("GET /api/hosts after the import = %d %s", resp.StatusCode, out)
	}
	resp, out = callWithToken(t, dstSrv, "POST", "/api/import?format=prawn", "text/csv", "time,host\n2024-01-01T00:00:00Z,\n", "Bearer "+dtk.admin)
	if resp.StatusCode != 400 || !strings.Contains(string(out), "line 1: the header is") || !strings.Contains(string(out), "nothing was imported") {
		t.Errorf("POST /api/import of a bad file = %d %s", resp.StatusCode, out)
	}
	for _, target := range []string{"/api/export?data=everything", "/api/export?format=xml", "/api/export?data=totals&from=2024-01-01T00:00:00Z",
		"/api/export?from=2024-02-01T00:00:00Z&to=2024-01-01T00:00:00Z", "/api/export?host=not%20a%20host"} {
		if resp, out := callWithToken(t, srv, "GET", target, "", "", "Bearer "+tk.export); resp.StatusCode != 400 {
			t.Errorf("GET %s = %d %s, want 400", target, resp.StatusCode, out)
		}
	}
	if resp, out := callWithToken(t, dstSrv, "POST", "/api/import?format=xml", "text/csv", "a\n", "Bearer "+dtk.admin); resp.StatusCode != 400 {
		t.Errorf("POST /api/import?format=xml = %d %s, want 400", resp.StatusCode, out)
	}
}
