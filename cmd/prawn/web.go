//go:build !lambda.norpc

package main

import (
	"net/http"

	"github.com/prawnhq/prawn/internal/web"
)

// webHandler serves the embedded page (or its placeholder when the frontend was not built).
func webHandler() http.Handler { return web.Handler() }
