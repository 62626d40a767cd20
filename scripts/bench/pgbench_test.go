package main

import (
	"testing"
	"time"
)

func TestParsePgbenchSummary(t *testing.T) {
	// pgbench 15's report.
	out := `transaction type: insert.sql
scaling factor: 1
query mode: simple
number of clients: 8
number of threads: 2
maximum number of tries: 1
duration: 10 s
number of transactions actually processed: 124771
number of failed transactions: 0 (0.000%)
latency average = 0.641 ms
initial connection time = 12.345 ms
tps = 12477.123456 (without initial connection time)
`
	tps, mean, err := parsePgbenchSummary(out)
	if err != nil {
		t.Fatal(err)
	}
	if tps != 12477.123456 || mean != 641*time.Microsecond {
		t.Errorf("tps %v, mean %v; want 12477.123456 and 641µs", tps, mean)
	}
	if _, _, err := parsePgbenchSummary("pgbench: error: connection refused\n"); err == nil {
		t.Error("a report without tps was accepted")
	}
}

func TestParsePgbenchLog(t *testing.T) {
	log := "0 0 812 0 1764619200 123456\n0 1 640 0 1764619200 124100\n\n1 0 1020 0 1764619200 123999\n"
	got, err := parsePgbenchLog([]byte(log))
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{812 * time.Microsecond, 640 * time.Microsecond, 1020 * time.Microsecond}
	if len(got) != len(want) {
		t.Fatalf("parsePgbenchLog = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("latency %d = %v, want %v", i, got[i], want[i])
		}
	}
	if _, err := parsePgbenchLog([]byte("0 0 x 0 1 2\n")); err == nil {
		t.Error("a log line without a latency was accepted")
	}
}
