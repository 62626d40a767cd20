package transfer

import (
	"errors"
	"io"
)

// MaxRecordBytes bounds one record (line) of an imported file. A view is a few KiB at most; a
// longer record is not a view, and reading it whole would let one line take any amount of memory.
const MaxRecordBytes = 1 << 20

// errRecordTooLong is what boundedReader returns once a record runs past its budget.
var errRecordTooLong = errors.New("record too long")

// boundedReader hands a CSV reader at most budget bytes between two calls of reset (one per
// record read), so that no record, however long, is buffered beyond it. It also remembers the
// last byte read, to tell a file that ends with a line break from one cut short.
type boundedReader struct {
	r      io.Reader
	budget int64
	left   int64
	last   byte
	read   int64
}

func newBoundedReader(r io.Reader, budget int64) *boundedReader {
	return &boundedReader{r: r, budget: budget, left: budget}
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, errRecordTooLong
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	b.read += int64(n)
	if n > 0 {
		b.last = p[n-1]
	}
	return n, err
}

// reset gives the next record a full budget.
func (b *boundedReader) reset() { b.left = b.budget }

// endsWithNewline reports whether the data read so far ends with a line break (or is empty).
func (b *boundedReader) endsWithNewline() bool { return b.read == 0 || b.last == '\n' }
