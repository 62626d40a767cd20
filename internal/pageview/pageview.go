// Package pageview is what a page view is and how one is recorded: the rules for paths and
// referrers, and the Recorder that commits views to the database.
package pageview

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on what a view may carry, in bytes.
const (
	MaxPathLen     = 512
	MaxReferrerLen = 1024
)

// ErrInvalid marks a view that breaks the rules; the message says which.
var ErrInvalid = errors.New("invalid view")

// View is one page view.
type View struct {
	// Path is the normalised path that was viewed, such as "/blog/post".
	Path string
	// Referrer is where the visitor came from; empty when unknown.
	Referrer string
}

// New validates and normalises a view: see NormalizePath and the referrer rules.
func New(rawPath, referrer string) (View, error) {
	p, err := NormalizePath(rawPath)
	if err != nil {
		return View{}, err
	}
	if err := checkText("referrer", referrer, MaxReferrerLen); err != nil {
		return View{}, err
	}
	return View{Path: p, Referrer: referrer}, nil
}

// NormalizePath turns a raw path into the form views are counted under: it must start with "/",
// be valid UTF-8 without control characters and at most MaxPathLen bytes; a query string or
// fragment is dropped; "." and ".." segments are resolved, repeated slashes collapse and a
// trailing slash is removed ("/a/" counts as "/a"; "/" stays "/").
func NormalizePath(raw string) (string, error) {
	if raw == "" {
		return "", fmt.Errorf("%w: path is required", ErrInvalid)
	}
	if err := checkText("path", raw, MaxPathLen); err != nil {
		return "", err
	}
	if raw[0] != '/' {
		return "", fmt.Errorf("%w: path must start with \"/\"", ErrInvalid)
	}
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		raw = raw[:i]
	}
	return path.Clean(raw), nil
}

// checkText rejects values that are too long, not UTF-8 or hold control characters.
func checkText(field, s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("%w: %s is %d bytes long, at most %d are allowed", ErrInvalid, field, len(s), max)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalid, field)
	}
	if i := strings.IndexFunc(s, unicode.IsControl); i >= 0 {
		return fmt.Errorf("%w: %s holds a control character at byte %d", ErrInvalid, field, i)
	}
	return nil
}

// Store is where views are committed.
type Store interface {
	// InsertViews commits the views (parallel slices) in one transaction.
	InsertViews(ctx context.Context, paths, referrers []string) error
}

// Recorder commits views. Record returns only once the view is committed.
type Recorder interface {
	Record(ctx context.Context, v View) error
}

// Direct is the simplest Recorder: one INSERT transaction per view.
type Direct struct {
	Store Store
}

// Record commits one view in its own transaction.
func (d Direct) Record(ctx context.Context, v View) error {
	return d.Store.InsertViews(ctx, []string{v.Path}, []string{v.Referrer})
}
