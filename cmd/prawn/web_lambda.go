//go:build lambda.norpc

package main

import "net/http"

// webHandler serves no page in the Lambda build: CloudFront serves the frontend from S3, so the
// bootstrap leaves the embedded files out (`prawn serve` from this build answers the API only).
func webHandler() http.Handler { return nil }
