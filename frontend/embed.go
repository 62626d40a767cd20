// Package frontend embeds prawn's built web page (the Vite app under dist/app)
// into the Go binary.
//
// `scripts/frontend.sh build` (make frontend) writes the build to dist/app,
// which git ignores. A clean clone has only the committed dist/placeholder, a
// page saying how to build the real one, so `go build ./...` works before npm
// ever ran and a build leaves `git status` clean.
package frontend

import (
	"embed"
	"io/fs"
)

//go:embed all:dist
var dist embed.FS

// Files returns the site's files rooted at the page's index.html, and whether
// they are the real build (true) or the placeholder page (false).
func Files() (fs.FS, bool) {
	if app, err := fs.Sub(dist, "dist/app"); err == nil {
		if _, err := fs.Stat(app, "index.html"); err == nil {
			return app, true
		}
	}
	placeholder, err := fs.Sub(dist, "dist/placeholder")
	if err != nil {
		panic("frontend: dist/placeholder is missing from the embedded files: " + err.Error())
	}
	return placeholder, false
}
