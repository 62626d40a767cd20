//go:build lambda.norpc

package pgembed

import "log/slog"

// fetchBinaries downloads nothing in the Lambda build: a function always has a database given
// to it, so the bootstrap leaves embedded-postgres out.
func fetchBinaries(string, *slog.Logger) (string, error) { return "", ErrNoPostgres }
