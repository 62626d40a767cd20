// Package transfer moves history in and out of prawn: exports of the views (CSV or JSON lines,
// streamed from one snapshot with constant memory) and of the rollups, and imports of prawn's own
// exports, of GoatCounter's CSV export (version 2) and of simple totals files, each chunk in one
// transaction, idempotent, with the line and the reason when a file is refused. See
// docs/owndata.md.
package transfer

import (
	"errors"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"
)

// ErrInvalid marks a request that breaks the rules (a bad format, range or host); the message
// says which.
var ErrInvalid = errors.New("invalid request")

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// The times a view may have: as the API's, and not in the future (an hour's grace for clocks).
var (
	MinTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	// FutureGrace is how far past now an imported view may lie.
	FutureGrace = time.Hour
)

// checkText refuses a field that is not UTF-8, holds a NUL or control character, or is longer
// than max bytes; what names the field.
func checkText(what, s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("%s is %d bytes long; at most %d are allowed", what, len(s), max)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not valid UTF-8", what)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("%s holds a control character (%U)", what, r)
		}
	}
	return nil
}
