package config

import (
	"strings"
	"testing"
	"time"
)

func TestOwnDataSettings(t *testing.T) {
	c, err := Load(env(nil), Serve)
	if err != nil || c.PrivateStats || c.PublicTotals || c.RawRetention != 0 {
		t.Fatalf("defaults: %+v %v", c.OwnData, err)
	}
	c, err = Load(env(map[string]string{"PRAWN_STATS": "private", "PRAWN_PUBLIC_TOTALS": "true", "PRAWN_RAW_RETENTION": "400d"}), LambdaJob)
	if err != nil || !c.PrivateStats || !c.PublicTotals || c.RawRetention != 400*24*time.Hour {
		t.Fatalf("set: %+v %v", c.OwnData, err)
	}
	for v, want := range map[string]time.Duration{"forever": 0, "2160h": 2160 * time.Hour, "1d": 24 * time.Hour, "36500d": 36500 * 24 * time.Hour} {
		if d, err := parseRetention(v); err != nil || d != want {
			t.Errorf("PRAWN_RAW_RETENTION=%s: %v %v, want %v", v, d, err, want)
		}
	}
	for _, v := range []string{"0", "0d", "12h", "-3d", "1y", "36501d", "d"} {
		if _, err := parseRetention(v); err == nil {
			t.Errorf("PRAWN_RAW_RETENTION=%s was accepted", v)
		}
	}
	_, err = Load(env(map[string]string{"PRAWN_STATS": "secret", "PRAWN_PUBLIC_TOTALS": "yes please", "PRAWN_RAW_RETENTION": "12h"}), Command)
	for _, name := range []string{"PRAWN_STATS", "PRAWN_PUBLIC_TOTALS", "PRAWN_RAW_RETENTION"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
}
