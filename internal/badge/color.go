package badge

import (
	"fmt"
	"strconv"
	"strings"
)

// Color is a badge colour: one of shields.io's names (or aliases), or a hex colour.
type Color struct {
	name string // the name as given, lower case, or "#" and the hex digits
	hex  string // "#rgb" or "#rrggbb", lower case
}

// namedColors are shields.io's colour names (badge-maker's lib/color.js).
var namedColors = map[string]string{
	"brightgreen": "#4b0",
	"green":       "#67ac09",
	"yellow":      "#d8b800",
	"yellowgreen": "#95991a",
	"orange":      "#ea7233",
	"red":         "#dd4343",
	"blue":        "#007ec6",
	"grey":        "#555",
	"lightgrey":   "#939393",
}

// colorAliases are shields.io's other names for them.
var colorAliases = map[string]string{
	"gray":          "grey",
	"lightgray":     "lightgrey",
	"critical":      "red",
	"important":     "orange",
	"success":       "brightgreen",
	"informational": "blue",
	"inactive":      "lightgrey",
}

// DefaultColor is the colour of a count when none is asked for.
var DefaultColor = Color{name: "blue", hex: "#007ec6"}

// ColorNames lists the names ParseColor takes, for error messages.
const ColorNames = "brightgreen, green, yellowgreen, yellow, orange, red, blue, grey, lightgrey (or gray, lightgray, success, important, critical, informational, inactive)"

// ParseColor reads a colour: a name of shields.io's (case does not matter), or 3 or 6 hex digits
// with or without a leading "#". Anything else (CSS functions, other names, longer text) is
// refused: a colour goes into an SVG attribute, so only these forms are ever written.
func ParseColor(s string) (Color, error) {
	v := strings.ToLower(s)
	if c, ok := colorAliases[v]; ok {
		v = c
	}
	if hex, ok := namedColors[v]; ok {
		return Color{name: strings.ToLower(s), hex: hex}, nil
	}
	digits := strings.TrimPrefix(v, "#")
	if (len(digits) == 3 || len(digits) == 6) && isHex(digits) {
		return Color{name: "#" + digits, hex: "#" + digits}, nil
	}
	return Color{}, fmt.Errorf("%w: color %q is neither a name (%s) nor a hex colour such as 4c1 or 007ec6", ErrInvalid, clip(s), ColorNames)
}

// Name is the colour as shields.io's endpoint badge takes it: the name, or "#" and hex digits.
func (c Color) Name() string { return c.name }

// Hex is the colour as an SVG fill.
func (c Color) Hex() string { return c.hex }

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// brightness is badge-maker's measure of a background colour (#rgb or #rrggbb), rounded to two
// decimals as it rounds it.
func brightness(hex string) float64 {
	d := strings.TrimPrefix(hex, "#")
	if len(d) == 3 {
		d = string([]byte{d[0], d[0], d[1], d[1], d[2], d[2]})
	}
	if len(d) != 6 {
		return 0
	}
	n, err := strconv.ParseUint(d, 16, 32)
	if err != nil {
		return 0
	}
	r, g, b := float64(n>>16), float64(n>>8&0xff), float64(n&0xff)
	v := (r*299 + g*587 + b*114) / 255000
	// JavaScript's toFixed(2); no value near the threshold is a tie, where the two round apart.
	rounded, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', 2, 64), 64)
	return rounded
}

// textColors are the text and shadow colours on a background, as badge-maker picks them.
func textColors(background string) (text, shadow string) {
	if brightness(background) <= 0.69 {
		return "#fff", "#010101"
	}
	return "#333", "#ccc"
}
