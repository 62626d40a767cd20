package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// OwnData is the configuration of private stats and raw retention (docs/owndata.md).
type OwnData struct {
	// PrivateStats makes every read of counts need a token of scope read (PRAWN_STATS=private).
	PrivateStats bool
	// PublicTotals lets the operations that show one all-time total (GET /api/home, the badges) answer
	// without a token while stats are private.
	PublicTotals bool
	// RawRetention is how long raw views are kept once folded; 0 keeps them forever.
	RawRetention time.Duration
}

// ownDataVars are the settings of OwnData, listed with Vars.
var ownDataVars = []Var{
	{"PRAWN_STATS", "public", InServe | InLambda, "public: anyone may read the counts; private: reads need a token of scope read (prawn token create); recording stays public"},
	{"PRAWN_PUBLIC_TOTALS", "false", InServe | InLambda, "with PRAWN_STATS=private, true lets GET /api/home and the badges show all-time totals without a token"},
	{"PRAWN_RAW_RETENTION", "forever", everywhere, "how long raw views are kept once folded, such as 400d or 2160h (at least 1d); older days keep only their rollups; forever keeps them all"},
}

func init() { Vars = append(Vars, ownDataVars...) }

// loadOwnData reads OwnData.
func (c *Config) loadOwnData(get func(name, def string) string) []error {
	var errs []error
	switch v := get("PRAWN_STATS", "public"); v {
	case "public":
	case "private":
		c.PrivateStats = true
	default:
		errs = append(errs, fmt.Errorf("PRAWN_STATS=%q: want public or private", v))
	}
	pt := get("PRAWN_PUBLIC_TOTALS", "false")
	if b, err := strconv.ParseBool(pt); err != nil {
		errs = append(errs, fmt.Errorf("PRAWN_PUBLIC_TOTALS=%q: want true or false", pt))
	} else {
		c.PublicTotals = b
	}
	rr := get("PRAWN_RAW_RETENTION", "forever")
	if d, err := parseRetention(rr); err != nil {
		errs = append(errs, fmt.Errorf("PRAWN_RAW_RETENTION=%q: %v", rr, err))
	} else {
		c.RawRetention = d
	}
	return errs
}

// parseRetention reads a retention: "forever", a number of days ("400d") or a Go duration of
// at least a day ("2160h").
func parseRetention(s string) (time.Duration, error) {
	const want = "want forever, a number of days such as 400d, or a duration of at least 24h such as 2160h"
	if s == "forever" {
		return 0, nil
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 1 || n > 100*365 {
			return 0, fmt.Errorf("%s (days from 1 to 36500)", want)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("%s", want)
		}
	}
	if d < 24*time.Hour {
		return 0, fmt.Errorf("%s: raw views are kept at least a day", want)
	}
	return d, nil
}
