// Package benchdoc writes the generated parts of docs/benchmarks.md and the facts every report
// states about its run (machine, load average, commit, date).
//
// Each benchmark owns one named section of the document, between two marker lines:
//
//	<!-- generated:ingest (written by make bench; edit outside these markers) -->
//	...
//	<!-- /generated:ingest -->
//
// Rewriting a section replaces only what is between its markers, so headings and hand-written
// commentary before and after them stay as they are.
package benchdoc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Title starts a document that does not exist yet.
const Title = "# Benchmarks\n\nMeasured by `make bench`, `make bench/rollup` and `make bench/reads`; each section names its machine, date and commands.\n"

// Section is one generated part of the document.
type Section struct {
	Name    string // marker name, such as "ingest" or "rollups"
	Heading string // such as "## Ingest": written before the markers when the document lacks them
	By      string // what writes it, such as "make bench": named in the begin marker
	Body    string // the generated Markdown
}

func (s Section) begin() string { return "<!-- generated:" + s.Name + " " }
func (s Section) end() string   { return "<!-- /generated:" + s.Name + " -->" }

func (s Section) block() string {
	by := s.By
	if by == "" {
		by = "a benchmark"
	}
	return fmt.Sprintf("%s(written by %s; edit outside these markers) -->\n%s\n%s\n",
		s.begin(), by, strings.Trim(s.Body, "\n"), s.end())
}

// Replace returns doc with s's section rewritten: the lines between its markers are replaced by
// s.Body. A document without the markers gets the section (heading and markers) at its end; an
// empty one starts with Title. Markers that are repeated or out of order are an error, and so is
// s.Heading without markers (rather than a second copy of the section).
func Replace(doc string, s Section) (string, error) {
	if s.Name == "" || strings.ContainsAny(s.Name, " \n>") {
		return "", fmt.Errorf("benchdoc: bad section name %q", s.Name)
	}
	begin, end := -1, -1
	lines := strings.SplitAfter(doc, "\n")
	offset := 0
	for _, line := range lines {
		text := strings.TrimRight(line, "\r\n")
		switch {
		case strings.HasPrefix(text, s.begin()):
			if begin >= 0 {
				return "", fmt.Errorf("benchdoc: section %q begins twice", s.Name)
			}
			begin = offset
		case text == s.end():
			if end >= 0 || begin < 0 {
				return "", fmt.Errorf("benchdoc: section %q has an end marker without a begin marker before it, or two", s.Name)
			}
			end = offset + len(line)
		}
		offset += len(line)
	}
	switch {
	case begin >= 0 && end >= 0:
		return doc[:begin] + s.block() + doc[end:], nil
	case begin >= 0:
		return "", fmt.Errorf("benchdoc: section %q begins but never ends (missing %q)", s.Name, s.end())
	}
	if strings.TrimSpace(doc) == "" {
		doc = Title
	}
	for _, line := range lines {
		if s.Heading != "" && strings.TrimRight(line, "\r\n") == s.Heading {
			return "", fmt.Errorf("benchdoc: %q has no markers of section %q: put %q and %q around its generated part",
				s.Heading, s.Name, s.begin()+"-->", s.end())
		}
	}
	return strings.TrimRight(doc, "\n") + "\n\n" + s.Heading + "\n\n" + s.block(), nil
}

// Write rewrites s's section of the document at path (creating the document if needed). The file
// is replaced at once, never left half written.
func Write(path string, s Section) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read %s: %w", path, err)
	}
	doc, err := Replace(string(old), s)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".benchdoc-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(doc); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// Host describes the machine a benchmark ran on.
type Host struct {
	CPUs   int
	Model  string // CPU model name, from /proc/cpuinfo
	Kernel string // kernel release
}

// ThisHost describes the machine this process runs on.
func ThisHost() Host {
	h := Host{CPUs: runtime.NumCPU(), Model: "unknown CPU", Kernel: runtime.GOOS}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				h.Model = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		h.Kernel = "Linux " + strings.TrimSpace(string(b))
	}
	return h
}

// String is the host as reports print it: "2 CPUs, AMD EPYC, Linux 6.1.0".
func (h Host) String() string {
	return fmt.Sprintf("%d CPUs, %s, %s", h.CPUs, h.Model, h.Kernel)
}

// LoadAvg is the 1, 5 and 15 minute load average ("0.35 0.58 1.07"), or "?" where unknown.
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// Commit names the checked-out commit (`git describe --always --dirty`), or "?" outside a
// repository.
func Commit() string {
	out, err := exec.Command("git", "describe", "--always", "--dirty").Output()
	if err != nil {
		return "?"
	}
	return string(bytes.TrimSpace(out))
}

// Generated is a report's first line: what produced it, when (UTC) and how long it took.
func Generated(what string, start time.Time, took time.Duration) string {
	return fmt.Sprintf("Generated by %s on %s in %d s.", what, start.UTC().Format("2006-01-02 15:04 UTC"), int(took.Round(time.Second).Seconds()))
}

// Root is the repository's top folder: the nearest folder at or above the working directory that
// holds go.mod. Benchmarks chdir there so that docs/benchmarks.md means the same file wherever
// they are started.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("benchdoc: no go.mod at or above the working directory")
		}
		dir = parent
	}
}
