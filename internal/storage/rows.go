package storage

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// colKind is how an export writes a column.
type colKind int

const (
	colText      colKind = iota
	colNumber            // a count: a JSON number
	colTimeMicro         // a timestamptz, RFC 3339 in UTC to the microsecond
	colTimeSec           // a timestamptz on a whole second (an hour), RFC 3339 in UTC
)

// rowWriter turns the rows of a COPY in text format (tab-separated, \N for NULL, backslash
// escapes, timestamps as the server writes them in UTC with DateStyle ISO) into CSV or JSON
// lines. It works on bytes and allocates nothing per row: Postgres writes its cheapest text, and
// the formatting (RFC 3339 times, CSV quoting, JSON strings) costs less here than in SQL.
type rowWriter struct {
	json  bool
	keys  [][]byte // JSON: `"key":` of each column
	kinds []colKind
	out   *bufio.Writer
	buf   []byte
}

func newRowWriter(w io.Writer, format string, cols []string, kinds []colKind) *rowWriter {
	rw := &rowWriter{json: format == FormatJSONL, kinds: kinds, out: bufio.NewWriterSize(w, 64<<10)}
	for _, c := range cols {
		rw.keys = append(rw.keys, []byte(strconv.Quote(camel(c))+":"))
	}
	return rw
}

// convert reads COPY text rows from r until EOF.
func (rw *rowWriter) convert(r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var long []byte
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if len(line) > 0 {
			if line[len(line)-1] != '\n' {
				return fmt.Errorf("export: a row of the copy ends without a line break")
			}
			if err := rw.row(line[:len(line)-1]); err != nil {
				return err
			}
		}
		if errors.Is(err, io.EOF) {
			return rw.out.Flush()
		}
		if err != nil {
			return err
		}
	}
}

func (rw *rowWriter) row(line []byte) error {
	b := rw.buf[:0]
	if rw.json {
		b = append(b, '{')
	}
	col, written, start := 0, 0, 0
	for i := 0; i <= len(line); i++ {
		if i < len(line) && line[i] != '\t' {
			continue
		}
		if col >= len(rw.kinds) {
			return fmt.Errorf("export: a row of the copy has more than %d columns", len(rw.kinds))
		}
		f := line[start:i]
		null := len(f) == 2 && f[0] == '\\' && f[1] == 'N'
		switch {
		case rw.json && null: // unknown: left out
		case rw.json:
			if written > 0 {
				b = append(b, ',')
			}
			b = append(b, rw.keys[col]...)
			b = rw.appendValue(b, f, col)
			written++
		default:
			if col > 0 {
				b = append(b, ',')
			}
			if !null {
				b = rw.appendValue(b, f, col)
			}
		}
		col++
		start = i + 1
	}
	if col != len(rw.kinds) {
		return fmt.Errorf("export: a row of the copy has %d columns, want %d", col, len(rw.kinds))
	}
	if rw.json {
		b = append(b, '}')
	}
	b = append(b, '\n')
	rw.buf = b
	_, err := rw.out.Write(b)
	return err
}

func (rw *rowWriter) appendValue(b, f []byte, col int) []byte {
	switch rw.kinds[col] {
	case colNumber:
		return append(b, f...)
	case colTimeMicro, colTimeSec:
		if rw.json {
			b = append(b, '"')
		}
		b = appendRFC3339(b, f, rw.kinds[col] == colTimeMicro)
		if rw.json {
			b = append(b, '"')
		}
		return b
	}
	if rw.json {
		return appendJSONString(b, f)
	}
	return appendCSVField(b, f)
}

// appendRFC3339 writes a timestamptz as Postgres writes it in UTC with DateStyle ISO
// ("2026-11-30 10:00:01.5+00") in RFC 3339 ("2026-11-30T10:00:01.500000Z"; without the
// fraction when micro is false).
func appendRFC3339(b, f []byte, micro bool) []byte {
	if len(f) < 19 {
		return append(b, f...) // not a time of this form: left as it is
	}
	b = append(b, f[:10]...)
	b = append(b, 'T')
	b = append(b, f[11:19]...)
	if micro {
		b = append(b, '.')
		digits := 0
		if len(f) > 19 && f[19] == '.' {
			for i := 20; i < len(f) && f[i] >= '0' && f[i] <= '9'; i++ {
				b = append(b, f[i])
				digits++
			}
		}
		for ; digits < 6; digits++ {
			b = append(b, '0')
		}
	}
	return append(b, 'Z')
}

// unescape returns the byte at f[i] of a COPY text field with its backslash escape undone, and
// the index of its last byte.
func unescape(f []byte, i int) (byte, int) {
	c := f[i]
	if c != '\\' || i+1 >= len(f) {
		return c, i
	}
	i++
	switch f[i] {
	case 'b':
		return '\b', i
	case 'f':
		return '\f', i
	case 'n':
		return '\n', i
	case 'r':
		return '\r', i
	case 't':
		return '\t', i
	case 'v':
		return '\v', i
	}
	return f[i], i // \\ and an escaped delimiter
}

// appendJSONString appends a COPY text field as a JSON string.
func appendJSONString(b, f []byte) []byte {
	b = append(b, '"')
	for i := 0; i < len(f); i++ {
		var c byte
		c, i = unescape(f, i)
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, `\u00`...)
			b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// appendCSVField appends a COPY text field as a CSV field: quoted when empty (an empty value,
// not an unknown one), or when it holds a comma, a quote or a line break; quotes doubled.
func appendCSVField(b, f []byte) []byte {
	quote := len(f) == 0
	for _, c := range f {
		if c == ',' || c == '"' || c == '\\' || c == '\r' || c == '\n' {
			quote = true
			break
		}
	}
	if !quote {
		return append(b, f...)
	}
	b = append(b, '"')
	for i := 0; i < len(f); i++ {
		var c byte
		c, i = unescape(f, i)
		if c == '"' {
			b = append(b, '"')
		}
		b = append(b, c)
	}
	return append(b, '"')
}

// copyRows runs a COPY in text format and writes its rows to w as rw says.
func copyRows(ctx context.Context, copyTo func(context.Context, io.Writer, string) (int64, error), rw *rowWriter, sql string) (int64, error) {
	pr, pw := io.Pipe()
	type result struct {
		n   int64
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := copyTo(ctx, pw, sql)
		pw.CloseWithError(err)
		done <- result{n, err}
	}()
	convErr := rw.convert(pr)
	pr.CloseWithError(convErr) // a failed write stops the copy
	res := <-done
	if res.err != nil {
		return res.n, res.err
	}
	return res.n, convErr
}
