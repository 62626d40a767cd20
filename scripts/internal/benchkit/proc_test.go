package benchkit

import (
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	// A command name with spaces and parentheses: fields count from the last ')'.
	line := "4242 (post (gres) x) S 17 4242 4242 0 -1 4194560 1131 0 0 0 731 269 0 0 20 0 1 0 1234 221237248 5421 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0\n"
	st, err := ParseStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if st.PPID != 17 || st.Ticks != 1000 {
		t.Errorf("ParseStat = %+v, want ppid 17, ticks 731+269", st)
	}
	for _, bad := range []string{"", "4242 (x) S 17", "4242 (x) S p 1 1 0 -1 0 0 0 0 0 1 2"} {
		if _, err := ParseStat([]byte(bad)); err == nil {
			t.Errorf("ParseStat(%q) accepted", bad)
		}
	}
}

func TestProcOfRealProcesses(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc (not Linux): the benchmark runs on Linux only")
	}
	st, err := ReadStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if st.PPID != os.Getppid() {
		t.Errorf("ppid = %d, want %d", st.PPID, os.Getppid())
	}
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if kids := Children(os.Getpid()); !slices.Contains(kids, cmd.Process.Pid) {
		t.Errorf("Children(self) = %v, want it to hold %d", kids, cmd.Process.Pid)
	}
	// sleep's parent is this test binary, not a postmaster.
	if got := Postmaster(cmd.Process.Pid); got != 0 {
		t.Errorf("Postmaster(sleep) = %d, want 0", got)
	}
	if s := Snap(os.Getpid(), cmd.Process.Pid, -1); len(s) != 2 {
		t.Errorf("snap = %v, want two live processes", s)
	}
	if rss, err := PeakRSS(os.Getpid()); err != nil || rss <= 0 {
		t.Errorf("PeakRSS(self) = %d, %v", rss, err)
	}
	if hz := ClockTicks(); hz <= 0 {
		t.Errorf("clockTicks = %d", hz)
	}
}

func TestCPUPercent(t *testing.T) {
	before := CPUSnap{1: 100, 2: 50}
	after := CPUSnap{1: 150, 3: 20} // 2 exited (missed), 3 started (counts from 0)
	if got := CPUPercent(before, after, 100, time.Second); got != 70 {
		t.Errorf("CPUPercent = %v, want 70", got)
	}
	if got := CPUPercent(before, after, 100, 0); !math.IsNaN(got) {
		t.Errorf("CPUPercent over no time = %v, want NaN", got)
	}
}

func TestClockTicksFromAuxv(t *testing.T) {
	var b []byte
	for _, kv := range [][2]uint64{{6, 4096}, {17, 250}, {0, 0}} {
		b = binary.NativeEndian.AppendUint64(b, kv[0])
		b = binary.NativeEndian.AppendUint64(b, kv[1])
	}
	if got := clockTicksFromAuxv(b); got != 250 {
		t.Errorf("clockTicksFromAuxv = %d, want 250", got)
	}
	if got := clockTicksFromAuxv(b[:16]); got != 100 {
		t.Errorf("without AT_CLKTCK = %d, want the default 100", got)
	}
}

func TestParsePeakRSS(t *testing.T) {
	status := "Name:\tprawn\nVmPeak:\t 1500000 kB\nVmHWM:\t  333824 kB\nVmRSS:\t  300000 kB\n"
	if got, err := parsePeakRSS([]byte(status)); err != nil || got != 333824 {
		t.Errorf("parsePeakRSS = %d, %v; want 333824", got, err)
	}
	if _, err := parsePeakRSS([]byte("Name:\tx\n")); err == nil {
		t.Error("a status without VmHWM was accepted")
	}
}

func TestCountTimeWait(t *testing.T) {
	// Two client connections to 127.0.0.1:8080 (1F90) in TIME_WAIT, one to another port, one
	// established, and a listener.
	table := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0
   1: 0100007F:9C40 0100007F:1F90 06 00000000:00000000 03:00000F9E 00000000     0        0 0 3 0000000000000000
   2: 0100007F:9C42 0100007F:1F90 06 00000000:00000000 03:00000F9E 00000000     0        0 0 3 0000000000000000
   3: 0100007F:9C46 0100007F:1F91 06 00000000:00000000 03:00000F9E 00000000     0        0 0 3 0000000000000000
   4: 0100007F:9C44 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 20 4 30 10 -1
`
	if got := countTimeWait([]byte(table), 8080); got != 2 {
		t.Errorf("countTimeWait(8080) = %d, want 2", got)
	}
	if got := countTimeWait([]byte(table), 0x1F91); got != 1 {
		t.Errorf("countTimeWait(8081) = %d, want 1", got)
	}
	tcp6 := "  sl  local_address                         remote_address                        st\n" +
		"   0: 0000000000000000FFFF00000100007F:9C40 0000000000000000FFFF00000100007F:1F90 06 00000000:00000000\n"
	if got := countTimeWait([]byte(tcp6), 8080); got != 1 {
		t.Errorf("countTimeWait(tcp6, 8080) = %d, want 1", got)
	}
	if n := TimeWaitTo(1); n < 0 {
		t.Errorf("timeWaitTo = %d", n)
	}
}
