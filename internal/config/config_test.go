package config

import (
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:8080" || c.DataDir != "./.prawn" || c.RollupInterval != time.Minute || c.DatabaseURL != "" {
		t.Errorf("defaults = %+v", c)
	}
}

func TestInvalidValuesAreAllNamed(t *testing.T) {
	_, err := Load(env(map[string]string{
		"PRAWN_ADDR":            "localhost",
		"PRAWN_ROLLUP_INTERVAL": "10ms",
		"PRAWN_LOG_LEVEL":       "loud",
		"PRAWN_LOG_FORMAT":      "xml",
		"PRAWN_DB_MAX_CONNS":    "0",
	}))
	if err == nil {
		t.Fatal("no error")
	}
	for _, name := range []string{"PRAWN_ADDR", "PRAWN_ROLLUP_INTERVAL", "PRAWN_LOG_LEVEL", "PRAWN_LOG_FORMAT", "PRAWN_DB_MAX_CONNS"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
}

func TestRollupIntervalZeroTurnsTickerOff(t *testing.T) {
	c, err := Load(env(map[string]string{"PRAWN_ROLLUP_INTERVAL": "0"}))
	if err != nil || c.RollupInterval != 0 {
		t.Errorf("interval 0: %+v, %v", c, err)
	}
}
