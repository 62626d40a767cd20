package badge

import "strconv"

// metricPrefixes are the units of Count, each a thousand times the one before.
var metricPrefixes = []string{"", "k", "M", "G", "T", "P", "E"}

// Count abbreviates a count the way shields.io's metric numbers read: as it is below 1000, then
// with one decimal below ten of a unit unless that decimal is 0 (1.2k, 9.9k, 1k), else in whole
// units (12k, 999k) up to the next unit (1M). It rounds to the nearest, halves up, on the exact
// count (so 1150 is 1.2k and 999 950 is 1M).
func Count(n int64) string {
	if n < 1000 { // negative counts do not occur; they are written out
		return strconv.FormatInt(n, 10)
	}
	u := uint64(n) // unsigned: the remainder times ten of the largest unit needs its room
	unit, i := uint64(1), 0
	for i+1 < len(metricPrefixes) && u/unit >= 1000 {
		unit *= 1000
		i++
	}
	tenths := u/unit*10 + (u%unit*10+unit/2)/unit // of the unit, rounded half up
	if tenths < 100 && tenths%10 != 0 {
		return strconv.FormatUint(tenths/10, 10) + "." + strconv.FormatUint(tenths%10, 10) + metricPrefixes[i]
	}
	whole := u/unit + u%unit*2/unit // rounded half up
	if whole >= 1000 && i+1 < len(metricPrefixes) {
		return "1" + metricPrefixes[i+1]
	}
	return strconv.FormatUint(whole, 10) + metricPrefixes[i]
}
