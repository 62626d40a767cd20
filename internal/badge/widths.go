package badge

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"encoding/binary"
	"fmt"
	"io"
	"sort"
	"sync"
)

// font is one of the width tables of shields.io's renderer (badge-maker 6.0.0 measures with
// anafanafo 2.0.0's tables, vendored in data/ with their licence).
type font int

// The fonts, in the order of widths.bin.gz (see gen).
const (
	verdana11     font = iota // "11px Verdana": flat and flat-square
	verdana10                 // "10px Verdana": the label of for-the-badge
	verdana10Bold             // "bold 10px Verdana": the message of for-the-badge
	numFonts
)

// fontFiles are the tables in data/ of each font, in order.
var fontFiles = [numFonts]string{"verdana-11px-normal.json", "verdana-10px-normal.json", "verdana-10px-bold.json"}

//go:embed widths.bin.gz
var widthsGz []byte

// span is a range of code points [lo, hi] whose characters all advance by w hundredths of a pixel.
type span struct {
	lo, hi rune
	w      uint32
}

// table is one font's advance widths.
type table struct {
	spans []span
	em    float64 // the width of "m": the guess for a character the table lacks
}

// tables decodes widths.bin.gz once, on first use.
var tables = sync.OnceValue(func() [numFonts]*table {
	t, err := decodeTables(widthsGz)
	if err != nil {
		panic(err) // embedded and checked by TestWidthTables
	}
	return t
})

func decodeTables(gz []byte) ([numFonts]*table, error) {
	var out [numFonts]*table
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return out, fmt.Errorf("width tables: %w", err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return out, fmt.Errorf("width tables: %w", err)
	}
	r := bytes.NewReader(raw)
	for f := range numFonts {
		n, err := binary.ReadUvarint(r)
		if err != nil {
			return out, fmt.Errorf("width table %s: %w", fontFiles[f], err)
		}
		t := &table{spans: make([]span, n)}
		next := rune(0)
		for i := range t.spans {
			var v [3]uint64
			for j := range v {
				if v[j], err = binary.ReadUvarint(r); err != nil {
					return out, fmt.Errorf("width table %s, range %d: %w", fontFiles[f], i, err)
				}
			}
			lo := next + rune(v[0])
			t.spans[i] = span{lo: lo, hi: lo + rune(v[1]), w: uint32(v[2])}
			next = t.spans[i].hi + 1
		}
		t.em = t.widthOf("m")
		out[f] = t
	}
	if r.Len() != 0 {
		return out, fmt.Errorf("width tables: %d bytes left over", r.Len())
	}
	return out, nil
}

// char is the advance width of r, and whether the table has it.
func (t *table) char(r rune) (float64, bool) {
	if r <= 31 || r == 127 {
		return 0, true // control characters take no room
	}
	i := sort.Search(len(t.spans), func(i int) bool { return t.spans[i].hi >= r })
	if i == len(t.spans) || t.spans[i].lo > r {
		return 0, false
	}
	// Hundredths divided by 100 is the double nearest the table's decimal: the very value that
	// JSON.parse gives badge-maker, so the sums below are the same to the last bit.
	return float64(t.spans[i].w) / 100, true
}

// widthOf is the width of s in pixels, as anafanafo measures it: the sum of its characters'
// advances, in order, a character the table lacks counting as wide as "m".
func (t *table) widthOf(s string) float64 {
	w := 0.0
	for _, r := range s {
		cw, ok := t.char(r)
		if !ok {
			cw = t.em
		}
		w += cw
	}
	return w
}
