package rollup

import (
	"sort"
	"time"

	"github.com/prawnhq/prawn/internal/storage"
)

// Compute is the fold's arithmetic: what a batch of views, in fold order, adds to the rollups,
// given the dedup state of its visitor-days. It is what the raw_* views of schema/ define,
// computed incrementally, and it is the only place that counts: the fold applies its output to
// the rollups, and reads apply it to the not-yet-folded tail.
//
// Every view counts for its path and for its host (path ""). A visitor-day (a visitor id on one
// UTC day) of a scope counts once, in the quarter hour of its first view and under the dimension
// values of that view; it counts once in every hour in which it has a view. Views of days before
// in.OpenFrom (closed days) count as views only. Compute updates the visitor-days in in.Known and
// returns the ones it created and the ones it changed.
func Compute(in storage.FoldInput) storage.FoldOutput {
	out := storage.FoldOutput{
		Hours:      map[storage.HourKey]*storage.HourCounts{},
		Days:       map[storage.DayKey]*storage.DayCounts{},
		Breakdowns: map[storage.BreakdownKey]*storage.DayCounts{},
	}
	hour := func(host, path string, h time.Time) *storage.HourCounts {
		k := storage.HourKey{Host: host, Path: path, Hour: h}
		c := out.Hours[k]
		if c == nil {
			c = &storage.HourCounts{}
			out.Hours[k] = c
		}
		return c
	}
	day := func(host, path string, d time.Time) *storage.DayCounts {
		k := storage.DayKey{Host: host, Path: path, Day: d}
		c := out.Days[k]
		if c == nil {
			c = &storage.DayCounts{}
			out.Days[k] = c
		}
		return c
	}
	value := func(host, path string, dim storage.Dim, d time.Time, v string) *storage.DayCounts {
		k := storage.BreakdownKey{Host: host, Path: path, Dim: dim, Day: d, Value: v}
		c := out.Breakdowns[k]
		if c == nil {
			c = &storage.DayCounts{}
			out.Breakdowns[k] = c
		}
		return c
	}
	// newVisitorDay counts a visitor-day of a scope new to the rollups at view v.
	newVisitorDay := func(v *storage.FoldView, path string, h, d time.Time, q int) {
		hour(v.Host, path, h).NewVisitors[q]++
		day(v.Host, path, d).Visitors++
		for i, val := range v.Dims {
			if dim := storage.Dim(i + 1); val != "" && (path == "" || dim.PerPath()) {
				value(v.Host, path, dim, d, val).Visitors++
			}
		}
	}
	known := in.Known
	if known == nil {
		known = map[storage.VisitorDayKey]*storage.VisitorDay{}
	}
	created := map[storage.VisitorDayKey]bool{}
	changed := map[storage.VisitorDayKey]*storage.VisitorDay{}
	for i := range in.Views {
		v := &in.Views[i]
		at := v.At.UTC()
		h, d, q := at.Truncate(time.Hour), storage.UTCDay(at), at.Minute()/15
		for _, path := range [2]string{v.Path, ""} {
			hour(v.Host, path, h).Views[q]++
			day(v.Host, path, d).Views++
		}
		for j, val := range v.Dims {
			if val == "" {
				continue
			}
			dim := storage.Dim(j + 1)
			value(v.Host, "", dim, d, val).Views++
			if dim.PerPath() {
				value(v.Host, v.Path, dim, d, val).Views++
			}
		}
		if v.Visitor == 0 || d.Before(in.OpenFrom) {
			continue
		}
		k := storage.VisitorDayKey{Day: d, Visitor: v.Visitor, Host: v.Host}
		vd := known[k]
		if vd == nil {
			vd = &storage.VisitorDay{Day: d, Visitor: v.Visitor, Host: v.Host}
			known[k] = vd
			created[k] = true
			newVisitorDay(v, "", h, d, q)
		}
		bit := uint32(1) << at.Hour()
		if vd.Hours&bit == 0 {
			vd.Hours |= bit
			hour(v.Host, "", h).Visitors++
		}
		p := pathIndex(vd, v.Path)
		if p < 0 {
			vd.Paths = append(vd.Paths, v.Path)
			vd.PathHours = append(vd.PathHours, 0)
			p = len(vd.Paths) - 1
			newVisitorDay(v, v.Path, h, d, q)
		}
		if vd.PathHours[p]&bit == 0 {
			vd.PathHours[p] |= bit
			hour(v.Host, v.Path, h).Visitors++
		}
		changed[k] = vd
	}
	for k, vd := range changed {
		sortPaths(vd)
		if created[k] {
			out.NewVisitorDays = append(out.NewVisitorDays, vd)
		} else {
			out.ChangedVisitorDays = append(out.ChangedVisitorDays, vd)
		}
	}
	return out
}

func pathIndex(vd *storage.VisitorDay, path string) int {
	for i, p := range vd.Paths {
		if p == path {
			return i
		}
	}
	return -1
}

// sortPaths orders a visitor-day's paths byte-wise (as the database's "C" collation does), so
// its stored form does not depend on the order the paths were seen in.
func sortPaths(vd *storage.VisitorDay) {
	if sort.StringsAreSorted(vd.Paths) {
		return
	}
	idx := make([]int, len(vd.Paths))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return vd.Paths[idx[a]] < vd.Paths[idx[b]] })
	paths, hours := make([]string, len(idx)), make([]uint32, len(idx))
	for i, j := range idx {
		paths[i], hours[i] = vd.Paths[j], vd.PathHours[j]
	}
	vd.Paths, vd.PathHours = paths, hours
}
