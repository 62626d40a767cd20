package transfer_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/prawnhq/prawn/internal/pgtest"
	"github.com/prawnhq/prawn/internal/transfer"
)

const prawnHeader = "time,host,path,referrer,referrer_host,utm_source,utm_medium,utm_campaign,browser,os,device,country,visitor\n"

// views is a prawn CSV export of n views of /p/i on 2024-05-01.
func views(n int) string {
	var b strings.Builder
	b.WriteString(prawnHeader)
	for i := range n {
		b.WriteString("2024-05-01T10:0" + string(rune('0'+i%10)) + ":00.000000Z,\"\",/p/" + string(rune('a'+i)) + ",,,,,,Firefox,Linux,desktop,SE,\n")
	}
	return b.String()
}

// refused imports data and returns the *ImportError it must fail with.
func refused(t *testing.T, db *pgtest.DB, format string, r io.Reader, opt transfer.ImportOptions) *transfer.ImportError {
	t.Helper()
	opt.Format = format
	_, err := transfer.Import(context.Background(), db.Store, r, opt)
	var ie *transfer.ImportError
	if !errors.As(err, &ie) {
		t.Fatalf("import: err = %v, want an ImportError", err)
	}
	if !errors.Is(err, transfer.ErrInvalid) {
		t.Errorf("an ImportError is not ErrInvalid: %v", err)
	}
	return ie
}

// TestHostileFiles: every kind of bad file is refused with its line and what is wrong, and
// nothing of it is counted.
func TestHostileFiles(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	gc, err := os.ReadFile("testdata/goatcounter-v2.csv")
	if err != nil {
		t.Fatal(err)
	}
	good := views(3)
	for _, c := range []struct {
		name, format, data string
		line               int64
		reason             string
	}{
		{"empty file", "prawn", "", 1, "the file is empty"},
		{"prawn header on a GoatCounter file", "prawn", string(gc), 1, "use --format goatcounter"},
		{"GoatCounter version 1", "goatcounter", "1Path,Title,Event,Bot,Session,FirstVisit,Referrer,Referrer scheme,Browser,Screen size,Location,Date\n", 1, "version 1 export"},
		{"GoatCounter header on a prawn file", "goatcounter", good, 1, "use --format prawn"},
		{"totals without a known header", "totals", "page,hits\n/a,1\n", 1, "a totals file starts with one of: path,views | path,date,views"},
		{"a rollup export", "prawn", "host,path,date,views,visitors\n\"\",/a,2024-01-01,1,0\n", 1, "rollup export"},
		{"last line cut short", "prawn", good[:len(good)-9], 4, "the file ends in the middle of this line"},
		{"last line cut in a quoted field", "prawn", good + "2024-05-01T11:00:00Z,\"\",\"/cut", 5, "a quoted field is not closed"},
		{"JSON lines cut short", "prawn", "{\"time\":\"2024-05-01T10:00:00Z\",\"host\":\"\",\"path\":\"/a\"}\n{\"time\":\"2024-05-01T10:0", 2, "the file ends in the middle of this line"},
		{"too few fields", "prawn", prawnHeader + "2024-05-01T10:00:00Z,\"\",/a\n", 2, "3 fields, but a prawn export has 13"},
		{"invalid UTF-8 in a path", "prawn", prawnHeader + "2024-05-01T10:00:00Z,\"\",/a\xff,,,,,,,,,,\n", 2, "field 3 (path) is not valid UTF-8"},
		{"invalid UTF-8 in JSON lines", "prawn", "{\"time\":\"2024-05-01T10:00:00Z\",\"host\":\"\",\"path\":\"/\xc3\x28\"}\n", 1, "not valid UTF-8"},
		{"invalid UTF-8 in GoatCounter", "goatcounter", strings.SplitAfter(string(gc), "\n")[0] + "/a,T\xfe,false,,,,,0,,,,,false,2024-03-10T13:00:00Z\n", 2, "field 2 (Title) is not valid UTF-8"},
		{"a NUL byte", "totals", "path,views\n/a\x00,1\n", 2, "NUL byte"},
		{"a date before 2000", "prawn", prawnHeader + "1999-12-31T23:59:59Z,\"\",/a,,,,,,,,,,\n", 2, "before 2000-01-01"},
		{"a date in the future", "goatcounter", strings.SplitAfter(string(gc), "\n")[0] + "/a,,false,,,,,0,,,,,false,2999-01-01T00:00:00Z\n", 2, "is in the future"},
		{"a totals date out of range", "totals", "path,date,views\n/a,1970-01-01,5\n", 2, "before 2000-01-01"},
		{"not a date", "totals", "path,date,views\n/a,01/02/2024,5\n", 2, "want a date such as 2024-03-01"},
		{"negative views", "totals", "path,views\n/a,-4\n", 2, "want a whole number"},
		{"a path that is not one", "totals", "path,views\nhome,4\n", 2, "must start with"},
		{"a bare quote", "totals", "path,views\n/a\"b,4\n", 2, `holds a "`},
		{"an unknown JSON key", "prawn", "{\"time\":\"2024-05-01T10:00:00Z\",\"host\":\"\",\"path\":\"/a\",\"ua\":\"x\"}\n", 1, `unknown key "ua"`},
		{"a bad visitor id", "prawn", prawnHeader + "2024-05-01T10:00:00Z,\"\",/a,,,,,,,,,,xyz\n", 2, "is not a visitor id"},
		{"a bad Bot field", "goatcounter", strings.SplitAfter(string(gc), "\n")[0] + "/a,,false,,,,,yes,,,,,false,2024-03-10T13:00:00Z\n", 2, "Bot \"yes\""},
	} {
		t.Run(c.name, func(t *testing.T) {
			ie := refused(t, db, c.format, strings.NewReader(c.data), transfer.ImportOptions{})
			if ie.Line != c.line || !strings.Contains(ie.Reason, c.reason) {
				t.Errorf("refused at line %d with %q; want line %d and %q", ie.Line, ie.Reason, c.line, c.reason)
			}
			if !strings.Contains(ie.Error(), "nothing was imported") {
				t.Errorf("the message does not say nothing was imported: %s", ie.Error())
			}
		})
	}
	if n := db.Counts(t, "SELECT 'n', count(*) FROM imported_views")["n"]; n != 0 {
		t.Errorf("%d rows were imported from refused files", n)
	}
}

// endless is a reader of n bytes of one byte, which it does not hold: a 1 GB line without a
// 1 GB file.
type endless struct {
	n, read int64
	b       byte
}

func (e *endless) Read(p []byte) (int, error) {
	if e.read >= e.n {
		return 0, io.EOF
	}
	k := min(int64(len(p)), e.n-e.read)
	for i := range p[:k] {
		p[i] = e.b
	}
	e.read += k
	return int(k), nil
}

// TestGigabyteLine: a 1 GB line is refused after reading about MaxRecordBytes of it, in every
// format.
func TestGigabyteLine(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	for _, c := range []struct{ format, head string }{
		{"prawn", prawnHeader + "2024-05-01T10:00:00Z,\"\",/a,,,,,,,,,,\n"},
		{"prawn", "{\"time\":\"2024-05-01T10:00:00Z\",\"host\":\"\",\"path\":\"/a\"}\n{\"path\":\""},
		{"goatcounter", "2Path,Title,Event,UserAgent,Browser,System,Session,Bot,Referrer,Referrer scheme,Screen size,Location,FirstVisit,Date\n/a,\""},
		{"totals", "path,views\n/a,1\n/"},
	} {
		line := &endless{n: 1 << 30, b: 'a'}
		ie := refused(t, db, c.format, io.MultiReader(strings.NewReader(c.head), line), transfer.ImportOptions{})
		if ie.Line != int64(strings.Count(c.head, "\n")+1) || !strings.Contains(ie.Reason, "longer than") {
			t.Errorf("%s (%q…): refused at line %d: %s", c.format, c.head[:20], ie.Line, ie.Reason)
		}
		if line.read > 4<<20 {
			t.Errorf("%s: read %d bytes of the long line before refusing it", c.format, line.read)
		}
	}
}

// TestRefusedMidFile: a bad record after some full chunks stops the import there: the chunks
// before it are in, the message says so, and importing the fixed file brings the rest without
// counting the first chunks twice.
func TestRefusedMidFile(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	good := views(7)
	lines := strings.SplitAfter(good, "\n")
	bad := strings.Join(lines[:6], "") + "2024-05-01T10:05:00Z,\"\",no-slash,,,,,,,,,,\n" + strings.Join(lines[6:], "")
	ie := refused(t, db, "prawn", strings.NewReader(bad), transfer.ImportOptions{ChunkSize: 2})
	if ie.Line != 7 || !strings.Contains(ie.Reason, `path "no-slash"`) {
		t.Errorf("refused at line %d: %s", ie.Line, ie.Reason)
	}
	msg := ie.Error()
	for _, want := range []string{"line 7: ", "lines 2–5 are imported", "this run: 2 chunks, 4 views", "nothing from line 6 on was imported"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the message lacks %q: %s", want, msg)
		}
	}
	if n := db.Counts(t, "SELECT 'n', views FROM totals WHERE path = ''")["n"]; n != 4 {
		t.Errorf("%d views are in after the refusal, want the 4 of the two chunks before it", n)
	}
	res := importData(t, db.Store, "prawn", []byte(good), transfer.ImportOptions{ChunkSize: 2})
	if res.Repeated != 2 || res.Chunks != 2 || res.Views != 3 {
		t.Errorf("importing the fixed file: %+v", res)
	}
	if n := db.Counts(t, "SELECT 'n', views FROM totals WHERE path = ''")["n"]; n != 7 {
		t.Errorf("%d views after importing the fixed file, want 7", n)
	}
	verifyOK(t, db.Store)
	var none bytes.Buffer
	if _, err := transfer.Import(context.Background(), db.Store, &none, transfer.ImportOptions{Format: "csv"}); !errors.Is(err, transfer.ErrInvalid) {
		t.Errorf("an unknown format: err = %v", err)
	}
}
