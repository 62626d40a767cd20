package httpapi

import (
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strings"
)

// checkBodyType refuses, with 415, a request body of a media type op does not read, or in
// another charset than UTF-8; it reports whether the request may go on. A body without a
// Content-Type is JSON. A text/plain body of an operation that reads JSON is JSON too (what
// navigator.sendBeacon sends: a type browsers post across origins without a preflight): it is
// checked as JSON and handed on as application/json, so one decoder reads both. An operation
// that reads */* (a file, as POST /api/import) takes any body as it is: its reader checks it.
func checkBodyType(op *operation, w http.ResponseWriter, r *http.Request) bool {
	if op.bodyTypes == nil || slices.Contains(op.bodyTypes, "*/*") {
		return true
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		r.Header.Set("Content-Type", "application/json")
		return true
	}
	accepted := strings.Join(op.bodyTypes, " or ")
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		writeProblem(w, http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type %q is not a media type; send %s", clipText(ct), accepted))
		return false
	}
	if !slices.Contains(op.bodyTypes, mt) {
		writeProblem(w, http.StatusUnsupportedMediaType, fmt.Sprintf("a body of type %s is not read here; send %s", clipText(mt), accepted))
		return false
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
		writeProblem(w, http.StatusUnsupportedMediaType, fmt.Sprintf("the body must be UTF-8, not charset=%s", clipText(cs)))
		return false
	}
	if mt == "text/plain" && slices.Contains(op.bodyTypes, "application/json") {
		mt = "application/json"
	}
	r.Header.Set("Content-Type", mt)
	return true
}

// clipText shortens client text quoted in a problem's detail.
func clipText(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
