package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"
)

// checkInputs rejects what the generated code lets through for op: query parameters it does not
// declare, a body of a type it does not read (see checkBodyType) and, where its body's schema
// says additionalProperties: false, invalid UTF-8, unknown fields and anything after the JSON
// value.
func checkInputs(op *operation, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RawQuery != "" {
			for name := range r.URL.Query() {
				if !slices.Contains(op.params, name) {
					writeProblem(w, http.StatusBadRequest, unknownParamDetail(name, op.params))
					return
				}
			}
		}
		if !checkBodyType(op, w, r) {
			return
		}
		if op.fields == nil || r.Body == nil {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			status, detail := describeBodyError(err)
			writeProblem(w, status, detail)
			return
		}
		if !utf8.Valid(body) {
			writeProblem(w, http.StatusBadRequest, "request body is not valid UTF-8")
			return
		}
		if detail := unknownFields(body, op.fields); detail != "" {
			writeProblem(w, http.StatusBadRequest, detail)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
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
