package transfer

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// csvReader reads the records of a CSV file with bounded memory, naming the line of each.
type csvReader struct {
	cr      *csv.Reader
	br      *boundedReader
	endLine int64 // the last line of the last record read
	cols    []string
}

func newCSVReader(r io.Reader) *csvReader {
	br := newBoundedReader(r, MaxRecordBytes+64<<10) // the CSV reader's own buffer reads ahead
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1 // counted here, to say what is wrong
	return &csvReader{cr: cr, br: br}
}

// readHeader reads the header line; the file must have one.
func (c *csvReader) readHeader(what string) ([]string, error) {
	h, line, err := c.read()
	if errors.Is(err, io.EOF) {
		return nil, &lineError{line: 1, msg: fmt.Sprintf("the file is empty: %s starts with a header line", what)}
	}
	if err != nil {
		return nil, err
	}
	if line != 1 {
		return nil, &lineError{line: line, msg: fmt.Sprintf("the file starts with blank lines: %s starts with its header line", what)}
	}
	c.cols = h
	return h, nil
}

// read returns the next record and its first line.
func (c *csvReader) read() ([]string, int64, error) {
	c.br.reset()
	rec, err := c.cr.Read()
	if errors.Is(err, io.EOF) {
		if !c.br.endsWithNewline() {
			return nil, 0, &lineError{line: c.endLine, msg: "the file ends in the middle of this line: it looks cut short (a complete file ends with a line break)"}
		}
		return nil, 0, io.EOF
	}
	if errors.Is(err, errRecordTooLong) {
		return nil, 0, &lineError{line: c.endLine + 1, msg: fmt.Sprintf("the record that starts here is longer than %d bytes: no view is that long (is this the right file?)", MaxRecordBytes)}
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		msg := pe.Err.Error()
		if errors.Is(pe.Err, csv.ErrQuote) {
			msg = `a quoted field is not closed, or holds a lone " (quotes inside a quoted field are doubled: ""); a file cut short ends like this too`
		} else if errors.Is(pe.Err, csv.ErrBareQuote) {
			msg = `a field that is not quoted holds a " (quote the field and double the quote: "a ""b"" c")`
		}
		return nil, 0, &lineError{line: int64(pe.Line), msg: msg}
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read the file: %w", err)
	}
	line, _ := c.cr.FieldPos(0)
	last, _ := c.cr.FieldPos(len(rec) - 1)
	c.endLine = int64(last) + int64(strings.Count(rec[len(rec)-1], "\n"))
	for i, f := range rec {
		if !utf8.ValidString(f) {
			return nil, 0, &lineError{line: int64(line), msg: fmt.Sprintf("%s is not valid UTF-8 (export the file as UTF-8)", c.name(i))}
		}
		if strings.IndexByte(f, 0) >= 0 {
			return nil, 0, &lineError{line: int64(line), msg: fmt.Sprintf("%s holds a NUL byte: is this a text file?", c.name(i))}
		}
	}
	return rec, int64(line), nil
}

// name names column i for messages.
func (c *csvReader) name(i int) string {
	if i < len(c.cols) {
		return fmt.Sprintf("field %d (%s)", i+1, c.cols[i])
	}
	return fmt.Sprintf("field %d", i+1)
}

func (c *csvReader) lastLine() int64 { return c.endLine }

// cutShort reports whether the record just read was the file's last and lacks its line break:
// a file cut short, which is what a record with too few fields at the end usually means.
func (c *csvReader) cutShort() bool {
	_, err := c.cr.Read()
	return errors.Is(err, io.EOF) && !c.br.endsWithNewline()
}

// checkFields refuses a record without the header's number of fields.
func (c *csvReader) checkFields(rec []string, line int64, what string) error {
	if len(rec) == len(c.cols) {
		return nil
	}
	hint := ""
	if len(rec) < len(c.cols) {
		if c.cutShort() {
			return &lineError{line: line, msg: "the file ends in the middle of this line: it looks cut short (a complete file ends with a line break)"}
		}
		hint = " (a line cut short, or a field with a comma or a line break that is not quoted)"
	}
	return &lineError{line: line, msg: fmt.Sprintf("%d fields, but %s has %d%s", len(rec), what, len(c.cols), hint)}
}

// parseTime reads a time as RFC 3339 (any offset; a space for the T, and no offset, mean UTC)
// and refuses one before MinTime or after latest.
func parseTime(what, s string, latest time.Time) (time.Time, error) {
	var t time.Time
	var err error
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999"} {
		if t, err = time.Parse(layout, s); err == nil {
			break
		}
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q is not an RFC 3339 time such as 2026-01-02T15:04:05Z", what, s)
	}
	return t.UTC(), checkRange(what, t, latest)
}

func checkRange(what string, t, latest time.Time) error {
	if t.Before(MinTime) {
		return fmt.Errorf("%s %s is before %s: prawn counts views from then on", what, t.UTC().Format(time.RFC3339), MinTime.Format(time.DateOnly))
	}
	if t.After(latest) {
		return fmt.Errorf("%s %s is in the future", what, t.UTC().Format(time.RFC3339))
	}
	return nil
}
