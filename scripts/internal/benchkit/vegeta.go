package benchkit

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// VegetaVersion is the load generator's version, installed with `go install` when no binary is
// given.
const VegetaVersion = "v12.13.0"

// FindVegeta is bin when given, else vegeta at VegetaVersion in the user's cache, installed
// there first when missing.
func FindVegeta(ctx context.Context, bin string, log *slog.Logger) (string, error) {
	if bin != "" {
		return bin, nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache folder for vegeta (give -vegeta): %w", err)
	}
	dir := filepath.Join(cache, "prawn-bench", "vegeta-"+VegetaVersion)
	bin = filepath.Join(dir, "vegeta")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	log.Info("installing vegeta", "version", VegetaVersion, "into", dir)
	cmd := exec.CommandContext(ctx, "go", "install", "github.com/tsenart/vegeta/v12@"+VegetaVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go install vegeta: %w: %s", err, out)
	}
	return bin, nil
}

// BuildVersion is the module version a Go binary was built from, or "(version unknown)".
func BuildVersion(bin string) string {
	if info, err := buildinfo.ReadFile(bin); err == nil && info.Main.Version != "" {
		return info.Main.Version
	}
	return "(version unknown)"
}

// Result is what the benchmarks read of one of vegeta's results (`vegeta encode --to json`).
type Result struct {
	Code      int       `json:"code"`
	Timestamp time.Time `json:"timestamp"` // when the request was sent
	Latency   int64     `json:"latency"`   // ns until the answer (or the error)
}

// DecodeResults reads vegeta's JSON results, one object a line.
func DecodeResults(r io.Reader) ([]Result, error) {
	dec := json.NewDecoder(r)
	var out []Result
	for {
		var res Result
		err := dec.Decode(&res)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("decode vegeta result %d: %w", len(out)+1, err)
		}
		out = append(out, res)
	}
}

// ReadResults decodes the results vegeta wrote to file (its binary -output) with `vegeta encode`.
func ReadResults(ctx context.Context, vegeta, file string) ([]Result, error) {
	var stderr bytes.Buffer
	enc := exec.CommandContext(ctx, vegeta, "encode", "--to", "json", file)
	pipe, err := enc.StdoutPipe()
	if err != nil {
		return nil, err
	}
	enc.Stderr = &stderr
	if err := enc.Start(); err != nil {
		return nil, fmt.Errorf("vegeta encode: %w", err)
	}
	rs, err := DecodeResults(pipe)
	if werr := enc.Wait(); err == nil && werr != nil {
		err = fmt.Errorf("vegeta encode: %w: %s", werr, LastLine(stderr.String()))
	}
	return rs, err
}

// Window returns the results sent skip or later after the first one: a step's steady state,
// without the jump from the previous rate.
func Window(rs []Result, skip time.Duration) []Result {
	if len(rs) == 0 || skip <= 0 {
		return rs
	}
	first := rs[0].Timestamp
	for _, r := range rs {
		if r.Timestamp.Before(first) {
			first = r.Timestamp
		}
	}
	return Between(rs, first.Add(skip), time.Time{})
}

// Between returns the results sent in [from, to); a zero to has no end.
func Between(rs []Result, from, to time.Time) []Result {
	var out []Result
	for _, r := range rs {
		if !r.Timestamp.Before(from) && (to.IsZero() || r.Timestamp.Before(to)) {
			out = append(out, r)
		}
	}
	return out
}

// CountCode counts the results answered with code.
func CountCode(rs []Result, code int) int {
	n := 0
	for _, r := range rs {
		if r.Code == code {
			n++
		}
	}
	return n
}

// Quantile is the nearest-rank q-quantile of sorted: the smallest value with at least q of all
// values at or below it.
func Quantile[T any](sorted []T, q float64) T {
	var zero T
	if len(sorted) == 0 {
		return zero
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// LastLine is the last non-empty line of a command's output, for error messages.
func LastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
