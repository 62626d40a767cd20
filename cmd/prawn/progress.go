package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"
)

// progress reports a long run: a self-updating line on a terminal, a log line a second otherwise.
type progress struct {
	what  string // "folded", "seeded"
	total int64  // expected units, 0 when unknown
	start time.Time
	last  time.Time
	tty   io.Writer // nil when stderr is not a terminal
	log   *slog.Logger
}

func newProgress(what string, total int64, log *slog.Logger) *progress {
	p := &progress{what: what, total: total, start: time.Now(), log: log}
	if st, err := os.Stderr.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
		p.tty = os.Stderr
	}
	return p
}

// update reports done units so far; final forces a report.
func (p *progress) update(done int64, final bool) {
	now := time.Now()
	if !final && now.Sub(p.last) < time.Second && p.tty == nil {
		return
	}
	if !final && now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last = now
	elapsed := now.Sub(p.start)
	rate := float64(done) / max(elapsed.Seconds(), 1e-9)
	var eta time.Duration
	if p.total > done && rate > 0 {
		eta = time.Duration(float64(p.total-done) / rate * float64(time.Second))
	}
	if p.tty != nil {
		line := fmt.Sprintf("\r%s %d", p.what, done)
		if p.total > 0 {
			line += fmt.Sprintf(" of %d (%.0f%%)", p.total, 100*float64(done)/float64(p.total))
		}
		line += fmt.Sprintf(", %.0f/s", rate)
		if eta > 0 {
			line += fmt.Sprintf(", ETA %s", eta.Round(time.Second))
		}
		fmt.Fprintf(p.tty, "%-72s", line)
		if final {
			fmt.Fprintln(p.tty)
		}
		return
	}
	p.log.Info("progress", "what", p.what, "done", done, "total", p.total,
		"per_second", int64(rate), "eta", eta.Round(time.Second).String())
}
