//go:build !lambda.norpc

package pgembed

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	embeddedpostgres "github.com/fergusstrange/embedded-postgres"
)

// fetchBinaries downloads PostgreSQL with embedded-postgres into dir (once) and returns its bin
// folder. embedded-postgres also initialises and starts a throwaway cluster, which prawn stops at
// once; when prawn runs as root that step fails, but the binaries are in place by then.
func fetchBinaries(dir string, log *slog.Logger) (string, error) {
	bin := filepath.Join(dir, "bin")
	if hasBinaries(bin) {
		return bin, nil
	}
	log.Info("no local PostgreSQL found; downloading one with embedded-postgres", "into", dir)
	tmp, err := os.MkdirTemp("", "prawn-pgfetch-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	port, err := freePort()
	if err != nil {
		return "", err
	}
	pg := embeddedpostgres.NewDatabase(embeddedpostgres.DefaultConfig().
		Version(embeddedpostgres.V16).Port(uint32(port)).
		RuntimePath(filepath.Join(tmp, "run")).DataPath(filepath.Join(tmp, "data")).
		BinariesPath(dir).CachePath(filepath.Join(dir, "cache")).Logger(io.Discard))
	startErr := pg.Start()
	if startErr == nil {
		_ = pg.Stop()
	}
	if hasBinaries(bin) {
		return bin, nil
	}
	return "", fmt.Errorf("%w (downloading one failed too: %v)", ErrNoPostgres, startErr)
}
