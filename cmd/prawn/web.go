package main

import "net/http"

// webHandler serves the page; replaced by the embedded frontend.
func webHandler() http.Handler { return nil }
