package storage

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
)

// TestRowWriter: COPY text rows become CSV that encoding/csv reads back and JSON lines that
// encoding/json reads back, with escapes undone, NULL told from empty, and times in RFC 3339.
func TestRowWriter(t *testing.T) {
	cols := []string{"time", "host", "path", "referrer", "views"}
	kinds := []colKind{colTimeMicro, colText, colText, colText, colNumber}
	copyText := "2026-11-30 10:00:01+00\t\t/a,b \"c\"\\\\d\ttab\\there\\nline\t7\n" +
		"2026-11-30 10:00:01.5+00\tx.example\t/ü\t\\N\t0\n"
	var c, j bytes.Buffer
	if err := newRowWriter(&c, FormatCSV, cols, kinds).convert(strings.NewReader(copyText)); err != nil {
		t.Fatal(err)
	}
	if err := newRowWriter(&j, FormatJSONL, cols, kinds).convert(strings.NewReader(copyText)); err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"2026-11-30T10:00:01.000000Z", "", `/a,b "c"\d`, "tab\there\nline", "7"},
		{"2026-11-30T10:00:01.500000Z", "x.example", "/ü", "", "0"},
	}
	csvText := c.String()
	recs, err := csv.NewReader(&c).ReadAll()
	if err != nil {
		t.Fatalf("%v\n%s", err, c.String())
	}
	for i, r := range recs {
		if strings.Join(r, "|") != strings.Join(want[i], "|") {
			t.Errorf("CSV row %d = %q, want %q", i, r, want[i])
		}
	}
	if !strings.Contains(csvText, `,"",`) || !strings.HasSuffix(csvText, "/ü,,0\n") {
		t.Errorf("CSV does not tell an empty host from an unknown referrer:\n%s", csvText)
	}
	lines := strings.Split(strings.TrimSuffix(j.String(), "\n"), "\n")
	for i, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("JSON line %d %q: %v", i, l, err)
		}
		if m["time"] != want[i][0] || m["host"] != want[i][1] || m["path"] != want[i][2] || m["views"] != float64(i^1)*7 {
			t.Errorf("JSON line %d = %v", i, m)
		}
		if _, ok := m["referrer"]; ok != (i == 0) {
			t.Errorf("JSON line %d: referrer present = %v", i, ok)
		}
	}
	if err := newRowWriter(&c, FormatCSV, cols, kinds).convert(strings.NewReader("a\tb\n")); err == nil {
		t.Error("a row with too few columns was written")
	}
}
