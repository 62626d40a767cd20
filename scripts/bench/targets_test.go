package main

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestPrawnEnv(t *testing.T) {
	environ := []string{"PATH=/usr/bin", "PRAWN_RATE_LIMIT=10", "DATABASE_URL=postgres://elsewhere/x",
		"PRAWN_INGEST_MAX_WAIT=1ms", "PRAWN_ADDR=0.0.0.0:80"}
	home, _ := targetNamed("home")
	home.Env = map[string]string{"PRAWN_ROLLUP_INTERVAL": "1m", "PRAWN_RATE_LIMIT": "5"} // a target cannot turn the limit on
	batch, _ := targetNamed("batch")
	for _, c := range []struct {
		t      Target
		rollup string
	}{{home, "1m"}, {batch, "0"}} {
		env := prawnEnv(environ, "127.0.0.1:9999", "postgres://bench/db", c.t)
		want := []string{"PATH=/usr/bin", "PRAWN_INGEST_MAX_WAIT=1ms", "PRAWN_RATE_LIMIT=0", "PRAWN_ADDR=127.0.0.1:9999",
			"DATABASE_URL=postgres://bench/db", "PRAWN_ROLLUP_INTERVAL=" + c.rollup}
		for _, kv := range want {
			if !slices.Contains(env, kv) {
				t.Errorf("%s: environment %v lacks %s", c.t.Name, env, kv)
			}
		}
		for _, key := range []string{"PRAWN_RATE_LIMIT", "DATABASE_URL", "PRAWN_ADDR", "PRAWN_ROLLUP_INTERVAL"} {
			n := 0
			for _, kv := range env {
				if strings.HasPrefix(kv, key+"=") {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%s: %s set %d times in %v", c.t.Name, key, n, env)
			}
		}
	}
}

func TestVegetaTarget(t *testing.T) {
	b, err := postView.vegetaTarget("http://127.0.0.1:8080/")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Method string              `json:"method"`
		URL    string              `json:"url"`
		Body   string              `json:"body"`
		Header map[string][]string `json:"header"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	body, _ := base64.StdEncoding.DecodeString(got.Body)
	if got.Method != "POST" || got.URL != "http://127.0.0.1:8080/api/views" || string(body) != viewBody ||
		!slices.Equal(got.Header["Content-Type"], []string{"application/json"}) {
		t.Errorf("vegeta target = %s", b)
	}
	b, err = Request{Method: "GET", Path: "/api/views.gif?path=/x"}.vegetaTarget("http://h:1")
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"method":"GET","url":"http://h:1/api/views.gif?path=/x"}` {
		t.Errorf("GET target = %s", b)
	}
}

// The tables are data: check they are consistent, so a row added later cannot silently drop out.
func TestTables(t *testing.T) {
	names := map[string]bool{}
	for _, tg := range Targets {
		if tg.Name == "" || tg.About == "" || tg.Request.Method == "" || !strings.HasPrefix(tg.Request.Path, "/") {
			t.Errorf("target %+v lacks a name, description or request", tg)
		}
		if names[tg.Name] {
			t.Errorf("target %s is listed twice", tg.Name)
		}
		names[tg.Name] = true
		if tg.Ack < 200 || tg.Ack > 299 {
			t.Errorf("target %s: acknowledged by %d, want a 2xx", tg.Name, tg.Ack)
		}
		if tg.Server != Prawn && tg.Server != Hello {
			t.Errorf("target %s: unknown server %q", tg.Name, tg.Server)
		}
		if tg.Records && tg.Server != Prawn {
			t.Errorf("target %s records views without a database", tg.Name)
		}
	}
	labels := map[string]bool{"pgbench": true}
	c, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ladders(c) {
		for _, n := range l.Targets {
			if !names[n] {
				t.Errorf("ladder %q names no target %q", l.Name, n)
			}
			labels[n+l.Suffix] = true
		}
	}
	for _, r := range Ratios {
		if !labels[r.Of] || !labels[r.Over] {
			t.Errorf("ratio %q compares %s and %s, which no ladder runs", r.Label, r.Of, r.Over)
		}
	}
	for _, name := range []string{"home", "pixel", "badge"} {
		if tg, ok := targetNamed(name); !ok || !tg.Records || tg.Ack != 200 || tg.Request.Method != "GET" {
			t.Errorf("%s is not a recording GET target acknowledged by 200: %+v", name, tg)
		}
	}
}
