package transfer

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/prawnhq/prawn/internal/pageview"
	"github.com/prawnhq/prawn/internal/storage"
)

// totalsHeaders are the headers a totals file may have: a path and its views, optionally the
// UTC date they were counted on, optionally a host.
var totalsHeaders = [][]string{
	{"path", "views"}, {"path", "date", "views"}, {"host", "path", "views"}, {"host", "path", "date", "views"},
}

// maxTotal bounds one count of a totals file.
const maxTotal = 1_000_000_000_000

const skipZero = "rows of 0 views"

type totalsSource struct {
	c                 *csvReader
	host              string
	latest            time.Time
	hostCol, dateCol  int // -1 when absent
	pathCol, viewsCol int
	cols              []string
}

func newTotalsSource(br *bufio.Reader, host string, latest time.Time) (source, error) {
	c := newCSVReader(br)
	h, err := c.readHeader("a totals file")
	if err != nil {
		return nil, err
	}
	norm := make([]string, len(h))
	for i, col := range h {
		norm[i] = strings.ToLower(strings.TrimSpace(col))
	}
	s := &totalsSource{c: c, host: host, latest: latest, hostCol: -1, dateCol: -1, cols: norm}
	known := false
	for _, want := range totalsHeaders {
		if strings.Join(norm, ",") == strings.Join(want, ",") {
			known = true
		}
	}
	if !known {
		names := make([]string, len(totalsHeaders))
		for i, want := range totalsHeaders {
			names[i] = strings.Join(want, ",")
		}
		return nil, &lineError{line: 1, msg: fmt.Sprintf("the header is %q; a totals file starts with one of: %s", strings.Join(h, ","), strings.Join(names, " | "))}
	}
	for i, col := range norm {
		switch col {
		case "host":
			s.hostCol = i
		case "path":
			s.pathCol = i
		case "date":
			s.dateCol = i
		case "views":
			s.viewsCol = i
		}
	}
	return s, nil
}

func (s *totalsSource) header() []string { return s.cols }
func (s *totalsSource) lastLine() int64  { return s.c.lastLine() }

// next reads one count: a path's views on a UTC date (they count in that day's first quarter
// hour) or, without a date, of all time (they count in totals only). Nothing of a totals file
// counts for visitors.
func (s *totalsSource) next() (record, error) {
	f, line, err := s.c.read()
	if err != nil {
		return record{}, err
	}
	if err := s.c.checkFields(f, line, "the header"); err != nil {
		return record{}, err
	}
	bad := func(format string, args ...any) (record, error) {
		return record{}, &lineError{line: line, msg: fmt.Sprintf(format, args...)}
	}
	rec := record{line: line, fields: f}
	row := storage.ImportRow{Host: s.host}
	if s.hostCol >= 0 {
		if row.Host, err = pageview.NormalizeHost(strings.TrimSpace(f[s.hostCol])); err != nil {
			return bad("host %q: %v", f[s.hostCol], ruleOf(err))
		}
	}
	if row.Path, err = pageview.NormalizePath(strings.TrimSpace(f[s.pathCol])); err != nil {
		return bad("path %q: %v", f[s.pathCol], ruleOf(err))
	}
	n, err := strconv.ParseInt(strings.TrimSpace(f[s.viewsCol]), 10, 64)
	if err != nil || n < 0 || n > maxTotal {
		return bad("views %q: want a whole number from 0 to %d", f[s.viewsCol], int64(maxTotal))
	}
	if s.dateCol >= 0 {
		d, err := time.Parse(time.DateOnly, strings.TrimSpace(f[s.dateCol]))
		if err != nil {
			return bad("date %q: want a date such as 2024-03-01 (a UTC day)", f[s.dateCol])
		}
		if err := checkRange("date", d, s.latest); err != nil {
			return bad("%v", err)
		}
		row.At = &d
	}
	if n == 0 {
		rec.skip = skipZero
		return rec, nil
	}
	row.N = n
	rec.row = row
	return rec, nil
}
