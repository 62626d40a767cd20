// Command gen compacts the character width tables of data/*.json (anafanafo's, which shields.io's
// badge-maker measures text with) into widths.bin, which package badge embeds. Run it from
// internal/badge: go run ./gen (update.sh does).
//
// widths.bin.gz is gzip of:  for each file of files in order (the order of badge's fonts, which
// TestWidthTables checks against the JSON): the number of ranges (uvarint), then
// for each range of code points [lo, hi] with one advance width: lo minus the previous range's
// hi+1, hi-lo, and the width in hundredths of a pixel (each a uvarint). The tables give widths
// with at most two decimals; gen refuses one that does not.
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// files are the tables, in the order package badge reads them.
var files = []string{"verdana-11px-normal.json", "verdana-10px-normal.json", "verdana-10px-bold.json"}

// span is a range of code points [lo, hi] of one width, in hundredths of a pixel.
type span struct {
	lo, hi rune
	w      uint32
}

func main() {
	var out []byte
	for _, f := range files {
		ranges, err := readTable(filepath.Join("data", f))
		if err != nil {
			log.Fatal(err)
		}
		out = append(out, encode(ranges)...)
	}
	var z bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
	if _, err := zw.Write(out); err != nil {
		log.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile("widths.bin.gz", z.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("widths.bin.gz: %d bytes (%d uncompressed)\n", z.Len(), len(out))
}

// readTable reads a table of [lo, hi, width] ranges, widths in hundredths.
func readTable(path string) ([]span, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var rows [][3]json.Number
	if err := dec.Decode(&rows); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	ranges := make([]span, len(rows))
	prev := int64(-1)
	for i, r := range rows {
		lo, err1 := r[0].Int64()
		hi, err2 := r[1].Int64()
		w, err3 := hundredths(string(r[2]))
		if err1 != nil || err2 != nil || err3 != nil || lo <= prev || hi < lo {
			return nil, fmt.Errorf("%s: row %d %v: want ascending, disjoint [lo, hi, width] rows (%v %v %v)", path, i, r, err1, err2, err3)
		}
		prev = hi
		ranges[i] = span{lo: rune(lo), hi: rune(hi), w: w}
	}
	return ranges, nil
}

// hundredths reads a decimal such as "3.87" or "7" exactly, as a whole number of hundredths.
func hundredths(s string) (uint32, error) {
	whole, frac, _ := strings.Cut(s, ".")
	if len(frac) > 2 {
		return 0, fmt.Errorf("width %s has more than two decimals", s)
	}
	n, err := strconv.ParseUint(whole+frac+strings.Repeat("0", 2-len(frac)), 10, 32)
	return uint32(n), err
}

func encode(ranges []span) []byte {
	b := binary.AppendUvarint(nil, uint64(len(ranges)))
	next := rune(0)
	for _, r := range ranges {
		b = binary.AppendUvarint(b, uint64(r.lo-next))
		b = binary.AppendUvarint(b, uint64(r.hi-r.lo))
		b = binary.AppendUvarint(b, uint64(r.w))
		next = r.hi + 1
	}
	return b
}
