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

// contract is what the edge checks that the generated code does not: which query parameters each
// operation takes and which fields each request body may hold, read from api/openapi.yaml.
type contract struct {
	// ops maps a route pattern such as "GET /api/stats" to its operation.
	ops map[string]operation
}

// operation is one operation's checked inputs.
type operation struct {
	// params are the query parameter names, sorted.
	params []string
	// fields are the properties of the JSON body when its schema forbids others
	// (additionalProperties: false), sorted; nil otherwise.
	fields []string
}

var loadContract = sync.OnceValues(func() (*contract, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(openapi.YAML)
	if err != nil {
		return nil, fmt.Errorf("load api/openapi.yaml: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("validate api/openapi.yaml: %w", err)
	}
	c := &contract{ops: map[string]operation{}}
	for route, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			var o operation
			names := []string{}
			for _, p := range append(item.Parameters, op.Parameters...) {
				if p.Value != nil && p.Value.In == openapi3.ParameterInQuery {
					names = append(names, p.Value.Name)
				}
			}
			slices.Sort(names)
			o.params = slices.Compact(names)
			c.ops[strings.ToUpper(method)+" "+route] = o
			if op.RequestBody == nil || op.RequestBody.Value == nil {
				continue
			}
			mt := op.RequestBody.Value.Content.Get("application/json")
			if mt == nil || mt.Schema == nil || mt.Schema.Value == nil {
				continue
			}
			s := mt.Schema.Value
			if s.AdditionalProperties.Has == nil || *s.AdditionalProperties.Has {
				continue
			}
			props := make([]string, 0, len(s.Properties))
			for name := range s.Properties {
				props = append(props, name)
			}
			slices.Sort(props)
			o.fields = props
			c.ops[strings.ToUpper(method)+" "+route] = o
		}
	}
	return c, nil
})
