// Package schema embeds prawn's ordered SQL migrations (goose format); sqlc reads the same files.
package schema

import "embed"

// Migrations holds the *.sql migrations in this folder.
//
//go:embed *.sql
var Migrations embed.FS
