package httpapi

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"

	openapi "github.com/prawnhq/prawn/api"
)

// kindExtension is the extension of api/openapi.yaml by which every operation declares its kind.
const kindExtension = "x-prawn-kind"

// recordParamExtension names, on an operation of kind record whose recording is optional, the
// boolean query parameter that asks for it (the badge's record=true); its other requests are
// served as reads.
const recordParamExtension = "x-prawn-record-param"

// contract is what the edge reads from api/openapi.yaml at start: every operation's kind and the
// inputs it checks that the generated code does not (which query parameters each operation takes
// and which fields its request body may hold).
type contract struct {
	// ops maps a route pattern such as "GET /api/stats" to its operation.
	ops map[string]*operation
}

// operation is one operation of the contract, as the edge sees it.
type operation struct {
	// id is the operationId, pattern the route ("POST /api/views"), path its path.
	id, pattern, path string
	// kind is the operation's x-prawn-kind: it picks what the edge does (see policies).
	kind Kind
	// params are the query parameter names, sorted.
	params []string
	// fields are the properties of the JSON body when its schema forbids others
	// (additionalProperties: false), sorted; nil otherwise.
	fields []string
	// bodyTypes are the media types of the request body, sorted; nil when it takes none.
	bodyTypes []string
	// recordParam is the query parameter that asks the operation to record (see
	// recordParamExtension); "" when every request records, or none does.
	recordParam string
	// errorImage is the image type an operation answers errors with to clients that accept
	// images (its 400 answer declares one, as the pixel and the badge do); "" for none.
	errorImage string
	// auth is the token the operation needs, from its security and x-prawn-scope.
	auth authRule
}

// loadContract reads the embedded api/openapi.yaml once.
var loadContract = sync.OnceValues(func() (*contract, error) { return parseContract(openapi.YAML) })

// parseContract reads a contract, refusing an operation whose kind is missing or unknown.
func parseContract(yaml []byte) (*contract, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(yaml)
	if err != nil {
		return nil, fmt.Errorf("load api/openapi.yaml: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("validate api/openapi.yaml: %w", err)
	}
	c := &contract{ops: map[string]*operation{}}
	for route, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			o := &operation{id: op.OperationID, pattern: strings.ToUpper(method) + " " + route, path: route}
			raw, _ := op.Extensions[kindExtension].(string)
			o.kind = Kind(raw)
			if _, ok := policies[o.kind]; !ok {
				if raw == "" {
					return nil, fmt.Errorf("api/openapi.yaml: operation %s (%s) has no %s: want one of %s", o.id, o.pattern, kindExtension, kindNames())
				}
				return nil, fmt.Errorf("api/openapi.yaml: operation %s (%s) has %s %q: want one of %s", o.id, o.pattern, kindExtension, raw, kindNames())
			}
			names := []string{}
			for _, p := range append(item.Parameters, op.Parameters...) {
				if p.Value != nil && p.Value.In == openapi3.ParameterInQuery {
					names = append(names, p.Value.Name)
				}
			}
			slices.Sort(names)
			o.params = slices.Compact(names)
			o.fields = closedFields(op)
			if op.RequestBody != nil && op.RequestBody.Value != nil {
				for mt := range op.RequestBody.Value.Content {
					o.bodyTypes = append(o.bodyTypes, mt)
				}
				slices.Sort(o.bodyTypes)
			}
			if raw, ok := op.Extensions[recordParamExtension]; ok {
				name, _ := raw.(string)
				if o.kind != KindRecord || !slices.Contains(o.params, name) {
					return nil, fmt.Errorf("api/openapi.yaml: operation %s (%s) has %s %q: want one of its query parameters, on an operation of kind record", o.id, o.pattern, recordParamExtension, name)
				}
				o.recordParam = name
			}
			o.errorImage = errorImage(op)
			if o.auth, err = parseAuth(doc, op, o); err != nil {
				return nil, err
			}
			c.ops[o.pattern] = o
		}
	}
	return c, nil
}

// errorImage is the image media type of op's 400 answer, if it declares one.
func errorImage(op *openapi3.Operation) string {
	if op.Responses == nil {
		return ""
	}
	r := op.Responses.Status(400)
	if r == nil || r.Value == nil {
		return ""
	}
	for mt := range r.Value.Content {
		if strings.HasPrefix(mt, "image/") {
			return mt
		}
	}
	return ""
}

// closedFields are the properties of op's JSON body when its schema forbids others, sorted; nil
// when op has no such body.
func closedFields(op *openapi3.Operation) []string {
	if op.RequestBody == nil || op.RequestBody.Value == nil {
		return nil
	}
	mt := op.RequestBody.Value.Content.Get("application/json")
	if mt == nil || mt.Schema == nil || mt.Schema.Value == nil {
		return nil
	}
	s := mt.Schema.Value
	if s.AdditionalProperties.Has == nil || *s.AdditionalProperties.Has {
		return nil
	}
	props := make([]string, 0, len(s.Properties))
	for name := range s.Properties {
		props = append(props, name)
	}
	slices.Sort(props)
	return props
}
