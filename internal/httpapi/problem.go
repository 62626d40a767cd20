package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/prawnhq/prawn/gen/api"
)

// problemType is the content type of every error answer (RFC 9457).
const problemType = "application/problem+json"

// writeProblem answers with a problem detail.
func writeProblem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", problemType)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(problem(status, detail))
}

func problem(status int, detail string) api.Problem {
	t := "about:blank"
	p := api.Problem{Type: &t, Title: http.StatusText(status), Status: status}
	if detail != "" {
		p.Detail = &detail
	}
	return p
}

// describeBodyError turns a request body decoding error into words for the client, without Go
// type names or other internals.
func describeBodyError(err error) (int, string) {
	var tooBig *http.MaxBytesError
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is larger than %d bytes", tooBig.Limit)
	case errors.Is(err, io.EOF):
		return http.StatusBadRequest, "request body is empty; expected a JSON object"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return http.StatusBadRequest, "request body ends in the middle of a JSON value"
	case errors.As(err, &syntax):
		return http.StatusBadRequest, fmt.Sprintf("request body is not valid JSON (at byte %d)", syntax.Offset)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return http.StatusBadRequest, fmt.Sprintf("field %q must be a %s, not a %s", typ.Field, jsonKind(typ.Type.Kind().String()), typ.Value)
		}
		return http.StatusBadRequest, fmt.Sprintf("request body must be a JSON object, not a %s", typ.Value)
	}
	return http.StatusBadRequest, "request body is not a valid JSON object for this operation"
}

func jsonKind(goKind string) string {
	switch {
	case goKind == "string":
		return "string"
	case strings.HasPrefix(goKind, "int"), strings.HasPrefix(goKind, "float"), strings.HasPrefix(goKind, "uint"):
		return "number"
	case goKind == "bool":
		return "boolean"
	case goKind == "slice":
		return "array"
	}
	return "object"
}

// describeParamError turns a parameter binding error into words for the client.
func describeParamError(err error) string {
	var format *api.InvalidParamFormatError
	var many *api.TooManyValuesForParamError
	var required *api.RequiredParamError
	switch {
	case errors.As(err, &format):
		switch format.ParamName {
		case "from", "to":
			return fmt.Sprintf("parameter %q must be an RFC 3339 time such as 2026-01-02T15:04:05Z", format.ParamName)
		case "limit":
			return fmt.Sprintf("parameter %q must be a whole number", format.ParamName)
		case "record":
			return fmt.Sprintf("parameter %q must be true or false", format.ParamName)
		}
		return fmt.Sprintf("parameter %q has an invalid value", format.ParamName)
	case errors.As(err, &many):
		return fmt.Sprintf("parameter %q may be given once, not %d times", many.ParamName, many.Count)
	case errors.As(err, &required):
		return fmt.Sprintf("parameter %q is required", required.ParamName)
	}
	return "the request's parameters are invalid"
}
