package badge

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestWidthTables checks the embedded tables against the vendored JSON they are made from: every
// range and width, and each width as the very double JSON.parse gives badge-maker.
func TestWidthTables(t *testing.T) {
	got := tables()
	for f := range numFonts {
		raw, err := os.ReadFile(filepath.Join("data", fontFiles[f]))
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var rows [][3]json.Number
		if err := dec.Decode(&rows); err != nil {
			t.Fatal(err)
		}
		spans := got[f].spans
		if len(spans) != len(rows) {
			t.Fatalf("%s: %d ranges embedded, %d in the JSON: run internal/badge/update.sh", fontFiles[f], len(spans), len(rows))
		}
		for i, r := range rows {
			lo, _ := r[0].Int64()
			hi, _ := r[1].Int64()
			w, err := strconv.ParseFloat(string(r[2]), 64)
			if err != nil {
				t.Fatal(err)
			}
			cw, ok := got[f].char(rune(lo))
			if spans[i].lo != rune(lo) || spans[i].hi != rune(hi) || !ok || cw != w {
				t.Fatalf("%s row %d: embedded %+v (width %v), JSON %v", fontFiles[f], i, spans[i], cw, r)
			}
		}
	}
	// A character no table has counts as wide as "m"; control characters as nothing.
	v := got[verdana11]
	if w := v.widthOf("\U0010FFFD"); w != v.em || v.em != 10.7 {
		t.Errorf("unknown character: %v, em %v; want the width of m, 10.7", w, v.em)
	}
	if w := v.widthOf("a\x07b"); w != v.widthOf("ab") {
		t.Errorf("control character takes %v", w-v.widthOf("ab"))
	}
}

// TestMatchesBadgeMaker draws each case badge-maker drew (testdata/badge-maker.json, written by
// update.sh from badge-maker 6.0.0 itself) and wants the same SVG, byte for byte.
func TestMatchesBadgeMaker(t *testing.T) {
	raw, err := os.ReadFile("testdata/badge-maker.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct{ Label, Message, Color, Style, SVG string }
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 20 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, c := range cases {
		color, err := ParseColor(c.Color)
		if err != nil {
			t.Fatal(err)
		}
		style, err := ParseStyle(c.Style)
		if err != nil {
			t.Fatal(err)
		}
		got := string(Badge{Label: c.Label, Message: c.Message, Color: color, Style: style}.SVG())
		if got != c.SVG {
			t.Errorf("%s %q %q %s:\n got %s\nwant %s", c.Style, c.Label, c.Message, c.Color, got, c.SVG)
		}
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0", 7: "7", 999: "999", 1000: "1k", 1049: "1k", 1050: "1.1k", 1150: "1.2k", 1234: "1.2k",
		9949: "9.9k", 9950: "10k", 9999: "10k", 12345: "12k", 99_500: "100k", 999_499: "999k",
		999_500: "1M", 1_234_567: "1.2M", 12_000_000: "12M", 1_000_000_000: "1G",
		9_223_372_036_854_775_807: "9.2E",
	} {
		if got := Count(n); got != want {
			t.Errorf("Count(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestParseColor(t *testing.T) {
	for in, want := range map[string][2]string{
		"blue": {"blue", "#007ec6"}, "Blue": {"blue", "#007ec6"}, "gray": {"gray", "#555"},
		"success": {"success", "#4b0"}, "4c1": {"#4c1", "#4c1"}, "#ABCDEF": {"#abcdef", "#abcdef"},
		"007ec6": {"#007ec6", "#007ec6"},
	} {
		c, err := ParseColor(in)
		if err != nil || c.Name() != want[0] || c.Hex() != want[1] {
			t.Errorf("ParseColor(%q) = %q %q %v; want %q %q", in, c.Name(), c.Hex(), err, want[0], want[1])
		}
	}
	for _, in := range []string{"", "#", "12", "1234", "#12345", "ggg", "rgb(1,2,3)", "url(#s)", "red;", `f00"/><script>`,
		"javascript:alert(1)", "transparent", "pink", "#fff onload=alert(1)", "\x00", strings.Repeat("a", 100)} {
		if c, err := ParseColor(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseColor(%q) = %+v, %v; want ErrInvalid", in, c, err)
		}
	}
}

func TestLabelAndStyle(t *testing.T) {
	for _, ok := range []string{"", "views", "página vista", "閲覧数", "👀", "a<b>&\"'", strings.Repeat("x", MaxLabelLen)} {
		if err := CheckLabel(ok); err != nil {
			t.Errorf("CheckLabel(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"a\x00", "a\nb", "\x1b[31m", "a\u0085", "\xff", strings.Repeat("x", MaxLabelLen+1)} {
		if err := CheckLabel(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("CheckLabel(%q) = %v; want ErrInvalid", bad, err)
		}
	}
	for in, want := range map[string]Style{"": Flat, "flat": Flat, "flat-square": FlatSquare, "for-the-badge": ForTheBadge} {
		if s, err := ParseStyle(in); err != nil || s != want {
			t.Errorf("ParseStyle(%q) = %q, %v", in, s, err)
		}
	}
	for _, bad := range []string{"plastic", "social", "FLAT", "flat ", "<svg>"} {
		if _, err := ParseStyle(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseStyle(%q): %v, want ErrInvalid", bad, err)
		}
	}
}

// TestHostileLabelsStayText draws badges with labels made to break out of the SVG and checks, by
// parsing each, that it holds only the elements and attributes of a badge and the label as text.
func TestHostileLabelsStayText(t *testing.T) {
	elements := map[string]bool{"svg": true, "title": true, "filter": true, "feGaussianBlur": true, "linearGradient": true,
		"stop": true, "clipPath": true, "rect": true, "g": true, "text": true}
	attrs := map[string]bool{"xmlns": true, "width": true, "height": true, "role": true, "aria-label": true, "id": true,
		"stdDeviation": true, "x2": true, "y2": true, "offset": true, "stop-color": true, "stop-opacity": true, "rx": true,
		"clip-path": true, "fill": true, "x": true, "y": true, "text-anchor": true, "font-family": true, "text-rendering": true,
		"font-size": true, "transform": true, "aria-hidden": true, "fill-opacity": true, "filter": true, "textLength": true,
		"shape-rendering": true, "font-weight": true}
	for _, label := range []string{`<script>alert(1)</script>`, `"><script>alert(1)</script>`, `' onload='alert(1)`,
		`]]><![CDATA[`, `<!--`, `&lt;script&gt;`, `<a href="javascript:alert(1)">x</a>`, `<style>*{}</style>`} {
		for _, style := range []Style{Flat, FlatSquare, ForTheBadge} {
			out := Badge{Label: label, Message: "1", Color: DefaultColor, Style: style}.SVG()
			dec := xml.NewDecoder(bytes.NewReader(out))
			var texts []string
			for {
				tok, err := dec.Token()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("%q %s: not XML: %v\n%s", label, style, err, out)
				}
				switch v := tok.(type) {
				case xml.StartElement:
					if !elements[v.Name.Local] {
						t.Errorf("%q %s: element <%s>", label, style, v.Name.Local)
					}
					for _, a := range v.Attr {
						if !attrs[a.Name.Local] || (a.Name.Local != "aria-label" && strings.Contains(strings.ToLower(a.Value), "javascript")) {
							t.Errorf("%q %s: attribute %s=%q", label, style, a.Name.Local, a.Value)
						}
					}
				case xml.CharData:
					texts = append(texts, string(v))
				case xml.ProcInst, xml.Directive, xml.Comment:
					t.Errorf("%q %s: %T in the SVG", label, style, v)
				}
			}
			want := label
			if style == ForTheBadge {
				want = upper.String(label)
			}
			if !strings.Contains(strings.Join(texts, "|"), want) {
				t.Errorf("%q %s: the label is not in the text: %q", label, style, texts)
			}
		}
	}
}

// FuzzBadgeSVG draws badges from arbitrary parameters: whatever the checks let through is drawn
// as well-formed XML of a badge's elements only, with the label as text.
func FuzzBadgeSVG(f *testing.F) {
	for _, s := range [][4]string{{"views", "1.2k", "blue", "flat"}, {"", "0", "4c1", "flat-square"},
		{`<script>alert(1)</script>`, "9", "#abcdef", "for-the-badge"}, {"ß閲覧👀", "1M", "Red", ""}, {"a]]>b", "x", "fff", "flat"}} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	elements := map[string]bool{"svg": true, "title": true, "filter": true, "feGaussianBlur": true, "linearGradient": true,
		"stop": true, "clipPath": true, "rect": true, "g": true, "text": true}
	f.Fuzz(func(t *testing.T, label, message, colorName, styleName string) {
		color, err1 := ParseColor(colorName)
		style, err2 := ParseStyle(styleName)
		if err1 != nil || err2 != nil || CheckLabel(label) != nil || CheckLabel(message) != nil {
			return
		}
		out := Badge{Label: label, Message: message, Color: color, Style: style}.SVG()
		dec := xml.NewDecoder(bytes.NewReader(out))
		for {
			tok, err := dec.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%q %q %q %q: not XML: %v\n%s", label, message, colorName, styleName, err, out)
			}
			if se, ok := tok.(xml.StartElement); ok && !elements[se.Name.Local] {
				t.Fatalf("%q: element <%s>", label, se.Name.Local)
			}
		}
	})
}
