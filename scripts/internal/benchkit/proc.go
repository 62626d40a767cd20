// Package benchkit holds what the benchmarks under scripts/ share: CPU times and memory from
// Linux's /proc, vegeta (installing it and reading its results), exact percentiles, and the
// small helpers for databases and ports.
package benchkit

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ProcStat is what the benchmark reads from /proc/PID/stat.
type ProcStat struct {
	PPID  int
	Ticks int64 // user + system CPU time so far, in clock ticks
}

// ParseStat reads /proc/PID/stat's text. The command name (field 2) is in parentheses and may
// itself hold spaces and parentheses, so fields are counted from the last ')'.
func ParseStat(b []byte) (ProcStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return ProcStat{}, errors.New("stat: no command name")
	}
	f := strings.Fields(string(b[i+1:]))
	// After the name: state(3) ppid(4) ... utime(14) stime(15), so f[0] is field 3.
	if len(f) < 13 {
		return ProcStat{}, fmt.Errorf("stat: %d fields after the command name", len(f))
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return ProcStat{}, fmt.Errorf("stat: ppid: %w", err)
	}
	utime, err := strconv.ParseInt(f[11], 10, 64)
	if err != nil {
		return ProcStat{}, fmt.Errorf("stat: utime: %w", err)
	}
	stime, err := strconv.ParseInt(f[12], 10, 64)
	if err != nil {
		return ProcStat{}, fmt.Errorf("stat: stime: %w", err)
	}
	return ProcStat{PPID: ppid, Ticks: utime + stime}, nil
}

// ReadStat reads /proc/PID/stat.
func ReadStat(pid int) (ProcStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ProcStat{}, err
	}
	return ParseStat(b)
}

// CPUSnap is the CPU ticks used so far by each of a set of processes.
type CPUSnap map[int]int64

// Snap reads the CPU ticks of pids; processes that are gone are left out.
func Snap(pids ...int) CPUSnap {
	s := CPUSnap{}
	for _, p := range pids {
		if st, err := ReadStat(p); err == nil {
			s[p] = st.Ticks
		}
	}
	return s
}

// CPUPercent is the % of one core that the processes of after used since before, over d: a
// process absent from before started in between and counts from zero; one that exited in
// between is missed.
func CPUPercent(before, after CPUSnap, hz int64, d time.Duration) float64 {
	if d <= 0 || hz <= 0 {
		return math.NaN()
	}
	var t int64
	for p, a := range after {
		t += a - before[p]
	}
	return float64(t) / float64(hz) / d.Seconds() * 100
}

// Children lists the processes whose parent is ppid.
func Children(ppid int) []int {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var out []int
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		if st, err := ReadStat(pid); err == nil && st.PPID == ppid {
			out = append(out, pid)
		}
	}
	return out
}

// Postmaster finds the postmaster of the backend serving a connection (SELECT pg_backend_pid()):
// its parent, when this process can see both in /proc and the parent is a postgres process.
// It returns 0 when the server runs elsewhere (another machine, container or PID namespace).
func Postmaster(backend int) int {
	st, err := ReadStat(backend)
	if err != nil || st.PPID <= 1 {
		return 0
	}
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", st.PPID))
	if err != nil || !strings.HasPrefix(strings.TrimSpace(string(comm)), "postgres") {
		return 0
	}
	return st.PPID
}

// PGSnap reads the CPU ticks of a Postgres server: the postmaster and all its children
// (backends, WAL writer, checkpointer, ...). Nil when the postmaster is unknown.
func PGSnap(master int) CPUSnap {
	if master == 0 {
		return nil
	}
	return Snap(append([]int{master}, Children(master)...)...)
}

// ClockTicks is the kernel's clock ticks per second (sysconf(_SC_CLK_TCK)), from the auxiliary
// vector the kernel gave this process (AT_CLKTCK); 100, Linux's value, if it cannot be read.
func ClockTicks() int64 {
	b, err := os.ReadFile("/proc/self/auxv")
	if err != nil {
		return 100
	}
	return clockTicksFromAuxv(b)
}

func clockTicksFromAuxv(b []byte) int64 {
	const atClkTck = 17
	for len(b) >= 16 {
		k, v := binary.NativeEndian.Uint64(b), binary.NativeEndian.Uint64(b[8:])
		if k == atClkTck && v > 0 {
			return int64(v)
		}
		if k == 0 {
			break
		}
		b = b[16:]
	}
	return 100
}

// PeakRSS is a process's peak resident set size (VmHWM) in KiB.
func PeakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parsePeakRSS(b)
}

func parsePeakRSS(b []byte) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			f := strings.Fields(v)
			if len(f) == 0 {
				break
			}
			return strconv.ParseInt(f[0], 10, 64)
		}
	}
	return 0, errors.New("status: no VmHWM")
}

// TimeWaitTo counts this machine's TCP connections in TIME_WAIT whose remote end is port (IPv4
// and IPv6): the closed client connections of earlier steps to a target. They hold local ports
// for that destination only, since a connection needs just its four-tuple to be unique.
func TimeWaitTo(port int) int {
	n := 0
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		if b, err := os.ReadFile(f); err == nil {
			n += countTimeWait(b, port)
		}
	}
	return n
}

// countTimeWait counts the rows of a /proc/net/tcp table in state TIME_WAIT ("st" 06) whose
// remote address ("rem_address", hex "ADDR:PORT") has port.
func countTimeWait(b []byte, port int) int {
	want := fmt.Sprintf(":%04X", port)
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for first := true; sc.Scan(); first = false {
		if first {
			continue // the header
		}
		if f := strings.Fields(sc.Text()); len(f) > 3 && f[3] == "06" && strings.HasSuffix(f[2], want) {
			n++
		}
	}
	return n
}
