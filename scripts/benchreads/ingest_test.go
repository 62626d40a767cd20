package main

import (
	"encoding/base64"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestIngestTargets(t *testing.T) {
	file := filepath.Join(t.TempDir(), "targets")
	if err := writeIngestTargets(file, "http://127.0.0.1:9", 100); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != ingestLines {
		t.Fatalf("%d targets, want %d", len(lines), ingestLines)
	}
	paths, refs, agents, addrs := map[string]int{}, map[string]int{}, map[string]bool{}, map[string]bool{}
	for _, line := range lines {
		var tg struct {
			Method, URL, Body string
			Header            http.Header
		}
		if err := json.Unmarshal([]byte(line), &tg); err != nil {
			t.Fatalf("target %q: %v", line, err)
		}
		if tg.Method != "POST" || tg.URL != "http://127.0.0.1:9/api/views" || tg.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("target %+v", tg)
		}
		body, err := base64.StdEncoding.DecodeString(tg.Body)
		if err != nil {
			t.Fatal(err)
		}
		var view map[string]string
		if err := json.Unmarshal(body, &view); err != nil {
			t.Fatalf("body %q: %v", body, err)
		}
		if !strings.HasPrefix(view["path"], ingestPrefix) || len(view) > 2 {
			t.Fatalf("view %v", view)
		}
		paths[view["path"]]++
		refs[view["referrer"]]++
		agents[tg.Header.Get("User-Agent")] = true
		addrs[tg.Header.Get("X-Forwarded-For")] = true
	}
	// A few paths get most views; most of the 100 paths are seen.
	if len(paths) < 80 || paths[ingestPrefix+"0"] < paths[ingestPrefix+"99"] {
		t.Errorf("%d distinct paths; /live/0 %d views, /live/99 %d", len(paths), paths[ingestPrefix+"0"], paths[ingestPrefix+"99"])
	}
	if n := refs[""]; n < ingestLines*4/10 || n > ingestLines*6/10 {
		t.Errorf("%d of %d views without a referrer, want about half", n, ingestLines)
	}
	if len(refs) != len(referrers) || len(agents) != len(userAgents) || len(addrs) < ingestLines/2 {
		t.Errorf("%d referrers, %d user agents, %d addresses", len(refs), len(agents), len(addrs))
	}
	// The same seed writes the same file.
	a, _ := ingestTarget(rand.New(rand.NewPCG(1, 2)), "http://x", 10)
	c, _ := ingestTarget(rand.New(rand.NewPCG(1, 2)), "http://x", 10)
	if string(a) != string(c) {
		t.Error("ingestTarget is not deterministic")
	}
}

func TestSustained(t *testing.T) {
	ok := &ingestResult{rate: 5000, requests: 50000, success: 1, throughput: 4750}
	if !ok.sustained() {
		t.Errorf("%+v not sustained", ok)
	}
	for _, r := range []*ingestResult{
		{rate: 5000, requests: 50000, success: 0.9999, throughput: 5000},
		{rate: 5000, requests: 50000, success: 1, throughput: 4749},
		{rate: 5000, success: 1, throughput: 5000},
	} {
		if r.sustained() {
			t.Errorf("%+v sustained", r)
		}
	}
}
