// Package openapi embeds the contract, api/openapi.yaml, so the server can serve it.
package openapi

import _ "embed"

// YAML is the OpenAPI document prawn implements.
//
//go:embed openapi.yaml
var YAML []byte
