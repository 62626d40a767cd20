package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"
)

// checkInputs rejects what the generated code lets through for op: a query string that does not
// parse strictly (net/url's Query drops what it cannot parse, so "?path=/x;y" would read the whole
// site), query parameters it does not declare, a body of a type it does not read (see
// checkBodyType), a body whose raw bytes are not valid UTF-8 or whose JSON escapes name a lone
// surrogate (decoders turn both into U+FFFD silently), and, where its body's schema says
// additionalProperties: false, unknown fields (and anything after the JSON value). Every body
// passes here before any decoder sees it, whatever its content type.
func checkInputs(op *operation, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RawQuery != "" || r.URL.ForceQuery {
			query, err := url.ParseQuery(r.URL.RawQuery)
			if err != nil {
				writeProblem(w, http.StatusBadRequest, queryDetail(err))
				return
			}
			for name := range query {
				if !slices.Contains(op.params, name) {
					writeProblem(w, http.StatusBadRequest, unknownParamDetail(name, op.params))
					return
				}
			}
		}
		if !checkBodyType(op, w, r) {
			return
		}
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			status, detail := describeBodyError(err)
			writeProblem(w, status, detail)
			return
		}
		if detail := checkText(body); detail != "" {
			writeProblem(w, http.StatusBadRequest, detail)
			return
		}
		if op.fields != nil {
			if detail := unknownFields(body, op.fields); detail != "" {
				writeProblem(w, http.StatusBadRequest, detail)
				return
			}
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

// queryDetail says what is wrong with a query string that does not parse.
func queryDetail(err error) string {
	var esc url.EscapeError
	switch {
	case errors.As(err, &esc):
		return fmt.Sprintf("the query string has an invalid percent-escape %q: write a %% as %%25", string(esc))
	case strings.Contains(err.Error(), "semicolon"):
		return "the query string has a \";\": separate parameters with \"&\", and write a \";\" in a value as %3B"
	}
	return "the query string is malformed"
}

// checkText says what is wrong when body is not valid UTF-8 or holds a JSON escape of a lone
// surrogate (\ud800 without its pair); "" when it is fine.
func checkText(body []byte) string {
	if !utf8.Valid(body) {
		i := 0
		for i < len(body) {
			r, n := utf8.DecodeRune(body[i:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			i += n
		}
		return fmt.Sprintf("request body is not valid UTF-8 (at byte %d)", i)
	}
	for i := 0; i+1 < len(body); i++ {
		if body[i] != '\\' {
			continue
		}
		if body[i+1] != 'u' {
			i++ // an escaped character: skip it (it may be a backslash)
			continue
		}
		r, ok := hex4(body, i+2)
		if !ok {
			continue // not an escape a decoder accepts: it refuses the JSON itself
		}
		switch {
		case 0xDC00 <= r && r <= 0xDFFF:
			return fmt.Sprintf("request body has a lone surrogate escape at byte %d (\\u%04x): send the character itself, or both halves of its pair", i, r)
		case 0xD800 <= r && r <= 0xDBFF:
			if i+7 < len(body) && body[i+6] == '\\' && body[i+7] == 'u' {
				if lo, ok := hex4(body, i+8); ok && 0xDC00 <= lo && lo <= 0xDFFF {
					i += 11 // a valid pair
					continue
				}
			}
			return fmt.Sprintf("request body has a lone surrogate escape at byte %d (\\u%04x): send the character itself, or both halves of its pair", i, r)
		}
		i += 5
	}
	return ""
}

// hex4 reads the four hex digits at b[i:].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}

func unknownParamDetail(name string, known []string) string {
	if len(known) == 0 {
		return fmt.Sprintf("unknown query parameter %q: this operation takes none", name)
	}
	return fmt.Sprintf("unknown query parameter %q; this operation takes: %s", name, strings.Join(known, ", "))
}

// unknownFields says what is wrong when body is a JSON object with a member not in fields or is
// followed by more data; it returns "" otherwise, leaving other errors (not JSON, not an object)
// to the generated decoder, which describes them.
func unknownFields(body []byte, fields []string) string {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		// Unmarshal also refuses data after the value; tell that apart from a value that is not
		// a JSON object at all.
		dec := json.NewDecoder(bytes.NewReader(body))
		var first json.RawMessage
		if dec.Decode(&first) == nil {
			if _, err := dec.Token(); !errors.Is(err, io.EOF) {
				return "request body holds more than one JSON value"
			}
		}
		return ""
	}
	var unknown []string
	for name := range obj {
		if !slices.Contains(fields, name) {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		// Name the first in sorted order, so the answer does not depend on map order.
		return fmt.Sprintf("request body has an unknown field %q; allowed fields: %s", slices.Min(unknown), strings.Join(fields, ", "))
	}
	return ""
}
