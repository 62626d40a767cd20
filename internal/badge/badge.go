// Package badge draws the SVG badges of prawn's counts in the look of shields.io: the layout of
// shields.io's own renderer (npm badge-maker 6.0.0, lib/badge-renderers.js) for the styles flat,
// flat-square and for-the-badge, with text widths measured by the character width tables that
// renderer uses (anafanafo 2.0.0's Verdana tables, vendored in data/). For the same label,
// message, colour and style the SVG is byte for byte badge-maker's (TestMatchesBadgeMaker).
//
// Text is only ever written escaped, and colours only from a fixed list or as hex digits, so a
// badge carries no markup but its own: no script, no style, no link.
package badge

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/language"
)

// ErrInvalid marks a badge parameter that breaks the rules; the message says which.
var ErrInvalid = errors.New("invalid badge")

// Style is the shape of a badge.
type Style string

// The styles prawn draws.
const (
	Flat        Style = "flat"
	FlatSquare  Style = "flat-square"
	ForTheBadge Style = "for-the-badge"
)

// ParseStyle reads a style; "" is Flat.
func ParseStyle(s string) (Style, error) {
	switch Style(s) {
	case "", Flat:
		return Flat, nil
	case FlatSquare, ForTheBadge:
		return Style(s), nil
	}
	return "", fmt.Errorf("%w: style %q is not one of flat, flat-square, for-the-badge", ErrInvalid, clip(s))
}

// MaxLabelLen is the longest label, in bytes.
const MaxLabelLen = 64

// DefaultLabel is the label of a badge when none is asked for.
const DefaultLabel = "views"

// CheckLabel refuses a label that is too long, not UTF-8 or holds control characters.
func CheckLabel(s string) error {
	switch {
	case len(s) > MaxLabelLen:
		return fmt.Errorf("%w: label is %d bytes long, at most %d are allowed", ErrInvalid, len(s), MaxLabelLen)
	case !utf8.ValidString(s):
		return fmt.Errorf("%w: label is not valid UTF-8", ErrInvalid)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return fmt.Errorf("%w: label holds a control character", ErrInvalid)
	}
	return nil
}

// clip shortens text quoted in an error message.
func clip(s string) string {
	if len(s) > 32 {
		s = s[:32] + "…"
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// Badge is what a badge shows.
type Badge struct {
	Label, Message string
	Color          Color
	Style          Style
	// Title, when set, is the badge's <title> and aria-label instead of "label: message".
	Title string
}

// SVG draws the badge. Label and Message are trimmed of surrounding space, as badge-maker does.
func (b Badge) SVG() []byte {
	label, message := trim(b.Label), trim(b.Message)
	color := b.Color.hex
	if color == "" {
		color = DefaultColor.hex
	}
	var svg *element
	switch b.Style {
	case ForTheBadge:
		svg = forTheBadge(label, message, color, b.Title)
	case FlatSquare:
		svg = flat(label, message, color, b.Title, false)
	default:
		svg = flat(label, message, color, b.Title, true)
	}
	var sb strings.Builder
	svg.render(&sb)
	return []byte(sb.String())
}

// trim removes what JavaScript's String.prototype.trim removes.
func trim(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return unicode.IsSpace(r) || r == '\uFEFF' })
}

// jsLen is the length of s as JavaScript counts it, in UTF-16 code units.
func jsLen(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// accessibleText is the badge's title and aria-label.
func accessibleText(label, message string) string {
	if label != "" {
		return label + ": " + message
	}
	return message
}

// preferredWidth is badge-maker's preferredWidthOf: the text's width truncated to whole pixels,
// then rounded up to an odd number (for pixel grid alignment).
func preferredWidth(f font, s string) float64 {
	w := float64(int64(tables()[f].widthOf(s)))
	if int64(w)%2 == 0 {
		w++
	}
	return w
}

const (
	fontFamily  = "Verdana,Geneva,DejaVu Sans,sans-serif"
	scaleDown   = "scale(.1)"
	defaultFill = "#fff"
	labelColor  = "#555"
)

// withFill adds the text colour to attrs unless it is the group's white.
func withFill(attrs []attr, textColor string) []attr {
	if textColor == defaultFill {
		return attrs
	}
	return append(attrs, attr{"fill", textColor})
}

// flat draws the flat style (shadowed text on a gradient, rounded corners) or, without shadow,
// flat-square.
func flat(label, message, color, title string, shadow bool) *element {
	const horizPadding, height = 5.0, 20.0
	hasLabel := label != ""
	left := labelColor
	if !hasLabel {
		left = color
	}
	labelMargin := 1.0
	labelWidth := 0.0
	if hasLabel {
		labelWidth = preferredWidth(verdana11, label)
	}
	leftWidth := 0.0
	if hasLabel {
		leftWidth = labelWidth + 2*horizPadding
	}
	messageWidth := preferredWidth(verdana11, message)
	messageMargin := leftWidth
	if message != "" {
		messageMargin = leftWidth - 1
	}
	if !hasLabel {
		messageMargin = messageMargin + 1
	}
	rightWidth := messageWidth + 2*horizPadding
	width := leftWidth + rightWidth

	textElement := func(leftMargin float64, content, bg string, textWidth float64) node {
		if content == "" {
			return text("")
		}
		textColor, shadowColor := textColors(bg)
		x := 10 * (leftMargin + 0.5*textWidth + horizPadding)
		y := 140.0
		textLength := 10 * textWidth
		if !shadow {
			return el("text", withFill([]attr{{"x", x}, {"y", y}, {"textLength", textLength}, {"transform", scaleDown}}, textColor), text(content))
		}
		main := el("text", withFill([]attr{{"x", x}, {"y", y}, {"textLength", textLength}}, textColor), text(content))
		shadowY := y + 10
		shadowText := el("text", []attr{{"x", x}, {"y", shadowY}, {"fill-opacity", ".3"}, {"textLength", textLength}}, text(content))
		blur := el("text", []attr{{"x", x}, {"y", shadowY}, {"fill-opacity", ".8"}, {"filter", "url(#blur)"}, {"textLength", textLength}}, text(content))
		group := el("g", []attr{{"aria-hidden", "true"}, {"fill", shadowColor}}, blur, shadowText)
		return el("g", []attr{{"transform", scaleDown}}, group, main)
	}
	foreground := el("g", []attr{{"fill", defaultFill}, {"text-anchor", "middle"}, {"font-family", fontFamily},
		{"text-rendering", "geometricPrecision"}, {"font-size", 110.0}},
		text(""), textElement(labelMargin, label, left, labelWidth), textElement(messageMargin, message, color, messageWidth))
	leftRect := el("rect", []attr{{"width", leftWidth}, {"height", height}, {"fill", left}})
	rightRect := el("rect", []attr{{"x", leftWidth}, {"width", rightWidth}, {"height", height}, {"fill", color}})
	if !shadow {
		background := el("g", []attr{{"shape-rendering", "crispEdges"}}, leftRect, rightRect)
		return svg(width, height, label, message, title, background, foreground)
	}
	blur := el("filter", []attr{{"id", "blur"}}, el("feGaussianBlur", []attr{{"stdDeviation", "16"}}))
	gradient := el("linearGradient", []attr{{"id", "s"}, {"x2", 0.0}, {"y2", "100%"}},
		el("stop", []attr{{"offset", 0.0}, {"stop-color", "#bbb"}, {"stop-opacity", ".1"}}),
		el("stop", []attr{{"offset", 1.0}, {"stop-opacity", ".1"}}))
	clip := el("clipPath", []attr{{"id", "r"}}, el("rect", []attr{{"width", width}, {"height", height}, {"rx", 3.0}}))
	background := el("g", []attr{{"clip-path", "url(#r)"}}, leftRect, rightRect,
		el("rect", []attr{{"width", width}, {"height", height}, {"fill", "url(#s)"}}))
	return svg(width, height, label, message, title, blur, gradient, clip, background, foreground)
}

// upper is JavaScript's toUpperCase: full Unicode case mapping ("ß" is "SS").
var upper = cases.Upper(language.Und)

// forTheBadge draws the for-the-badge style: upper case, letter-spaced, 28 px high, square.
func forTheBadge(label, message, color, title string) *element {
	const (
		fontSize      = 10.0
		height        = 28.0
		textMargin    = 12.0
		letterSpacing = 1.25
	)
	label, message = upper.String(label), upper.String(message)
	labelTextWidth := 0.0
	if label != "" {
		labelTextWidth = float64(int64(tables()[verdana10].widthOf(label))) + letterSpacing*float64(jsLen(label))
	}
	messageTextWidth := 0.0
	if message != "" {
		messageTextWidth = float64(int64(tables()[verdana10Bold].widthOf(message))) + letterSpacing*float64(jsLen(message))
	}
	hasLabel := label != ""
	labelTextMinX := textMargin
	var labelRectWidth, messageTextMinX, messageRectWidth float64
	if hasLabel {
		labelRectWidth = labelTextMinX + labelTextWidth + textMargin
		messageTextMinX = labelRectWidth + textMargin
		messageRectWidth = 2*textMargin + messageTextWidth
	} else {
		messageTextMinX = textMargin
		messageRectWidth = 2*textMargin + messageTextWidth
	}
	var background *element
	if hasLabel {
		background = el("g", []attr{{"shape-rendering", "crispEdges"}},
			el("rect", []attr{{"width", labelRectWidth}, {"height", height}, {"fill", labelColor}}),
			el("rect", []attr{{"x", labelRectWidth}, {"width", messageRectWidth}, {"height", height}, {"fill", color}}))
	} else {
		background = el("g", []attr{{"shape-rendering", "crispEdges"}},
			el("rect", []attr{{"width", messageRectWidth}, {"height", height}, {"fill", color}}))
	}
	labelText := node(text(""))
	if hasLabel {
		textColor, _ := textColors(labelColor)
		midX := labelTextMinX + 0.5*labelTextWidth
		labelText = el("text", withFill([]attr{{"transform", scaleDown}, {"x", 10 * midX}, {"y", 175.0},
			{"textLength", 10 * labelTextWidth}}, textColor), text(label))
	}
	textColor, _ := textColors(color)
	midX := messageTextMinX + 0.5*messageTextWidth
	messageText := el("text", withFill([]attr{{"transform", scaleDown}, {"x", 10 * midX}, {"y", 175.0},
		{"textLength", 10 * messageTextWidth}, {"font-weight", "bold"}}, textColor), text(message))
	foreground := el("g", []attr{{"fill", defaultFill}, {"text-anchor", "middle"}, {"font-family", fontFamily},
		{"text-rendering", "geometricPrecision"}, {"font-size", 10 * fontSize}}, text(""), labelText, messageText)
	return svg(labelRectWidth+messageRectWidth, height, label, message, title, background, foreground)
}

// svg is the badge's root: its size, title and aria-label, then the content.
func svg(width, height float64, label, message, title string, content ...node) *element {
	if title == "" {
		title = accessibleText(label, message)
	}
	root := el("svg", []attr{{"xmlns", "http://www.w3.org/2000/svg"}, {"width", width}, {"height", height},
		{"role", "img"}, {"aria-label", title}}, el("title", nil, text(title)))
	root.content = append(root.content, content...)
	return root
}

// node is a piece of the SVG.
type node interface{ render(*strings.Builder) }

// element is an XML element, rendered as badge-maker's XmlElement renders it.
type element struct {
	name    string
	attrs   []attr
	content []node
}

// attr is an attribute: a string (escaped) or a number (written as JavaScript writes it).
type attr struct {
	key   string
	value any
}

func el(name string, attrs []attr, content ...node) *element {
	return &element{name: name, attrs: attrs, content: content}
}

func (e *element) render(b *strings.Builder) {
	b.WriteByte('<')
	b.WriteString(e.name)
	for _, a := range e.attrs {
		b.WriteByte(' ')
		b.WriteString(a.key)
		b.WriteString(`="`)
		switch v := a.value.(type) {
		case float64:
			b.WriteString(strconv.FormatFloat(v, 'f', -1, 64))
		case string:
			b.WriteString(escape(v))
		default:
			panic(fmt.Sprintf("badge: attribute %s of type %T", a.key, v))
		}
		b.WriteByte('"')
	}
	if len(e.content) == 0 {
		b.WriteString("/>")
		return
	}
	b.WriteByte('>')
	for _, c := range e.content {
		c.render(b)
	}
	b.WriteString("</")
	b.WriteString(e.name)
	b.WriteByte('>')
}

// text is character data, escaped.
type text string

func (t text) render(b *strings.Builder) { b.WriteString(escape(string(t))) }

var xmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;")

// escape is badge-maker's escapeXml.
func escape(s string) string { return xmlEscaper.Replace(s) }
