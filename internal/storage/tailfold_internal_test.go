package storage

import (
	"testing"
	"time"

	"github.com/prawnhq/prawn/gen/db"
)

// TestPlanFold: beside a held fold of the same fold point and open day, the next fold in memory
// is of the views after it, or none when the horizon has not moved; once the second layer has
// more than a quarter of the first's views, of the whole tail (unless a whole fold is not due);
// beside a fold of another fold point or open day, or none, of the whole tail.
func TestPlanFold(t *testing.T) {
	day := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	st := db.GetFoldStateRow{FoldedXid: 100, FoldedID: 7, Horizon: 200, VisitorsOpenFrom: day}
	held := func(horizon int64, views ...int64) *tailFold {
		f := &tailFold{foldedXid: 100, foldedID: 7, horizon: horizon, openFrom: day}
		for _, n := range views {
			f.layers = append(f.layers, &foldLayer{views: n})
		}
		return f
	}
	moved := held(150, 1000)
	moved.foldedID = 6
	closed := held(150, 1000)
	closed.openFrom = day.AddDate(0, 0, 1)
	for _, c := range []struct {
		name    string
		old     *tailFold
		wholeOK bool
		want    int
	}{
		{"none held", nil, true, foldWhole},
		{"another fold point", moved, true, foldWhole},
		{"another open day", closed, true, foldWhole},
		{"one layer, horizon moved", held(150, 1000), true, foldIncrement},
		{"one layer, horizon still", held(200, 1000), true, foldNothing},
		{"second layer a quarter", held(150, 1000, 250), true, foldIncrement},
		{"second layer over a quarter", held(150, 1000, 251), true, foldWhole},
		{"over a quarter, horizon still", held(200, 1000, 251), true, foldWhole},
		{"over a quarter, whole not due", held(150, 1000, 251), false, foldIncrement},
		{"over a quarter, whole not due, horizon still", held(200, 1000, 251), false, foldNothing},
	} {
		if got := planFold(c.old, st, c.wholeOK); got != c.want {
			t.Errorf("%s: plan %d; want %d", c.name, got, c.want)
		}
	}
}
