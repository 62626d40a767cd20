package transfer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prawnhq/prawn/internal/pageview"
	"github.com/prawnhq/prawn/internal/storage"
)

// Limits of the dimensions of an imported view, in bytes (as recording's: the host and the
// campaign of pageview; names of clients are short).
const (
	maxNameLen = 64
)

// newPrawnSource reads prawn's own views export: JSON lines when the file starts with "{",
// else CSV with ViewColumns as its header.
func newPrawnSource(br *bufio.Reader, latest time.Time) (source, error) {
	first, err := br.Peek(1)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read the file: %w", err)
	}
	if len(first) == 1 && first[0] == '{' {
		return &prawnJSONSource{br: br, latest: latest}, nil
	}
	c := newCSVReader(br)
	h, err := c.readHeader("a prawn export")
	if err != nil {
		return nil, err
	}
	if strings.Join(h, ",") != strings.Join(storage.ViewColumns, ",") {
		msg := fmt.Sprintf("the header is %q; a prawn views export (CSV) starts with %q, or is JSON lines", strings.Join(h, ","), strings.Join(storage.ViewColumns, ","))
		switch {
		case len(h) > 0 && strings.HasSuffix(h[0], "Path"):
			msg += "; this looks like a GoatCounter export: use --format goatcounter"
		case len(h) > 0 && h[0] == "host":
			msg += "; this looks like a rollup export (--data hourly, daily, breakdowns or totals), which is for reading elsewhere: import a views export, or daily counts with --format totals"
		}
		return nil, &lineError{line: 1, msg: msg}
	}
	return &prawnCSVSource{c: c, latest: latest}, nil
}

type prawnCSVSource struct {
	c      *csvReader
	latest time.Time
}

func (s *prawnCSVSource) header() []string { return storage.ViewColumns }
func (s *prawnCSVSource) lastLine() int64  { return s.c.lastLine() }

func (s *prawnCSVSource) next() (record, error) {
	rec, line, err := s.c.read()
	if err != nil {
		return record{}, err
	}
	if err := s.c.checkFields(rec, line, "a prawn export"); err != nil {
		return record{}, err
	}
	row, err := prawnRow(rec, s.latest)
	if err != nil {
		return record{}, &lineError{line: line, msg: err.Error()}
	}
	return record{line: line, fields: rec, row: row}, nil
}

// prawnJSONSource reads JSON lines: one object per line with the keys of ViewColumns in
// camelCase.
type prawnJSONSource struct {
	br     *bufio.Reader
	line   int64
	latest time.Time
}

// jsonView is one line of a JSON-lines views export.
type jsonView struct {
	Time         *string `json:"time"`
	Host         *string `json:"host"`
	Path         *string `json:"path"`
	Referrer     string  `json:"referrer"`
	ReferrerHost string  `json:"referrerHost"`
	UTMSource    string  `json:"utmSource"`
	UTMMedium    string  `json:"utmMedium"`
	UTMCampaign  string  `json:"utmCampaign"`
	Browser      string  `json:"browser"`
	OS           string  `json:"os"`
	Device       string  `json:"device"`
	Country      string  `json:"country"`
	Visitor      string  `json:"visitor"`
}

func (s *prawnJSONSource) header() []string { return storage.ViewColumns }
func (s *prawnJSONSource) lastLine() int64  { return s.line }

func (s *prawnJSONSource) next() (record, error) {
	for {
		b, err := s.br.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			return record{}, &lineError{line: s.line + 1, msg: fmt.Sprintf("the line is longer than %d bytes: no view is that long (is this the right file?)", MaxRecordBytes)}
		case errors.Is(err, io.EOF) && len(bytes.TrimSpace(b)) > 0:
			return record{}, &lineError{line: s.line + 1, msg: "the file ends in the middle of this line: it looks cut short (a complete file ends with a line break)"}
		case errors.Is(err, io.EOF):
			return record{}, io.EOF
		case err != nil:
			return record{}, fmt.Errorf("read the file: %w", err)
		}
		s.line++
		b = bytes.TrimRight(b, "\r\n")
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		if !utf8.Valid(b) {
			return record{}, &lineError{line: s.line, msg: "the line is not valid UTF-8"}
		}
		var v jsonView
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&v); err != nil {
			return record{}, &lineError{line: s.line, msg: "not a view of a prawn export: " + describeJSON(err)}
		}
		if dec.More() {
			return record{}, &lineError{line: s.line, msg: "more than one JSON value on the line"}
		}
		if v.Time == nil || v.Host == nil || v.Path == nil {
			return record{}, &lineError{line: s.line, msg: `a view needs "time", "host" and "path"`}
		}
		fields := []string{*v.Time, *v.Host, *v.Path, v.Referrer, v.ReferrerHost, v.UTMSource, v.UTMMedium,
			v.UTMCampaign, v.Browser, v.OS, v.Device, v.Country, v.Visitor}
		row, err := prawnRow(fields, s.latest)
		if err != nil {
			return record{}, &lineError{line: s.line, msg: err.Error()}
		}
		return record{line: s.line, fields: fields, row: row}, nil
	}
}

func describeJSON(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("not valid JSON (at byte %d)", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("%q must be a string", typ.Field)
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return "unknown key " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	return "not a JSON object"
}

// prawnRow turns the fields of a views export (ViewColumns order) into a view, checking each.
func prawnRow(f []string, latest time.Time) (storage.ImportRow, error) {
	var row storage.ImportRow
	at, err := time.Parse(time.RFC3339Nano, f[0])
	if err != nil {
		return row, fmt.Errorf("time %q is not an RFC 3339 time such as 2026-01-02T15:04:05.123456Z", f[0])
	}
	if err := checkRange("time", at, latest); err != nil {
		return row, err
	}
	at = at.UTC()
	row.At, row.N = &at, 1
	if row.Host, err = pageview.NormalizeHost(f[1]); err != nil {
		return row, fmt.Errorf("host %q: %v", f[1], ruleOf(err))
	}
	if row.Path, err = pageview.NormalizePath(f[2]); err != nil {
		return row, fmt.Errorf("path %q: %v", f[2], ruleOf(err))
	}
	limits := []struct {
		dim storage.Dim
		max int
	}{
		{storage.DimReferrer, pageview.MaxReferrerLen}, {storage.DimRefHost, pageview.MaxHostLen},
		{storage.DimUTMSource, pageview.MaxCampaignLen}, {storage.DimUTMMedium, pageview.MaxCampaignLen},
		{storage.DimUTMCampaign, pageview.MaxCampaignLen}, {storage.DimBrowser, maxNameLen},
		{storage.DimOS, maxNameLen}, {storage.DimDevice, maxNameLen},
	}
	for i, l := range limits {
		if err := checkText(storage.ViewColumns[3+i], f[3+i], l.max); err != nil {
			return row, err
		}
		row.Dims[l.dim-1] = f[3+i]
	}
	if c := f[11]; c != "" {
		if !isCountry(c) {
			return row, fmt.Errorf("country %q is not an ISO 3166-1 alpha-2 code such as DE", c)
		}
		row.Dims[storage.DimCountry-1] = c
	}
	if v := f[12]; v != "" {
		id, err := strconv.ParseUint(v, 16, 64)
		if err != nil || len(v) > 16 {
			return row, fmt.Errorf("visitor %q is not a visitor id (up to 16 hexadecimal digits)", v)
		}
		row.Visitor = int64(id)
	}
	return row, nil
}

func isCountry(c string) bool {
	return len(c) == 2 && c[0] >= 'A' && c[0] <= 'Z' && c[1] >= 'A' && c[1] <= 'Z'
}

// ruleOf is the rule a value broke, without the "invalid view" prefix.
func ruleOf(err error) string {
	var rule *pageview.RuleError
	if errors.As(err, &rule) {
		return rule.Rule
	}
	return err.Error()
}
